"""What a Kimberley Process monitoring expert found wrong in the router's conclusions
(a domain review), one scenario each: a confirmation a gate held back was never judged
again; a gate hid the fraud signals; a copy of a confirmation in another rendering was
reported as certificate re-use; Cyrillic and Latin spellings of one company differed;
goods received before the certificate existed matched; a difference hid the part that
differed; one confirmation was flagged twice after two voids; a late discrepancy did not
say it was late; an announcement gave a due date for a confirmation already in."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.events import Party
from gateway.registry import ParticipantStatus
from gateway.router import TopicKind
from tests.unit.router.factories import (
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    registry,
    void,
    with_pair,
    with_status,
)


def test_a_gated_confirmation_sent_again_after_the_gate_lifts_is_judged() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.registry = with_pair(
        "RU", "EU", enabled=False
    )  # the pair is switched off for maintenance
    conf = confirmation(cert)
    router.feed(event(conf), T0 + timedelta(days=2))
    router.registry = registry()  # back on; the importer sends its confirmation again
    router.feed(event(conf, copy="re-sent"), T0 + timedelta(days=3))
    assert router.kinds() == ["PAIR_NOT_ENABLED", "MATCHED"]


def test_a_gated_confirmation_re_sent_byte_for_byte_is_judged_too() -> None:
    """The same file again (a new tracking id, the same event id): a code review found it
    only aliased, never judged."""
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.registry = with_pair("RU", "EU", enabled=False)
    first = event(confirmation(cert))
    router.feed(first, T0 + timedelta(days=2))
    router.registry = registry()
    again = replace(first, source=replace(first.source, tracking_id="trk-sent-again"))
    router.feed(again, T0 + timedelta(days=3))
    assert router.kinds() == ["PAIR_NOT_ENABLED", "MATCHED"]


def test_a_gate_does_not_hide_a_late_receipt() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.registry = with_status("RU", ParticipantStatus.SUSPENDED)  # goods in transit
    late = confirmation(cert, date_of_receipt=cert.expiry_date + timedelta(days=3))
    router.feed(event(late))
    assert router.kinds() == ["PARTICIPANT_SUSPENDED", "CONFIRMED_AFTER_EXPIRY"]


def test_a_diversion_to_a_suspended_participant_is_reported_to_the_importer_named() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.registry = with_status("AE", ParticipantStatus.SUSPENDED)
    diverted = confirmation(
        cert,
        confirming_participant="AE",
        confirming_member_state=None,
        importer=Party("Dubai Rough DMCC"),
    )
    router.feed(event(diverted))
    assert router.kinds() == ["PARTICIPANT_SUSPENDED", "WRONG_DESTINATION"]
    assert "WRONG_DESTINATION" in router.partner("EU")


def test_a_copy_in_another_rendering_is_no_second_confirmation() -> None:
    cert = certificate()
    conf = confirmation(cert)
    for copy in (
        replace(conf, remarks=None, authority="Antwerp Diamond Office"),
        replace(conf, lines=()),  # totals only: another adapter's rendering
    ):
        router = Harness()
        router.feed(event(cert))
        router.feed(event(conf))
        router.feed(event(copy))
        assert router.kinds() == ["MATCHED"]
        assert router.status_record(event(copy))["status"] == "MATCHED"  # follows the first


def test_another_receipt_is_still_a_duplicate_confirmation() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.feed(event(confirmation(cert)))
    second = confirmation(cert, date_of_receipt=cert.issue_date + timedelta(days=20))
    router.feed(event(second))
    assert router.kinds() == ["MATCHED", "DUPLICATE_CONFIRMATION"]


def test_a_cyrillic_name_and_its_latin_spelling_are_one_company() -> None:
    cert = certificate(exporter=Party("«АЛРОСА» (ПАО)", "Moscow", "RU"))
    router = Harness()
    router.feed(event(cert))
    router.feed(event(confirmation(cert, exporter=Party("ALROSA PJSC"))))
    assert router.kinds() == ["MATCHED"]


def test_goods_received_before_the_certificate_was_issued_are_a_discrepancy() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.feed(event(confirmation(cert, date_of_receipt=cert.issue_date - timedelta(days=30))))
    assert router.kinds() == ["MATCHED_WITH_DISCREPANCIES"]
    (difference,) = router.outcome("MATCHED_WITH_DISCREPANCIES")["differences"]
    assert difference["field"] == "date_of_receipt"
    assert difference["certificate"] == f"on or after {cert.issue_date.isoformat()} (issued)"


@pytest.mark.parametrize(
    ("days_before", "kind"), [(1, "MATCHED"), (2, "MATCHED_WITH_DISCREPANCIES")]
)
def test_a_receipt_dated_the_day_before_the_issue_is_two_calendars(
    days_before: int, kind: str
) -> None:
    """A time review: issued 1 March 00:30 at UTC+2 and received 15 minutes later at UTC+1
    is dated 28 February by the importer; that was reported as a discrepancy."""
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    received = cert.issue_date - timedelta(days=days_before)
    router.feed(event(confirmation(cert, date_of_receipt=received)))
    assert router.kinds() == [kind]


def test_a_reissue_that_moves_the_importer_shows_the_address() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    moved = replace(cert, importer=replace(cert.importer, address="Schupstraat 1, Antwerpen"))
    router.feed(event(moved))
    (difference,) = router.outcome("CONFLICTING_REISSUE")["differences"]
    assert difference["certificate"] != difference["confirmation"]
    assert "Schupstraat 1, Antwerpen" in difference["confirmation"]


def test_one_confirmation_is_flagged_once_after_two_voids() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.feed(event(confirmation(cert)))
    router.feed(event(void(cert)))
    router.feed(event(void(cert, reason="Shipment cancelled")))
    assert router.kinds() == ["MATCHED", "CONFIRMED_AFTER_VOID"]


def test_a_late_discrepancy_says_it_was_late() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.tick(T0 + timedelta(days=14))
    late = confirmation(cert, parcels=cert.parcels + 1)
    router.feed(event(late), T0 + timedelta(days=20))
    status = router.status_record(event(late))
    assert status is not None and status["status"] == "DISCREPANCY"
    assert status["detail"].endswith("; confirmed after the deadline")


def test_no_due_date_is_announced_for_a_confirmation_already_in() -> None:
    cert = certificate()
    router = Harness()
    router.feed(event(confirmation(cert)))
    router.feed(event(cert), T0 + timedelta(days=1))
    announced = [
        emission.value
        for emission in router.emissions
        if emission.topic is TopicKind.PARTNER
        and emission.value["notification_type"] == "SHIPMENT_ANNOUNCED"
    ]
    assert [item["confirmation_due"] for item in announced] == [None]
    assert router.kinds() == ["MATCHED"]


def test_one_receipt_in_three_spellings_gives_the_same_outcomes_in_any_order() -> None:
    """A property-based review: 18 of the 24 orders of "Müller", "Mueller" and "Muller"
    confirmations raised a DUPLICATE_CONFIRMATION, 6 did not."""
    base = certificate()
    cert = replace(base, importer=replace(base.importer, name="M\u00fcller Diamonds GmbH"))
    spellings = ("M\u00fcller Diamonds GmbH", "Mueller Diamonds GmbH", "Muller Diamonds GmbH")
    confirmations = [
        event(confirmation(cert, importer=replace(cert.importer, name=name)), copy=name)
        for name in spellings
    ]
    seen = set()
    for order in itertools.permutations([event(cert), *confirmations]):
        router = Harness()
        for item in order:
            router.feed(item)
        seen.add(tuple(sorted(router.kinds())))
    assert seen == {("MATCHED",)}


def test_a_confirmation_naming_the_exporter_by_its_fts_short_name_matches() -> None:
    """A customs-fidelity review: the FTS certificate gives the exporter's full legal name
    and its short name; the importing office knows the short one."""
    kristall = Party(
        "Акционерное общество «Смоленское производственное объединение «Кристалл»",
        "Смоленск",
        "RU",
        short_name="АО «ПО «Кристалл»",
    )
    cert = certificate(exporter=kristall)
    router = Harness()
    router.feed(event(cert))
    router.feed(event(confirmation(cert, exporter=Party("PO Kristall JSC"))))
    assert router.kinds() == ["MATCHED"]
