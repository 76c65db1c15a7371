"""The wall-clock timer: overdue (once, deadline inclusive), orphan confirmations, and
retirement of settled states as tombstones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.router import RouterConfig, next_deadline
from tests.unit.router.factories import (
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    issued,
    registry,
    void,
)

MS = timedelta(milliseconds=1)
RU_EU_DEADLINE = timedelta(days=14)  # the example registry's RU->EU pair
ORPHAN_WINDOW = timedelta(days=14)  # RU->EU orphan_window_days (the default)


def test_deadline_exactly_reached_is_overdue_and_emitted_once() -> None:
    cert = event(certificate())
    router = Harness()
    router.feed(cert)
    assert router.state is not None
    assert next_deadline(router.state, registry()) == T0 + RU_EU_DEADLINE

    early = router.tick(T0 + RU_EU_DEADLINE - MS)
    assert early.emissions == ()
    assert not early.changed

    due = router.tick(T0 + RU_EU_DEADLINE)
    assert due.changed
    assert router.kinds() == ["CONFIRMATION_OVERDUE"]
    assert router.outcome("CONFIRMATION_OVERDUE")["evidence_event_ids"] == [cert.event_id]
    # Instants as partners read them elsewhere (UTC, milliseconds, Z), not Python's repr.
    due_at = (T0 + RU_EU_DEADLINE).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert router.outcome("CONFIRMATION_OVERDUE")["detail"] == (
        f"no confirmation since 2025-03-03T09:30:00.000Z, due {due_at}"
    )
    # The exporter learns it, and the importer is reminded.
    assert router.partner("RU") == ["CONFIRMATION_OVERDUE"]
    assert router.partner("EU") == ["SHIPMENT_ANNOUNCED", "CONFIRMATION_OVERDUE"]
    assert router.status(cert) == ("OVERDUE", "CONFIRMATION_OVERDUE")

    again = router.tick(T0 + RU_EU_DEADLINE + timedelta(days=3))
    assert again.emissions == ()
    assert not again.changed
    assert router.kinds() == ["CONFIRMATION_OVERDUE"]


def test_late_confirmation_still_matches_after_overdue() -> None:
    cert = event(certificate())
    conf = event(confirmation(issued(cert)))
    router = Harness()
    router.feed(cert)
    router.tick(T0 + timedelta(days=20))
    router.feed(conf, T0 + timedelta(days=21))
    assert router.kinds() == ["CONFIRMATION_OVERDUE", "MATCHED"]
    assert router.status(cert) == ("MATCHED", None)
    # Both senders hear it was late: the importer is the one who missed the deadline.
    for message in (cert, conf):
        written = router.status_record(message)
        assert written is not None and written["detail"] == "confirmed after the deadline"


@pytest.mark.parametrize(
    "confirmed",
    [pytest.param(True, id="confirmed"), pytest.param(False, id="voided")],
)
def test_confirmed_or_voided_certificates_are_never_overdue(confirmed: bool) -> None:
    cert = event(certificate())
    router = Harness()
    router.feed(cert)
    follow = confirmation(issued(cert)) if confirmed else void(issued(cert))
    router.feed(event(follow), T0 + timedelta(days=3))
    router.tick(T0 + timedelta(days=30))
    assert "CONFIRMATION_OVERDUE" not in router.kinds()


def test_diverted_confirmation_does_not_stop_the_deadline() -> None:
    cert = event(certificate())
    router = Harness()
    router.feed(cert)
    router.feed(event(confirmation(issued(cert), confirming_participant="AE")))
    router.tick(T0 + RU_EU_DEADLINE)
    assert router.kinds() == ["WRONG_DESTINATION", "CONFIRMATION_OVERDUE"]


def test_confirmation_without_certificate_becomes_an_orphan() -> None:
    payload = confirmation(certificate())
    conf = event(payload)
    router = Harness()
    router.feed(conf)
    assert router.state is not None
    assert next_deadline(router.state, registry()) == T0 + ORPHAN_WINDOW
    assert router.tick(T0 + ORPHAN_WINDOW - MS).emissions == ()

    router.tick(T0 + ORPHAN_WINDOW)
    assert router.kinds() == ["ORPHAN_CONFIRMATION"]
    outcome = router.outcome("ORPHAN_CONFIRMATION")
    assert outcome["pair"] == {"exporter": "RU", "importer": "EU"}  # RU from the number
    assert outcome["evidence_event_ids"] == [conf.event_id]
    # The presumed issuer and the confirming participant both hear it.
    assert router.partner("RU") == ["ORPHAN_CONFIRMATION"]
    assert router.partner("EU") == ["ORPHAN_CONFIRMATION"]
    assert router.status(conf) == ("DISCREPANCY", "ORPHAN_CONFIRMATION")
    assert router.tick(T0 + ORPHAN_WINDOW + timedelta(days=1)).emissions == ()


def test_certificate_after_the_orphan_window_is_still_matched() -> None:
    cert = event(certificate())
    router = Harness()
    router.feed(event(confirmation(issued(cert))))
    router.tick(T0 + timedelta(days=15))
    router.feed(cert, T0 + timedelta(days=16))
    assert router.kinds() == ["ORPHAN_CONFIRMATION", "MATCHED"]


def test_orphan_window_without_a_pair_uses_the_configured_default() -> None:
    """KE is no participant: no pair gives a window, so the default of 3 days applies."""
    conf = event(confirmation(certificate("KE123456")))
    router = Harness(config=RouterConfig(default_orphan_window=timedelta(days=3)))
    router.feed(conf)
    router.tick(T0 + timedelta(days=3))
    assert router.kinds() == ["ORPHAN_CONFIRMATION"]
    assert router.partner("EU") == ["ORPHAN_CONFIRMATION"]


def test_matched_certificate_retires_after_retention_as_a_tombstone() -> None:
    config = RouterConfig(retention=timedelta(days=90))
    cert = event(certificate())
    router = Harness(config=config)
    router.feed(cert)
    router.feed(event(confirmation(issued(cert))), T0 + timedelta(days=9))
    assert router.state is not None
    retire = T0 + timedelta(days=9 + 90)
    assert next_deadline(router.state, registry(), config) == retire

    kept = router.tick(retire - MS)
    assert kept.state is router.state
    assert not kept.changed

    retired = router.tick(retire)
    assert retired.tombstone
    assert retired.changed
    assert retired.state is None
    assert retired.emissions == ()


def test_pending_certificate_does_not_retire_before_its_deadline() -> None:
    config = RouterConfig(retention=timedelta(days=1))
    router = Harness(config=config)
    router.feed(event(certificate()))
    decision = router.tick(T0 + timedelta(days=5))
    assert not decision.tombstone
    # After the overdue report it is settled and retires one retention later.
    router.tick(T0 + RU_EU_DEADLINE)
    assert router.tick(T0 + RU_EU_DEADLINE + timedelta(days=1)).tombstone


def test_void_without_certificate_is_settled_and_retires() -> None:
    config = RouterConfig(retention=timedelta(days=30))
    router = Harness(config=config)
    router.feed(event(void(certificate())))
    assert router.state is not None
    assert next_deadline(router.state, registry(), config) == T0 + timedelta(days=30)
    assert router.tick(T0 + timedelta(days=30)).tombstone
