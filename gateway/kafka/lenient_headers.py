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

Each such record is logged (``record_header_name_not_utf8``, with its own offset) at warning
once per process, by the consumer that takes the topic's records in (a consumer group: the
translator, whose committed offsets mean it reads a record once, restarts included). A
consumer without a group reads the topic again from its beginning at every start (the
ingress's mirror of ``kp.inbound``, the dashboard, a router's restore, the operator
commands): it logs what it finds at debug (``reread``), as it does any record met again in
the same process. Before, the ingress warned of every such record at every start, for as
long as the topic kept it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, SupportsIndex, overload

import structlog
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.legacy_records import _LegacyRecordBatchPy
from aiokafka.record.memory_records import MemoryRecords as _CompiledMemoryRecords
from aiokafka.record.memory_records import _MemoryRecordsPy

from gateway.kafka import inflate_limit

log = structlog.get_logger(__name__)


#: Records reported at warning in this process, (topic, partition, offset); at most
#: ``REPORTED_KEPT`` (then forgotten: one more warning each, not memory without end).
_reported: dict[tuple[str, int, int], None] = {}
REPORTED_KEPT = 10_000

#: True while a consumer without a group reads (``rereading``): see the module's doc.
_rereading: ContextVar[bool] = ContextVar("kpgw_header_names_reread", default=False)


@contextlib.contextmanager
def rereading() -> Iterator[None]:
    """Records read in this block come from a reader of a topic from its beginning: what
    they hold was reported when the topic's own consumer took them in."""
    token = _rereading.set(True)
    try:
        yield
    finally:
        _rereading.reset(token)


def is_rereading() -> bool:
    """Whether the records read now come from a reader of a topic from its beginning."""
    return _rereading.get()


class _LenientBytes(bytearray):
    """A batch's bytes whose slices decode with U+FFFD for bytes that are not UTF-8 (the
    reader decodes header names with ``slice.decode("utf-8")``); each name so decoded is
    noted in ``found`` (shared with the slices)."""

    found: list[str]

    @overload
    def __getitem__(self, index: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> _LenientBytes: ...
    def __getitem__(self, index: SupportsIndex | slice) -> int | _LenientBytes:
        if isinstance(index, slice):
            return _lenient(bytearray.__getitem__(self, index), self.found)
        return bytearray.__getitem__(self, index)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        try:
            return bytearray.decode(self, encoding)
        except UnicodeDecodeError as exc:
            self.found.append(str(exc)[:200])
            return bytearray.decode(self, encoding, "replace")


def _lenient(data: bytearray, found: list[str]) -> _LenientBytes:
    lenient = _LenientBytes(data)
    lenient.found = found
    return lenient


class _LenientBatch(_DefaultRecordBatchPy):  # type: ignore[misc]  # aiokafka's is untyped
    """A batch read leniently; ``found`` gets (offset, error) of each record with a header
    name that is not UTF-8."""

    def __init__(self, data: bytes, found: list[tuple[int, str]]) -> None:
        super().__init__(data)
        self._found = found
        self._names: list[str] = []

    def _maybe_uncompress(self) -> None:
        super()._maybe_uncompress()
        buffer: bytearray = self._buffer  # type: ignore[has-type]
        if not isinstance(buffer, _LenientBytes):
            self._buffer = _lenient(buffer, self._names)

    def _read_msg(self, *args: Any) -> Any:
        names = len(self._names)
        record = super()._read_msg(*args)
        if len(self._names) > names:
            self._found.append((record.offset, self._names[names]))
        return record


class _LenientRecords(_MemoryRecordsPy):  # type: ignore[misc]
    """The fetch's batches again, read leniently, from the batch holding ``resume_at``."""

    def __init__(self, data: bytes, resume_at: int) -> None:
        super().__init__(data)
        self._resume_at = resume_at
        self._found: list[tuple[int, str]] = []
        self._budget = inflate_limit.FetchBudget()

    def has_next(self) -> bool:
        return not self._budget.exhausted and bool(super().has_next())

    def take_found(self) -> list[tuple[int, str]]:
        """(offset, error) of the records with a name that is not UTF-8 read since the
        last call, from ``resume_at`` on (those before were given out by the strict reader,
        or lie before the fetch's position and are not given out at all)."""
        found = [(offset, error) for offset, error in self._found if offset >= self._resume_at]
        self._found.clear()
        return found

    def next_batch(self, *_: Any) -> Any:
        while (piece := self._next_slice) is not None:
            self._cache_next()
            if piece[self.MAGIC_OFFSET] < 2:
                return _LegacyRecordBatchPy(piece, piece[self.MAGIC_OFFSET])
            batch = _LenientBatch(piece, self._found)
            # Batches the compiled reader already gave out are not given again: their
            # control records and aborted transactions were taken into account then.
            if batch.next_offset > self._resume_at:
                return inflate_limit.guarded(batch, self._budget)
        return None


class _RememberedRecords:
    """The compiled reader, keeping the fetch's bytes for a lenient second reading, its
    batches guarded (``gateway.kafka.inflate_limit``)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._records = _CompiledMemoryRecords(data)
        self._budget = inflate_limit.FetchBudget()

    def has_next(self) -> bool:
        """False once the fetch's batches inflated to its budget (``FetchBudget``)."""
        return not self._budget.exhausted and bool(self._records.has_next())

    def next_batch(self) -> Any:
        return inflate_limit.guarded(self._records.next_batch(), self._budget)

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())


_strict_unpack = fetcher.PartitionRecords._unpack_records


def _unpack_records(self: Any) -> Iterator[Any]:
    try:
        yield from _strict_unpack(self)
    except UnicodeDecodeError:
        data = getattr(self._records, "data", None)
        if data is None:
            raise
        # Records before the one that failed were given out (next_fetch_offset is past
        # them): the strict reader's loop skips what is below it.
        lenient = _LenientRecords(data, self.next_fetch_offset)
        self._records = lenient
        for record in _strict_unpack(self):
            _report(self._tp.topic, self._tp.partition, lenient.take_found())
            yield record
        _report(self._tp.topic, self._tp.partition, lenient.take_found())


def _report(topic: str, partition: int, found: list[tuple[int, str]]) -> None:
    for offset, error in found:
        key = (topic, partition, offset)
        fields = {"topic": topic, "partition": partition, "offset": offset, "error": error}
        if key in _reported or _rereading.get():
            log.debug("record_header_name_not_utf8", **fields, reread=True)
            continue
        if len(_reported) >= REPORTED_KEPT:
            del _reported[next(iter(_reported))]
        _reported[key] = None
        log.warning(
            "record_header_name_not_utf8",
            **fields,
            advice="the producer of this record wrote a header name that is not UTF-8, "
            "which Kafka requires; it was read with U+FFFD for the bad bytes",
        )


def install() -> None:
    """Idempotent; every consumer the gateway makes reads leniently from then on, and
    inflates a compressed batch boundedly (``gateway.kafka.inflate_limit``)."""
    inflate_limit.install()
    if fetcher.PartitionRecords._unpack_records is _unpack_records:
        return
    fetcher.MemoryRecords = _RememberedRecords
    fetcher.PartitionRecords._unpack_records = _unpack_records
