from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import codec
from gateway.errors import UndecodableEvent
from gateway.events import (
    CertificateEvent,
    EventSource,
    deterministic_event_id,
    event_from_avro,
    event_to_avro,
)
from tests.strategies import certificates, confirmations, voids

RECEIVED = datetime(2026, 3, 2, 9, 30, 15, 123000, tzinfo=UTC)


def _event(payload: object) -> CertificateEvent:
    return CertificateEvent(
        event_id=deterministic_event_id("RU", "ab" * 32, payload),  # type: ignore[arg-type]
        certificate_id=payload.certificate_number,  # type: ignore[attr-defined]
        occurred_at=RECEIVED,
        received_at=RECEIVED,
        source=EventSource("RU", "ru_fts", "1", "msg-1", "ab" * 32, tracking_id="trk-1"),
        payload=payload,  # type: ignore[arg-type]
    )


def test_crc64_avro_matches_the_specification_test_vector() -> None:
    # From Avro's schema-tests: parsingFingerprint64("null") == 7195948357588979594.
    assert codec.crc64_avro(b'"null"') == 7195948357588979594


def test_single_object_framing() -> None:
    data = codec.encode(
        "DlqAudit",
        {
            "replay_id": "r1",
            "operator": "ops",
            "at": RECEIVED,
            "filter": "{}",
            "selected": 1,
            "replayed": 1,
            "skipped": 0,
            "result": "ok",
        },
    )
    version = codec.registry().current("DlqAudit")
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == version.fingerprint
    expected = codec.crc64_avro(
        __import__("fastavro").schema.to_parsing_canonical_form(version.schema).encode()
    )
    assert struct.unpack("<Q", data[2:10])[0] == expected


@settings(max_examples=60, deadline=None)
@given(payload=st.one_of(certificates(), confirmations(), voids()))
def test_event_round_trip_is_exact(payload: object) -> None:
    event = _event(payload)
    decoded = event_from_avro(codec.decode(codec.encode("CertificateEvent", event_to_avro(event))))
    assert decoded == event
    issued = getattr(decoded.payload, "total_carats", None)
    assert issued is None or isinstance(issued, Decimal)


def test_unknown_fingerprint_and_garbage_are_undecodable() -> None:
    with pytest.raises(UndecodableEvent, match="unknown writer schema"):
        codec.decode(b"\xc3\x01" + b"\x00" * 8 + b"\x02")
    with pytest.raises(UndecodableEvent, match="not Avro single-object"):
        codec.decode(b"<xml/>")
    good = codec.encode(
        "DlqAudit",
        {
            "replay_id": "r1",
            "operator": "ops",
            "at": RECEIVED,
            "filter": "{}",
            "selected": 1,
            "replayed": 1,
            "skipped": 0,
            "result": "ok",
        },
    )
    with pytest.raises(UndecodableEvent, match="corrupt"):
        codec.decode(good[:12])


# --- resolution across schema versions ---------------------------------------------------

V1 = {
    "type": "record",
    "name": "Sample",
    "namespace": "kpgw.events",
    "fields": [
        {"name": "certificate_id", "type": "string"},
        {
            "name": "carats",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 15, "scale": 3},
        },
        {
            "name": "kind",
            "type": {
                "type": "enum",
                "name": "Kind",
                "symbols": ["A", "B", "UNKNOWN"],
                "default": "UNKNOWN",
            },
        },
    ],
}
V2 = {
    **V1,
    "fields": [
        *V1["fields"][:2],
        {
            "name": "kind",
            "type": {
                "type": "enum",
                "name": "Kind",
                "symbols": ["A", "B", "C", "UNKNOWN"],
                "default": "UNKNOWN",
            },
        },
        {"name": "remarks", "type": ["null", "string"], "default": None},
    ],
}


@pytest.fixture(scope="module")
def versioned(tmp_path_factory: pytest.TempPathFactory) -> codec.SchemaRegistry:
    root: Path = tmp_path_factory.mktemp("avro")
    (root / "released" / "Sample").mkdir(parents=True)
    (root / "released" / "Sample" / "v1.avsc").write_text(json.dumps(V1))
    (root / "kpgw.events.Sample.avsc").write_text(json.dumps(V2))
    return codec.SchemaRegistry(root, names=("Sample",))


@settings(max_examples=50, deadline=None)
@given(
    number=st.from_regex(r"RU[0-9]{7}", fullmatch=True),
    milli=st.integers(min_value=1, max_value=10**12),
    kind=st.sampled_from(["A", "B"]),
)
def test_old_writer_resolves_to_new_reader(
    versioned: codec.SchemaRegistry, number: str, milli: int, kind: str
) -> None:
    import io

    import fastavro

    old = versioned.by_fingerprint(codec.fingerprint(fastavro.parse_schema(V1)))
    assert old is not None and old.version == "1"
    buffer = io.BytesIO()
    fastavro.schemaless_writer(
        buffer,
        old.schema,
        {
            "certificate_id": number,
            "carats": Decimal(milli) / 1000,
            "kind": kind,
        },
    )
    new = versioned.current("Sample")
    record = fastavro.schemaless_reader(io.BytesIO(buffer.getvalue()), old.schema, new.schema)
    assert record == {
        "certificate_id": number,
        "carats": Decimal(milli) / 1000,
        "kind": kind,
        "remarks": None,
    }


def test_new_writer_resolves_to_old_reader_with_enum_default(
    versioned: codec.SchemaRegistry,
) -> None:
    import io

    import fastavro

    new = versioned.current("Sample")
    old = fastavro.parse_schema(V1)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(
        buffer,
        new.schema,
        {
            "certificate_id": "RU0123456",
            "carats": Decimal("1.500"),
            "kind": "C",
            "remarks": "x",
        },
    )
    record = fastavro.schemaless_reader(io.BytesIO(buffer.getvalue()), new.schema, old)
    assert record == {"certificate_id": "RU0123456", "carats": Decimal("1.500"), "kind": "UNKNOWN"}


# --- the body of a decoded record, for splicing ---------------------------------------------


@settings(max_examples=40, deadline=None)
@given(payload=st.one_of(certificates(), confirmations(), voids()))
def test_decode_with_body_gives_the_body_written_with_the_current_schema(payload: object) -> None:
    data = codec.encode("CertificateEvent", event_to_avro(_event(payload)))
    record, body = codec.decode_with_body(data, "CertificateEvent")
    assert record == codec.decode(data, "CertificateEvent")
    assert body == codec.Encoded("kpgw.events.CertificateEvent", data[10:])
    # Bytes the decoder did not read are not part of the body: no body at all.
    assert codec.decode_with_body(data + b"\x02", "CertificateEvent") == (record, None)


def test_decode_with_body_gives_none_for_an_older_writer(
    versioned: codec.SchemaRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import fastavro

    monkeypatch.setattr(codec, "registry", lambda: versioned)
    old = fastavro.parse_schema(V1)
    value = {"certificate_id": "RU0123456", "carats": Decimal("1.500"), "kind": "A"}
    for schema, expect_body in ((old, False), (versioned.current("Sample").schema, True)):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, schema, {**value, "remarks": None})
        data = codec.MAGIC + codec.fingerprint(schema) + buffer.getvalue()
        record, body = codec.decode_with_body(data, "Sample")
        assert record == {**value, "remarks": None}
        assert (body is not None) is expect_body
