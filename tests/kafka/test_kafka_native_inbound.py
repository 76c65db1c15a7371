"""Records a Kafka-native sender produces into kp.inbound with headers the ingress never
writes, on the real broker: each ends as a translated event or a precise dead letter with a
status, and the partition keeps flowing (a null header value stopped it for good)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from gateway.dlq import headers as h
from gateway.ingress.mirror import TopicMirror
from gateway.kafka import lenient_headers
from gateway.kafka.clients import idempotent_producer
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import (
    certificate,
    decoded,
    read_until,
    registry_copy,
    render,
    running,
    stopped,
)
from tests.log_capture import captured

pytestmark = pytest.mark.kafka


async def test_null_unreadable_and_repeated_headers_end_precisely_and_the_partition_flows(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    records: list[tuple[bytes, list[tuple[str, bytes | None]]]] = [
        # Java's headers.add("kpgw-tracking-id", null): the key names the message.
        (b"RU:null-tracking", [("kpgw-sender", b"RU"), ("kpgw-tracking-id", None)]),
        # A null value on a header of its own, on a record that is dead-lettered.
        (b"ZA:null-other", [("kpgw-sender", b"ZA"), ("x-null", None)]),
        (b"RU:latin1", [("kpgw-sender", b"RU"), ("kpgw-tracking-id", b"t-\xe9t\xe9")]),
        (b"RU:twice", [("kpgw-sender", b"ZA"), ("kpgw-sender", b"RU")]),
        (b"RU:after", [("kpgw-sender", b"RU")]),
    ]
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for n, (key, headers) in enumerate(records):
            body = render(certificate(f"RU07700{n:02d}"))
            await producer.send_and_wait(
                f"{settings.topic_prefix}inbound", body, key=key, headers=headers, partition=0
            )
    finally:
        await producer.stop()
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        events = await read_until(settings, "events", 2)
        dlq = await read_until(settings, "dlq", 3)
        statuses = await read_until(settings, "status", len(records))
    assert sorted(e["certificate_id"] for e in decoded(events, "CertificateEvent")) == [
        "RU0770000",
        "RU0770004",
    ]
    reasons = {r.key: h.text_header(r.headers, h.REASON) for r in dlq}
    assert reasons == {
        b"ZA:null-other": "UNAUTHORISED_SENDER",
        b"RU:latin1": "INVALID_INBOUND_HEADER",
        b"RU:twice": "INVALID_INBOUND_HEADER",
    }
    null_other = next(r for r in dlq if r.key == b"ZA:null-other")
    assert ("x-null", b"") in null_other.headers
    latin1 = next(r for r in dlq if r.key == b"RU:latin1")
    assert "kpgw-tracking-id header is not UTF-8" in (
        h.text_header(latin1.headers, h.EXCEPTION_MESSAGE) or ""
    )
    kept = {s["tracking_id"]: s for s in decoded(statuses, "DeliveryStatus")}
    assert kept["RU:null-tracking"]["status"] == "TRANSLATED"
    assert kept["RU:after"]["status"] == "TRANSLATED"
    # No kpgw-message-id header: the status still names the document's own message id.
    after = next(
        e for e in decoded(events, "CertificateEvent") if e["certificate_id"] == "RU0770004"
    )
    assert kept["RU:after"]["message_id"] == after["source"]["message_id"] is not None
    inbound = f"{settings.topic_prefix}inbound"
    assert kept[f"{inbound}/0/2"]["reason"] == "INVALID_INBOUND_HEADER"
    assert "given 2 times with different values" in kept[f"{inbound}/0/3"]["detail"]


class RawName(str):
    """A header name written as the bytes it was given, as librdkafka writes it."""

    raw = b""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def windows_1251_name(monkeypatch: pytest.MonkeyPatch) -> RawName:
    """A header name of ``windows-1251`` bytes, and producers that write it as given."""
    from aiokafka import producer as producer_module
    from aiokafka.producer import message_accumulator
    from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

    # The compiled builder refuses such a name; librdkafka (confluent-kafka, Go) does not.
    for module in (message_accumulator, producer_module.producer):
        monkeypatch.setattr(module, "DefaultRecordBatchBuilder", _DefaultRecordBatchBuilderPy)
    name = RawName("trace")
    name.raw = "трасса".encode("cp1251")
    return name


async def test_a_header_name_that_is_not_utf8_does_not_stop_the_translator(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka decodes header names strictly: the translator's getmany raised at every
    start and `kpgw run` exited. The record is read on; its dead letter keeps the name."""
    settings = created_topics
    name = windows_1251_name(monkeypatch)
    records: list[tuple[bytes, list[tuple[str, bytes | None]]]] = [
        (b"RU:before", [("kpgw-sender", b"RU")]),
        (b"ZA:odd-name", [("kpgw-sender", b"ZA"), (name, b"1")]),  # refused: not ZA's
        (b"RU:odd-name", [("kpgw-sender", b"RU"), (name, b"2")]),
        (b"RU:after", [("kpgw-sender", b"RU")]),
    ]
    producer = idempotent_producer(settings, linger_ms=200)
    await producer.start()
    try:
        sent = [
            await producer.send(
                f"{settings.topic_prefix}inbound",
                render(certificate(f"RU07710{n:02d}")),
                key=key,
                headers=headers,
                partition=0,
            )
            for n, (key, headers) in enumerate(records)
        ]
        offsets = [(await delivery).offset for delivery in sent]
    finally:
        await producer.stop()
    assert offsets == [0, 1, 2, 3]
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        events = await read_until(settings, "events", 3)
        dlq = await read_until(settings, "dlq", 1)
        await read_until(settings, "status", len(records))
    assert sorted(e["certificate_id"] for e in decoded(events, "CertificateEvent")) == [
        "RU0771000",
        "RU0771002",
        "RU0771003",
    ]
    (letter,) = dlq
    assert letter.key == b"ZA:odd-name"
    assert h.text_header(letter.headers, h.REASON) == "UNAUTHORISED_SENDER"
    assert ("\ufffd" * 6, b"1") in list(letter.headers)


async def test_a_header_name_that_is_not_utf8_is_reported_once_not_at_every_ingress_start(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingress's mirror reads kp.inbound from its beginning at every start: it warned
    of every such record every time, for as long as the topic kept it. Now the translator,
    which takes the record in, warns once; the mirror says it at debug."""
    settings = created_topics
    inbound = f"{settings.topic_prefix}inbound"
    name = windows_1251_name(monkeypatch)
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for n, headers in enumerate([[("kpgw-sender", b"RU"), (name, b"1")], []]):
            body = render(certificate(f"RU07720{n:02d}"))
            await producer.send_and_wait(inbound, body, key=b"RU:%d" % n, headers=headers)
    finally:
        await producer.stop()
    monkeypatch.setattr(lenient_headers, "_reported", {})  # as in a process just started
    with captured("gateway.kafka.lenient_headers") as logs:
        for _start in range(2):  # the ingress started twice
            mirror = TopicMirror(settings, inbound, lambda record: None)
            stop = asyncio.Event()
            task = asyncio.create_task(mirror.run(stop))
            await asyncio.wait_for(mirror.caught_up.wait(), 60)
            assert mirror.applied == 2
            stop.set()
            await stopped(task)
        by_mirror = [(e["offset"], e["log_level"]) for e in logs if e["event"] == NOT_UTF8]
        assert by_mirror == [(0, "debug"), (0, "debug")]
        worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
        async with running(lambda: worker):
            await read_until(settings, "status", 2)
    reports = [(e["offset"], e["log_level"]) for e in logs if e["event"] == NOT_UTF8]
    assert reports[2:] == [(0, "warning")]
    assert "not UTF-8" in next(e for e in logs if e["log_level"] == "warning")["advice"]


NOT_UTF8 = "record_header_name_not_utf8"


async def test_a_record_timestamp_or_reception_time_outside_the_calendar_is_a_dead_letter(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A producer may stamp a record with any negative timestamp (the broker refuses only
    those too far ahead), and a Kafka-native sender writes kpgw-received-at itself: one
    the calendar cannot hold failed the whole batch at every retry (the partition stopped
    for good), one in year 9999 was a poison pill after three "crashes"."""
    settings = created_topics
    records: list[tuple[bytes, int | None, list[tuple[str, bytes | None]]]] = [
        (b"RU:ancient", -(10**15), [("kpgw-sender", b"RU")]),
        (b"RU:no-time", -1, [("kpgw-sender", b"RU")]),
        (
            b"RU:doomsday",
            None,
            [("kpgw-sender", b"RU"), ("kpgw-received-at", b"9999-12-31T23:59:59Z")],
        ),
        (b"RU:after", None, [("kpgw-sender", b"RU")]),
    ]
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for n, (key, timestamp_ms, headers) in enumerate(records):
            body = render(certificate(f"RU07710{n:02d}"))
            await producer.send_and_wait(
                f"{settings.topic_prefix}inbound",
                body,
                key=key,
                headers=headers,
                partition=0,
                timestamp_ms=timestamp_ms,
            )
    finally:
        await producer.stop()
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        events = await read_until(settings, "events", 1, timeout_s=30)
        dlq = await read_until(settings, "dlq", 3, timeout_s=10)
    assert [e["certificate_id"] for e in decoded(events, "CertificateEvent")] == ["RU0771003"]
    reasons = {r.key: h.text_header(r.headers, h.REASON) for r in dlq}
    assert reasons == dict.fromkeys(
        (b"RU:ancient", b"RU:no-time", b"RU:doomsday"), "INVALID_INBOUND_HEADER"
    )
    messages = {r.key: h.text_header(r.headers, h.EXCEPTION_MESSAGE) or "" for r in dlq}
    assert "timestamp" in messages[b"RU:ancient"] and "kpgw-received-at" in messages[b"RU:ancient"]
    assert "9999-12-31T23:59:59Z" in messages[b"RU:doomsday"]


async def test_a_certificate_number_of_a_megabyte_is_a_dead_letter_and_the_partition_flows(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Its status named it whole: a record over kp.status's size, so the batch failed at
    every retry and nothing after it on the partition was translated."""
    settings = created_topics
    long_number = render(certificate("RU0772001")).replace(b"RU0772001", b"RU" + b"1" * 1_200_000)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        compression_type="gzip",  # a 1.2 MB document in a small record
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        for key, body in (
            (b"RU:long", long_number),
            (b"RU:next", render(certificate("RU0772002"))),
        ):
            await producer.send_and_wait(
                f"{settings.topic_prefix}inbound",
                body,
                key=key,
                headers=[("kpgw-sender", b"RU")],
                partition=0,
            )
    finally:
        await producer.stop()
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        events = await read_until(settings, "events", 1, timeout_s=30)
        statuses = await read_until(settings, "status", 2, timeout_s=10)
    assert [e["certificate_id"] for e in decoded(events, "CertificateEvent")] == ["RU0772002"]
    kept = {s["tracking_id"]: s for s in decoded(statuses, "DeliveryStatus")}
    assert kept["RU:long"]["status"] == "DEAD_LETTERED"
    assert kept["RU:long"]["reason"] == "INVALID_CERTIFICATE_NUMBER"
    assert kept["RU:long"]["certificate_id"] is None
