"""A compressed batch that inflates beyond the limit is read as one stand-in record, never
inflated whole: a few KB of gzip on kp.inbound that inflated to gigabytes ran every consumer
of the topic out of memory. Read through aiokafka's own fetcher parts and both its batch
readers, so a new aiokafka that moves them fails here."""

from __future__ import annotations

import gzip
import tracemalloc
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.record import default_records
from aiokafka.record._crecords import default_records as compiled_default_records
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from gateway.kafka import inflate_limit, lenient_headers
from gateway.kafka.inflate_limit import Inflated, InflateLimitExceeded
from tests.log_capture import captured

LIMIT = 1024 * 1024
GZIP = 1


@pytest.fixture(autouse=True)
def lowered_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    lenient_headers.install()
    monkeypatch.setattr(inflate_limit, "MAX_INFLATED_BATCH_BYTES", LIMIT)


def batch(values: list[bytes], base_offset: int = 0, compression: int = GZIP) -> bytes:
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=compression,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,  # a bomb is one record of hundreds of MB
    )
    for delta, value in enumerate(values):
        builder.append(
            delta, timestamp=1_700_000_000_000 + delta, key=None, value=value, headers=[]
        )
    data = bytearray(builder.build())
    data[0:8] = base_offset.to_bytes(8, "big")  # the batch's base offset, as a broker sets it
    return bytes(data)


def bomb(size: int = 20 * LIMIT) -> bytes:
    return b"<a>" + b" " * size + b"</a>"


def read(data: bytes, *, fetch_offset: int = 0) -> list[Any]:
    records = fetcher.PartitionRecords(
        TopicPartition("kp.inbound", 0),
        fetcher.MemoryRecords(data),
        None,
        fetch_offset,
        None,
        None,
        False,  # the base offset was set after the CRC was computed
        fetcher.READ_COMMITTED,
    )
    return list(records)


def test_a_batch_that_inflates_beyond_the_limit_is_one_stand_in_and_reading_goes_on() -> None:
    data = batch([b"<a/>"]) + batch([b"<b/>", bomb(), b"<c/>"], base_offset=1)
    data += batch([b"<d/>"], base_offset=4)
    with captured("gateway.kafka.inflate_limit") as logs:
        records = read(data)
    assert [(r.offset, r.value) for r in records] == [(0, b"<a/>"), (3, None), (4, b"<d/>")]
    assert inflate_limit.stand_in(records[1]) == Inflated(LIMIT, 1, 3)
    assert records[1].timestamp == 1_700_000_000_002  # the batch's latest
    assert [inflate_limit.stand_in(r) for r in (records[0], records[2])] == [None, None]
    (warning,) = logs
    assert (warning["log_level"], warning["first_offset"], warning["last_offset"]) == (
        "warning",
        1,
        3,
    )


def test_a_batch_within_the_limit_is_read_as_ever() -> None:
    value = b"<a>" + b" " * (LIMIT - 100) + b"</a>"
    assert [r.value for r in read(batch([value]))] == [value]


def test_both_batch_readers_call_the_bounded_decoder() -> None:
    """aiokafka's compiled reader and its pure-Python one (the lenient re-reading)."""
    data = batch([bomb()])
    for reader in (
        compiled_default_records.DefaultRecordBatch,
        default_records._DefaultRecordBatchPy,
    ):
        with pytest.raises(InflateLimitExceeded, match="beyond 1,048,576 bytes"):
            list(reader(data))


def test_a_header_name_that_is_not_utf8_and_an_inflating_batch_in_one_fetch() -> None:
    """The lenient re-reading of a fetch (``lenient_headers``) guards its batches too."""
    from tests.unit.test_lenient_headers import batch as plain_batch
    from tests.unit.test_lenient_headers import windows_1251_name

    data = plain_batch([(b"<a/>", [(windows_1251_name(), b"1")])]) + batch([bomb()], 1)
    assert [(r.offset, r.value) for r in read(data)] == [(0, b"<a/>"), (1, None)]


def test_the_mirror_reading_again_says_it_at_debug() -> None:
    with captured("gateway.kafka.inflate_limit") as logs, lenient_headers.rereading():
        read(batch([bomb()]))
    assert [e["log_level"] for e in logs] == ["debug"]


def test_inflating_stops_at_the_limit_not_at_the_end() -> None:
    compressed = gzip.compress(bomb(200 * LIMIT))  # 200 MiB inflated, ~200 KB compressed
    tracemalloc.start()
    try:
        with pytest.raises(InflateLimitExceeded):
            inflate_limit.gzip_decode(compressed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * LIMIT


def test_the_bounded_decoder_reads_what_aiokafkas_read() -> None:
    one, two = b"<a>" + b"x" * 5000 + b"</a>", b"<b/>"
    assert inflate_limit.gzip_decode(gzip.compress(one)) == one
    # Several gzip members (and padding between them), as gzip.GzipFile reads them.
    assert inflate_limit.gzip_decode(gzip.compress(one) + b"\0\0" + gzip.compress(two)) == one + two
    assert inflate_limit.gzip_decode(memoryview(gzip.compress(two))) == two
    with pytest.raises(EOFError):
        inflate_limit.gzip_decode(gzip.compress(one)[:-10])


def test_install_replaces_aiokafkas_gzip_decoder_where_its_readers_look_it_up() -> None:
    for module in inflate_limit.PATCHED_MODULES:
        assert module.gzip_decode is inflate_limit.gzip_decode


def test_only_a_record_without_key_and_value_and_with_the_header_is_a_stand_in() -> None:
    header = [(inflate_limit.STAND_IN_HEADER, b"1024 5-7")]
    assert inflate_limit.stand_in(record(None, header)) == Inflated(1024, 5, 7)
    assert inflate_limit.stand_in(record(b"<a/>", header)) is None
    assert inflate_limit.stand_in(record(None, [])) is None
    assert inflate_limit.stand_in(record(None, [(inflate_limit.STAND_IN_HEADER, b"x")])) is None
    assert "record at offset 7 decompresses beyond 1,024 bytes" in Inflated(1024, 7, 7).describe()
    assert "records at offsets 5 to 7 decompress beyond" in Inflated(1024, 5, 7).describe()


def record(value: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
    return SimpleNamespace(key=None, value=value, headers=tuple(headers))


def test_a_batch_of_a_codec_the_gateway_does_not_read_is_one_stand_in_and_reading_goes_on() -> None:
    """aiokafka needs cramjam for snappy, lz4 and zstd: such a batch raised
    UnsupportedCodecError out of every fetch, and the partition stopped there for good."""
    snappy = bytearray(batch([b"<b/>", b"<c/>"], base_offset=1, compression=0))
    snappy[22] |= 2  # the attributes' codec bits (the CRC is not checked here)
    data = batch([b"<a/>"]) + bytes(snappy) + batch([b"<d/>"], base_offset=3)
    with captured("gateway.kafka.inflate_limit") as logs:
        records = read(data)
    assert [(r.offset, r.value) for r in records] == [(0, b"<a/>"), (2, None), (3, b"<d/>")]
    unread = inflate_limit.stand_in(records[1])
    assert unread == inflate_limit.Unreadable("snappy", 1, 2)
    assert unread.code == "UNSUPPORTED_COMPRESSION"
    assert "offsets 1 to 2 are compressed with snappy (one record batch)" in unread.describe()
    assert [(e["event"], e["what"]) for e in logs] == [("record_batch_codec_unsupported", "snappy")]


def test_the_translator_dead_letters_a_stand_in_with_its_code() -> None:
    from gateway.translator.worker import never_read

    for batch_read, code in [
        (Inflated(LIMIT, 1, 3), "DOCUMENT_TOO_LARGE"),
        (inflate_limit.Unreadable("zstd", 4, 4), "UNSUPPORTED_COMPRESSION"),
    ]:
        failure = never_read(batch_read).failure
        assert failure is not None
        assert (failure.reason, failure.message) == (code, batch_read.describe())


def test_a_codec_is_refused_even_with_cramjam_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """cramjam's decoders inflate a batch whole: installed beside the gateway (aiokafka's
    extras), they would bring the unbounded inflation back."""
    from aiokafka import codec

    monkeypatch.setattr(codec, "has_zstd", lambda: True)
    zstd = bytearray(batch([b"<a/>"], compression=0))
    zstd[22] |= 4
    (record,) = read(bytes(zstd))
    assert inflate_limit.stand_in(record) == inflate_limit.Unreadable("zstd", 0, 0)


def test_install_replaces_the_other_codecs_decoders_where_its_readers_look_them_up() -> None:
    for module in inflate_limit.PATCHED_MODULES:
        names = [name for name in dir(module) if name.endswith("_decode")]
        # Every decoder a reader may call is one of ours (a new one's name fails here).
        assert "gzip_decode" in names
        assert set(names) <= {"gzip_decode", *inflate_limit.REFUSED}, module
        for name in names:
            assert getattr(module, name) in (
                inflate_limit.gzip_decode,
                *inflate_limit.REFUSED.values(),
            ), (module, name)


def test_a_fetch_is_read_no_further_once_its_batches_inflated_to_the_limit() -> None:
    """Each batch within the limit, but thirty of them in one fetch were a gigabyte in one
    getmany: reading stops after the batch that spends the budget, at a batch boundary,
    and aiokafka fetches again from there."""
    near = b"<a>" + b" " * (LIMIT * 6 // 10) + b"</a>"
    data = b"".join(batch([near], base_offset=n) for n in range(5))
    records = fetcher.PartitionRecords(
        TopicPartition("kp.inbound", 0),
        fetcher.MemoryRecords(data),
        None,
        0,
        None,
        None,
        False,
        fetcher.READ_COMMITTED,
    )
    assert [r.offset for r in records] == [0, 1]
    assert records.next_fetch_offset == 2  # the next fetch starts with the third batch
    uncompressed = b"".join(batch([near], base_offset=n, compression=0) for n in range(5))
    assert len(read(uncompressed)) == 5  # bounded by the fetch's size already
