"""``translate_record``: an event that cannot be encoded is its own record's poison pill,
never an exception that would abort (and endlessly repeat) the worker's whole batch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

from gateway import codec
from gateway.events import CertificateEvent, CertificateIssued
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta
from gateway.translator.inbound import Inbound
from gateway.translator.worker import status_detail, status_record, translate_record
from tests.strategies import certificates
from tests.unit.router.factories import event

MOMENT = datetime(2026, 1, 5, tzinfo=UTC)
INBOUND = Inbound(
    key="BW:m-1",
    sender="BW",
    message_id="m-1",
    tracking_id="t-1",
    received_at=MOMENT,
    format_hint=None,
)


@settings(max_examples=10, deadline=None)
@given(cert=certificates())
def test_an_event_is_returned_with_its_encoding(
    cert: CertificateIssued, example_registry: ParticipantRegistry
) -> None:
    def translate(raw: bytes, meta: InboundMeta, registry: ParticipantRegistry) -> CertificateEvent:
        del raw, meta, registry
        return event(cert)

    result = translate_record(b"<x/>", INBOUND, example_registry, translate_fn=translate)
    assert result.failure is None
    assert result.event == event(cert)
    assert result.encoded[:2] == b"\xc3\x01"  # Avro single-object encoding


@settings(max_examples=10, deadline=None)
@given(cert=certificates())
def test_an_event_that_cannot_be_encoded_is_a_poison_pill(
    cert: CertificateIssued, example_registry: ParticipantRegistry
) -> None:
    unencodable = replace(cert, total_carats=Decimal(10) ** 20)  # beyond precision 15

    def translate(raw: bytes, meta: InboundMeta, registry: ParticipantRegistry) -> CertificateEvent:
        del raw, meta, registry
        return event(unencodable)

    result = translate_record(
        b"<x/>", INBOUND, example_registry, translate_fn=translate, max_attempts=2
    )
    assert result.event is None
    assert result.failure is not None
    assert result.failure.reason == "POISON_PILL"
    assert result.failure.attempts == 2
    assert "precision" in result.failure.message


def test_a_refusal_after_reading_names_the_certificate_and_every_finding(
    example_registry: ParticipantRegistry,
) -> None:
    """The dead-lettered status is the sender's only feedback when nothing answered 422
    (a Kafka-native sender, or synchronous validation off): it names the certificate and
    lists the findings with line and path."""
    from tests.kafka.helpers import certificate, render, with_hs

    raw = render(with_hs(certificate("RU0700030"), "7102.29"))
    inbound = replace(
        INBOUND, key="RU:m-2", sender="RU", received_at=datetime(2026, 6, 1, tzinfo=UTC)
    )
    result = translate_record(raw, inbound, example_registry)
    assert result.failure is not None and result.certificate_id == "RU0700030"
    detail = status_detail(result.failure)
    assert detail.startswith("NOT_KP_GOODS (lines[1].hs_code): HS code 7102.29")
    schema_error = raw.replace(b"<ram:TypeCode>2</ram:TypeCode>", b"<ram:Foo>2</ram:Foo>")
    refused = translate_record(schema_error, inbound, example_registry)
    assert refused.failure is not None and refused.certificate_id is None  # never read
    assert status_detail(refused.failure).startswith("XSD_VIOLATION (line ")
    assert "/rsm:SPSCertificate/rsm:SPSExchangedDocument/ram:Foo" in status_detail(refused.failure)


def test_a_long_list_of_findings_is_cut_with_a_count() -> None:
    from gateway.dlq.headers import Failure
    from gateway.errors import Finding

    failure = Failure(
        stage="translator",
        reason="XSD_VIOLATION",
        exception_fqcn="gateway.errors.SchemaViolation",
        message="many",
        findings=tuple(Finding("XSD_VIOLATION", f"problem {n}", n, "/r") for n in range(1, 15)),
    )
    detail = status_detail(failure)
    assert detail.count("\n") == 10
    assert detail.endswith("... and 4 more")


def test_a_tombstone_is_named_as_such(example_registry: ParticipantRegistry) -> None:
    """A Kafka-native sender's review: a null value (a tombstone, as a compacting producer
    sends to delete a key) was refused as "the body is empty"."""

    def translate(raw: bytes, meta: InboundMeta, registry: ParticipantRegistry) -> CertificateEvent:
        raise AssertionError("not translated")

    result = translate_record(None, INBOUND, example_registry, translate_fn=translate)
    assert result.failure is not None and result.failure.reason == "EMPTY_DOCUMENT"
    assert "the record's value is null (a tombstone)" in result.failure.message
    empty = translate_record(b"", INBOUND, example_registry)
    assert empty.failure is not None and empty.failure.message == "the body is empty"


@pytest.mark.parametrize("sender", ["BW", "RU"])  # refused by the KP rules, by the sender check
def test_a_certificate_number_too_long_to_be_one_is_not_named_in_the_status(
    example_registry: ParticipantRegistry, sender: str
) -> None:
    """A 1.2 MB number made a 1.2 MB status record, over kp.status's record size: the
    batch failed at every retry and the partition stopped for good."""
    fixture = Path(__file__).parents[1] / "fixtures/uncefact/certificate_bw_eu_be.xml"
    raw = fixture.read_bytes().replace(b"BW0123456", b"BW" + b"1" * 1_200_000)
    result = translate_record(raw, replace(INBOUND, sender=sender), example_registry)
    assert result.failure is not None and result.certificate_id is None
    status = status_record(
        INBOUND,
        state="DEAD_LETTERED",
        certificate_id=result.certificate_id,
        reason=result.failure.reason,
        detail=status_detail(result.failure),
        now=MOMENT,
    )
    assert len(codec.encode("DeliveryStatus", status)) < 4096
    normal = translate_record(fixture.read_bytes(), replace(INBOUND, sender="RU"), example_registry)
    assert normal.certificate_id == "BW0123456"  # refused (the sender), and named
