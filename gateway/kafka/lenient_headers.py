"""A record header whose name is not UTF-8 must not stop a consumer.

Kafka's protocol says header names are UTF-8, but only Java's client enforces it:
librdkafka (confluent-kafka, Go's clients, C) writes whatever bytes it is given. aiokafka
decodes every header name strictly while unpacking a fetched batch, so one such record on
``kp.inbound`` (a Kafka-native sender's ``windows-1251`` header name) raised
``UnicodeDecodeError`` out of ``getmany``: the translator and the ingress's mirror failed
on it at every start, and ``kpgw run`` exited. None of the gateway's headers has such a
name, so the record is read on with the name's bad bytes as U+FFFD (its headers are kept
on a dead letter as they are then).

aiokafka has no hook for this: ``install`` wraps the fetcher's batch unpacking. The usual
path is untouched (the compiled reader, at full speed); only a fetch that raised
``UnicodeDecodeError`` is read again from its bytes, with aiokafka's pure-Python reader and
lenient header names, from the record that failed on. Checked against aiokafka 0.14
(``tests/unit/test_lenient_headers.py`` fails when a new version moves these parts).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, SupportsIndex, overload

import structlog
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.legacy_records import _LegacyRecordBatchPy
from aiokafka.record.memory_records import MemoryRecords as _CompiledMemoryRecords
from aiokafka.record.memory_records import _MemoryRecordsPy

log = structlog.get_logger(__name__)


class _LenientBytes(bytearray):
    """A batch's bytes whose slices decode with U+FFFD for bytes that are not UTF-8 (the
    reader decodes header names with ``slice.decode("utf-8")``)."""

    @overload
    def __getitem__(self, index: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> _LenientBytes: ...
    def __getitem__(self, index: SupportsIndex | slice) -> int | _LenientBytes:
        if isinstance(index, slice):
            return _LenientBytes(bytearray.__getitem__(self, index))
        return bytearray.__getitem__(self, index)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return bytearray.decode(self, encoding, "replace")


class _LenientBatch(_DefaultRecordBatchPy):  # type: ignore[misc]  # aiokafka's is untyped
    def _maybe_uncompress(self) -> None:
        super()._maybe_uncompress()
        buffer: bytearray = self._buffer  # type: ignore[has-type]
        if not isinstance(buffer, _LenientBytes):
            self._buffer = _LenientBytes(buffer)


class _LenientRecords(_MemoryRecordsPy):  # type: ignore[misc]
    """The fetch's batches again, read leniently, from the batch holding ``resume_at``."""

    def __init__(self, data: bytes, resume_at: int) -> None:
        super().__init__(data)
        self._resume_at = resume_at

    def next_batch(self, *_: Any) -> Any:
        while (piece := self._next_slice) is not None:
            self._cache_next()
            if piece[self.MAGIC_OFFSET] < 2:
                return _LegacyRecordBatchPy(piece, piece[self.MAGIC_OFFSET])
            batch = _LenientBatch(piece)
            # Batches the compiled reader already gave out are not given again: their
            # control records and aborted transactions were taken into account then.
            if batch.next_offset > self._resume_at:
                return batch
        return None


class _RememberedRecords:
    """The compiled reader, keeping the fetch's bytes for a lenient second reading."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._records = _CompiledMemoryRecords(data)

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        return self._records.next_batch()

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())


_strict_unpack = fetcher.PartitionRecords._unpack_records


def _unpack_records(self: Any) -> Iterator[Any]:
    try:
        yield from _strict_unpack(self)
    except UnicodeDecodeError as exc:
        data = getattr(self._records, "data", None)
        if data is None:
            raise
        log.warning(
            "record_header_name_not_utf8",
            topic=self._tp.topic,
            partition=self._tp.partition,
            offset=self.next_fetch_offset,
            error=str(exc)[:200],
        )
        # Records before the one that failed were given out (next_fetch_offset is past
        # them): the strict reader's loop skips what is below it.
        self._records = _LenientRecords(data, self.next_fetch_offset)
        yield from _strict_unpack(self)


def install() -> None:
    """Idempotent; every consumer the gateway makes reads leniently from then on."""
    if fetcher.PartitionRecords._unpack_records is _unpack_records:
        return
    fetcher.MemoryRecords = _RememberedRecords
    fetcher.PartitionRecords._unpack_records = _unpack_records
