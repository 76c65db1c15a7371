"""The compiled Avro writer (``gateway.avro_writer``, behind ``codec.encode``) writes what
fastavro writes, byte for byte, and copies already encoded bodies where their record goes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import codec
from gateway.avro_writer import compile_writer
from gateway.codec import Encoded, encode_body
from gateway.events import CertificateEvent, EventSource, deterministic_event_id, event_to_avro
from tests.strategies import certificates, confirmations, voids

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
texts = st.text(max_size=80)  # some longer than 63 bytes: a two-byte length
optional_texts = st.none() | texts
instants = st.integers(min_value=-(10**12), max_value=10**13).map(
    lambda micros: EPOCH + timedelta(microseconds=micros * 997)
)


def fastavro_bytes(schema: Any, value: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, value)
    return buffer.getvalue()


def fastavro_encoded(name: str, value: Any) -> bytes:
    """What ``codec.encode`` wrote with fastavro's own writer: the reference."""
    version = codec.registry().current(name)
    return codec.MAGIC + version.fingerprint + fastavro_bytes(version.schema, value)


def spliced_bytes(schema: Any, value: Any, named: dict[str, Any] | None = None) -> bytes:
    out = bytearray()
    compile_writer(schema, named)(out, value)
    return bytes(out)


@st.composite
def events(draw: st.DrawFn) -> CertificateEvent:
    payload = draw(st.one_of(certificates(), confirmations(), voids()))
    event_id = deterministic_event_id(payload.sender, "ab" * 32, payload)
    source = EventSource(
        payload.sender, "ru_fts", "1", draw(texts), "ab" * 32, draw(optional_texts),
        draw(optional_texts),
    )  # fmt: skip
    return CertificateEvent(
        event_id, payload.certificate_number, draw(instants), draw(instants), source, payload
    )


@settings(max_examples=150, deadline=None)
@given(event=events())
def test_events_encode_as_fastavro_does(event: CertificateEvent) -> None:
    value = event_to_avro(event)
    expected = fastavro_encoded("CertificateEvent", value)
    assert codec.encode("CertificateEvent", value) == expected
    assert encode_body("CertificateEvent", value) == Encoded(
        "kpgw.events.CertificateEvent", expected[10:]
    )


@settings(max_examples=100, deadline=None)
@given(event=events(), created=instants, recipient=texts)
def test_a_spliced_event_gives_the_bytes_of_the_whole_notification(
    event: CertificateEvent, created: datetime, recipient: str
) -> None:
    value = {
        "notification_id": "n-1",
        "notification_type": "SHIPMENT_ANNOUNCED",
        "certificate_id": event.certificate_id,
        "recipient": recipient,
        "created_at": created,
        "event": event_to_avro(event),
        "outcome": None,
    }
    expected = fastavro_encoded("PartnerNotification", value)
    body = codec.decode_with_body(
        fastavro_encoded("CertificateEvent", value["event"]), "CertificateEvent"
    )[1]
    assert body is not None
    assert codec.encode("PartnerNotification", {**value, "event": body}) == expected
    assert codec.encode("PartnerNotification", value) == expected


statuses = st.fixed_dictionaries(
    {
        "tracking_id": texts,
        "sender": texts,
        "message_id": optional_texts,
        "certificate_id": optional_texts,
        "status": st.sampled_from(["ACCEPTED", "MATCHED", "DISCREPANCY", "UNKNOWN"]),
        "reason": optional_texts,
        "detail": optional_texts,
        "updated_at": instants | st.integers(min_value=-(2**62), max_value=2**62),
    }
)
outcomes = st.fixed_dictionaries(
    {
        "outcome_id": texts,
        "certificate_id": texts,
        "outcome": st.sampled_from(["MATCHED", "PAIR_NOT_ENABLED", "UNKNOWN"]),
        "pair": st.fixed_dictionaries({"exporter": texts, "importer": texts}),
        "differences": st.lists(
            st.fixed_dictionaries(
                {"field": texts, "certificate": optional_texts, "confirmation": optional_texts}
            ),
            max_size=70,
        ),
        "evidence_event_ids": st.lists(texts, max_size=5),
        "decided_at": instants,
        "detail": optional_texts,
    }
)


@settings(max_examples=150, deadline=None)
@given(status=statuses, outcome=outcomes)
def test_records_without_bodies_encode_as_fastavro_does(
    status: dict[str, Any], outcome: dict[str, Any]
) -> None:
    assert codec.encode("DeliveryStatus", status) == fastavro_encoded("DeliveryStatus", status)
    assert codec.encode("Outcome", outcome) == fastavro_encoded("Outcome", outcome)
    notification = {
        "notification_id": "n",
        "notification_type": "OUTCOME",
        "certificate_id": outcome["certificate_id"],
        "recipient": "EU",
        "created_at": outcome["decided_at"],
        "event": None,
        "outcome": outcome,
    }
    expected = fastavro_encoded("PartnerNotification", notification)
    assert codec.encode("PartnerNotification", notification) == expected
    spliced = {**notification, "outcome": encode_body("Outcome", outcome)}
    assert codec.encode("PartnerNotification", spliced) == expected


DECIMAL = fastavro.parse_schema(
    {"type": "bytes", "logicalType": "decimal", "precision": 15, "scale": 3}
)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.decimals(allow_nan=False, allow_infinity=False)
)
def test_decimals_encode_or_fail_as_fastavro_does(amount: Decimal) -> None:
    record = fastavro.parse_schema(
        {"type": "record", "name": "D", "fields": [{"name": "d", "type": DECIMAL}]}
    )
    try:
        expected = fastavro_bytes(record, {"d": amount})
    except ValueError as error:
        with pytest.raises(ValueError, match=str(error)):
            spliced_bytes(record, {"d": amount})
    else:
        assert spliced_bytes(record, {"d": amount}) == expected


GENERAL = fastavro.parse_schema(
    {
        "type": "record",
        "name": "General",
        "fields": [
            {"name": "flag", "type": "boolean"},
            {"name": "small", "type": "int"},
            {"name": "big", "type": "long"},
            {"name": "ratio", "type": "double"},
            {"name": "single", "type": "float"},
            {"name": "raw", "type": "bytes"},
            {"name": "tag", "type": {"type": "fixed", "name": "Tag", "size": 4}},
            {"name": "counts", "type": {"type": "map", "values": "long"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "either", "type": ["null", "long", "string"]},
            {"name": "kept", "type": "string", "default": "x"},
        ],
    }
)
generals = st.fixed_dictionaries(
    {
        "flag": st.booleans(),
        "small": st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "big": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "ratio": st.floats(allow_nan=False),
        "single": st.floats(allow_nan=False, width=32),
        "raw": st.binary(max_size=100),
        "tag": st.binary(min_size=4, max_size=4),
        "counts": st.dictionaries(texts, st.integers(min_value=-(2**40), max_value=2**40)),
        "day": st.dates(),
        "either": st.none() | st.integers(min_value=-(2**40), max_value=2**40) | texts,
    },
    optional={"kept": texts},
)


@settings(max_examples=200, deadline=None)
@given(value=generals)
def test_every_supported_type_encodes_as_fastavro_does(value: dict[str, Any]) -> None:
    assert spliced_bytes(GENERAL, value) == fastavro_bytes(GENERAL, value)


def test_a_payload_union_takes_the_tuple_notation_and_refuses_to_guess() -> None:
    schema = codec.registry().current("CertificateEvent").schema
    payload = schema["fields"][-1]["type"]
    void = ("kpgw.events.CertificateVoided", {
        "certificate_number": "RU1", "voiding_participant": "RU",
        "voided_on": datetime(2026, 1, 2).date(), "reason": "lost",
    })  # fmt: skip
    named = schema["__named_schemas"]
    body = fastavro_bytes(named["kpgw.events.CertificateVoided"], void[1])
    assert spliced_bytes(payload, void, named) == b"\x04" + body  # the third branch
    with pytest.raises(ValueError, match="fits no branch"):
        spliced_bytes(payload, 42, named)


def test_misplaced_bodies_missing_fields_and_unsupported_types_are_refused() -> None:
    status = {"tracking_id": "t", "sender": "RU", "status": "MATCHED", "updated_at": EPOCH}
    assert codec.encode("DeliveryStatus", status) == fastavro_encoded("DeliveryStatus", status)
    with pytest.raises(ValueError, match="no value and no default"):
        codec.encode("DeliveryStatus", {"tracking_id": "t"})
    outcome = Encoded("kpgw.events.Outcome", b"\x00")
    notification = {"notification_id": "n", "notification_type": "OUTCOME",
                    "certificate_id": "RU1", "recipient": "EU", "created_at": EPOCH}  # fmt: skip
    with pytest.raises(KeyError):  # an outcome body where the event goes
        codec.encode("PartnerNotification", {**notification, "event": outcome})
    with pytest.raises(ValueError, match=r"an encoded x where a kpgw\.events\.Outcome goes"):
        compile_writer(codec.registry().current("Outcome").schema)(bytearray(), Encoded("x", b""))
    with pytest.raises(ValueError, match="naive"):
        codec.encode("DeliveryStatus", {**status, "updated_at": datetime(2026, 1, 1)})
    uuid_schema = fastavro.parse_schema({"type": "string", "logicalType": "uuid"})
    with pytest.raises(NotImplementedError):
        compile_writer(uuid_schema)
