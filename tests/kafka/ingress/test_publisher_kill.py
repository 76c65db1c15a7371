"""``kill`` stops a started transactional producer synchronously through aiokafka internals
(its sender task, its client's connections): the ingress's "nothing written after a 503"
promise rests on it. aiokafka is pinned below the next minor version for this reason; this
test is the canary that fails loudly, instead of the outage path failing in production,
when an upgrade moves those internals."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.errors import KafkaError

from gateway.ingress.publisher import hard_close, kill, reap
from gateway.kafka.clients import transactional_producer
from gateway.settings import Settings

pytestmark = pytest.mark.kafka


async def test_kill_cancels_the_sender_and_aborts_every_connection(
    kafka_settings: Settings, created_topics: None
) -> None:
    producer = transactional_producer(kafka_settings, f"kill-canary-{uuid.uuid4().hex[:8]}")
    await producer.start()
    sender_task = producer._sender.sender_task
    connections = list(producer.client._conns.values())
    assert sender_task is not None
    assert not sender_task.done()
    assert connections, "a started producer holds at least one broker connection"

    kill(producer)

    await asyncio.sleep(0)  # let the cancellation and the aborts take effect
    assert sender_task.cancelled() or sender_task.done()
    for connection in connections:
        assert connection._writer.transport.is_closing()

    async def one_transaction() -> None:
        async with asyncio.timeout(3):
            await producer.begin_transaction()
            await producer.send_and_wait(f"{kafka_settings.topic_prefix}inbound", b"never")
            await producer.commit_transaction()

    with pytest.raises((KafkaError, TimeoutError)):  # its sender is gone: nothing commits
        await one_transaction()
    await asyncio.wait_for(reap(producer), 15)
    assert sender_task.done()


async def test_hard_close_releases_a_producer_that_never_started(
    kafka_settings: Settings,
) -> None:
    producer = transactional_producer(kafka_settings, f"kill-canary-{uuid.uuid4().hex[:8]}")
    await asyncio.wait_for(hard_close(producer), 15)  # no sender task yet: nothing to cancel
