"""The compiled Avro reader (``gateway.avro_reader``, behind ``codec.decode``) gives what
fastavro's reader gives, value for value and type for type, and for malformed bytes either
the same values or an error where fastavro errs: never another outcome, never a hang."""

from __future__ import annotations

import contextlib
import io
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import codec
from gateway.avro_reader import compile_reader
from gateway.errors import UndecodableEvent
from gateway.events import CertificateEvent, event_to_avro
from gateway.router.wire import decode_event
from tests.unit.router.factories import Harness, certificate, confirmation, event, void
from tests.unit.test_avro_writer import GENERAL, events, generals

OPTIONS = {"return_record_name": True, "return_record_name_override": True}


def fastavro_read(schema: Any, data: bytes, pos: int = 0) -> tuple[Any, int]:
    """The reference: fastavro's reader, as ``codec`` called it before."""
    stream = io.BytesIO(data)
    stream.seek(pos)
    return fastavro.schemaless_reader(stream, schema, None, **OPTIONS), stream.tell()


def outcome(read: Any, data: bytes, pos: int = 0) -> tuple[str, Any]:
    """("ok", the value in a form where equal means same types, same digits, same zones,
    and the end position), or ("error", None)."""
    try:
        value, end = read(data, pos)
    except Exception:  # any exception: codec makes it UndecodableEvent
        return "error", None
    return "ok", (exact(value), end)


def exact(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", [(key, exact(item)) for key, item in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [exact(item) for item in value])
    if isinstance(value, Decimal | datetime | date | float):
        return (type(value).__name__, repr(value))  # exponent, zone, -0.0 and NaN kept
    return (type(value).__name__, value)


def same(schema: Any, data: bytes, pos: int = 0) -> tuple[str, Any]:
    expected = outcome(lambda d, p: fastavro_read(schema, d, p), data, pos)
    assert outcome(compile_reader(schema), data, pos) == expected
    return expected


def schemas() -> list[Any]:
    return [codec.registry().current(name).schema for name in codec.registry().names()]


def encoded(event: CertificateEvent) -> bytes:
    return codec.encode("CertificateEvent", event_to_avro(event))


EVENT = codec.registry().current("CertificateEvent").schema


def test_every_top_level_schema_compiles() -> None:
    for schema in schemas():
        compile_reader(schema)


@settings(max_examples=200, deadline=None)
@given(item=events())
def test_events_read_as_fastavro_reads_them(item: CertificateEvent) -> None:
    data = encoded(item)
    assert same(EVENT, data, 10)[0] == "ok"
    body = decode_event(data)[1]  # milliseconds: the event as read, not always as made
    assert body is not None and body.body == data[10:]


def test_every_record_the_router_writes_reads_as_fastavro_reads_it() -> None:
    """Notifications embedding events, outcomes, statuses and changelog states."""
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.feed(event(confirmation(cert, parcels=4)))
    router.feed(event(confirmation(cert)), datetime(2025, 3, 20, tzinfo=UTC))
    router.feed(event(void(cert)))
    kinds = set()
    for data in router.written:
        writer = codec.writer_of(data)
        assert writer.version == "current"
        assert same(writer.schema, data, 10)[0] == "ok"
        assert codec.decode_with_body(data, writer.name)[1] is not None
        kinds.add(writer.name)
    assert kinds == {"PartnerNotification", "Outcome", "DeliveryStatus", "RouterState"}


@settings(max_examples=200, deadline=None)
@given(value=generals)
def test_every_supported_type_reads_as_fastavro_reads_it(value: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, GENERAL, value)
    assert same(GENERAL, buffer.getvalue())[0] == "ok"


mutations = st.lists(
    st.tuples(
        st.sampled_from(["set", "insert", "delete", "truncate"]),
        st.integers(min_value=0, max_value=10_000),
        st.binary(min_size=1, max_size=10),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, steps: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for action, where, chunk in steps:
        at = where % (len(out) + 1)
        if action == "set":
            out[at : at + len(chunk)] = chunk
        elif action == "insert":
            out[at:at] = chunk
        elif action == "delete":
            del out[at : at + len(chunk)]
        else:
            del out[at:]
    return bytes(out)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=events(), steps=mutations)
def test_mutated_events_read_alike_or_fail_alike(
    item: CertificateEvent, steps: list[tuple[str, int, bytes]]
) -> None:
    data = encoded(item)
    body = mutate(data[10:], steps)
    same(EVENT, data[:10] + body, 10)
    with contextlib.suppress(UndecodableEvent):  # the only exception it may raise
        decode_event(data[:10] + body)


@settings(max_examples=300, deadline=None)
@given(value=generals, steps=mutations)
def test_every_mutated_type_reads_alike_or_fails_alike(
    value: dict[str, Any], steps: list[tuple[str, int, bytes]]
) -> None:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, GENERAL, value)
    same(GENERAL, mutate(buffer.getvalue(), steps))


@settings(max_examples=300, deadline=None)
@given(index=st.integers(min_value=0, max_value=5), data=st.binary(max_size=300))
def test_random_bytes_read_alike_or_fail_alike(index: int, data: bytes) -> None:
    every = schemas()
    same(every[index % len(every)], data)


def varint(n: int) -> bytes:
    """The zig-zag varint of a 64-bit ``n``."""
    n = ((n << 1) ^ (n >> 63)) & (2**64 - 1)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes([*out, n])


STRING, LONG = fastavro.parse_schema("string"), fastavro.parse_schema("long")
OPTIONAL = fastavro.parse_schema(["null", "string"])
STRINGS = fastavro.parse_schema({"type": "array", "items": "string"})
NUMBERS = fastavro.parse_schema({"type": "map", "values": "long"})
ENUM = fastavro.parse_schema({"type": "enum", "name": "E", "symbols": ["A", "B", "C"]})
DECIMAL = fastavro.parse_schema(
    {"type": "bytes", "logicalType": "decimal", "precision": 15, "scale": 3}
)
INSTANT = fastavro.parse_schema({"type": "long", "logicalType": "timestamp-millis"})


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        (STRING, b""),  # nothing at all
        (STRING, b"\x0aab"),  # 5 bytes declared, 2 there
        (STRING, b"\x03abc"),  # a negative length
        (STRING, varint(2**62) + b"abc"),  # a huge length
        (STRING, varint(-(2**63)) + b"abc"),
        (STRING, b"\x02\xff"),  # invalid UTF-8
        (STRING, b"\x06\xed\xa0\x80"),  # a UTF-8 encoded surrogate
        (STRING, b"\x84\x01" + b"a" * 65),  # a two-byte length, one byte short
        (STRING, b"\x80\x01" + b"a" * 64),  # a two-byte length
        (STRING, b"\x80\x00"),  # a non-minimal varint: empty
        (STRINGS, varint(2**62) + b"\x02a"),  # a huge count: no allocation, an error
        (STRINGS, varint(-(2**63)) + b"\x00\x00"),  # negates to itself: no items
        (STRINGS, b"\x03\x04\x02a\x02b\x00"),  # a negative count and the block's size
        (STRINGS, b"\x04\x02a"),  # truncated
        (NUMBERS, b"\x02\x02a\x02\x00"),
        (NUMBERS, b"\x04\x02a\x02\x02a\x04\x00"),  # a repeated key: the last one
        (OPTIONAL, b"\x01\x02a"),  # branch -1: the last one, as fastavro reads it
        (OPTIONAL, b"\x03\x02a"),  # branch -2: the first
        (OPTIONAL, b"\x05"),  # branch -3: none
        (OPTIONAL, b"\x04\x02a"),  # branch 2 of 2
        (OPTIONAL, b"\x80\x80\x00"),  # a non-minimal branch 0
        (ENUM, b"\x01"),  # symbol -1: the last
        (ENUM, b"\x06"),
        (LONG, b"\xff" * 10 + b"\x01"),  # eleven bytes: 64 bits kept
        (LONG, b"\x80" * 19 + b"\x01"),
        (LONG, b"\xfe" + b"\xff" * 8 + b"\x01"),  # 2**63 - 1
        (LONG, b"\xff" * 9 + b"\x7f"),
        (LONG, b"\xff" * 30),  # no end
        (DECIMAL, b"\x10" + (1234567890123456000).to_bytes(8, "big", signed=True)),  # wide
        (DECIMAL, b"\x00"),  # no digits: zero
        (DECIMAL, b"\x10\x05"),
        (DECIMAL, varint(3000) + b"\x7f" * 3000),  # rounds to 15 digits, overflows
        (INSTANT, varint(2**60)),
        (INSTANT, varint(253402300799999)),  # the last millisecond of 9999
        (INSTANT, varint(253402300800000)),
        (INSTANT, varint(-62135596800001)),
    ],
)
def test_malformed_and_unusual_bytes_read_alike_or_fail_alike(schema: Any, data: bytes) -> None:
    same(schema, data)


@settings(max_examples=500, deadline=None)
@given(n=st.integers(min_value=-(2**63), max_value=2**63 - 1), tail=st.binary(max_size=3))
def test_longs_read_as_fastavro_reads_them(n: int, tail: bytes) -> None:
    assert same(LONG, varint(n) + tail)[1] == (("int", n), len(varint(n)))
    same(INSTANT, varint(n) + tail)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(min_size=1, max_size=12))
def test_any_varint_reads_as_fastavro_reads_it(data: bytes) -> None:
    same(LONG, b"\xff" * (data[0] % 12) + data)


@settings(max_examples=300, deadline=None)
@given(unscaled=st.integers(min_value=-(2**200), max_value=2**200))
def test_decimals_read_as_fastavro_reads_them(unscaled: int) -> None:
    raw = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
    same(DECIMAL, varint(len(raw)) + raw)


def test_trailing_bytes_are_read_past_and_give_no_body() -> None:
    data = encoded(event(certificate()))
    assert decode_event(data + b"\x00")[1] is None
    assert decode_event(data + b"\x00")[0] == decode_event(data)[0]
    with pytest.raises(UndecodableEvent, match="corrupt Avro body"):
        decode_event(data[:-1])


def test_unsupported_schemas_are_refused_at_compile_time() -> None:
    refused = [
        {"type": "string", "logicalType": "uuid"},
        {"type": "array", "items": "null"},
        {"type": "fixed", "name": "F", "size": 4, "logicalType": "decimal", "precision": 4},
        {"type": "record", "name": "R", "fields": [{"name": "next", "type": ["null", "R"]}]},
    ]
    for schema in refused:
        with pytest.raises(NotImplementedError):
            compile_reader(fastavro.parse_schema(schema))


@pytest.mark.parametrize("size", [64, 65, 1_000_000])
def test_a_decimal_longer_than_its_bound_fails_alike_and_at_once(size: int) -> None:
    """A megabyte of decimal took about 75 s to read, in fastavro and in the compiled
    reader alike: a router stalled that long on one hostile kp.events record. Both now
    refuse a decimal over ``decimal_bytes_limit`` bytes (64 for these precisions)."""
    data = varint(size) + b"\x7f" * size
    started = time.perf_counter()
    result = same(DECIMAL, data)
    assert result[0] == ("ok" if size <= 64 else "error")
    assert time.perf_counter() - started < 1


def test_an_event_with_a_megabyte_decimal_is_undecodable_at_once() -> None:
    """What the router does with such a record: UNDECODABLE_AVRO, naming the bound."""
    data = encoded(event(certificate()))
    raw = (1_830_550).to_bytes(3, "big", signed=True)  # total_carats, 1830.550
    pattern = varint(len(raw)) + raw
    assert pattern in data
    hostile = data.replace(pattern, varint(1_000_000) + b"\x7f" * 1_000_000, 1)
    started = time.perf_counter()
    with pytest.raises(UndecodableEvent, match="at most 64 bytes") as refused:
        decode_event(hostile)
    assert refused.value.reason == "UNDECODABLE_AVRO"
    assert time.perf_counter() - started < 1
