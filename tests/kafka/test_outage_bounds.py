"""The broker stopped or frozen under reads that wait for it: each gives up in bounded
time with an error that says what it waited for (a retriable one for a router's restore,
which the router retries with backoff; an environment problem for an operator's command),
where aiokafka alone waits for as long as the outage lasts. And a worker with nothing to
process says when the broker goes and when it is back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiokafka import AIOKafkaProducer, TopicPartition
from structlog.testing import capture_logs

from gateway.errors import EnvironmentProblem, TransientFailure
from gateway.kafka import clients, transactional
from gateway.kafka.broker import LocalBroker
from gateway.kafka.clients import (
    bounded_end_offsets,
    bounded_position,
    close_for_good,
    committed_consumer,
    idempotent_producer,
)
from gateway.kafka.topics import create_topics
from gateway.kafka.transactional import COORDINATOR_LOST_S, TransactionalWorker
from gateway.registry import ParticipantRegistry
from gateway.router import restore
from gateway.settings import Settings, load_settings
from tests.kafka.helpers import broker_of_its_own, stopped

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
def outage_broker(tmp_path: Path, kafka_bootstrap: str) -> Iterator[LocalBroker]:
    """A broker of this test's own, on KPGW_TEST_OUTAGE_BROKER_PORT when given: stopping
    or freezing it disturbs no other test."""
    with broker_of_its_own(tmp_path / "broker") as broker:
        yield broker


async def _settings(broker: LocalBroker, registry: ParticipantRegistry) -> Settings:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, topic_prefix="bounds.")
    await create_topics(settings, registry)
    return settings


async def test_a_position_the_stopped_broker_never_gives_is_an_error_naming_it(
    outage_broker: LocalBroker,
    example_registry: ParticipantRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = await _settings(outage_broker, example_registry)
    monkeypatch.setattr(clients, "ANSWER_WAIT_S", 3.0)
    tp = TopicPartition(f"{settings.topic_prefix}dlq", 0)
    consumer = committed_consumer(settings, group_id=None, request_timeout_ms=2_000)
    await consumer.start()
    try:
        consumer.assign([tp])
        await asyncio.to_thread(outage_broker.down)
        assert not await consumer.seek_to_beginning(tp)  # gave up: the position is unset
        waiting = asyncio.ensure_future(consumer.position(tp))
        done, _ = await asyncio.wait({waiting}, timeout=6)
        assert not done, "aiokafka's own position() should wait for the broker"
        waiting.cancel()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(EnvironmentProblem, match=r"did not answer the position of bounds\."):
            await bounded_position(consumer, tp)
        with pytest.raises(TransientFailure, match=r"did not answer the end offsets of bounds\."):
            await bounded_end_offsets(consumer, [tp], error=TransientFailure)
        assert loop.time() - started < 15
    finally:
        await close_for_good(consumer, what="test consumer")


async def test_a_restore_whose_broker_freezes_mid_read_fails_to_be_retried(
    outage_broker: LocalBroker,
    example_registry: ParticipantRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Partition 0 of the changelog is empty, partition 1 holds a hundred batches, read a
    batch per fetch: the broker freezes once partition 0 is restored."""
    settings = await _settings(outage_broker, example_registry)
    changelog = f"{settings.topic_prefix}router.changelog"
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for n in range(100):  # one batch each
            await producer.send_and_wait(changelog, b"x" * 64, key=f"c{n}".encode(), partition=1)
    finally:
        await close_for_good(producer, what="test producer")
    monkeypatch.setattr(restore, "FETCH_BYTES", 64)
    monkeypatch.setattr(clients, "READ_STALL_S", 3.0)
    pid = outage_broker.pid()
    assert pid is not None
    restored: list[int] = []

    def on_restored(result: restore.Restored) -> None:
        restored.append(result.partition)
        if result.partition == 0:
            os.kill(pid, signal.SIGSTOP)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TransientFailure, match="made no progress") as caught:
        async with asyncio.timeout(60):
            await restore.restore_partitions(
                settings,
                changelog=changelog,
                events=f"{settings.topic_prefix}events",
                partitions=[0, 1],
                on_restored=on_restored,
            )
    assert restored == [0] and caught.value.retriable
    assert loop.time() - started < 30  # the stall guard, then a bounded close


class _Idle:
    """A handler that is never given a record: the topic stays empty."""

    async def on_assigned(self, partitions: Sequence[TopicPartition]) -> None:
        return None

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        return None

    async def process(
        self, partition: TopicPartition, records: Sequence[Any], producer: AIOKafkaProducer
    ) -> None:
        return None

    def committed(self, partition: TopicPartition) -> None:
        return None

    def aborted(self, partition: TopicPartition) -> None:
        return None


async def _logged(logs: list[dict[str, Any]], event: str, seconds: float) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while not (found := [e for e in logs if e["event"] == event]):
        assert asyncio.get_running_loop().time() < deadline, f"no {event} within {seconds} s"
        await asyncio.sleep(0.5)
    return found[0]


async def test_an_idle_worker_says_when_the_broker_goes_and_when_it_is_back(
    outage_broker: LocalBroker,
    example_registry: ParticipantRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = await _settings(outage_broker, example_registry)
    # capture_logs sees only loggers not cached with another test's configuration
    monkeypatch.setattr(transactional, "log", structlog.get_logger(transactional.__name__))
    worker = TransactionalWorker(
        settings,
        name="idle",
        topic=f"{settings.topic_prefix}events",
        group_id=f"{settings.topic_prefix}idle",
        handler=_Idle(),
    )
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(worker.run(stop))
        try:
            await asyncio.wait_for(worker.ready.wait(), 60)
            await asyncio.to_thread(outage_broker.down)
            lost = await _logged(logs, "broker_unavailable", COORDINATOR_LOST_S + 30)
            await asyncio.sleep(3)  # said once, not every poll
            await asyncio.to_thread(outage_broker.up)
            back = await _logged(logs, "broker_available_again", 60)
        finally:
            stop.set()
            await stopped(task)
    assert lost["log_level"] == "warning" and "no group coordinator" in lost["error"]
    assert back["log_level"] == "info" and back["unavailable_s"] >= COORDINATOR_LOST_S
    assert [e["event"] for e in logs if e["event"].startswith("broker_")] == [
        "broker_unavailable",
        "broker_available_again",
    ]
