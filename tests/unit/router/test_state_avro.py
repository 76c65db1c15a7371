"""The state survives the changelog: encode/decode("RouterState") gives the same state, and
a restored state decides exactly as the original would."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from gateway import codec
from gateway.events import Party
from gateway.router import (
    STATE_SCHEMA,
    CertificateState,
    decide,
    state_from_avro,
    state_to_avro,
)
from tests.unit.router.factories import (
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    registry,
    void,
)

CERT = certificate()


def _waiting() -> Harness:
    router = Harness()
    router.feed(event(confirmation(CERT, totals_only=True, exporter=None)))
    return router


def _busy() -> Harness:
    """Certificate, match, duplicate, diversion, void, re-issue, re-send and overdue."""
    router = Harness()
    router.feed(event(CERT))
    router.tick(T0 + timedelta(days=14))
    router.feed(event(confirmation(CERT)), T0 + timedelta(days=15))
    router.feed(event(confirmation(CERT, parcels=4)))
    router.feed(event(confirmation(CERT, confirming_participant="AE", importer=Party("X"))))
    router.feed(event(void(CERT)))
    router.feed(event(certificate(parcels=9)))
    router.feed(event(CERT, copy="again"))
    return router


def _orphaned() -> Harness:
    router = _waiting()
    router.tick(T0 + timedelta(days=30))
    return router


def _round_trip(state: CertificateState) -> CertificateState:
    data = codec.encode(STATE_SCHEMA, state_to_avro(state))
    return state_from_avro(codec.decode(data, STATE_SCHEMA))


@pytest.mark.parametrize("scenario", [_waiting, _busy, _orphaned])
def test_state_round_trips_through_the_codec(scenario: Callable[[], Harness]) -> None:
    router = scenario()
    state = router.state
    assert state is not None
    assert _round_trip(state) == state


def test_busy_state_holds_what_it_should() -> None:
    state = _busy().state
    assert state is not None
    assert len(state.confirmations) == 3
    assert len(state.voids) == 1
    assert len(state.other_event_ids) == 2  # the re-issue and the re-send
    assert {item.kind for item in state.emitted} >= {
        "CONFIRMATION_OVERDUE",
        "MATCHED",
        "DUPLICATE_CONFIRMATION",
        "WRONG_DESTINATION",
        "CONFLICTING_REISSUE",
    }
    # The differences its evidence's status lists survive a restart with it.
    reissue = next(item for item in state.emitted if item.kind == "CONFLICTING_REISSUE")
    assert [difference.field for difference in reissue.differences] == ["parcels"]


def test_restored_state_decides_like_the_original() -> None:
    router = _waiting()
    assert router.state is not None
    restored = _round_trip(router.state)
    cert = event(CERT)
    at = T0 + timedelta(hours=5)
    original = decide(router.state, cert, at, registry())
    again = decide(restored, cert, at, registry())
    assert again.emissions == original.emissions
    assert again.state == original.state


def test_pending_certificate_state_is_small_on_the_wire() -> None:
    router = Harness()
    router.feed(event(CERT))
    assert router.state is not None
    assert len(codec.encode(STATE_SCHEMA, state_to_avro(router.state))) < 1024


def test_a_state_written_by_an_older_release_restores() -> None:
    """The changelog of a running deployment holds states written with RouterState v3
    (before `seen_by_sender`): the new router must restore them, the field empty."""
    import io
    from pathlib import Path

    import fastavro

    released = Path(codec.__file__).resolve().parents[1] / "schemas" / "avro" / "released"
    state = _busy().state
    assert state is not None
    record = state_to_avro(state)
    del record["seen_by_sender"]
    old = fastavro.parse_schema(
        json.loads((released / "RouterState" / "v3.avsc").read_text()), named_schemas={}
    )
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old, record)
    data = codec.MAGIC + codec.fingerprint(old) + body.getvalue()
    restored = state_from_avro(codec.decode(data, STATE_SCHEMA))
    assert restored.seen_by_sender == ()
    # Nor did it keep the outcomes' sentences (RouterState v5).
    unsaid = tuple(replace(item, detail=None, value_band=None) for item in state.emitted)
    assert replace(restored, last_change=state.last_change) == replace(
        state, seen_by_sender=(), emitted=unsaid
    )
