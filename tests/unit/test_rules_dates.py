"""DATE_IN_FUTURE and DATE_BEFORE_KPCS: a document cannot record an act that had not happened
when the gateway received it, nor one older than the KP Certification Scheme."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from gateway import rules
from gateway.errors import BusinessRuleViolation
from gateway.events import CertificateVoided, Payload
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta, translate
from tests.kafka.helpers import certificate, confirmation, render

ISSUED = date(2026, 3, 2)


def _dates(payload: Payload, registry: ParticipantRegistry, received_on: date | None) -> list:
    found = rules.findings_for(payload, registry, received_on=received_on)
    return [(f.code, f.path) for f in found if f.code.startswith("DATE_")]


def test_a_certificate_issued_after_it_was_received_is_refused(
    example_registry: ParticipantRegistry,
) -> None:
    cert = certificate("RU0700010", issued=ISSUED)
    # The sender's local date may run a day ahead of UTC: that much is accepted.
    assert _dates(cert, example_registry, ISSUED - timedelta(days=1)) == []
    assert _dates(cert, example_registry, ISSUED - timedelta(days=2)) == [
        (rules.DATE_IN_FUTURE, "issue_date")
    ]


def test_confirmations_and_voids_are_judged_on_their_own_dates(
    example_registry: ParticipantRegistry,
) -> None:
    cert = certificate("RU0700011", issued=ISSUED)
    received = ISSUED + timedelta(days=10)
    conf = confirmation(cert, received=received)
    assert _dates(conf, example_registry, received) == []
    assert _dates(conf, example_registry, received - timedelta(days=5)) == [
        (rules.DATE_IN_FUTURE, "date_of_receipt")
    ]
    void = CertificateVoided(
        certificate_number=cert.certificate_number,
        voiding_participant="RU",
        voided_on=ISSUED + timedelta(days=3),
        reason="issued in error",
    )
    assert _dates(void, example_registry, ISSUED) == [(rules.DATE_IN_FUTURE, "voided_on")]


def test_without_a_time_reference_no_date_is_in_the_future(
    example_registry: ParticipantRegistry,
) -> None:
    cert = certificate("RU0700012", issued=date(2099, 1, 1))
    cert = replace(cert, expiry_date=date(2099, 3, 1))
    assert _dates(cert, example_registry, None) == []


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        (date(2003, 1, 1), []),
        (date(2002, 12, 31), [(rules.DATE_BEFORE_KPCS, "issue_date")]),
        (date(1, 1, 1), [(rules.DATE_BEFORE_KPCS, "issue_date")]),
    ],
)
def test_nothing_predates_the_scheme(
    issued: date, expected: list, example_registry: ParticipantRegistry
) -> None:
    cert = replace(certificate("RU0700013", issued=issued), expiry_date=issued + timedelta(days=60))
    assert _dates(cert, example_registry, ISSUED) == expected


def test_translate_judges_dates_against_the_records_reception(
    example_registry: ParticipantRegistry,
) -> None:
    raw = render(certificate("RU0700014", issued=ISSUED))
    # A reception time with an offset counts in UTC: 2026-03-01T01:00+02:00 is 28 February.
    early = datetime(2026, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(BusinessRuleViolation) as caught:
        translate(raw, InboundMeta(sender="RU", received_at=early), example_registry)
    assert caught.value.reason == rules.DATE_IN_FUTURE
    assert caught.value.adapter == "uncefact"
    assert "issued on 2026-03-02" in caught.value.findings[0].message
    on_time = InboundMeta(sender="RU", received_at=datetime(2026, 3, 1, 0, 30, tzinfo=UTC))
    assert translate(raw, on_time, example_registry).certificate_id == "RU0700014"
