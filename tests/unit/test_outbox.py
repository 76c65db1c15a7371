"""The transaction outbox (``gateway.kafka.outbox``) sends what aiokafka's ``send`` would:
the same partitions, in the same order per partition."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.kafka.outbox import DeliveryFailed, Outbox, murmur2


@settings(max_examples=500, deadline=None)
@given(key=st.binary(max_size=120))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


def test_murmur2_of_known_keys() -> None:
    # Kafka's own UtilsTest.testMurmur2 vectors (as unsigned 32-bit).
    assert murmur2(b"21") & 0xFFFFFFFF == -973932308 & 0xFFFFFFFF
    assert murmur2(b"foobar") & 0xFFFFFFFF == -790332482 & 0xFFFFFFFF
    assert murmur2(b"a-little-bit-long-string") & 0xFFFFFFFF == -985981536 & 0xFFFFFFFF
    assert murmur2(b"") & 0xFFFFFFFF == 275646681


class _Producer:
    """What the outbox uses of an AIOKafkaProducer, recording the submitted batches."""

    def __init__(self, batch_records: int, refuse: str | None = None) -> None:
        self.batch_records = batch_records
        self.refuse = refuse  # a topic whose batches the "broker" refuses
        self.sent: list[tuple[str, int, list[bytes]]] = []

    def create_batch(self) -> Any:
        return _Batch(self.batch_records)

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        """As aiokafka: a future of the batch's delivery, settled later."""
        self.sent.append((topic, partition, batch.values))
        delivery = asyncio.get_running_loop().create_future()
        if topic == self.refuse:
            error = MessageSizeTooLargeError("the request included a message larger than allowed")
            asyncio.get_running_loop().call_soon(delivery.set_exception, error)
        else:
            asyncio.get_running_loop().call_soon(delivery.set_result, None)
        return delivery

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(12))


class _Batch:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.values: list[bytes] = []

    def append(self, *, timestamp: None, key: bytes, value: bytes, headers: Any) -> object:
        if len(self.values) >= self.capacity:
            return None
        self.values.append(value)
        return object()

    def record_count(self) -> int:
        return len(self.values)


def test_the_outbox_partitions_like_aiokafka_and_keeps_the_order_per_partition() -> None:
    producer = _Producer(batch_records=3)
    keys = [f"RU{i:07d}".encode() for i in range(40)]

    async def run() -> None:
        outbox = Outbox(producer)  # type: ignore[arg-type]
        for i, key in enumerate(keys):
            await outbox.send("kp.status", key, b"%d" % i)
            await outbox.send("kp.outcomes", key, b"%d" % i, partition=5)
        await outbox.flush()

    asyncio.run(run())
    expected: dict[tuple[str, int], list[bytes]] = {}
    for i, key in enumerate(keys):
        partition = DefaultPartitioner()(key, list(range(12)), list(range(12)))
        expected.setdefault(("kp.status", partition), []).append(b"%d" % i)
        expected.setdefault(("kp.outcomes", 5), []).append(b"%d" % i)
    got: dict[tuple[str, int], list[bytes]] = {}
    for topic, partition, values in producer.sent:
        assert 0 < len(values) <= 3
        got.setdefault((topic, partition), []).extend(values)
    assert got == expected


def test_a_refused_batch_fails_the_flush_so_the_transaction_cannot_commit() -> None:
    """aiokafka commits a transaction whose batch the broker refused: an unchecked
    delivery was a record lost under a committed offset (found by an integrator review:
    a 1.2 MB event vanished, and the producer's next events with it)."""
    producer = _Producer(batch_records=3, refuse="kp.events")

    async def run() -> None:
        outbox = Outbox(producer)  # type: ignore[arg-type]
        await outbox.send("kp.status", b"t-1", b"translated")
        await outbox.send("kp.events", b"RU0610001", b"x" * 100)
        await outbox.flush()

    with pytest.raises(DeliveryFailed, match="1 of 2 batches were not written") as failed:
        asyncio.run(run())
    assert isinstance(failed.value.__cause__, MessageSizeTooLargeError)


def test_a_watched_send_that_fails_fails_the_flush() -> None:
    producer = _Producer(batch_records=3)

    async def run() -> None:
        outbox = Outbox(producer)  # type: ignore[arg-type]
        dead_letter = asyncio.get_running_loop().create_future()
        dead_letter.set_exception(MessageSizeTooLargeError("too large for kp.dlq"))
        outbox.watch(dead_letter)
        await outbox.send("kp.status", b"t-1", b"dead-lettered")
        await outbox.flush()

    with pytest.raises(DeliveryFailed, match="1 of 2"):
        asyncio.run(run())
