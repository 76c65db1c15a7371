"""The broker frozen, then stopped, under a running ingress (this test's own broker, on a
free port pair): every request meanwhile is 503 with Retry-After and leaves nothing
behind, even when the frozen broker later resumes with the request on its socket; once the broker is
back the same ingress accepts again, and a refused message re-sent with its key is
accepted exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.dlq import headers as h
from gateway.kafka.broker import LocalBroker
from gateway.kafka.topics import create_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import load_settings
from tests.kafka.helpers import broker_of_its_own, certificate, read_until, render
from tests.kafka.ingress.conftest import Client, started

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
DEADLINE_S = 2.0


@pytest.fixture
def own_broker(tmp_path: Path, kafka_bootstrap: str) -> Iterator[LocalBroker]:
    with broker_of_its_own(tmp_path / "broker") as broker:
        yield broker


async def _refused(client: Client, body: bytes) -> None:
    started_at = time.monotonic()
    reply = await client.send(body)
    reply.problem(503)
    assert int(reply.headers["Retry-After"]) >= 1
    assert time.monotonic() - started_at < DEADLINE_S + 1.5  # the deadline holds


async def _accepted_eventually(client: Client, body: bytes, timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        reply = await client.send(body)
        if reply.status == 202:
            return str(reply.body["tracking_id"])
        reply.problem(503)
        assert time.monotonic() < deadline, "the ingress did not recover"
        await asyncio.sleep(max(1, int(reply.headers["Retry-After"])) / 2)


async def test_broker_frozen_then_stopped_then_back(
    own_broker: LocalBroker, example_registry: ParticipantRegistry
) -> None:
    settings = load_settings(kafka_bootstrap=own_broker.bootstrap, topic_prefix="outage.")
    await create_topics(settings, example_registry)
    docs = {name: render(certificate(f"RU{8_000_000 + n}")) for n, name in enumerate("abcde")}
    async with started(settings, request_deadline_s=DEADLINE_S) as client:
        before = await client.send(docs["a"])
        assert before.status == 202

        pid = own_broker.pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # slow beyond the deadline: requests reach its socket
        try:
            await _refused(client, docs["b"])
            await _refused(client, docs["b"])
        finally:
            os.kill(pid, signal.SIGCONT)
        after_freeze = await _accepted_eventually(client, docs["c"])

        await asyncio.to_thread(own_broker.down)
        for _ in range(3):
            await _refused(client, docs["d"])
        ready = await client.request("GET", "/readyz")
        assert ready.status == 503, ready.body
        assert ready.body["checks"]["broker"] is False
        assert ready.body["checks"]["producer"] is False  # not a stale "connected"
        await asyncio.to_thread(own_broker.up)
        back = await _accepted_eventually(client, docs["e"])
        resent = await _accepted_eventually(client, docs["b"])  # its earlier 503s left no trace
        again = await client.send(docs["b"])
        assert again.status == 202 and again.body["tracking_id"] == resent

    await asyncio.sleep(1)
    records = await read_until(settings, "inbound", 5, timeout_s=10)
    tracking = sorted(h.text_header(r.headers, "kpgw-tracking-id") or "" for r in records)
    assert tracking == sorted([before.body["tracking_id"], after_freeze, back, resent])
    assert docs["d"] not in {r.value for r in records}
