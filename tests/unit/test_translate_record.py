"""``translate_record``: an event that cannot be encoded is its own record's poison pill,
never an exception that would abort (and endlessly repeat) the worker's whole batch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings

from gateway.events import CertificateEvent, CertificateIssued
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta
from gateway.translator.inbound import Inbound
from gateway.translator.worker import translate_record
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
