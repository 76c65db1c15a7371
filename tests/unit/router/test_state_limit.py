"""A certificate's state is bounded: a sender that keeps sending new versions of one
certificate's documents gets them refused (the driver dead-letters them) once the state has
taken in ``RouterConfig.max_events``, instead of growing a changelog record past the
broker's limit and stopping the partition."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gateway import codec
from gateway.events import Party
from gateway.router import RouterConfig, decide
from gateway.router.core import CertificateStateFull
from gateway.router.state import STATE_SCHEMA, state_from_avro, state_to_bytes
from gateway.router.timers import DEFAULT_CONFIG
from tests.unit.router.factories import (
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    registry,
    restated_only,
)


def test_events_beyond_the_limit_are_refused_and_change_nothing() -> None:
    router = Harness(config=RouterConfig(max_events=4))
    cert = certificate()
    router.feed(event(cert))
    versions = [
        # Each another receipt (its parcels differ): a copy with other remarks is no new event.
        event(confirmation(cert, remarks=f"re-sent, run {n}", parcels=cert.parcels + n))
        for n in range(5)
    ]
    for n, version in enumerate(versions[:4]):  # the importer's share: max_events
        router.feed(version, T0 + timedelta(days=9, hours=n))
    assert router.state is not None
    full = router.state
    assert full.event_count() == 5 and full.documents_from("EU") == 4
    with pytest.raises(CertificateStateFull) as refused:
        decide(full, versions[4], T0 + timedelta(days=10), router.registry, router.config)
    assert refused.value.reason == "TOO_MANY_EVENTS"
    assert "RU0123456" in refused.value.message
    # An event already taken in is still a no-op, not a refusal.
    again = decide(full, versions[0], T0 + timedelta(days=10), router.registry, router.config)
    assert again.state is full
    assert restated_only(again, router.status_record(versions[0]))


def test_a_full_state_stays_far_below_the_brokers_record_limit() -> None:
    """The default limit with the largest documents the router keeps (every one a
    different confirmation with its own outcome) stays well under 1 MiB."""
    config = RouterConfig()
    reg = registry()
    cert = certificate()
    state = decide(None, event(cert), T0, reg, config).state
    # As many senders as it takes, each within its own budget.
    senders = sorted(code for code in reg.participants if code not in ("RU", "VE"))
    for n in range(1, config.max_events):
        assert state is not None
        sender = senders[n // config.max_events_per_sender]
        conf = confirmation(
            cert,
            confirming_participant=sender,
            confirming_member_state=None,
            remarks=f"run {n} " + "x" * 200,
            parcels=cert.parcels + n,
        )
        state = decide(state, event(conf), T0 + timedelta(hours=n), reg, config).state
    assert state is not None
    assert state.event_count() == config.max_events
    # Then the importer's and the issuer's shares, each as full as it may be.
    for n in range(1, config.max_events + 1):
        conf = confirmation(cert, remarks=f"importer {n} " + "x" * 200, parcels=1000 + n)
        state = decide(state, event(conf), T0 + timedelta(days=9, hours=n), reg, config).state
        assert state is not None
    for n in range(1, config.max_events):
        again = certificate(parcels=2000 + n)
        state = decide(state, event(again), T0 + timedelta(days=19, hours=n), reg, config).state
        assert state is not None
    assert state.event_count() == 3 * config.max_events - 1
    assert len(state_to_bytes(state)) < 512 * 1024


def test_a_third_party_cannot_use_up_a_certificates_capacity() -> None:
    """Found by a security review: AE sent 101 confirmations of a number ZA had not issued
    yet, and ZA's certificate and the importer's confirmation were then refused. A
    participant other than the issuer now has its own budget; the parties keep theirs."""
    config = RouterConfig(max_events=20, max_events_per_sender=3)
    router = Harness(config=config)
    cert = certificate()  # RU -> EU
    flood = [
        event(
            confirmation(
                cert,
                confirming_participant="AE",
                confirming_member_state=None,
                date_of_receipt=cert.issue_date + timedelta(days=n),
            )
        )
        for n in range(1, 6)
    ]
    for item in flood[:3]:
        router.feed(item)
    assert router.state is not None
    with pytest.raises(CertificateStateFull) as refused:
        decide(router.state, flood[3], T0, router.registry, router.config)
    assert "AE has already sent 3 documents or re-sent messages" in refused.value.message
    router.feed(event(cert), T0 + timedelta(days=1))  # the issuer's certificate: taken in
    router.feed(event(confirmation(cert)), T0 + timedelta(days=9))  # the importer's too
    assert "MATCHED" in router.kinds()


def test_a_copy_is_counted_once() -> None:
    """A re-sent copy was counted twice (a seen id and an alias), halving the limit."""
    router = Harness()
    cert = certificate()
    router.feed(event(cert))
    conf = confirmation(cert)
    router.feed(event(conf))
    router.feed(event(conf, copy="re-sent"))
    assert router.state is not None
    assert router.state.event_count() == 3


def test_re_sending_one_file_under_new_keys_cannot_fill_a_certificate() -> None:
    """Found by a code review: the same bytes under new Idempotency-Keys (a new tracking
    id, the same event id) were aliases past the per-sender budget, and after a copy they
    were not counted at all, so a state could grow without bound."""
    config = RouterConfig(max_events=20, max_events_per_sender=3)
    router = Harness(config=config)
    cert = certificate()
    third = confirmation(cert, confirming_participant="AE", confirming_member_state=None)
    router.feed(event(third))
    router.feed(event(replace(third, remarks="copy")))  # a copy: another event id
    refused = 0
    for n in range(30):
        resent = event(replace(third, remarks="copy"))
        resent = replace(resent, source=replace(resent.source, tracking_id=f"again-{n}"))
        assert router.state is not None
        try:
            router.state = decide(router.state, resent, T0, router.registry, config).state
        except CertificateStateFull:
            refused += 1
    assert router.state is not None
    assert router.state.documents_from("AE") == 3 and refused == 29
    assert router.state.event_count() == 3
    router.feed(event(cert), T0 + timedelta(days=1))  # the issuer's certificate: taken in
    assert router.state.certificate is not None


def test_copies_under_one_tracking_id_count_towards_their_senders_limit() -> None:
    """A property-based review: copies of a third party's confirmation, each with other
    remarks but one tracking id (a Kafka-native sender chooses it), counted for the
    certificate but not for their sender, so 99 of them locked the importer out."""
    cert = certificate()
    router = Harness()
    router.feed(event(cert))
    probe = confirmation(
        cert,
        confirming_participant="AE",
        confirming_member_state=None,
        importer=Party("Dubai Rough DMCC"),
    )
    refused = 0
    for n in range(30):
        copy = event(replace(probe, remarks=f"rendering {n}"))
        copy = replace(copy, source=replace(copy.source, tracking_id="trk-probe"))
        try:
            router.feed(copy)
        except CertificateStateFull:
            refused += 1
    assert refused == 30 - DEFAULT_CONFIG.max_events_per_sender
    assert router.state is not None
    assert router.state.documents_from("AE") == DEFAULT_CONFIG.max_events_per_sender
    restored = state_from_avro(codec.decode(state_to_bytes(router.state), STATE_SCHEMA))
    assert restored.seen_by_sender == router.state.seen_by_sender  # survives a restart
    router.feed(event(confirmation(cert)))  # the importer's own is still taken in
    assert "MATCHED" in router.kinds()


def test_colluding_third_parties_cannot_lock_out_the_issuer_and_the_importer() -> None:
    """Left open by session 9: ten participants, each within its own budget of 10, filled
    the certificate's one limit of 100 before it was issued, so the issuer's certificate
    and the importer's confirmation were refused. Third parties now share one limit; the
    issuer and the importer have their own."""
    config = RouterConfig(max_events=20, max_events_per_sender=5)
    reg = registry()
    cert = certificate()
    state = None
    colluders = sorted(code for code in reg.participants if code not in ("RU", "EU", "VE"))
    refused = 0
    for n in range(30):
        guess = confirmation(
            cert,
            confirming_participant=colluders[n // 5],
            confirming_member_state=None,
            parcels=cert.parcels + 1 + n,
        )
        try:
            state = decide(state, event(guess), T0 + timedelta(hours=n), reg, config).state
        except CertificateStateFull:
            refused += 1
    assert refused == 10 and state is not None  # the third parties' 20, no more
    state = decide(state, event(cert), T0 + timedelta(days=2), reg, config).state
    matched = decide(state, event(confirmation(cert)), T0 + timedelta(days=3), reg, config)
    assert "MATCHED" in [outcome["outcome"] for outcome in matched.outcomes()]
