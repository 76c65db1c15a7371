"""A certificate's state is bounded: a sender that keeps sending new versions of one
certificate's documents gets them refused (the driver dead-letters them) once the state has
taken in ``RouterConfig.max_events``, instead of growing a changelog record past the
broker's limit and stopping the partition."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.router import RouterConfig, decide
from gateway.router.core import CertificateStateFull
from gateway.router.state import state_to_bytes
from tests.unit.router.factories import T0, Harness, certificate, confirmation, event, registry


def test_events_beyond_the_limit_are_refused_and_change_nothing() -> None:
    router = Harness(config=RouterConfig(max_events=4))
    cert = certificate()
    router.feed(event(cert))
    versions = [
        # Each another receipt (its parcels differ): a copy with other remarks is no new event.
        event(confirmation(cert, remarks=f"re-sent, run {n}", parcels=cert.parcels + n))
        for n in range(4)
    ]
    for n, version in enumerate(versions[:3]):
        router.feed(version, T0 + timedelta(days=9, hours=n))
    assert router.state is not None
    full = router.state
    assert full.event_count() == 4
    with pytest.raises(CertificateStateFull) as refused:
        decide(full, versions[3], T0 + timedelta(days=10), router.registry, router.config)
    assert refused.value.reason == "TOO_MANY_EVENTS"
    assert "RU0123456" in refused.value.message
    # An event already taken in is still a no-op, not a refusal.
    again = decide(full, versions[0], T0 + timedelta(days=10), router.registry, router.config)
    assert again.state is full
    assert not again.emissions


def test_a_full_state_stays_far_below_the_brokers_record_limit() -> None:
    """The default limit with the largest documents the router keeps (every one a
    different confirmation with its own outcome) stays well under 1 MiB."""
    config = RouterConfig()
    reg = registry()
    cert = certificate()
    state = decide(None, event(cert), T0, reg, config).state
    for n in range(1, config.max_events):
        assert state is not None
        conf = confirmation(cert, remarks=f"run {n} " + "x" * 200, parcels=cert.parcels + n)
        state = decide(state, event(conf), T0 + timedelta(hours=n), reg, config).state
    assert state is not None
    assert state.event_count() == config.max_events
    assert len(state_to_bytes(state)) < 256 * 1024
