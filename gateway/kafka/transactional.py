"""Consume-transform-produce with Kafka transactions, one stable ``transactional_id`` per
input partition (aiokafka's ``send_offsets_to_transaction`` has no KIP-447 fencing, so the
partition, not the process, owns the transactional id: a new owner's ``init_transactions``
fences the old one and aborts whatever it left open).

For each batch of one partition: begin, let the handler write its outputs, add the input
offset (last + 1), commit. Kafka failures (broker down, timeouts, fencing) abort and retry
the same batch with backoff, never dead-letter; a handler decides per record what is a
dead letter. Handlers may keep per-partition state: ``committed``/``aborted`` tell them
whether their staged changes became durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from gateway.errors import TransientFailure
from gateway.kafka.clients import committed_consumer, transactional_producer
from gateway.settings import Settings

log = structlog.get_logger(__name__)


class PartitionHandler(Protocol):
    async def on_assigned(self, partitions: Sequence[TopicPartition]) -> None: ...

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None: ...

    async def process(
        self, partition: TopicPartition, records: Sequence[Any], producer: AIOKafkaProducer
    ) -> None:
        """Write this batch's outputs with ``producer`` (inside the open transaction)."""
        ...

    def committed(self, partition: TopicPartition) -> None: ...

    def aborted(self, partition: TopicPartition) -> None: ...


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: TransactionalWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.worker._revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.worker._assigned(list(assigned))


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TransientFailure | asyncio.TimeoutError | ConnectionError):
        return True
    return isinstance(error, KafkaError)


class TransactionalWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        topic: str,
        group_id: str,
        handler: PartitionHandler,
        max_records: int = 500,
        poll_timeout_ms: int = 500,
        backoff_ms: int = 200,
        backoff_max_ms: int = 10_000,
    ) -> None:
        self.settings = settings
        self.name = name
        self.topic = topic
        self.group_id = group_id
        self.handler = handler
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self._producers: dict[TopicPartition, AIOKafkaProducer] = {}
        self._consumer = committed_consumer(
            settings,
            group_id=group_id,
            client_id=f"{settings.client_id}-{name}",
            max_poll_records=max_records,
            session_timeout_ms=20_000,
            heartbeat_interval_ms=3_000,
            rebalance_timeout_ms=60_000,
        )
        self.ready = asyncio.Event()

    def transactional_id(self, partition: TopicPartition) -> str:
        return f"{self.group_id}-{partition.topic}-{partition.partition}"

    async def _producer_for(self, partition: TopicPartition) -> AIOKafkaProducer:
        producer = self._producers.get(partition)
        if producer is None:
            producer = transactional_producer(
                self.settings, self.transactional_id(partition), request_timeout_ms=15_000
            )
            await producer.start()  # init_transactions: fences any previous owner
            self._producers[partition] = producer
        return producer

    async def _drop_producer(self, partition: TopicPartition) -> None:
        producer = self._producers.pop(partition, None)
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    async def _assigned(self, partitions: list[TopicPartition]) -> None:
        log.info("partitions_assigned", worker=self.name, partitions=[p.partition for p in partitions])
        await self.handler.on_assigned(partitions)
        self.ready.set()

    async def _revoked(self, partitions: list[TopicPartition]) -> None:
        log.info("partitions_revoked", worker=self.name, partitions=[p.partition for p in partitions])
        for partition in partitions:
            await self._drop_producer(partition)
        await self.handler.on_revoked(partitions)

    async def run(self, stop: asyncio.Event) -> None:
        await self._start_consumer(stop)
        try:
            while not stop.is_set():
                try:
                    batches = await self._consumer.getmany(
                        timeout_ms=self.poll_timeout_ms, max_records=self.max_records
                    )
                except KafkaError as exc:
                    log.warning("poll_failed", worker=self.name, error=repr(exc))
                    await asyncio.sleep(self.backoff_ms / 1000)
                    continue
                for partition, records in batches.items():
                    if records and not stop.is_set():
                        await self._process_batch(partition, records, stop)
        finally:
            await self._shutdown()

    async def _start_consumer(self, stop: asyncio.Event) -> None:
        attempt = 0
        while True:
            try:
                await self._consumer.start()
                self._consumer.subscribe([self.topic], listener=_Listener(self))
                return
            except KafkaError as exc:
                attempt += 1
                log.warning("consumer_start_failed", worker=self.name, attempt=attempt, error=repr(exc))
                if stop.is_set():
                    raise
                await asyncio.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max_ms, self.backoff_ms * 2 ** min(attempt, 16))
        return (ceiling / 2 + random.uniform(0, ceiling / 2)) / 1000  # noqa: S311 - jitter

    async def _process_batch(
        self, partition: TopicPartition, records: Sequence[Any], stop: asyncio.Event
    ) -> None:
        attempt = 0
        while True:
            if partition not in self._consumer.assignment():
                return  # lost ownership during a retry: the new owner starts at the committed offset
            try:
                producer = await self._producer_for(partition)
                async with producer.transaction():
                    await self.handler.process(partition, records, producer)
                    await producer.send_offsets_to_transaction(
                        {partition: records[-1].offset + 1}, self.group_id
                    )
            except ProducerFenced:
                self.handler.aborted(partition)
                log.warning("producer_fenced", worker=self.name, partition=partition.partition)
                await self._drop_producer(partition)
                if partition in self._consumer.assignment():
                    # Still ours: read the uncommitted batch again rather than skip it.
                    self._consumer.seek(partition, records[0].offset)
                return
            except Exception as exc:
                self.handler.aborted(partition)
                attempt += 1
                transient = is_transient(exc)
                log.warning(
                    "batch_aborted_will_retry" if transient else "batch_failed_unexpectedly",
                    worker=self.name,
                    partition=partition.partition,
                    first_offset=records[0].offset,
                    attempt=attempt,
                    error=repr(exc),
                    exc_info=not transient,
                )
                await self._drop_producer(partition)  # a failed producer may be unusable
                if stop.is_set():
                    return
                await asyncio.sleep(self._backoff(attempt))
                continue
            self.handler.committed(partition)
            return

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._consumer.stop(), 30)
        for partition in list(self._producers):
            await self._drop_producer(partition)
