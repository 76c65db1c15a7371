"""A Kafka-native sender's gzip record of a few KB that inflates to gigabytes (a value of
whitespace), on the real broker: the broker takes it (its limit is on the compressed batch)
and aiokafka inflated the whole batch on fetch, so the translator and the ingress's mirror
ran out of memory at every start. Now the batch is read as far as the limit only: the
translator dead-letters it (DOCUMENT_TOO_LARGE, naming its offsets) and reads on, the
mirror reads past it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.dlq import headers as h
from gateway.ingress.mirror import TopicMirror
from gateway.kafka import inflate_limit
from gateway.kafka.clients import committed_consumer, idempotent_producer
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

pytestmark = pytest.mark.kafka

#: Lowered from 32 MiB so that a test-sized value (24 MiB) goes beyond it.
LIMIT = 4 * 1024 * 1024


async def test_a_record_that_inflates_beyond_the_limit_is_a_dead_letter_and_reading_goes_on(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inflate_limit, "MAX_INFLATED_BATCH_BYTES", LIMIT)
    settings = created_topics
    inbound = f"{settings.topic_prefix}inbound"
    whitespace = b"<a>" + b" " * (24 * 1024 * 1024) + b"</a>"  # ~24 KB of gzip
    values = [render(certificate("RU0773000")), whitespace, render(certificate("RU0773002"))]
    producer = idempotent_producer(
        settings, compression_type="gzip", max_request_size=len(whitespace) + 4096
    )
    await producer.start()
    try:
        for n, value in enumerate(values):  # one batch each
            await producer.send_and_wait(
                inbound, value, key=b"RU:%d" % n, headers=[("kpgw-sender", b"RU")], partition=0
            )
    finally:
        await producer.stop()

    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        events = await read_until(settings, "events", 2)
        dlq = await read_until(settings, "dlq", 1)
        statuses = await read_until(settings, "status", 3)
    assert sorted(e["certificate_id"] for e in decoded(events, "CertificateEvent")) == [
        "RU0773000",
        "RU0773002",
    ]
    (letter,) = dlq
    assert h.text_header(letter.headers, h.REASON) == "DOCUMENT_TOO_LARGE"
    message = h.text_header(letter.headers, h.EXCEPTION_MESSAGE) or ""
    assert "the record at offset 1 decompresses beyond 4,194,304 bytes (one compressed" in (message)
    assert letter.value in (None, b"")  # never read: there is nothing to keep
    dead = [s for s in decoded(statuses, "DeliveryStatus") if s["status"] == "DEAD_LETTERED"]
    assert [s["reason"] for s in dead] == ["DOCUMENT_TOO_LARGE"]

    # The ingress's mirror of kp.inbound, which reads it from its beginning at every start.
    mirror = TopicMirror(settings, inbound, lambda record: None)
    stop = asyncio.Event()
    task = asyncio.create_task(mirror.run(stop))
    await asyncio.wait_for(mirror.caught_up.wait(), 60)
    assert mirror.applied == 3
    stop.set()
    await stopped(task)


async def test_one_getmany_holds_at_most_about_twice_the_limit_of_inflated_records(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six batches of a few KB, each inflating to just under the limit, come in one fetch:
    a getmany handed them all out at once (thirty such were a gigabyte). Now a fetch is read
    no further once its batches inflated to the limit, and the next fetch goes on."""
    monkeypatch.setattr(inflate_limit, "MAX_INFLATED_BATCH_BYTES", LIMIT)
    settings = created_topics
    inbound = f"{settings.topic_prefix}inbound"
    near = b"<a>" + b" " * (LIMIT * 6 // 10) + b"</a>"
    producer = idempotent_producer(
        settings, compression_type="gzip", max_request_size=len(near) + 4096
    )
    await producer.start()
    try:
        for n in range(6):
            await producer.send_and_wait(inbound, near, key=b"RU:%d" % n, partition=0, headers=RU)
        last = render(certificate("RU0775006"))
        await producer.send_and_wait(inbound, last, key=b"RU:6", partition=0, headers=RU)
    finally:
        await producer.stop()

    consumer = committed_consumer(settings, inbound, group_id=None)
    await consumer.start()
    held, offsets = [], []
    try:
        while len(offsets) < 7:
            batches = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
            records = [r for rs in batches.values() for r in rs]
            held.append(sum(len(r.value or b"") for r in records))
            offsets += [r.offset for r in records]
    finally:
        await consumer.stop()
    assert offsets == list(range(7))
    assert max(held) <= 2 * LIMIT

    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        (event,) = await read_until(settings, "events", 1)
        dlq = await read_until(settings, "dlq", 6)
    assert {h.text_header(r.headers, h.REASON) for r in dlq} == {"DOCUMENT_TOO_LARGE"}
    assert decoded([event], "CertificateEvent")[0]["certificate_id"] == "RU0775006"


def snappy_literals(payload: bytes) -> bytes:
    """``payload`` in xerial-framed snappy, as literals only (valid, not smaller): the
    gateway installs no snappy library, as a Java or librdkafka producer has one."""
    frame = bytearray(b"\x82SNAPPY\x00" + (1).to_bytes(4, "big") + (1).to_bytes(4, "big"))
    for start in range(0, len(payload), 32 * 1024):
        chunk = payload[start : start + 32 * 1024]
        block = bytearray()
        length = len(chunk)
        while True:  # the uncompressed length, a varint
            byte, length = length & 0x7F, length >> 7
            block.append(byte | (0x80 if length else 0))
            if not length:
                break
        block += bytes([62 << 2]) + (len(chunk) - 1).to_bytes(3, "little") + chunk
        frame += len(block).to_bytes(4, "big") + block
    return bytes(frame)


async def test_a_batch_of_a_codec_the_gateway_does_not_read_is_a_dead_letter_and_reading_goes_on(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka reads snappy, lz4 and zstd only with cramjam, which the gateway does not
    install: such a batch failed every fetch of its partition, for good."""
    from aiokafka import codec
    from aiokafka.producer.producer import AIOKafkaProducer
    from aiokafka.record import default_records
    from aiokafka.record._crecords import default_records as compiled_default_records

    settings = created_topics
    inbound = f"{settings.topic_prefix}inbound"
    values = [render(certificate(f"RU07740{n:02d}")) for n in range(3)]
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(inbound, values[0], key=b"RU:0", partition=0, headers=RU)
        with monkeypatch.context() as snappy:  # a producer with a snappy library
            snappy.setitem(AIOKafkaProducer._COMPRESSORS, "snappy", (lambda: True, 2))
            snappy.setattr(codec, "has_snappy", lambda: True)
            for module in (default_records, compiled_default_records):
                snappy.setattr(module, "snappy_encode", snappy_literals)
            native = idempotent_producer(settings, compression_type="snappy")
            await native.start()
            try:
                await native.send_and_wait(inbound, values[1], key=b"RU:1", partition=0, headers=RU)
            finally:
                await native.stop()
        await producer.send_and_wait(inbound, values[2], key=b"RU:2", partition=0, headers=RU)
    finally:
        await producer.stop()

    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        events = await read_until(settings, "events", 2)
        (letter,) = await read_until(settings, "dlq", 1)
        await read_until(settings, "status", 3)
    assert sorted(e["certificate_id"] for e in decoded(events, "CertificateEvent")) == [
        "RU0774000",
        "RU0774002",
    ]
    assert h.text_header(letter.headers, h.REASON) == "UNSUPPORTED_COMPRESSION"
    assert "the record at offset 1 is compressed with snappy (one record batch)" in (
        h.text_header(letter.headers, h.EXCEPTION_MESSAGE) or ""
    )


RU = [("kpgw-sender", b"RU")]
