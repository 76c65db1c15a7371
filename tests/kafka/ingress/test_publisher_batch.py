"""One ingress transaction carries several requests' records: it commits all of them or
none. aiokafka commits a transaction even when the broker refused one of its batches, so
a request answered 503 must not leave its neighbours' records committed either (every
202 has exactly one record in kp.inbound, every refusal none)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import NewTopic

from gateway.dlq.store import read_topic_to_end
from gateway.ingress.publisher import (
    BrokerUnavailable,
    InboundPublisher,
    OutboundRecord,
    RecordTooLarge,
)
from gateway.kafka.clients import admin_client
from gateway.kafka.outbox import murmur2
from gateway.settings import Settings

pytestmark = pytest.mark.kafka


@pytest.fixture
async def small_inbound(kafka_settings: Settings) -> AsyncIterator[str]:
    """kp.inbound with two partitions that take records of at most 2 KiB."""
    topic = f"{kafka_settings.topic_prefix}inbound"
    admin = admin_client(kafka_settings)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 2, 1, topic_configs={"max.message.bytes": "2048"})]
        )
        yield topic
    finally:
        await admin.delete_topics([topic])
        await admin.close()


def key_on(partition: int, stem: str) -> bytes:
    """A key the default partitioner puts on ``partition`` of two."""
    for n in range(1000):
        key = f"{stem}-{n}".encode()
        if (murmur2(key) & 0x7FFFFFFF) % 2 == partition:
            return key
    raise AssertionError("no key found")


async def test_a_refused_record_leaves_no_record_of_its_transaction_committed(
    kafka_settings: Settings, small_inbound: str
) -> None:
    publisher = InboundPublisher(kafka_settings, lanes=1)
    await publisher.start()
    try:
        for _ in range(150):
            if publisher.connected:
                break
            await asyncio.sleep(0.2)
        assert publisher.connected
        deadline = asyncio.get_running_loop().time() + 10
        small = OutboundRecord(key_on(0, "small"), b"x" * 100, [])
        large = OutboundRecord(key_on(1, "large"), b"y" * 8000, [])  # over the topic's limit
        # Queued together: the one lane takes both into one transaction.
        results = await asyncio.gather(
            publisher.publish(small, deadline),
            publisher.publish(large, deadline),
            return_exceptions=True,
        )
    finally:
        await publisher.close()
    assert isinstance(results[1], RecordTooLarge)  # 413 for the request too large
    if isinstance(results[0], BaseException):  # in the same transaction: 503, send again
        assert isinstance(results[0], BrokerUnavailable)
        assert "send it again" in str(results[0])
    committed = await read_topic_to_end(kafka_settings, small_inbound)
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert len(committed) == len(accepted)  # the small one: answered 503 and not written
