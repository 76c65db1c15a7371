"""A Kafka client dropped while the broker is down is released for good: nothing of it
runs on once the broker is back (found by a soak review: every outage left each dropped
producer's sender, metadata sync task and connections behind, in the router, the
translator and the ingress, more after every outage)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

import gateway.ingress.publisher as publisher_module
from gateway.ingress.publisher import BrokerUnavailable, InboundPublisher, OutboundRecord
from gateway.kafka.broker import LocalBroker
from gateway.kafka.topics import create_topics
from gateway.kafka.transactional import TransactionalWorker
from gateway.registry import ParticipantRegistry
from gateway.settings import IngressSettings, Settings, load_settings
from tests.kafka.helpers import outage_broker_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
def outage_broker(tmp_path: Path, kafka_bootstrap: str) -> Iterator[LocalBroker]:
    """A broker of this test's own: stopping it disturbs no other test (or the one given by
    KPGW_TEST_OUTAGE_BROKER_PORT and _DIR, e.g. where ports are scarce; it is left running)."""
    given = os.environ.get("KPGW_TEST_OUTAGE_BROKER_DIR")
    with outage_broker_port() as port:
        broker = LocalBroker(port=port, data_dir=Path(given) if given else tmp_path / "broker")
        broker.up(timeout_s=120)
        try:
            yield broker
        finally:
            if given:
                broker.up(timeout_s=120)
            else:
                broker.down()


def leftovers(producer: AIOKafkaProducer) -> list[str]:
    """What still runs or is open of ``producer``: tasks running a method of it or of its
    parts (sender, network client, accumulator) and connections not closed."""
    parts = {
        id(part)
        for part in (
            producer,
            producer.client,
            producer._sender,
            producer._message_accumulator,
        )
    }
    found = []
    for task in asyncio.all_tasks():
        frame = getattr(task.get_coro(), "cr_frame", None)
        if frame is not None and id(frame.f_locals.get("self")) in parts and not task.done():
            found.append(task.get_coro().__qualname__)
    found.extend(
        f"connection {key}"
        for key, connection in producer.client._conns.items()
        if connection._writer is not None
    )
    return found


async def _settle(producers: list[AIOKafkaProducer], seconds: float) -> list[str]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        left = [item for producer in producers for item in leftovers(producer)]
        if not left or asyncio.get_running_loop().time() > deadline:
            return left
        await asyncio.sleep(0.5)


async def test_a_producer_dropped_with_a_pending_transaction_in_an_outage_is_released(
    outage_broker: LocalBroker, example_registry: ParticipantRegistry
) -> None:
    settings = load_settings(kafka_bootstrap=outage_broker.bootstrap, topic_prefix="dropped.")
    await create_topics(settings, example_registry)
    events = f"{settings.topic_prefix}events"
    worker = TransactionalWorker(
        settings,
        name="dropped",
        topic=events,
        group_id="dropped",
        handler=None,  # type: ignore[arg-type]
    )
    partition = TopicPartition(events, 0)
    producer = await worker._producer_for(partition)
    await producer.begin_transaction()
    await producer.send_and_wait(events, b"pending", partition=0)
    try:
        await asyncio.to_thread(outage_broker.down)
        # A second partition: the sender retries AddPartitionsToTxn while the broker is gone.
        await producer.send(events, b"pending too", partition=1)
        await asyncio.sleep(1)
        await asyncio.wait_for(worker._drop_producer(partition), 30)  # stop() times out
    finally:
        await asyncio.to_thread(outage_broker.up)
        await worker._shutdown()  # its consumer, never started
    left = await _settle([producer], 15)
    assert left == [], f"the dropped producer runs on: {left}"


async def test_the_ingress_lanes_release_the_producers_an_outage_made_them_drop(
    outage_broker: LocalBroker,
    example_registry: ParticipantRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        kafka_bootstrap=outage_broker.bootstrap,
        topic_prefix="dropped.",
        ingress=IngressSettings(request_deadline_s=3.0),
    )
    await create_topics(settings, example_registry)
    killed: list[AIOKafkaProducer] = []
    kill = publisher_module.kill

    def recording_kill(producer: AIOKafkaProducer) -> None:
        killed.append(producer)
        kill(producer)

    monkeypatch.setattr(publisher_module, "kill", recording_kill)
    publisher = InboundPublisher(settings, lanes=2)
    await publisher.start()
    loop = asyncio.get_running_loop()

    async def publish(n: int) -> Any:
        record = OutboundRecord(f"k{n}".encode(), b"x" * 100, [])
        return await publisher.publish(record, loop.time() + 3.0)

    try:
        await asyncio.wait_for(_until_published(publisher, publish), 60)
        await asyncio.to_thread(outage_broker.down)
        try:
            for n in range(20):  # requests during the outage: lanes fail, drop, reconnect
                with pytest.raises(BrokerUnavailable):
                    await publish(n)
                await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(outage_broker.up)
        await asyncio.wait_for(_until_published(publisher, publish), 60)
        assert killed, "the outage made no lane drop its producer"
        left = await _settle(killed, 15)
        assert left == [], f"dropped ingress producers run on: {left}"
    finally:
        await publisher.close()


async def _until_published(publisher: InboundPublisher, publish: Any) -> None:
    while True:
        try:
            await publish(0)
            return
        except BrokerUnavailable:
            await asyncio.sleep(0.5)
