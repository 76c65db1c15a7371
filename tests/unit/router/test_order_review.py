"""What a property-based review of the router found (session 10), one scenario each: a
confirmation a gate held back before its certificate came was never judged; a certificate
a gate held back at arrival was never announced once the gate lifted."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.events import HsLine, Party
from gateway.registry import ParticipantRegistry, ParticipantStatus
from gateway.router import TopicKind, next_deadline
from tests.unit.router.factories import (
    DUBAI,
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    registry,
    restated_only,
    void,
    with_pair,
    with_status,
)

CERT = certificate()
DIVERTED = confirmation(
    CERT,
    confirming_participant="AE",
    confirming_member_state=None,
    importer=Party("Dubai Rough DMCC"),
)
LATE = confirmation(CERT, date_of_receipt=CERT.expiry_date + timedelta(days=3))


def _in_order(reg: ParticipantRegistry, *documents: object) -> Harness:
    router = Harness(reg)
    for minute, document in enumerate(documents):
        router.feed(event(document), T0 + timedelta(minutes=minute))  # type: ignore[arg-type]
    return router


@pytest.mark.parametrize(
    ("suspended", "confirmation_"),
    [("AE", DIVERTED), ("EU", LATE)],
    ids=["diversion-to-suspended", "late-receipt-by-suspended-importer"],
)
def test_a_gate_reports_the_same_whichever_document_comes_first(
    suspended: str, confirmation_: object
) -> None:
    """A confirmation gated before its certificate arrived lost its WRONG_DESTINATION or
    CONFIRMED_AFTER_EXPIRY: the certificate's arrival skipped gated confirmations."""
    reg = with_status(suspended, ParticipantStatus.SUSPENDED)
    certificate_first = _in_order(reg, CERT, confirmation_)
    confirmation_first = _in_order(reg, confirmation_, CERT)
    assert Counter(certificate_first.kinds()) == Counter(confirmation_first.kinds())
    assert set(certificate_first.kinds()) - {"PARTICIPANT_SUSPENDED"}


def test_a_confirmation_gated_before_its_certificate_is_judged_once_the_gate_lifted() -> None:
    """EU suspended when its confirmation came, reinstated before the certificate: the
    certificate was announced, the confirmation never judged, and it could never become
    overdue either (a GATED confirmation counted as the importer's)."""
    router = Harness(with_status("EU", ParticipantStatus.SUSPENDED))
    router.feed(event(confirmation(CERT)), T0)
    router.registry = registry()
    router.feed(event(CERT), T0 + timedelta(days=1))
    assert router.kinds() == ["PARTICIPANT_SUSPENDED", "MATCHED"]


ZA_CERT = certificate(
    "ZA0123456",
    issuing_participant="ZA",
    exporting_participant="ZA",
    importing_participant="AE",
    importing_member_state=None,
    importer=DUBAI,
    origin="ZA",
)


@pytest.mark.parametrize("byte_for_byte", [False, True])
def test_a_certificate_held_back_at_arrival_is_announced_when_sent_again(
    byte_for_byte: bool,
) -> None:
    """A certificate gated at arrival (its pair not enabled yet) stayed unannounced even
    when the exporter sent it again after the pair was enabled: the importer never got
    ShipmentAnnounced and the certificate could never become overdue."""
    router = Harness()
    first = event(ZA_CERT)
    router.feed(first, T0)
    assert router.kinds() == ["PAIR_NOT_ENABLED"]
    router.registry = with_pair("ZA", "AE", enabled=True)
    again = (
        replace(first, source=replace(first.source, tracking_id="trk-sent-again"))
        if byte_for_byte
        else event(ZA_CERT, copy="sent again")
    )
    router.feed(again, T0 + timedelta(days=5))
    assert router.partner("AE") == ["SHIPMENT_ANNOUNCED"]
    assert router.state is not None
    # The deadline counts from the announcement, not from the first, gated arrival.
    pair = router.registry.pair("ZA", "AE")
    assert pair is not None
    due = T0 + timedelta(days=5 + pair.confirmation_deadline_days)
    assert next_deadline(router.state, router.registry) == due
    router.tick(due)
    assert router.kinds() == ["PAIR_NOT_ENABLED", "CONFIRMATION_OVERDUE"]


def test_a_confirmation_after_the_gate_lifted_announces_the_certificate_first() -> None:
    router = Harness()
    router.feed(event(ZA_CERT), T0)
    router.registry = with_pair("ZA", "AE", enabled=True)
    router.feed(event(confirmation(ZA_CERT)), T0 + timedelta(days=2))
    assert router.kinds() == ["PAIR_NOT_ENABLED", "MATCHED"]
    assert router.partner("AE") == ["SHIPMENT_ANNOUNCED", "MATCHED"]


def _parcels_reported(router: Harness) -> bool:
    return any(
        difference["field"] == "parcels"
        for e in router.emissions
        if e.topic is TopicKind.OUTCOMES
        for difference in e.value["differences"]
    )


@pytest.mark.parametrize("short_first", [True, False])
def test_a_later_statement_that_parcels_are_short_is_never_swallowed(short_first: bool) -> None:
    """A confirmation saying 4 parcels (the certificate: 3) after one that gave none was
    taken for a copy, and the discrepancy was never reported in that order."""
    silent = confirmation(CERT, parcels=None)
    short = confirmation(CERT, parcels=4, remarks="recounted at the Antwerp Diamond Office")
    router = _in_order(registry(), CERT, *((short, silent) if short_first else (silent, short)))
    assert _parcels_reported(router)
    assert "DUPLICATE_CONFIRMATION" not in router.kinds()  # the same receipt, not re-use
    expected = (
        ["MATCHED_WITH_DISCREPANCIES"] if short_first else ["MATCHED", "MATCHED_WITH_DISCREPANCIES"]
    )
    assert router.kinds() == expected


def test_a_fuller_confirmation_that_adds_no_difference_emits_nothing_more() -> None:
    router = _in_order(registry(), CERT, confirmation(CERT, parcels=None), confirmation(CERT))
    assert router.kinds() == ["MATCHED"]
    assert router.partner("RU").count("IMPORT_CONFIRMED") == 2  # forwarded: it is fuller


def test_a_fuller_confirmation_repeating_a_reported_difference_emits_nothing_more() -> None:
    short = confirmation(CERT, parcels=4, exporter=None)
    fuller = confirmation(CERT, parcels=4)
    router = _in_order(registry(), CERT, short, fuller)
    assert router.kinds() == ["MATCHED_WITH_DISCREPANCIES"]


def test_a_contradicting_exporter_is_reported_in_either_order() -> None:
    other = confirmation(CERT, exporter=Party("Unknown Trading FZE", "Dubai", "AE"))
    for order in ((other, confirmation(CERT)), (confirmation(CERT), other)):
        router = _in_order(registry(), CERT, *order)
        assert any(
            difference["field"] == "exporter"
            for e in router.emissions
            if e.topic is TopicKind.OUTCOMES
            for difference in e.value["differences"]
        ), router.kinds()


def test_a_conflicting_reissue_sent_again_is_reported_once() -> None:
    """The same re-issue again through another channel (a new event id) was reported a
    second time: the re-issue's content was forgotten."""
    reissue = certificate(parcels=4)
    router = _in_order(registry(), CERT, reissue)
    again = event(reissue, copy="via Kafka")
    router.feed(again, T0 + timedelta(minutes=5))
    assert router.kinds() == ["CONFLICTING_REISSUE"]
    assert router.status(again) == ("DISCREPANCY", "CONFLICTING_REISSUE")  # follows it


def test_the_first_importer_does_not_learn_where_a_reissue_sends_the_goods() -> None:
    """A re-issue to another destination showed the first importer the other buyer, its
    address and the new destination; the exporter still gets every difference."""
    moved = certificate(
        importing_participant="AE", importing_member_state=None, importer=DUBAI, parcels=4
    )
    router = _in_order(registry(), CERT, moved)
    told = {
        e.participant: e.value["outcome"]
        for e in router.emissions
        if e.topic is TopicKind.PARTNER and e.value["outcome"] is not None
    }
    assert told["EU"]["differences"] == [] and "another destination" in told["EU"]["detail"]
    assert {d["field"] for d in told["RU"]["differences"]} >= {"importing_participant", "importer"}
    # A re-issue to the same destination is all the importer's own shipment: shown whole.
    router = _in_order(registry(), CERT, certificate(parcels=4))
    (eu,) = [
        e.value["outcome"]
        for e in router.emissions
        if e.topic is TopicKind.PARTNER and e.participant == "EU" and e.value["outcome"]
    ]
    assert [d["field"] for d in eu["differences"]] == ["parcels"]


def test_a_receipt_is_reported_orphan_once_however_many_renderings_wait() -> None:
    fuller, shorter = confirmation(CERT), confirmation(CERT, parcels=None, remarks="copy")
    for order in ((fuller, shorter), (shorter, fuller)):
        router = _in_order(registry(), *order)
        router.tick(T0 + timedelta(days=40))
        assert router.kinds() == ["ORPHAN_CONFIRMATION"]


def test_the_issuers_status_says_overdue_beside_a_diversion() -> None:
    """A partner review: after a diversion, CONFIRMATION_OVERDUE rewrote the issuer's
    status unchanged (DISCREPANCY, WRONG_DESTINATION): polling `kpgw status`, the issuer
    could not see that the real importer had still not confirmed."""
    router = _in_order(registry(), CERT, DIVERTED)
    router.tick(T0 + timedelta(days=60))
    assert "CONFIRMATION_OVERDUE" in router.kinds()
    record = router.status_record(event(CERT))
    assert record is not None
    assert (record["status"], record["reason"]) == ("DISCREPANCY", "WRONG_DESTINATION")
    assert record["detail"] == "WRONG_DESTINATION, CONFIRMATION_OVERDUE"


@pytest.mark.parametrize("void_first", [True, False])
def test_a_certificate_cancelled_after_its_goods_arrived_is_flagged(void_first: bool) -> None:
    """A void after MATCHED raised nothing (left open by session 9): a used certificate
    withdrawn makes the shipment vanish from the exporter's records while the importer's
    count it. Receipt before the void date: VOIDED_AFTER_RECEIPT, whichever came first."""
    received = confirmation(CERT, date_of_receipt=CERT.issue_date + timedelta(days=5))
    later = void(CERT, voided_on=CERT.issue_date + timedelta(days=20), reason="issued in error")
    router = _in_order(registry(), CERT, *((later, received) if void_first else (received, later)))
    assert sorted(router.kinds()) == ["MATCHED", "VOIDED_AFTER_RECEIPT"]
    flagged = router.outcome("VOIDED_AFTER_RECEIPT")
    assert flagged["differences"] == [
        {
            "field": "date_of_receipt",
            "certificate": later.voided_on.isoformat(),
            "confirmation": received.date_of_receipt.isoformat(),
        }
    ]
    assert "issued in error" in flagged["detail"]
    assert "VOIDED_AFTER_RECEIPT" in router.partner(
        "RU"
    ) and "VOIDED_AFTER_RECEIPT" in router.partner("EU")


def test_goods_received_on_the_void_date_are_confirmed_after_the_void_not_voided_after() -> None:
    received = confirmation(CERT, date_of_receipt=CERT.issue_date + timedelta(days=5))
    same_day = void(CERT, voided_on=received.date_of_receipt)
    router = _in_order(registry(), CERT, same_day, received)
    assert "VOIDED_AFTER_RECEIPT" not in router.kinds()
    assert "CONFIRMED_AFTER_VOID" in router.kinds()


def test_a_diverting_participants_receipt_before_a_void_is_not_voided_after_receipt() -> None:
    early = replace(DIVERTED, date_of_receipt=CERT.issue_date + timedelta(days=2))
    router = _in_order(
        registry(), CERT, early, void(CERT, voided_on=CERT.issue_date + timedelta(days=9))
    )
    assert "VOIDED_AFTER_RECEIPT" not in router.kinds()


# --- a code review of this session's router changes -------------------------------------------


def test_a_late_confirmation_ends_the_overdue_in_the_issuers_status() -> None:
    router = _in_order(registry(), CERT)
    router.tick(T0 + timedelta(days=60))
    router.feed(event(confirmation(CERT, parcels=4)), T0 + timedelta(days=61))
    record = router.status_record(event(CERT))
    assert record is not None
    assert record["detail"] == "MATCHED_WITH_DISCREPANCIES; confirmed after the deadline"


def test_renderings_of_a_receipt_are_judged_alike_in_any_order() -> None:
    """'3 parcels, none, 4 parcels' and 'none, 3, 4' were judged differently: the fourth
    contradicted the first but not the second."""
    three, none, four = (confirmation(CERT, parcels=n) for n in (3, None, 4))
    kinds = {
        tuple(sorted(_in_order(registry(), CERT, *order).kinds()))
        for order in ((three, none, four), (none, three, four), (three, four, none))
    }
    assert kinds == {("DUPLICATE_CONFIRMATION", "MATCHED")}


def test_a_fuller_rendering_without_news_follows_its_receipts_status() -> None:
    fuller = confirmation(CERT)
    router = _in_order(registry(), CERT, confirmation(CERT, parcels=None), fuller)
    assert router.status(event(fuller)) == ("MATCHED", None)
    assert router.state is not None and router.state.documents_from("EU") == 2


def test_a_fuller_rendering_giving_the_carats_is_not_a_copy() -> None:
    no_weight = confirmation(CERT, lines=(), total_carats=None, total_value_usd=None)
    weighed = confirmation(CERT, lines=(), total_carats=Decimal("1000.000"), total_value_usd=None)
    for order in ((no_weight, weighed), (weighed, no_weight)):
        router = _in_order(registry(), CERT, *order)
        shown = {
            d["confirmation"]
            for e in router.emissions
            if e.topic is TopicKind.OUTCOMES
            for d in e.value["differences"]
            if d["field"] == "total_carats"
        }
        assert "1000.000" in shown


def test_a_gate_lifted_since_no_longer_colours_the_status() -> None:
    router = Harness()
    first = event(ZA_CERT)
    router.feed(first, T0)
    router.registry = with_pair("ZA", "AE", enabled=True)
    conf = event(confirmation(ZA_CERT))
    router.feed(conf, T0 + timedelta(days=2))
    assert router.status(first) == ("MATCHED", None)
    assert router.status(conf) == ("MATCHED", None)


# --- a second property-based review -----------------------------------------------------------

VE_CONF = confirmation(
    ZA_CERT,
    confirming_participant="VE",
    confirming_member_state=None,
    importer=Party("Caracas Diamonds CA"),
)


@pytest.mark.parametrize("confirmation_first", [True, False])
def test_a_held_back_confirmation_gets_its_gate_outcome_once(confirmation_first: bool) -> None:
    """VE (suspended in the example registry) diverts a certificate of a pair not yet
    enabled; the pair is enabled and the certificate sent again. In one order the
    confirmation's PARTICIPANT_SUSPENDED came twice."""
    router = Harness()
    first, second = (VE_CONF, ZA_CERT) if confirmation_first else (ZA_CERT, VE_CONF)
    router.feed(event(first), T0)
    router.feed(event(second), T0 + timedelta(minutes=1))
    router.registry = with_pair("ZA", "AE", enabled=True)
    router.feed(event(ZA_CERT, copy="again"), T0 + timedelta(days=1))
    assert Counter(router.kinds())["PARTICIPANT_SUSPENDED"] == 1
    assert "WRONG_DESTINATION" in router.kinds()


def test_re_issues_differing_only_in_a_lines_origin_are_both_reported() -> None:
    """The difference text left out a line's origin, so a second re-issue read like a
    re-send of the first and was never reported."""
    lines = (
        HsLine("7102.31", Decimal("1520.350"), Decimal("147474.00"), "RU"),
        HsLine("7102.21", Decimal("310.200"), Decimal("12408.00"), "RU"),
    )
    first = certificate(origin="MIXED", provenance="RU", lines=lines)
    moved = [
        replace(first, lines=(replace(lines[0], origin=origin), lines[1]))
        for origin in ("AO", "CD")
    ]
    router = _in_order(registry(), first, *moved)
    assert Counter(router.kinds())["CONFLICTING_REISSUE"] == 2


def test_a_replayed_conflicting_reissue_message_changes_nothing() -> None:
    reissue = event(certificate(parcels=4))
    router = Harness()
    router.feed(event(CERT), T0)
    router.feed(reissue, T0 + timedelta(minutes=1))
    assert router.state is not None
    before = router.state
    last = router.status_record(reissue)
    again = router.feed(reissue, T0 + timedelta(minutes=5))  # the very same record
    assert restated_only(again, last)
    assert before.documents_from("RU") == 2


def test_an_announced_certificates_status_drops_its_lifted_pair_gate() -> None:
    diverted = confirmation(
        ZA_CERT,
        confirming_participant="EU",
        confirming_member_state="BE",
        importer=Party("Antwerp Rough Trading BV"),
    )
    router = Harness()
    first = event(ZA_CERT)
    router.feed(first, T0)
    router.feed(event(diverted), T0 + timedelta(minutes=1))
    router.registry = with_pair("ZA", "AE", enabled=True)
    router.feed(event(ZA_CERT, copy="again"), T0 + timedelta(days=1))
    record = router.status_record(first)
    assert record is not None and "PAIR_NOT_ENABLED" not in (record["detail"] or "")
    assert record["reason"] == "WRONG_DESTINATION"


def test_one_status_record_per_message_and_decision() -> None:
    """A docs review: a fuller rendering that showed a difference (both kept and an alias)
    got two identical kp.status records in one decision."""
    router = _in_order(registry(), CERT, confirmation(CERT, parcels=None))
    fuller = event(confirmation(CERT, parcels=4))
    decision = router.feed(fuller, T0 + timedelta(minutes=9))
    keys = [e.key for e in decision.emissions if e.topic is TopicKind.STATUS]
    assert keys.count(fuller.source.tracking_id) == 1
    assert router.status(fuller) == ("DISCREPANCY", "MATCHED_WITH_DISCREPANCIES")
