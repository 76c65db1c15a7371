"""The partition store without a broker: staging until commit, abort puts timers back,
the deadline heap, states kept encoded and decoded on first use, the deadline headers."""

from __future__ import annotations

from datetime import timedelta

from gateway import codec
from gateway.registry import ParticipantRegistry
from gateway.router import STATE_SCHEMA, CertificateState, decide, state_to_avro
from gateway.router.restore import state_headers, written_deadline
from gateway.router.store import PartitionStore, timers_fingerprint
from gateway.router.timers import DEFAULT_CONFIG, next_deadline
from tests.unit.router.factories import T0, certificate, event, registry


def announced(number: str) -> CertificateState:
    state = decide(None, event(certificate(number)), T0, registry()).state
    assert state is not None
    return state


def test_staged_states_apply_on_commit_only() -> None:
    store, reg = PartitionStore(0), registry()
    store.stage("RU0000001", announced("RU0000001"))
    assert store.get("RU0000001") is not None and len(store) == 0  # visible to its transaction
    store.abort()
    assert store.get("RU0000001") is None
    store.stage("RU0000001", announced("RU0000001"))
    store.commit(reg)
    assert len(store) == 1 and store.next_due() == T0 + timedelta(days=14)  # RU -> EU deadline
    store.stage("RU0000001", None)  # a tombstone
    store.commit(reg)
    assert len(store) == 0 and store.next_due() is None


def test_due_timers_go_back_on_abort_and_are_rescheduled_on_commit() -> None:
    store, reg = PartitionStore(0), registry()
    for number in ("RU0000001", "RU0000002"):
        store.stage(number, announced(number))
    store.commit(reg)
    due = T0 + timedelta(days=14)
    assert not store.has_due(due - timedelta(milliseconds=1)) and store.has_due(due)
    assert store.take_due(due, limit=1) == ["RU0000001"]
    store.abort()
    assert sorted(store.take_due(due, limit=10)) == ["RU0000001", "RU0000002"]
    store.commit(reg)  # ticked without change: still due at the same deadline
    assert store.has_due(due)


def test_encoded_states_are_scheduled_by_their_written_deadline_and_decoded_on_use() -> None:
    reg = registry()
    state = announced("RU0000003")
    deadline = next_deadline(state, reg, DEFAULT_CONFIG)
    store = PartitionStore(0)
    value = codec.encode(STATE_SCHEMA, state_to_avro(state))
    store.load({}, {"RU0000003": (value, deadline), "RU0000004": (b"\xc3\x01bad", None)}, reg)
    assert isinstance(store.states["RU0000003"], bytes)
    assert store.next_due() == deadline
    assert store.get("RU0000003") == state
    assert store.get("RU0000004") is None and len(store) == 1  # corrupt: logged, dropped


def test_written_deadline_is_used_only_under_the_same_timers_fingerprint() -> None:
    reg = registry()
    timers = timers_fingerprint(reg, DEFAULT_CONFIG)
    moment = T0 + timedelta(days=14)
    assert written_deadline(state_headers(moment, timers), timers) == (True, moment)
    assert written_deadline(state_headers(None, timers), timers) == (True, None)
    assert written_deadline(state_headers(moment, timers), "other")[0] is False
    assert written_deadline([], timers)[0] is False
    pairs = tuple(p.model_copy(update={"confirmation_deadline_days": 20}) for p in reg.pairs)
    changed = ParticipantRegistry(participants=reg.participants, pairs=pairs)
    assert timers_fingerprint(changed, DEFAULT_CONFIG) != timers
    assert timers_fingerprint(reg, DEFAULT_CONFIG.from_days(30)) != timers


def test_a_state_staged_with_its_bytes_is_kept_encoded_once_committed() -> None:
    """A settled state is kept as its changelog bytes (a soak review: decoded states made
    a long-running router's heap about five times its restored size)."""
    store, reg = PartitionStore(0), registry()
    kept, busy = announced("RU0000005"), announced("RU0000006")
    value = codec.encode(STATE_SCHEMA, state_to_avro(kept))
    store.stage("RU0000005", kept, encoded=value)
    store.stage("RU0000006", busy)
    assert store.get("RU0000005") is kept  # its transaction sees the state itself
    store.abort()
    store.stage("RU0000005", kept, encoded=value)
    store.stage("RU0000006", busy)
    store.commit(reg)
    assert store.states["RU0000005"] == value
    assert store.states["RU0000006"] is busy
    assert store.get("RU0000005") == kept
    assert store.next_due() == T0 + timedelta(days=14)  # scheduled as before
    store.stage("RU0000005", kept, encoded=value)
    store.stage("RU0000005", None)  # deleted later in the same transaction
    store.commit(reg)
    assert "RU0000005" not in store.states


def test_rescheduling_leaves_encoded_states_encoded() -> None:
    store, reg = PartitionStore(0), registry()
    kept = announced("RU0000007")
    value = codec.encode(STATE_SCHEMA, state_to_avro(kept))
    store.stage("RU0000007", kept, encoded=value)
    store.commit(reg)
    store.reschedule(["RU0000007"], reg)
    assert store.states["RU0000007"] == value
    assert store.next_due() == T0 + timedelta(days=14)
