"""Partitions the router holds because their changelog's latest states were written by a
newer router (``NewerRouterStates``): processing them would start those certificates
afresh. Each hold is said once, shown on ``/metrics`` and ``/readyz``, rechecked by
reading only what its changelog got since (``recheck_held``), and lifted once none of
those states is the latest of its certificate any more. ``RouterHandler`` restores a
lifted partition in full."""

from __future__ import annotations

import time
from collections.abc import Iterator

import structlog
from aiokafka import TopicPartition

from gateway.metrics import ROUTER_NEWER_STATES_HELD
from gateway.router.restore import NewerStatesHold, recheck_held
from gateway.settings import Settings

log = structlog.get_logger(__name__)

#: The first and the longest wait between two rechecks of a partition held for a newer
#: router's states: a rollback lasts minutes or hours, and each recheck reads only what
#: was written since the last one.
HELD_RETRY_FIRST_S = 1.0
HELD_RETRY_MAX_S = 60.0


def held_retry_wait(round_: int, first: float, most: float) -> float:
    """The wait before the ``round_``-th (0-based) recheck of held partitions: doubling
    from ``first``, at most ``most``."""
    return float(min(most, first * 2.0 ** min(round_, 30)))


class HeldPartitions:
    """The partitions held for newer states, by input partition of ``events_topic``."""

    def __init__(self, settings: Settings, *, events_topic: str, changelog_topic: str):
        self.settings = settings
        self.events_topic = events_topic
        self.changelog_topic = changelog_topic
        #: (first, longest) wait between rechecks (``held_retry_wait``).
        self.retry_s = (HELD_RETRY_FIRST_S, HELD_RETRY_MAX_S)
        self._holds: dict[TopicPartition, NewerStatesHold] = {}

    def __contains__(self, tp: object) -> bool:
        return tp in self._holds

    def __iter__(self) -> Iterator[TopicPartition]:
        return iter(list(self._holds))

    def __bool__(self) -> bool:
        return bool(self._holds)

    def get(self, tp: TopicPartition) -> NewerStatesHold | None:
        return self._holds.get(tp)

    def retry_wait(self, round_: int) -> float:
        return held_retry_wait(round_, *self.retry_s)

    def hold(self, hold: NewerStatesHold) -> None:
        """A partition refused for a newer router's states: said once, until it is lifted
        or revoked (its rechecks log nothing)."""
        tp = TopicPartition(self.events_topic, hold.partition)
        self._holds[tp] = hold
        ROUTER_NEWER_STATES_HELD[hold.partition] = len(hold.newer)
        log.warning(
            "router_partition_held_for_newer_states",
            partition=hold.partition,
            newer_states=len(hold.newer),
            writer_fingerprints=hold.fingerprints(),
            changelog_end_offset=hold.end_offset,
            hint="a newer router wrote these states and this one cannot decode them: the "
            "partition is not processed (its certificates are not started afresh) until "
            "a newer router takes it, or its newer states are overwritten; stop this older "
            "router, or finish the upgrade (README, 'Upgrading')",
        )

    def revoked(self, tp: TopicPartition) -> None:
        hold = self._holds.pop(tp, None)
        if hold is None:
            return
        ROUTER_NEWER_STATES_HELD.pop(tp.partition, None)
        log.info(
            "router_held_partition_revoked",
            partition=tp.partition,
            held_s=round(time.monotonic() - hold.since, 1),
        )

    async def recheck(self, held: list[TopicPartition]) -> list[TopicPartition]:
        """Read what the held partitions' changelog got since the last look; returns
        those whose newer states are all superseded (to restore now), no longer held."""
        holds = {tp: self._holds[tp] for tp in held if tp in self._holds}
        if not holds:
            return []
        await recheck_held(
            self.settings, changelog=self.changelog_topic, holds=list(holds.values())
        )
        lifted = []
        for tp, hold in holds.items():
            if self._holds.get(tp) is not hold:
                continue  # revoked meanwhile
            if hold.newer:
                ROUTER_NEWER_STATES_HELD[tp.partition] = len(hold.newer)
                continue
            del self._holds[tp]
            ROUTER_NEWER_STATES_HELD.pop(tp.partition, None)
            lifted.append(tp)
            log.info(
                "router_partition_hold_lifted",
                partition=tp.partition,
                held_s=round(time.monotonic() - hold.since, 1),
                rechecks=hold.rechecks,
                records_read=hold.records_read,
                why="no state a newer router wrote is the latest of its certificate any "
                "more: the partition is restored",
            )
        return lifted

    def reason(self) -> str | None:
        """Why partitions are held, for ``/readyz`` (None: none is)."""
        if not self._holds:
            return None
        held = ", ".join(
            f"{tp.partition} ({len(hold.newer)} states)" for tp, hold in sorted(self._holds.items())
        )
        return (
            f"partition(s) {held}: the changelog holds states a newer router wrote; "
            "stop this older router or finish the upgrade (README, 'Upgrading')"
        )

    def clear(self) -> None:
        for tp in self._holds:
            ROUTER_NEWER_STATES_HELD.pop(tp.partition, None)
        self._holds.clear()
