"""The transaction outbox (``gateway.kafka.outbox``) sends what aiokafka's ``send`` would:
the same partitions, in the same order per partition."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.kafka.outbox import Outbox, murmur2


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

    def __init__(self, batch_records: int) -> None:
        self.batch_records = batch_records
        self.sent: list[tuple[str, int, list[bytes]]] = []

    def create_batch(self) -> Any:
        return _Batch(self.batch_records)

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> None:
        self.sent.append((topic, partition, batch.values))

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
