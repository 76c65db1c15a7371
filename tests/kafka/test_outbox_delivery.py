"""The outbox on the real broker: a batch the broker refuses fails the flush, so the
transaction aborts instead of committing without the record (aiokafka commits a
transaction whose batch was refused; the translator once lost an event that way)."""

from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic

from gateway.kafka.clients import admin_client, transactional_producer
from gateway.kafka.outbox import DeliveryFailed, Outbox
from gateway.settings import Settings
from tests.kafka.helpers import read_until

pytestmark = pytest.mark.kafka


async def test_a_record_the_broker_refuses_aborts_the_transaction(kafka_settings: Settings) -> None:
    settings = kafka_settings
    small, other = f"{settings.topic_prefix}small", f"{settings.topic_prefix}other"
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(small, 1, 1, topic_configs={"max.message.bytes": "10240"}),
                NewTopic(other, 1, 1),
            ]
        )
    finally:
        await admin.close()
    producer = transactional_producer(settings, f"{settings.topic_prefix}outbox-test")

    async def write_both() -> None:
        async with producer.transaction():
            outbox = Outbox(producer)
            await outbox.send(other, b"k", b"written only with the other")
            await outbox.send(small, b"k", b"x" * 50_000)
            await outbox.flush()

    await producer.start()
    try:
        with pytest.raises(DeliveryFailed, match="MessageSizeTooLarge"):
            await write_both()
    finally:
        await producer.stop()
        admin = admin_client(settings)
        await admin.start()
        try:
            assert await read_until(settings, "other", 0, timeout_s=5) == []  # aborted
        finally:
            await admin.delete_topics([small, other])
            await admin.close()
