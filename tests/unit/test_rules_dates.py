"""DATE_IN_FUTURE and DATE_BEFORE_KPCS: a document cannot record an act that had not happened
when the gateway received it, nor one older than the KP Certification Scheme."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway import rules
from gateway.errors import BusinessRuleViolation
from gateway.events import CertificateVoided, Payload
from gateway.registry import ParticipantRegistry, load_registry
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


FIXTURES = Path(__file__).parents[1] / "fixtures" / "uncefact"
CERT_ISSUED = "2026-02-27T09:30:00+02:00"  # the fixture's IssueDateTime (07:30 UTC)
ACK_ISSUED = "2026-03-04T10:12:00+01:00"


def _translated(name: str, issued: str, written: str, received_at: datetime) -> list:
    """Translate a fixture with its IssueDateTime rewritten; the DATE_ findings, if any."""
    source = (FIXTURES / name).read_text("utf-8").replace(issued, written, 1)
    sender = "BW" if name.startswith("certificate") else "EU"
    meta = InboundMeta(sender=sender, received_at=received_at)
    try:
        translate(source.encode(), meta, load_registry())
    except BusinessRuleViolation as exc:
        return [(f.code, f.path, f.message) for f in exc.findings if f.code.startswith("DATE_")]
    return []


RECEIVED = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "refused"),
    [
        ("2026-02-27T12:15:00Z", False),  # a clock 15 minutes fast: within the tolerance
        ("2026-02-27T12:16:00Z", True),
        ("2026-02-27T14:14:00+02:00", False),
        ("2026-02-27T14:16:00+02:00", True),
        ("2026-02-28T23:59:00Z", True),  # a day and a half ahead: its day alone passed
        ("2026-02-28T23:59:00-12:00", True),
        ("2026-02-28T23:59:00", False),  # no offset: a local time, judged by its day
        ("2026-02-28T00:00:00Z", False),  # midnight UTC: a date as many systems write it
        ("2026-02-28", False),
        ("2026-03-01", True),
    ],
)
def test_a_document_time_with_its_offset_is_held_to_the_gateways_clock(
    written: str, refused: bool
) -> None:
    """A time review: the rule looked at calendar days only, so a certificate stamped
    1 day 23:59 after its reception (a fast clock, or a forged time) passed."""
    found = _translated("certificate_bw_eu_be.xml", CERT_ISSUED, written, RECEIVED)
    assert bool(found) is refused, found
    if refused:
        ((code, path, _),) = found
        assert code == rules.DATE_IN_FUTURE
        assert path in {"occurred_at", "issue_date"}


def test_the_clock_finding_says_how_far_ahead_and_what_to_check() -> None:
    ((_, path, message),) = _translated(
        "certificate_bw_eu_be.xml", CERT_ISSUED, "2026-02-27T12:40:00Z", RECEIVED
    )
    assert path == "occurred_at"
    assert message == (
        "the document says it was issued at 2026-02-27T12:40:00Z, 40 minutes after the "
        "gateway received it (2026-02-27T12:00:00Z); a sending system's clock may run at "
        "most 15 minutes ahead: check its clock"
    )


@pytest.mark.parametrize("written", ["9999-12-31T10:00:00Z", "2030-01-01T00:00:00+01:00"])
def test_an_acknowledgement_dated_in_the_future_is_refused(written: str) -> None:
    """A time review: with KP-RECEIVED-ON given, nothing judged the acknowledgement's own
    IssueDateTime, and one of 9999 reached the exporter as IMPORT_CONFIRMED."""
    received = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    found = _translated("acknowledgement_eu_be.xml", ACK_ISSUED, written, received)
    assert [(code, path) for code, path, _ in found] == [(rules.DATE_IN_FUTURE, "occurred_at")]
    assert "it was confirmed at" in found[0][2]


def test_an_acknowledgement_time_without_an_offset_is_judged_by_its_day() -> None:
    received = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    ack = "acknowledgement_eu_be.xml"
    assert _translated(ack, ACK_ISSUED, "2026-03-05T23:00:00", received) == []
    ((code, path, message),) = _translated(ack, ACK_ISSUED, "9999-12-31T00:00:00", received)
    assert (code, path) == (rules.DATE_IN_FUTURE, "occurred_at")
    assert message == "confirmed on 9999-12-31, but the gateway received the document on 2026-03-04"


@pytest.mark.parametrize(("days", "refused"), [(62, False), (63, True), (3650, True)])
def test_a_certificate_valid_longer_than_its_issuers_rules_is_refused(
    example_registry: ParticipantRegistry, days: int, refused: bool
) -> None:
    """A time review: a validity until 9999 was accepted, so CONFIRMED_AFTER_EXPIRY could
    never fire. The EU's certificates are valid at most two months (62 days at most)."""
    cert = certificate("BE0700200", exporter="EU", importer="IN", importer_state=None)
    cert = replace(cert, exporter=replace(cert.exporter, country="BE"), origin="MIXED")
    cert = replace(cert, provenance="BE", expiry_date=cert.issue_date + timedelta(days=days))
    codes = [f.code for f in rules.findings_for(cert, example_registry)]
    assert (rules.VALIDITY_TOO_LONG in codes) is refused, codes


def test_an_issuer_without_a_limit_is_not_judged_on_validity(
    example_registry: ParticipantRegistry,
) -> None:
    cert = certificate("RU0700201")
    cert = replace(cert, expiry_date=date(9999, 12, 31))
    assert rules.VALIDITY_TOO_LONG not in [
        f.code for f in rules.findings_for(cert, example_registry)
    ]
