"""Fraud signals and exchanges outside digital exchange: one scenario per outcome, plus
the boundaries (expiry day itself, void day itself, band ends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from gateway.events import HsLine, Party
from gateway.registry import ParticipantRegistry, ParticipantStatus
from gateway.router import TopicKind
from tests.unit.router.factories import (
    DUBAI,
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    issued,
    registry,
    void,
    with_status,
)


def test_confirmation_by_another_participant_is_wrong_destination() -> None:
    cert = event(certificate())
    diverted = event(
        confirmation(
            issued(cert),
            confirming_participant="AE",
            confirming_member_state=None,
            importer=DUBAI,
        )
    )
    router = Harness()
    router.feed(cert)
    router.feed(diverted)
    outcome = router.outcome("WRONG_DESTINATION")
    assert outcome["differences"][0] == {
        "field": "confirming_participant",
        "certificate": "EU",
        "confirmation": "AE",
    }
    assert router.kinds() == ["WRONG_DESTINATION"]
    # The exporter, the intended importer and the participant that confirmed all hear it.
    assert router.partner("RU") == ["IMPORT_CONFIRMED", "WRONG_DESTINATION"]
    assert router.partner("EU") == ["SHIPMENT_ANNOUNCED", "WRONG_DESTINATION"]
    assert router.partner("AE") == ["WRONG_DESTINATION"]
    assert router.status(diverted) == ("DISCREPANCY", "WRONG_DESTINATION")

    # The real destination's confirmation still matches: a diversion is not a first match.
    router.feed(event(confirmation(issued(cert))))
    assert router.kinds() == ["WRONG_DESTINATION", "MATCHED"]


def test_a_third_party_learns_nothing_of_the_certificate_it_confirmed() -> None:
    """A participant that confirms someone else's certificate (a diversion, a typo or a
    probe) hears that it was not addressed to it, and nothing else: not the destination,
    buyer, goods, values, expiry or void (the full outcome goes to the exporter and the
    importer)."""
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    router.feed(event(void(cert)), T0 + timedelta(days=1))
    probe = event(
        confirmation(
            cert,
            confirming_participant="AE",
            confirming_member_state=None,
            importer=DUBAI,
            date_of_receipt=cert.expiry_date + timedelta(days=30),  # after expiry and void
        )
    )
    router.feed(probe, T0 + timedelta(days=2))
    assert set(router.kinds()) >= {
        "WRONG_DESTINATION",
        "CONFIRMED_AFTER_EXPIRY",
        "CONFIRMED_AFTER_VOID",
    }
    seen = [e.value for e in router.emissions if e.participant == "AE"]
    assert [value["outcome"]["outcome"] for value in seen] == ["WRONG_DESTINATION"]
    told = seen[0]["outcome"]
    assert told["pair"] == {"exporter": "RU", "importer": "AE"}
    assert told["differences"] == []
    assert told["evidence_event_ids"] == [probe.event_id]
    assert told["outcome_id"] == router.outcome("WRONG_DESTINATION")["outcome_id"]
    written = repr(seen)
    for secret in (
        "EU",
        "BE",
        cert.importer.name,
        str(cert.total_carats),
        str(cert.lines[0].value_usd),
        cert.expiry_date.isoformat(),
        void(cert).reason,
    ):
        assert secret not in written, secret
    # Its own message's status names only the verdict that concerns it.
    assert router.status(probe) == ("DISCREPANCY", "WRONG_DESTINATION")
    status = [
        e.value
        for e in router.emissions
        if e.topic is TopicKind.STATUS and e.key == probe.source.tracking_id
    ]
    assert status[-1]["detail"] == "WRONG_DESTINATION"
    assert status[-1]["differences"] == []  # they would show the certificate's side
    # The parties still get the whole story.
    assert "CONFIRMED_AFTER_VOID" in router.partner("RU")
    assert "CONFIRMED_AFTER_VOID" in router.partner("EU")


def test_second_confirmation_is_certificate_reuse() -> None:
    cert = event(certificate())
    first = event(confirmation(issued(cert)))
    second = event(
        confirmation(issued(cert), date_of_receipt=issued(cert).issue_date + timedelta(days=30))
    )
    router = Harness()
    router.feed(cert)
    router.feed(first)
    router.feed(second, T0 + timedelta(days=30))
    assert router.kinds() == ["MATCHED", "DUPLICATE_CONFIRMATION"]
    duplicate = router.outcome("DUPLICATE_CONFIRMATION")
    assert duplicate["evidence_event_ids"] == [cert.event_id, first.event_id, second.event_id]
    assert duplicate["differences"] == [
        {"field": "date_of_receipt", "certificate": "2025-03-12", "confirmation": "2025-04-02"}
    ]
    assert router.partner("RU") == [
        "IMPORT_CONFIRMED",
        "MATCHED",
        "IMPORT_CONFIRMED",
        "DUPLICATE_CONFIRMATION",
    ]
    assert router.status(second) == ("DISCREPANCY", "DUPLICATE_CONFIRMATION")
    assert router.status(cert) == ("DISCREPANCY", "DUPLICATE_CONFIRMATION")


def test_receipt_after_expiry_is_flagged_and_the_expiry_day_itself_is_not() -> None:
    cert = event(certificate())
    expiry = issued(cert).expiry_date
    on_the_day = Harness()
    on_the_day.feed(cert)
    on_the_day.feed(event(confirmation(issued(cert), date_of_receipt=expiry)))
    assert on_the_day.kinds() == ["MATCHED"]

    late = Harness()
    late.feed(cert)
    late.feed(event(confirmation(issued(cert), date_of_receipt=expiry + timedelta(days=1))))
    assert late.kinds() == ["MATCHED", "CONFIRMED_AFTER_EXPIRY"]
    assert late.outcome("CONFIRMED_AFTER_EXPIRY")["differences"] == [
        {"field": "date_of_receipt", "certificate": "2025-05-02", "confirmation": "2025-05-03"}
    ]


def test_same_number_with_different_content_is_a_conflicting_reissue() -> None:
    original = certificate()
    cert = event(original)
    heavier = (
        HsLine("7102.31", Decimal("1620.350"), Decimal("147474.00")),
        HsLine("7102.21", Decimal("310.200"), Decimal("12408.00")),
    )
    reissue = event(certificate(lines=heavier))
    router = Harness()
    router.feed(cert)
    decision = router.feed(reissue)
    assert router.kinds() == ["CONFLICTING_REISSUE"]
    outcome = router.outcome("CONFLICTING_REISSUE")
    assert [d["field"] for d in outcome["differences"]] == ["lines", "total_carats"]
    assert outcome["evidence_event_ids"] == [cert.event_id, reissue.event_id]
    assert router.partner("RU")[-1] == "CONFLICTING_REISSUE"
    assert router.partner("EU")[-1] == "CONFLICTING_REISSUE"
    assert router.state is not None
    assert router.state.certificate is not None
    assert router.state.certificate.event == cert  # the first stays the reference
    assert not any(
        e.value.get("notification_type") == "SHIPMENT_ANNOUNCED" for e in decision.emissions
    )


def test_identical_certificate_with_another_event_id_is_a_harmless_resend() -> None:
    payload = certificate()
    router = Harness()
    router.feed(event(payload))
    resend = router.feed(event(payload, copy="second upload"))
    assert router.kinds() == []
    assert [e.topic for e in resend.emissions] == [TopicKind.STATUS]


def test_void_then_confirmation_is_confirmed_after_void() -> None:
    cert = event(certificate())
    cancelled = event(void(issued(cert)))
    conf = event(confirmation(issued(cert)))  # received on day 9, voided on day 5
    router = Harness()
    router.feed(cert)
    voided = router.feed(cancelled, T0 + timedelta(days=5))
    assert [
        (e.participant, e.value["notification_type"])
        for e in voided.emissions
        if e.topic is TopicKind.PARTNER
    ] == [("EU", "CERTIFICATE_VOIDED")]
    # Both senders' statuses say so: the importer was told of the cancellation.
    statuses = {
        e.key: (e.value["status"], e.value["detail"])
        for e in voided.emissions
        if e.topic is TopicKind.STATUS
    }
    assert statuses == {
        cancelled.source.tracking_id: ("ANNOUNCED", "the importer was told of the cancellation"),
        cert.source.tracking_id: ("ANNOUNCED", "cancelled by its issuer"),
    }
    router.feed(conf, T0 + timedelta(days=9))
    assert router.kinds() == ["MATCHED", "CONFIRMED_AFTER_VOID"]
    outcome = router.outcome("CONFIRMED_AFTER_VOID")
    assert outcome["evidence_event_ids"] == [cert.event_id, conf.event_id, cancelled.event_id]
    assert router.status(conf) == ("DISCREPANCY", "CONFIRMED_AFTER_VOID")


def test_void_after_the_confirmation_gives_the_same_signal() -> None:
    cert = event(certificate())
    cancelled = event(void(issued(cert)))
    conf = event(confirmation(issued(cert)))
    router = Harness()
    for item in (cert, conf, cancelled):
        router.feed(item)
    assert router.kinds() == ["MATCHED", "CONFIRMED_AFTER_VOID"]


def test_goods_received_before_the_void_date_are_not_confirmed_after_void() -> None:
    cert = event(certificate())
    cancelled = event(void(issued(cert), voided_on=issued(cert).issue_date + timedelta(days=20)))
    router = Harness()
    router.feed(cert)
    router.feed(cancelled)
    router.feed(event(confirmation(issued(cert))))
    # Not CONFIRMED_AFTER_VOID: the goods came before; the late void is its own signal.
    assert router.kinds() == ["MATCHED", "VOIDED_AFTER_RECEIPT"]


def test_value_per_carat_outside_the_origin_band() -> None:
    """Russian rough at 500 USD/ct is far above the 38.8-242.5 band."""
    cheap_story = (HsLine("7102.31", Decimal("1000.000"), Decimal("500000.00")),)
    cert = event(certificate(lines=cheap_story))
    router = Harness()
    router.feed(cert)
    outcome = router.outcome("VALUE_PER_CARAT_OUT_OF_BAND")
    assert outcome["differences"] == [
        {"field": "usd_per_carat", "certificate": "500.00", "confirmation": None}
    ]
    assert router.partner("RU") == ["VALUE_PER_CARAT_OUT_OF_BAND"]
    assert router.partner("EU") == ["SHIPMENT_ANNOUNCED", "VALUE_PER_CARAT_OUT_OF_BAND"]


def test_band_ends_mixed_origin_and_origins_without_band_are_not_flagged() -> None:
    at_top = (HsLine("7102.31", Decimal("1000.000"), Decimal("242500.00")),)
    at_bottom = (HsLine("7102.31", Decimal("1000.000"), Decimal("38800.00")),)
    far_off = (HsLine("7102.31", Decimal("1000.000"), Decimal("900000.00")),)
    for payload in (
        certificate(lines=at_top),
        certificate(lines=at_bottom),
        certificate(lines=far_off, origin="MIXED", provenance="RU"),  # lines without origin
        certificate(lines=far_off, origin="AM"),  # Armenia: a participant without a band
    ):
        router = Harness()
        router.feed(event(payload))
        assert router.kinds() == []


def test_pair_not_enabled_is_its_own_outcome() -> None:
    """ZA->AE is agreed but not switched on: no announcement, no matching, no deadline."""
    payload = certificate(
        "ZA1234567",
        issuing_participant="ZA",
        exporting_participant="ZA",
        importing_participant="AE",
        importing_member_state=None,
        exporter=Party("Petra Diamonds SA (Pty) Ltd"),
        importer=DUBAI,
        origin="ZA",
    )
    cert = event(payload)
    router = Harness()
    router.feed(cert)
    assert router.kinds() == ["PAIR_NOT_ENABLED"]
    assert "not enabled" in router.outcome("PAIR_NOT_ENABLED")["detail"]
    assert router.partner("AE") == []
    assert router.partner("ZA") == ["PAIR_NOT_ENABLED"]
    router.feed(event(confirmation(payload)))
    assert router.kinds() == ["PAIR_NOT_ENABLED", "PAIR_NOT_ENABLED"]
    assert router.partner("ZA") == ["PAIR_NOT_ENABLED", "PAIR_NOT_ENABLED"]
    assert router.partner("AE") == ["PAIR_NOT_ENABLED"]  # it sent the confirmation
    assert router.tick(T0 + timedelta(days=401)).tombstone  # never overdue; retires


def test_pair_without_agreement_is_not_enabled() -> None:
    cert = event(certificate(importing_participant="CN", importing_member_state=None))
    router = Harness()
    router.feed(cert)
    assert router.kinds() == ["PAIR_NOT_ENABLED"]
    assert "no digital exchange agreement" in router.outcome("PAIR_NOT_ENABLED")["detail"]


def test_suspended_importer_is_its_own_outcome() -> None:
    registry = with_status("BY", ParticipantStatus.SUSPENDED)
    payload = certificate(importing_participant="BY", importing_member_state=None)
    router = Harness(registry)
    router.feed(event(payload))
    assert router.kinds() == ["PARTICIPANT_SUSPENDED"]
    assert router.partner("BY") == []
    assert router.partner("RU") == ["PARTICIPANT_SUSPENDED"]
    router.feed(event(confirmation(payload)))
    assert router.kinds() == ["PARTICIPANT_SUSPENDED", "PARTICIPANT_SUSPENDED"]


def test_confirmation_from_a_suspended_participant_is_not_matched() -> None:
    cert = event(certificate())
    router = Harness()
    router.feed(cert)
    router.registry = with_status("EU", ParticipantStatus.SUSPENDED)
    router.feed(event(confirmation(issued(cert))))
    assert router.kinds() == ["PARTICIPANT_SUSPENDED"]
    assert router.state is not None
    assert [c.status for c in router.state.confirmations] == ["GATED"]


def test_mixed_origin_is_judged_on_its_lines_origins_weighted_by_carats() -> None:
    """RU 38.8-242.5 and BW 52.4-327.5 USD/ct: 1000 ct of each gives 45.6-285.0."""

    def mixed(usd_per_line: str) -> list[str]:
        lines = (
            HsLine("7102.31", Decimal("1000.000"), Decimal(usd_per_line), "RU"),
            HsLine("7102.10", Decimal("1000.000"), Decimal(usd_per_line), "BW"),
        )
        router = Harness()
        router.feed(event(certificate(lines=lines, origin="MIXED", provenance="RU")))
        return router.kinds()

    assert mixed("10.00") == ["VALUE_PER_CARAT_OUT_OF_BAND"]  # 0.01 USD/ct
    assert mixed("5000000.00") == ["VALUE_PER_CARAT_OUT_OF_BAND"]  # 5,000 USD/ct
    assert mixed("45600.00") == []  # the weighted band's bottom is inside
    assert mixed("285000.00") == []  # and its top
    assert mixed("45590.00") == ["VALUE_PER_CARAT_OUT_OF_BAND"]


def test_industrial_rough_is_judged_only_against_a_band_of_its_own() -> None:
    """Found by a KP domain review: industrial rough (7102.21) at 20 USD/ct was flagged
    against Botswana's all-goods band of 52.4-327.5, a false fraud signal on every
    industrial-only certificate. Industrial lines are left out (with their value) unless
    the registry gives the origin a band for 7102.21."""
    industrial = HsLine("7102.21", Decimal("1000.000"), Decimal("20000.00"))
    gem = HsLine("7102.31", Decimal("100.000"), Decimal("15000.00"))  # 150 USD/ct: in band

    def kinds(lines: tuple[HsLine, ...], reg: ParticipantRegistry | None = None) -> list[str]:
        payload = certificate(
            "BW1234567", issuing_participant="BW", exporting_participant="BW", origin="BW"
        )
        totals = {
            "total_carats": sum((line.carats for line in lines), Decimal(0)),
            "total_value_usd": sum((line.value_usd for line in lines), Decimal(0)),
        }
        router = Harness(reg)
        router.feed(event(replace(payload, lines=lines, **totals)))
        return [kind for kind in router.kinds() if kind == "VALUE_PER_CARAT_OUT_OF_BAND"]

    assert kinds((industrial,)) == []
    assert kinds((gem, industrial)) == []  # the gem line alone is judged: 150 USD/ct
    base = registry()
    botswana = base.participants["BW"].model_copy(
        update={"usd_per_carat_by_hs": {"7102.21": (Decimal("25"), Decimal("60"))}}
    )
    banded = base.model_copy(update={"participants": {**base.participants, "BW": botswana}})
    assert kinds((industrial,), banded) == ["VALUE_PER_CARAT_OUT_OF_BAND"]  # 20 < 25


def test_value_moved_onto_an_industrial_line_does_not_escape_the_band() -> None:
    """A property-based review: industrial lines without a band of their own were left
    out with their value, so 0.5 ct of 7102.21 declared at 25 M USD raised nothing. Such a
    line is judged alone against its origin's all-goods upper end (327.5 for BW)."""
    gem = HsLine("7102.31", Decimal("100.000"), Decimal("15000.00"))

    def flagged(*lines: HsLine) -> list[str]:
        payload = certificate(
            "BW1234567", issuing_participant="BW", exporting_participant="BW", origin="BW"
        )
        totals = {
            "total_carats": sum((line.carats for line in lines), Decimal(0)),
            "total_value_usd": sum((line.value_usd for line in lines), Decimal(0)),
        }
        router = Harness()
        router.feed(event(replace(payload, lines=lines, **totals)))
        return [
            outcome["detail"]
            for outcome in router.outcomes()
            if outcome["outcome"] == "VALUE_PER_CARAT_OUT_OF_BAND"
        ]

    inflated = HsLine("7102.21", Decimal("0.500"), Decimal("25000000.00"))
    (detail,) = flagged(gem, inflated)
    assert "7102.21 line at 50000000.00 USD/ct" in detail
    assert flagged(HsLine("7102.21", Decimal("10.000"), Decimal("9000000.00")))
    assert flagged(gem, HsLine("7102.21", Decimal("10.000"), Decimal("3275.00"))) == []  # the end


def test_an_industrial_line_of_a_mixed_certificate_is_judged_by_its_provenance() -> None:
    """A code review: on a MIXED certificate an industrial line without its own origin
    escaped the new check; it is judged against the provenance's all-goods upper end."""
    cert = certificate(
        "BW1234567",
        issuing_participant="BW",
        exporting_participant="BW",
        origin="MIXED",
        provenance="BW",
    )
    gem = HsLine("7102.31", Decimal("100.000"), Decimal("15000.00"), origin="BW")
    inflated = HsLine("7102.21", Decimal("0.500"), Decimal("25000000.00"))
    lines = (gem, inflated)
    payload = replace(
        cert,
        lines=lines,
        total_carats=gem.carats + inflated.carats,
        total_value_usd=gem.value_usd + inflated.value_usd,
    )
    router = Harness()
    router.feed(event(payload))
    assert "VALUE_PER_CARAT_OUT_OF_BAND" in router.kinds()
