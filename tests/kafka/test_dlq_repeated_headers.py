"""Dead letters whose headers give a name more than once, on the real broker, through the
operator's commands: a Kafka-native record with two different ``kpgw-sender`` headers (and
a value that is not UTF-8), dead-lettered by the translator, and a letter Spring-style
tools dead-lettered twice (``kafka_dlt-*`` repeated). `dlq list --sender` finds the first
under either sender, `dlq stats` counts it under each, `dlq show` prints every header in
order, and `dlq replay` re-sends the original headers exactly."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from gateway.dlq import headers as h
from gateway.kafka.clients import idempotent_producer
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import certificate, read_until, registry_copy, render, run_kpgw, running

pytestmark = pytest.mark.kafka

CONFLICTING: list[tuple[str, bytes]] = [
    (h.SENDER, b"RU"),
    ("x-trace", b"first"),
    (h.SENDER, b"BW"),
    ("x-binary", b"\xff\xfe-not-utf8"),
    ("x-trace", b"second"),
    (h.RECEIVED_AT, b"2026-03-02T08:15:30Z"),
]


def _spring_twice(inbound: str) -> list[tuple[str, bytes]]:
    """A record Spring's DeadLetterPublishingRecoverer dead-lettered, that was replayed and
    dead-lettered again: each time it appended its headers."""

    def round_(offset: int, message: bytes) -> list[tuple[str, bytes]]:
        return [
            (h.ORIGINAL_TOPIC, inbound.encode()),
            (h.ORIGINAL_PARTITION, struct.pack(">i", 0)),
            (h.ORIGINAL_OFFSET, struct.pack(">q", offset)),
            (h.EXCEPTION_MESSAGE, message),
        ]

    return [(h.SENDER, b"RU"), *round_(5, b"first failure"), *round_(9, b"second failure")]


def _json(*args: str, env: dict[str, str]) -> Any:
    done = run_kpgw(env, *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_dlq_commands_keep_repeated_headers(created_topics: Settings, tmp_path: Path) -> None:
    settings = created_topics
    inbound = f"{settings.topic_prefix}inbound"
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        body = render(certificate("RU0990001"))
        await producer.send_and_wait(inbound, body, key=b"RU:1", headers=CONFLICTING, partition=0)
        await producer.send_and_wait(
            f"{settings.topic_prefix}dlq", b"<x/>", key=b"RU:2", headers=_spring_twice(inbound)
        )
    finally:
        await producer.stop()
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        letters = await read_until(settings, "dlq", 2)
    conflicting = next(r for r in letters if r.key == b"RU:1")
    assert h.text_header(conflicting.headers, h.REASON) == "INVALID_INBOUND_HEADER"
    conflict_id = f"{conflicting.partition}-{conflicting.offset}"
    spring = next(r for r in letters if r.key == b"RU:2")
    spring_id = f"{spring.partition}-{spring.offset}"
    env = {
        "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": settings.topic_prefix,
    }

    # Either sender's filter finds the conflicting letter.
    by_bw = _json("dlq", "list", "--sender", "BW", "--json", env=env)
    assert [x["id"] for x in by_bw] == [conflict_id]
    assert (by_bw[0]["sender"], by_bw[0]["senders"]) == ("RU, BW", ["RU", "BW"])
    by_ru = _json("dlq", "list", "--sender", "RU", "--json", env=env)
    assert sorted(x["id"] for x in by_ru) == sorted([conflict_id, spring_id])

    # Counted under each sender, as the filters select them, and said so.
    (report,) = _json("dlq", "stats", "--json", env=env)
    assert report["total"] == 2
    assert report["by_sender"] == {"RU": 2, "BW": 1}
    assert report["conflicting_senders"] == 1
    text = run_kpgw(env, "dlq", "stats")
    assert "1 dead letter(s) name conflicting senders and are counted under each" in text.stdout

    # Every header, in order; the bytes that are not UTF-8 shown, not a crash.
    (shown,) = _json("dlq", "show", conflict_id, "--json", env=env)
    own = [pair for pair in shown["header_list"] if pair[0] not in h.DLQ_HEADERS]
    assert own == [
        [h.SENDER, "RU"],
        ["x-trace", "first"],
        [h.SENDER, "BW"],
        ["x-binary", "\ufffd\ufffd-not-utf8"],
        ["x-trace", "second"],
        [h.RECEIVED_AT, "2026-03-02T08:15:30Z"],
    ]
    assert shown["headers"][h.SENDER] == ["RU", "BW"]
    assert shown["headers"][h.REASON] == "INVALID_INBOUND_HEADER"  # once: as it always was
    lines = run_kpgw(env, "dlq", "show", conflict_id).stdout.splitlines()
    assert [x for x in lines if x.startswith(f"{h.SENDER}:")] == [
        f"{h.SENDER}: RU",
        f"{h.SENDER}: BW",
    ]
    assert f"({h.SENDER} is given 2 times, each shown above)" in lines
    (twice,) = _json("dlq", "show", spring_id, "--json", env=env)
    assert twice["headers"][h.ORIGINAL_OFFSET] == [5, 9]
    assert twice["headers"][h.EXCEPTION_MESSAGE] == ["first failure", "second failure"]
    assert twice["original"] == f"{inbound}/0/9"  # the last one, as Spring reads them

    # The replay re-sends the record's own headers, every one, in order.
    replayed = run_kpgw(env, "dlq", "replay", "--id", conflict_id)
    assert replayed.returncode == 0, replayed.stderr
    records = await read_until(settings, "inbound", 2)
    (again,) = [r for r in records if h.header(r.headers, h.REPLAY_ID) is not None]
    assert list(again.headers[: len(CONFLICTING)]) == CONFLICTING
    assert [name for name, _ in again.headers[len(CONFLICTING) :]] == [
        h.REPLAY_ID,
        h.REPLAYED_FROM,
    ]
    assert (again.key, again.value) == (b"RU:1", body)
