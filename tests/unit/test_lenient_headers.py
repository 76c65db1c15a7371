"""A fetched batch with a header name that is not UTF-8 (librdkafka writes any bytes) is
read on, not raised out of the consumer: aiokafka's strict decoding made one such record on
kp.inbound stop the translator and the ingress's mirror at every start. Read through
aiokafka's own fetcher parts, so a new aiokafka that moves them fails here."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from gateway.kafka import lenient_headers
from tests.log_capture import captured


class RawName(str):
    """A header name that is written as the bytes it was given (as librdkafka does)."""

    raw = b""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def batch(records: list[tuple[bytes, list[tuple[str, bytes]]]], base_offset: int = 0) -> bytes:
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for delta, (value, headers) in enumerate(records):
        builder.append(delta, timestamp=1_700_000_000_000, key=None, value=value, headers=headers)
    data = bytearray(builder.build())
    data[0:8] = base_offset.to_bytes(8, "big")  # the batch's base offset, as a broker sets it
    return bytes(data)


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


def windows_1251_name() -> RawName:
    name = RawName("trace")
    name.raw = "трасса".encode("cp1251")
    return name


def test_a_header_name_that_is_not_utf8_is_read_with_replacement_characters() -> None:
    lenient_headers.install()
    data = batch(
        [(b"<a/>", [("kpgw-sender", b"RU")]), (b"<b/>", [(windows_1251_name(), b"1")])]
    ) + batch([(b"<c/>", [("kpgw-sender", b"RU")])], base_offset=2)
    read_back = read(data)
    assert [(r.offset, r.value) for r in read_back] == [(0, b"<a/>"), (1, b"<b/>"), (2, b"<c/>")]
    assert list(read_back[1].headers) == [("\ufffd" * 6, b"1")]
    assert list(read_back[0].headers) == [("kpgw-sender", b"RU")]


def test_the_records_before_the_failing_one_are_not_given_twice() -> None:
    lenient_headers.install()
    data = batch([(b"<a/>", []), (b"<b/>", []), (b"<c/>", [(windows_1251_name(), b"")])])
    assert [r.offset for r in read(data)] == [0, 1, 2]
    assert [r.offset for r in read(data, fetch_offset=1)] == [1, 2]


def test_install_is_idempotent() -> None:
    lenient_headers.install()
    lenient_headers.install()
    assert fetcher.PartitionRecords._unpack_records is lenient_headers._unpack_records
    assert fetcher.MemoryRecords is lenient_headers._RememberedRecords


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, Any]]]:
    """The module's log lines, from a process that has reported nothing yet."""
    lenient_headers.install()
    monkeypatch.setattr(lenient_headers, "_reported", {})
    with captured("gateway.kafka.lenient_headers") as logs:
        yield logs


def test_each_record_is_reported_once_with_its_own_offset(
    reports: list[MutableMapping[str, Any]],
) -> None:
    data = batch([(b"<a/>", []), (b"<b/>", [(windows_1251_name(), b"1")]), (b"<c/>", [])]) + batch(
        [(b"<d/>", [("x", b""), (windows_1251_name(), b"2")])], base_offset=3
    )
    assert [r.offset for r in read(data)] == [0, 1, 2, 3]
    assert [(e["offset"], e["log_level"]) for e in reports] == [(1, "warning"), (3, "warning")]
    assert "0xf2" in reports[0]["error"]


def test_a_record_read_again_in_the_same_process_is_reported_at_debug(
    reports: list[MutableMapping[str, Any]],
) -> None:
    data = batch([(b"<a/>", [(windows_1251_name(), b"1")])], base_offset=7)
    read(data, fetch_offset=7)
    read(data, fetch_offset=7)  # a rebalance, a retry: the same record again
    assert [(e["offset"], e["log_level"]) for e in reports] == [(7, "warning"), (7, "debug")]


def test_a_reader_of_a_topic_from_its_beginning_reports_at_debug(
    reports: list[MutableMapping[str, Any]],
) -> None:
    """The ingress's mirror of kp.inbound reads the topic again at every start: it warned
    of every such record at every start, for as long as the topic kept it."""
    data = batch([(b"<a/>", [(windows_1251_name(), b"1")])])
    with lenient_headers.rereading():
        read(data)
    assert [(e["offset"], e["log_level"], e["reread"]) for e in reports] == [(0, "debug", True)]
    read(data)  # the topic's own consumer, later in the same process: it still warns
    assert [e["log_level"] for e in reports] == ["debug", "warning"]


def test_a_record_before_the_fetch_position_is_not_reported(
    reports: list[MutableMapping[str, Any]],
) -> None:
    """It is not given out: a consumer resuming past it (the translator at its committed
    offset) has taken it in already."""
    data = batch([(b"<a/>", [(windows_1251_name(), b"1")]), (b"<b/>", [])])
    assert [r.offset for r in read(data, fetch_offset=1)] == [1]
    assert reports == []
