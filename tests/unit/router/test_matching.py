"""Matching a certificate with its confirmation: MATCHED, discrepancies, tolerances, names,
out-of-order arrival, duplicates of the same input, and who receives what."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from gateway import codec
from gateway.events import CertificateIssued, HsLine, Party
from gateway.router import TopicKind
from gateway.router.records import outcome_id
from tests.unit.router.factories import (
    ANTWERP,
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    issued,
    registry,
    restated_only,
)

BW_LINES = (HsLine("7102.31", Decimal("1000.000"), Decimal("131000.00")),)


def bw_certificate() -> CertificateIssued:
    return certificate(
        "BW123456",
        issuing_participant="BW",
        exporting_participant="BW",
        exporter=Party("Okavango Diamond Company (Pty) Ltd", "Plot 63, Gaborone", "BW"),
        origin="BW",
        lines=BW_LINES,
        authority="Ministry of Minerals and Energy, Diamond Hub",
    )


def test_certificate_then_matching_confirmation_is_matched() -> None:
    cert = event(certificate())
    conf = event(confirmation(issued(cert)))
    router = Harness()

    announced = router.feed(cert)
    assert [e.value["notification_type"] for e in announced.emissions[:1]] == ["SHIPMENT_ANNOUNCED"]
    assert announced.emissions[0].participant == "EU"
    # The importer learns when its confirmation is due (found by a partner review).
    deadline = registry().pair("RU", "EU").confirmation_deadline_days  # type: ignore[union-attr]
    due = announced.emissions[0].value["confirmation_due"]
    assert due == T0 + timedelta(days=deadline)
    decoded = codec.decode(announced.emissions[0].to_bytes(), "PartnerNotification")
    assert decoded["confirmation_due"] == due
    assert router.statuses() == {cert.source.tracking_id: ("ANNOUNCED", None)}

    matched = router.feed(conf, T0 + timedelta(days=9))
    outcome = router.outcome("MATCHED")
    assert outcome["pair"] == {"exporter": "RU", "importer": "EU"}
    assert outcome["evidence_event_ids"] == [cert.event_id, conf.event_id]
    assert outcome["differences"] == []
    assert outcome["outcome_id"] == outcome_id(
        "RU0123456", outcome["outcome"], [conf.event_id, cert.event_id]
    )
    assert router.kinds() == ["MATCHED"]
    assert router.partner("RU") == ["IMPORT_CONFIRMED", "MATCHED"]
    assert router.partner("EU") == ["SHIPMENT_ANNOUNCED", "MATCHED"]
    assert router.statuses() == {
        cert.source.tracking_id: ("MATCHED", None),
        conf.source.tracking_id: ("MATCHED", None),
    }
    assert all(e.key == "RU0123456" for e in matched.emissions if e.topic is not TopicKind.STATUS)


def test_confirmation_before_certificate_waits_then_matches() -> None:
    cert = event(certificate())
    conf = event(confirmation(issued(cert)))
    router = Harness()

    waiting = router.feed(conf)
    # Its sender learns why nothing else happens yet; nobody else hears anything.
    assert [e.topic for e in waiting.emissions] == [TopicKind.STATUS]
    assert router.statuses() == {conf.source.tracking_id: ("TRANSLATED", "AWAITING_CERTIFICATE")}
    detail = waiting.emissions[0].value["detail"]
    # A certificate refused or dead-lettered (PAIR_NOT_ENABLED, say) did reach the gateway:
    # the detail said none had, which sent the importer to the wrong place.
    assert detail.startswith(
        "no certificate RU0123456 has been accepted yet (one refused or dead-lettered does "
        "not count: it is sent again or replayed once fixed)"
    )
    assert waiting.changed
    assert router.state is not None
    assert [c.status for c in router.state.confirmations] == ["WAITING"]

    router.feed(cert, T0 + timedelta(hours=2))
    assert router.statuses()[conf.source.tracking_id] == ("MATCHED", None)
    assert router.kinds() == ["MATCHED"]
    assert router.partner("EU") == ["SHIPMENT_ANNOUNCED", "MATCHED"]
    assert router.partner("RU") == ["IMPORT_CONFIRMED", "MATCHED"]
    assert [c.status for c in router.state.confirmations] == ["JUDGED"]


def test_either_order_gives_the_same_outcome_id() -> None:
    cert = event(certificate())
    conf = event(confirmation(issued(cert)))
    first, second = Harness(), Harness()
    first.feed(cert)
    first.feed(conf)
    second.feed(conf)
    second.feed(cert)
    assert first.outcome("MATCHED")["outcome_id"] == second.outcome("MATCHED")["outcome_id"]


def test_same_event_id_again_changes_nothing_and_only_restates_its_status() -> None:
    """The same message again (a sender's retry, a replayed dead letter) decides nothing;
    its status is written again because the translator has just written TRANSLATED for
    the copy and kp.status keeps the last record (a scale-out review: it stayed
    'translated' for good)."""
    cert = event(certificate())
    conf = event(confirmation(issued(cert)))
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    before = router.state
    for again in (cert, conf):
        last = router.status_record(again)
        decision = router.feed(again, T0 + timedelta(days=20))
        assert restated_only(decision, last)
        assert decision.state is before
        assert router.status(again) == ("MATCHED", None)


def test_discrepancies_are_listed_field_by_field() -> None:
    cert = event(certificate())
    lines = (HsLine("7102.31", Decimal("1519.000"), Decimal("147474.00")),)
    conf = event(
        confirmation(
            issued(cert),
            parcels=4,
            lines=lines,
            importer=Party("Diamond Land NV"),
        )
    )
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    outcome = router.outcome("MATCHED_WITH_DISCREPANCIES")
    assert outcome["differences"] == [
        {"field": "parcels", "certificate": "3", "confirmation": "4"},
        {"field": "lines[7102.21]", "certificate": "7102.21", "confirmation": None},
        {"field": "lines[7102.31].carats", "certificate": "1520.350", "confirmation": "1519.000"},
        {
            "field": "importer",
            "certificate": "Antwerp Rough Trading BV",
            "confirmation": "Diamond Land NV",
        },
    ]
    assert router.status(conf) == (
        "DISCREPANCY",
        "MATCHED_WITH_DISCREPANCIES",
    )
    # Both senders read the same differences in their message's status.
    for message in (conf, cert):
        written = router.status_record(message)
        assert written is not None
        assert written["differences"] == [
            {"outcome": "MATCHED_WITH_DISCREPANCIES", **difference}
            for difference in outcome["differences"]
        ]


def test_names_match_after_normalising_case_punctuation_and_legal_form() -> None:
    cert = event(certificate())
    conf = event(
        confirmation(
            issued(cert),
            importer=Party("ANTWERP  ROUGH TRADING B.V."),
            exporter=Party("gokhran of russia, JSC"),
        )
    )
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    assert router.kinds() == ["MATCHED"]


def test_totals_only_confirmation_is_compared_on_totals() -> None:
    cert = event(certificate())
    same = event(confirmation(issued(cert), totals_only=True))
    router = Harness()
    router.feed(cert)
    router.feed(same)
    assert router.kinds() == ["MATCHED"]

    lighter = event(
        confirmation(
            issued(cert),
            totals_only=True,
            total_carats=Decimal("1830.000"),
            total_value_usd=None,
        )
    )
    other = Harness()
    other.feed(cert)
    other.feed(lighter)
    assert other.outcome("MATCHED_WITH_DISCREPANCIES")["differences"] == [
        {"field": "total_carats", "certificate": "1830.550", "confirmation": "1830.000"}
    ]


def test_tolerance_exactly_met_is_a_match() -> None:
    """BW->EU allows 0.5 % on carats and value: 1005.000 ct for 1000.000 ct is exactly it."""
    cert = event(bw_certificate())
    at_limit = (HsLine("7102.31", Decimal("1005.000"), Decimal("130345.00")),)
    conf = event(confirmation(issued(cert), lines=at_limit))
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    assert router.kinds() == ["MATCHED"]


def test_just_beyond_the_tolerance_is_a_discrepancy() -> None:
    cert = event(bw_certificate())
    beyond = (HsLine("7102.31", Decimal("1005.001"), Decimal("130344.99")),)
    conf = event(confirmation(issued(cert), lines=beyond))
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    assert [d["field"] for d in router.outcome("MATCHED_WITH_DISCREPANCIES")["differences"]] == [
        "lines[7102.31].carats",
        "lines[7102.31].value_usd",
    ]


def test_exact_pair_flags_the_smallest_difference() -> None:
    """RU->EU has no tolerance: one thousandth of a carat is a discrepancy."""
    cert = event(certificate())
    lines = (
        HsLine("7102.31", Decimal("1520.351"), Decimal("147474.00")),
        HsLine("7102.21", Decimal("310.200"), Decimal("12408.00")),
    )
    conf = event(confirmation(issued(cert), lines=lines))
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    assert router.kinds() == ["MATCHED_WITH_DISCREPANCIES"]


def test_eu_member_state_confirming_for_eu_is_the_destination() -> None:
    """The certificate names Belgium; the German office of the EU confirms: same participant."""
    cert = event(certificate())
    conf = event(
        confirmation(
            issued(cert),
            confirming_member_state="DE",
            authority="Zollamt Frankfurt am Main (DE)",
            importer=Party("Antwerp Rough Trading bv", country="DE"),
        )
    )
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    assert router.kinds() == ["MATCHED"]


def test_identical_confirmation_sent_again_is_a_harmless_resend() -> None:
    cert = event(certificate())
    payload = confirmation(issued(cert))
    conf, resend = event(payload), event(payload, copy="resent via the hub")
    assert conf.event_id != resend.event_id
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    decision = router.feed(resend)
    assert router.kinds() == ["MATCHED"]
    assert decision.changed  # the re-send's id joins the dedup set
    assert [e.topic for e in decision.emissions] == [TopicKind.STATUS]
    assert router.status(resend) == ("MATCHED", None)
    last = router.status_record(resend)
    assert restated_only(router.feed(resend), last)


def test_a_resend_with_its_lines_in_another_order_is_the_same_document() -> None:
    """Line order means nothing on a KP certificate (one line per HS code): a re-sent
    confirmation or certificate listing them in another order is no fraud signal."""
    payload = certificate()
    cert = event(payload)
    conf = confirmation(payload)
    reordered_conf = replace(conf, lines=tuple(reversed(conf.lines)))
    reordered_cert = replace(payload, lines=tuple(reversed(payload.lines)))
    router = Harness()
    router.feed(cert)
    router.feed(event(conf))
    router.feed(event(reordered_conf, copy="again"))
    router.feed(event(reordered_cert, copy="resend"))
    assert router.kinds() == ["MATCHED"]
    # A real difference is still one, listed in code order whatever the documents' order.
    changed = replace(
        reordered_conf,
        lines=(
            replace(reordered_conf.lines[0], carats=Decimal("300.000")),
            reordered_conf.lines[1],
        ),
        date_of_receipt=conf.date_of_receipt + timedelta(days=1),
    )
    router.feed(event(changed, copy="other"))
    differences = router.outcome("DUPLICATE_CONFIRMATION")["differences"]
    assert [d["field"] for d in differences] == ["date_of_receipt", "lines"]
    assert differences[1] == {
        "field": "lines",
        "certificate": "7102.21 310.200 ct 12408.00 USD; 7102.31 1520.350 ct 147474.00 USD",
        "confirmation": "7102.21 300.000 ct 12408.00 USD; 7102.31 1520.350 ct 147474.00 USD",
    }


def test_a_resent_message_follows_its_originals_status_to_the_end() -> None:
    """A national system that retries under a new Idempotency-Key (the same bytes: the same
    event id, a new tracking id) or re-serialises the document (the same content) must see
    the new tracking id reach the final state, not stay at the moment it was re-sent."""
    cert = event(certificate())
    same_bytes = replace(cert, source=replace(cert.source, tracking_id="trk-retry"))
    same_content = event(issued(cert), copy="re-serialised")
    router = Harness()
    router.feed(cert)
    retried = router.feed(same_bytes)
    assert retried.changed  # the message is remembered, nothing else happens
    assert [e.topic for e in retried.emissions] == [TopicKind.STATUS]
    router.feed(same_content)
    assert router.statuses()["trk-retry"] == ("ANNOUNCED", None)
    assert router.status(same_content) == ("ANNOUNCED", None)
    router.feed(event(confirmation(issued(cert))))
    assert router.kinds() == ["MATCHED"]
    assert router.status(cert) == ("MATCHED", None)
    assert router.statuses()["trk-retry"] == ("MATCHED", None)
    assert router.status(same_content) == ("MATCHED", None)
    # The same message again (a replay: the same tracking id) still changes nothing.
    last = router.status_record(same_bytes)
    assert restated_only(router.feed(same_bytes), last)


def test_importer_identity_is_checked_even_with_matching_goods() -> None:
    cert = event(certificate())
    conf = event(confirmation(issued(cert), importer=Party("Emirates Diamond Trading FZE")))
    router = Harness()
    router.feed(cert)
    router.feed(conf)
    assert router.outcome("MATCHED_WITH_DISCREPANCIES")["differences"] == [
        {
            "field": "importer",
            "certificate": ANTWERP.name,
            "confirmation": "Emirates Diamond Trading FZE",
        }
    ]


def test_a_rerun_after_a_crash_produces_identical_records() -> None:
    """Same state, same event, same ``now``: byte-identical records (deterministic ids)."""
    cert = event(certificate())
    conf = event(confirmation(issued(cert)))
    runs = []
    for _ in range(2):
        router = Harness()
        router.feed(cert)
        router.feed(conf, T0 + timedelta(days=9))
        router.tick(T0 + timedelta(days=200))
        runs.append([codec.encode(e.schema, e.value) for e in router.emissions])
    assert runs[0] == runs[1]
    assert len(runs[0]) > 5
