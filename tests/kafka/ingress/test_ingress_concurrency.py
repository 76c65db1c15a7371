"""500 concurrent requests, valid and refused mixed, some valid ones sent twice at once:
every 202 has exactly one record in kp.inbound, every refusal none."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from typing import Any

import pytest

from gateway.dlq import headers as h
from gateway.settings import Settings
from tests.kafka.helpers import certificate, read_until, render, with_hs
from tests.kafka.ingress.conftest import Reply, started

pytestmark = pytest.mark.kafka
VALID = 300
TWICE = 25  # valid documents also sent a second time, concurrently


def _requests() -> list[tuple[str, dict[str, Any], bytes, int]]:
    """(kind, send arguments, body, expected status)."""
    items: list[tuple[str, dict[str, Any], bytes, int]] = []
    for n in range(VALID):
        exporter = "RU" if n % 2 else "BW"
        body = render(certificate(f"{exporter}{7_100_000 + n}", exporter=exporter))
        items.append(("valid", {"participant": exporter}, body, 202))
        if n < TWICE:
            items.append(("valid", {"participant": exporter}, body, 202))
    for n in range(50):
        body = render(certificate(f"RU{7_200_000 + n}"))
        items.append(("impostor", {"participant": "BW"}, body, 403))
    items.extend(
        ("not-xml", {"participant": "RU"}, f"not xml {n}".encode(), 400) for n in range(50)
    )
    for n in range(50):
        body = render(with_hs(certificate(f"RU{7_300_000 + n}"), "7102.29"))
        items.append(("invalid", {"participant": "RU"}, body, 422))
    remaining = 500 - len(items)
    for n in range(remaining):
        body = render(certificate(f"RU{7_400_000 + n}"))
        items.append(("no-token", {"participant": None, "token": "kpgw_ru_wrong"}, body, 401))
    random.Random(6).shuffle(items)
    return items


async def test_500_concurrent_requests_one_record_per_acceptance(created_topics: Settings) -> None:
    settings = created_topics
    items = _requests()
    assert len(items) == 500
    async with started(settings, rate_limit_per_minute=100_000) as client:

        async def one(arguments: dict[str, Any], body: bytes) -> Reply:
            return await client.send(body, **arguments)

        replies = await asyncio.gather(*(one(args, body) for _, args, body, _ in items))
    statuses = Counter(reply.status for reply in replies)
    for (kind, _, _, expected), reply in zip(items, replies, strict=True):
        assert reply.status == expected, (kind, reply.status, reply.body)
        if expected != 202:
            reply.problem(expected)
    assert statuses[202] == VALID + TWICE

    accepted = {reply.body["tracking_id"] for reply in replies if reply.status == 202}
    assert len(accepted) == VALID  # a document sent twice at once: one tracking id
    records = await read_until(settings, "inbound", VALID, timeout_s=30)
    await asyncio.sleep(1)
    records = await read_until(settings, "inbound", VALID + 1, timeout_s=1)
    per_tracking = Counter(h.text_header(r.headers, "kpgw-tracking-id") for r in records)
    assert set(per_tracking) == accepted
    assert set(per_tracking.values()) == {1}, "a 202 with more than one record"
    written = {hashlib.sha256(r.value).hexdigest() for r in records}
    refused = {hashlib.sha256(body).hexdigest() for _, _, body, status in items if status != 202}
    assert not written & refused, "a refused request reached kp.inbound"
