"""The records one transaction writes, handed to the producer a batch at a time.

aiokafka's ``send`` costs tens of microseconds per record in Python (metadata wait,
transaction check, size estimate, partitioner, accumulator), and the router writes about
five records per event, the translator two per inbound record. The outbox appends each
record to a ``BatchBuilder`` of its topic partition and submits a builder when it is full
and at ``flush`` (before the transaction commits): the same records, in the same order
per partition, with the same partitions (the default partitioner's murmur2 of the key, as
Kafka's Java client computes it) and producer time stamps.

Every submitted batch's delivery is awaited at ``flush``, and a failure raises: aiokafka
commits a transaction even when one of its batches was refused (a record over the topic's
``max.message.bytes``, say), so an unchecked delivery was a record silently lost under a
committed input offset.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

Headers = Sequence[tuple[str, bytes]]


class DeliveryFailed(Exception):
    """A batch of the transaction was not written: the transaction must not commit."""


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), as aiokafka's
    ``partitioner.murmur2`` returns it, 3-4 times faster: the 4-byte words are unpacked
    at once and masked only where the Java ints would overflow."""
    length = len(data)
    h = 0x9747B28C ^ length
    for word in struct.unpack_from(f"<{length >> 2}I", data):
        k = (word * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail, base = length & 3, length & ~3
    if tail:
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)


@lru_cache(maxsize=8192)
def _hash(key: bytes) -> int:
    """What aiokafka's ``DefaultPartitioner`` takes modulo the partition count; a
    certificate's records share their key, so many are cache hits."""
    return murmur2(key) & 0x7FFFFFFF


class Outbox:
    """One transaction's output records, one open ``BatchBuilder`` per topic partition."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._builders: dict[tuple[str, int], Any] = {}
        self._partitions: dict[str, list[int]] = {}
        self._deliveries: list[asyncio.Future[Any]] = []
        #: Records queued so far (a transaction with none had no time stamp checked).
        self.sent = 0

    def watch(self, delivery: asyncio.Future[Any]) -> None:
        """Check at ``flush`` a record sent with the producer directly (a dead letter)."""
        self._deliveries.append(delivery)

    async def send(
        self,
        topic: str,
        key: bytes,
        value: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue one record; ``partition`` None: by key, as the default partitioner does."""
        self.sent += 1
        if partition is None:
            partition = await self._by_key(topic, key)
        where = (topic, partition)
        builder = self._builders.get(where)
        if builder is None:
            builder = self._builders[where] = self.producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value, headers=headers or []) is None:
            self._deliveries.append(
                await self.producer.send_batch(builder, topic, partition=partition)
            )
            builder = self._builders[where] = self.producer.create_batch()
            if builder.append(timestamp=None, key=key, value=value, headers=headers or []) is None:
                raise MessageSizeTooLargeError(f"a record for {topic} does not fit a batch")

    async def flush(self) -> None:
        """Submit every open builder and wait until the broker has acknowledged every
        batch; ``DeliveryFailed`` when one was refused."""
        builders, self._builders = self._builders, {}
        for (topic, partition), builder in builders.items():
            if builder.record_count():
                self._deliveries.append(
                    await self.producer.send_batch(builder, topic, partition=partition)
                )
        deliveries, self._deliveries = self._deliveries, []
        outcomes = await asyncio.gather(*deliveries, return_exceptions=True)
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failed:
            raise DeliveryFailed(
                f"{len(failed)} of {len(deliveries)} batches were not written: {failed[0]!r}"
            ) from failed[0]

    async def _by_key(self, topic: str, key: bytes) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            # The producer's own order of the partitions, as its partitioner gets them.
            partitions = self._partitions[topic] = list(await self.producer.partitions_for(topic))
        return partitions[_hash(key) % len(partitions)]
