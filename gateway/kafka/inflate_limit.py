"""A fetched record batch must not make a consumer allocate without bound.

Kafka bounds a batch by its compressed size (``max.message.bytes``): a Kafka-native sender
may write to ``kp.inbound`` a gzip batch of a few KB that inflates to gigabytes (a value of
whitespace). aiokafka inflates the whole batch while unpacking a fetch, before any gateway
code sees a record, so every consumer of the topic (the translator, the ingress's mirror,
which reads it again at every start) ran out of memory on it, at every restart for as long
as the topic kept it (a hostile-input review).

``install`` replaces aiokafka's gzip decoder (in its compiled and its pure-Python readers)
with one that stops at ``MAX_INFLATED_BATCH_BYTES`` (``InflateLimitExceeded``), and wraps
the batches the fetcher reads (``guarded``, from ``gateway.kafka.lenient_headers``, which
owns the fetcher's batch reading): a batch that inflates beyond the limit is handed out as
one stand-in record, at its last offset, with no key, no value and the header
``kpgw-inflated-beyond`` (``stand_in``): the consumer goes on with the next batch, and the
translator dead-letters the stand-in (DOCUMENT_TOO_LARGE, naming the batch's offsets). The
records of such a batch are not read at all (their headers are inside the compressed
bytes). The batches of one fetch are read only until they inflated to the limit together
(``FetchBudget``), so that one poll does not hand out many batches' worth. Checked against
aiokafka 0.14 (``tests/unit/test_inflate_limit.py`` fails when a new version moves these
parts).

Only gzip is read: the other codecs need ``cramjam``, which the gateway does not install
(its decoders are refused even when it is installed: ``REFUSED``). aiokafka refused such a
batch with ``UnsupportedCodecError`` out of every fetch, so the partition stopped there for
good (the translator retried the poll for ever): it is a stand-in too (header
``kpgw-unreadable-codec``), dead-lettered as UNSUPPORTED_COMPRESSION. A batch a consumer
reads inflated is at most the limit; aiokafka copies it once more (``bytearray``) while
reading.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka.errors import UnsupportedCodecError
from aiokafka.record import default_records, legacy_records
from aiokafka.record._crecords import default_records as compiled_default_records
from aiokafka.record._crecords import legacy_records as compiled_legacy_records

from gateway.settings import MAX_DOCUMENT_BYTES

log = structlog.get_logger(__name__)

#: The most a consumer inflates one record batch to: sixteen of the largest documents the
#: gateway parses (a producer's batch of ordinary documents stays far below it; the
#: translator dead-letters a single record above ``MAX_DOCUMENT_BYTES`` anyway).
MAX_INFLATED_BATCH_BYTES = 16 * MAX_DOCUMENT_BYTES

#: The stand-in record's header: "<limit> <first offset>-<last offset>" of its batch.
STAND_IN_HEADER = "kpgw-inflated-beyond"

#: The stand-in record's header for a batch of a codec the gateway does not read:
#: "<codec> <first offset>-<last offset>".
UNREADABLE_HEADER = "kpgw-unreadable-codec"

#: Kafka's compression codecs by their attribute bits.
CODECS = {1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

#: Inflated at a time: the decoder's working memory beyond the output.
_CHUNK = 1024 * 1024


class InflateLimitExceeded(Exception):
    """A compressed record batch inflates beyond ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the record batch inflates beyond {limit:,} bytes")
        self.limit = limit


def gzip_decode(payload: Any) -> bytes:
    """aiokafka's ``gzip_decode`` (every gzip member of ``payload``), stopping with
    ``InflateLimitExceeded`` once the output would exceed ``MAX_INFLATED_BATCH_BYTES``."""
    limit = MAX_INFLATED_BATCH_BYTES
    chunks: list[bytes] = []  # joined once: a growing buffer would copy as it grows
    size = 0
    data = memoryview(payload).tobytes()
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while True:
            chunk = inflater.decompress(data, min(_CHUNK, limit + 1 - size))
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise InflateLimitExceeded(limit)
            data = inflater.unconsumed_tail
            if inflater.eof or not data:
                break
        if not inflater.eof:  # as gzip.GzipFile.read says of a cut stream
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        data = inflater.unused_data.lstrip(b"\x00")  # GzipFile skips padding between members
    inflated = b"".join(chunks)
    _meter.last = len(inflated)
    return inflated


class _Meter:
    """What ``gzip_decode`` inflated last: a batch inflates synchronously in its iteration
    (``_GuardedBatch.__iter__``), which reads this right after."""

    last = 0


_meter = _Meter()


class FetchBudget:
    """What the batches of one fetch response inflated to so far. Each batch is bounded,
    but a fetch holds many (up to its ``max_partition_fetch_bytes`` compressed), and the
    consumer hands out up to ``max_records`` of their records at once: thirty batches of a
    few KB, each inflating to just under the limit, were a gigabyte in one ``getmany``. Once
    the budget (the limit again) is spent, the fetch is read no further (``has_next``):
    aiokafka fetches again from the next batch, after the consumer took what it was given."""

    def __init__(self) -> None:
        self.limit = MAX_INFLATED_BATCH_BYTES
        self.spent = 0

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.limit


#: The modules whose ``gzip_decode`` aiokafka's batch readers call.
PATCHED_MODULES = (
    default_records,
    legacy_records,
    compiled_default_records,
    compiled_legacy_records,
)


def _unbounded(codec: str) -> Callable[[Any], bytes]:
    def refuse(payload: Any) -> bytes:
        raise UnsupportedCodecError(f"{codec} is not read: it could not be read boundedly")

    return refuse


#: The decoders of the codecs that are not read. aiokafka's ``cramjam`` decoders inflate a
#: batch whole: were ``cramjam`` installed beside the gateway, they would bring the
#: unbounded inflation back, so they are refused even then, like the gateway's own install.
REFUSED = {f"{codec}_decode": _unbounded(codec) for codec in ("snappy", "lz4", "zstd")}


def install() -> None:
    """Idempotent; from then on every batch this process reads inflates boundedly."""
    for module in PATCHED_MODULES:
        module.gzip_decode = gzip_decode
        for name, refuse in REFUSED.items():
            if hasattr(module, name):  # the legacy readers know no zstd
                setattr(module, name, refuse)


@dataclass(frozen=True)
class StandIn:
    """What a consumer is handed for a batch that inflates beyond the limit: aiokafka's
    record interface, at the batch's last offset (the position moves past the batch)."""

    offset: int
    timestamp: int
    timestamp_type: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    key: None = None
    value: None = None
    checksum: None = None


def _records(first_offset: int, last_offset: int, *, one: str, many: str) -> str:
    """ "the record at offset 7 <one>" or "the records at offsets 5 to 7 <many>"."""
    if first_offset == last_offset:
        return f"the record at offset {last_offset} {one}"
    return f"the records at offsets {first_offset} to {last_offset} {many}"


@dataclass(frozen=True)
class Inflated:
    """A stand-in record, read: the limit its batch inflates beyond and its offsets."""

    limit: int
    first_offset: int
    last_offset: int
    code = "DOCUMENT_TOO_LARGE"

    def describe(self) -> str:
        records = _records(
            self.first_offset, self.last_offset, one="decompresses", many="decompress"
        )
        return (
            f"{records} beyond {self.limit:,} bytes (one compressed record batch), "
            f"more than the gateway reads of one batch; each document may be at most "
            f"{MAX_DOCUMENT_BYTES:,} bytes: the batch was not read"
        )


@dataclass(frozen=True)
class Unreadable:
    """A stand-in record, read: the codec of its batch, which the gateway does not read."""

    codec: str
    first_offset: int
    last_offset: int
    code = "UNSUPPORTED_COMPRESSION"

    def describe(self) -> str:
        records = _records(self.first_offset, self.last_offset, one="is", many="are")
        return (
            f"{records} compressed with {self.codec} (one record batch), which the "
            "gateway does not read: set the producer's compression.type to gzip or none"
        )


def stand_in(record: Any) -> Inflated | Unreadable | None:
    """What ``record`` stands for when it is a batch's stand-in (no key, no value, the
    ``kpgw-inflated-beyond`` or ``kpgw-unreadable-codec`` header), else None."""
    if record.key is not None or record.value is not None:
        return None
    for name, raw in record.headers or ():
        if name not in (STAND_IN_HEADER, UNREADABLE_HEADER) or raw is None:
            continue
        try:
            what, offsets = raw.decode("ascii").split(" ")
            first, last = offsets.split("-")
            if name == UNREADABLE_HEADER:
                return Unreadable(what, int(first), int(last))
            return Inflated(int(what), int(first), int(last))
        except ValueError:
            return None
    return None


class _GuardedBatch:
    """A fetched batch whose iteration hands out a stand-in record when it inflates beyond
    the limit; everything else is the batch's own."""

    def __init__(self, batch: Any, budget: FetchBudget) -> None:
        self._batch = batch
        self._budget = budget

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __next__(self) -> Any:
        return next(self._batch)

    def __iter__(self) -> Iterator[Any]:
        _meter.last = 0
        try:
            records = iter(self._batch)
        except InflateLimitExceeded as exc:
            return self._stand_in("record_batch_inflates_beyond_limit", STAND_IN_HEADER, exc.limit)
        except UnsupportedCodecError:
            codec = CODECS.get(self._batch.compression_type, "an unknown codec")
            return self._stand_in("record_batch_codec_unsupported", UNREADABLE_HEADER, codec)
        self._budget.spent += _meter.last
        return records  # type: ignore[no-any-return]

    def _stand_in(self, event: str, header: str, what: object) -> Iterator[StandIn]:
        from gateway.kafka.lenient_headers import is_rereading  # it imports this

        batch = self._batch
        last = batch.next_offset - 1
        # A reader of a topic from its beginning (the ingress's mirror) meets the batch
        # again at every start: the topic's own consumer warned of it.
        level = log.debug if is_rereading() else log.warning
        level(
            event,
            first_offset=batch.base_offset,
            last_offset=last,
            what=str(what),
            producer_id=batch.producer_id,
        )
        value = f"{what} {batch.base_offset}-{last}".encode("ascii")
        stand_in = StandIn(
            offset=last,
            timestamp=batch.max_timestamp,
            timestamp_type=batch.timestamp_type,
            headers=[(header, value)],
        )
        return iter([stand_in])


def guarded(batch: Any, budget: FetchBudget) -> Any:
    """``batch`` (a fetched record batch) guarded, its inflation counted in ``budget`` (its
    fetch's); a legacy one (magic 0 or 1, which no supported broker writes) as it is: its
    bounded decoder's error is raised."""
    if isinstance(batch, _BATCH_CLASSES):
        return _GuardedBatch(batch, budget)
    return batch


#: aiokafka's record batch classes (message format 2), compiled and pure-Python.
_BATCH_CLASSES = (
    compiled_default_records.DefaultRecordBatch,
    default_records._DefaultRecordBatchPy,
)
