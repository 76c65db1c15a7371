"""``TransactionalWorker.transact``: a transaction on a partition's own producer outside the
batches (the router's timer): committed or aborted and retried like a batch, serialised
with the batches, refused for a partition the worker does not own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from gateway.kafka.transactional import TransactionalWorker
from gateway.settings import Settings
from tests.kafka.helpers import read_until, running

pytestmark = pytest.mark.kafka


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def on_assigned(self, partitions: Sequence[TopicPartition]) -> None:
        self.calls.append("assigned")

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        self.calls.append("revoked")

    async def process(
        self, partition: TopicPartition, records: Sequence[Any], producer: AIOKafkaProducer
    ) -> None:
        self.calls.append("process")

    def committed(self, partition: TopicPartition) -> None:
        self.calls.append("committed")

    def aborted(self, partition: TopicPartition) -> None:
        self.calls.append("aborted")


async def test_transact_commits_retries_and_refuses_foreign_partitions(
    created_topics: Settings,
) -> None:
    settings = created_topics
    recorder = Recorder()
    worker = TransactionalWorker(
        settings,
        name="t",
        topic=f"{settings.topic_prefix}events",
        group_id=f"{settings.topic_prefix}t",
        handler=recorder,
        backoff_ms=10,
    )
    tp = TopicPartition(f"{settings.topic_prefix}events", 3)
    failures = [RuntimeError("first attempt fails")]

    async def write(producer: AIOKafkaProducer) -> None:
        await producer.send(f"{settings.topic_prefix}outcomes", b"tick", key=b"k", partition=3)
        if failures:
            raise failures.pop()

    async with running(lambda: worker):
        assert await worker.transact(tp, write)
        assert not await worker.transact(TopicPartition("elsewhere", 0), write)
        assert await worker.position(tp) == 0
    assert [c for c in recorder.calls if c != "revoked"] == ["assigned", "aborted", "committed"]
    records = await read_until(settings, "outcomes", 1, timeout_s=10)
    assert [(r.partition, r.value) for r in records] == [
        (3, b"tick")
    ]  # the aborted one is invisible
