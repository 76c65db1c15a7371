"""A restore that meets states a newer router wrote refuses the partition, retriably,
instead of skipping them (an upgrade review: a running older router that took over such a
partition in a rebalance started those certificates afresh and lost their outcomes). A
genuinely corrupt record is still only skipped, and so is nothing else."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway import codec
from gateway.errors import NewerRouterStates
from gateway.router import STATE_SCHEMA
from gateway.router.restore import Restored, state_headers
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
