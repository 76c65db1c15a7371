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
    assert "the record at offset 1 (one compressed record batch) decompress beyond 4,194,304" in (
        message
    )
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
