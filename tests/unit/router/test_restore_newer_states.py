"""A restore that meets states a newer router wrote refuses the partition, retriably,
instead of skipping them (an upgrade review: a running older router that took over such a
partition in a rebalance started those certificates afresh and lost their outcomes). A
genuinely corrupt record is still only skipped, and so is nothing else."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from gateway import codec
from gateway.errors import NewerRouterStates
from gateway.router import STATE_SCHEMA
from gateway.router.holds import HELD_RETRY_FIRST_S, HELD_RETRY_MAX_S, held_retry_wait
from gateway.router.restore import (
    FULL_RECHECK_AFTER_S,
    NewerStatesHold,
    Restored,
    state_headers,
)
from tests.unit.router.test_preflight_changelog import _from_a_newer_router, _released, _state

TIMERS = "timers"


@dataclass(frozen=True)
class Record:
    key: bytes
    value: bytes | None
    offset: int
    headers: tuple[tuple[str, bytes], ...] = ()


def _restore(values: list[bytes | None], headers: tuple[tuple[str, bytes], ...] = ()) -> Restored:
    restored = Restored(partition=3, catch_up_to=0)
    for offset, value in enumerate(values):
        restored.apply(Record(f"RU{offset:07d}".encode(), value, offset, headers))
    return restored


def test_newer_writer_names_only_an_unknown_fingerprint_behind_the_marker() -> None:
    newer = _from_a_newer_router()
    assert codec.newer_writer(newer) == newer[2:10].hex()
    assert codec.newer_writer(codec.encode(STATE_SCHEMA, _state())) is None
    assert codec.newer_writer(_released(3)) is None
    assert codec.newer_writer(b"not single-object encoded") is None
    assert codec.newer_writer(codec.MAGIC + b"\x00" * 3) is None  # too short: corrupt
    assert codec.newer_writer(None) is None


@pytest.mark.parametrize("encoded", [False, True], ids=["decoded", "kept-encoded"])
async def test_a_state_a_newer_router_wrote_refuses_the_partition_retriably(
    encoded: bool,
) -> None:
    newer = _from_a_newer_router()
    # Usable deadline headers would keep the state encoded, to fail only at its first use.
    headers = tuple(state_headers(None, TIMERS)) if encoded else ()
    restored = _restore([codec.encode(STATE_SCHEMA, _state()), newer, b"corrupt"], headers)
    with pytest.raises(NewerRouterStates) as refused:
        await restored.finish(TIMERS)
    assert refused.value.retriable
    message = refused.value.message
    assert "partition 3" in message and newer[2:10].hex() in message
    assert "newer router" in message and "Upgrading" in message
    assert len(restored) == 0  # nothing of the partition is loaded


async def test_a_corrupt_record_is_still_skipped() -> None:
    unknown_fingerprint_cut_short = codec.MAGIC + b"\x01" * 4
    known_fingerprint_bad_body = codec.encode(STATE_SCHEMA, _state())[:12]
    restored = _restore(
        [
            codec.encode(STATE_SCHEMA, _state()),
            b"not single-object encoded",
            unknown_fingerprint_cut_short,
            known_fingerprint_bad_body,
            None,
        ]
    )
    await restored.finish(TIMERS)
    assert (len(restored.states), restored.corrupt, restored.tombstones) == (1, 3, 1)
    assert restored.newer == {}


def _key(offset: int) -> bytes:
    return f"RU{offset:07d}".encode()


async def test_a_refused_restore_remembers_only_the_newer_states_and_where_it_stopped() -> None:
    newer, known = _from_a_newer_router(), codec.encode(STATE_SCHEMA, _state())
    restored = _restore([known, newer, known, newer])
    restored.apply(Record(_key(1), known, 4))  # the key's latest: a state this version knows
    with pytest.raises(NewerRouterStates):
        await restored.finish(TIMERS)
    restored.end_offset = 5
    hold = restored.hold()
    fingerprint = newer[2:10].hex()
    assert (hold.partition, hold.end_offset) == (3, 5)
    assert hold.newer == {"RU0000003": (3, fingerprint)}
    assert hold.fingerprints() == {fingerprint: 1}


def test_a_hold_is_lifted_by_any_later_record_of_its_key_but_a_newer_one() -> None:
    newer, known = _from_a_newer_router(), codec.encode(STATE_SCHEMA, _state())
    fingerprint = newer[2:10].hex()
    hold = NewerStatesHold(3, {"A": (1, fingerprint), "B": (2, fingerprint)}, end_offset=10)
    assert hold.begin(0, 14, time.monotonic()) == 10  # reads only what came since
    hold.apply(Record(b"A", known, 10))  # overwritten with a state this version knows
    hold.apply(Record(b"C", newer, 11))  # a newer router still writes elsewhere
    hold.apply(Record(b"C", None, 12))  # ... and deleted it
    hold.apply(Record(b"B", newer, 13))
    assert hold.newer == {"B": (13, fingerprint)}
    assert hold.records_read == 4
    hold.apply(Record(b"B", b"corrupt", 14))  # the restore skips it: B is no newer state
    assert hold.newer == {}


def test_a_hold_forgets_deleted_records_and_rereads_a_log_it_cannot_continue() -> None:
    fingerprint = "00" * 8
    hold = NewerStatesHold(3, {"A": (1, fingerprint), "B": (7, fingerprint)}, end_offset=10)
    now = time.monotonic()
    assert hold.begin(5, 12, now) == 10
    assert hold.newer == {"B": (7, fingerprint)}  # A's record was deleted (retention)
    assert hold.begin(0, 3, now) == 0  # the log ends before the last read: recreated
    assert hold.newer == {} and hold.end_offset == 0
    hold.newer, hold.end_offset = {"B": (7, fingerprint)}, 10
    stale = now + FULL_RECHECK_AFTER_S + 1  # a removed tombstone could have been missed
    assert hold.begin(0, 12, stale) == 0 and hold.newer == {}


def test_the_wait_between_rechecks_doubles_and_is_bounded() -> None:
    waits = [held_retry_wait(n, HELD_RETRY_FIRST_S, HELD_RETRY_MAX_S) for n in range(10)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == HELD_RETRY_MAX_S == 60.0
    assert max(waits) == 60.0 and held_retry_wait(10_000, 1.0, 60.0) == 60.0
