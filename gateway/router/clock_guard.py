"""Whether the router's wall clock may be trusted with irreversible timer actions.

The timer's actions (CONFIRMATION_OVERDUE, ORPHAN_CONFIRMATION, retiring a settled
state) cannot be taken back, and they are decided by the wall clock. A wall clock that
jumps forward (a mistyped date, a bad NTP source, a restored VM) would take them early.
Between two timer ticks the wall clock must advance as the monotonic clock does; when it
advanced more than ``threshold`` further, the guard *holds* until the new time is
confirmed: either the wall clock came back to its course before the jump (the jump was
undone), or the broker accepted records stamped with the new time (``confirm``: Kafka 4
refuses records more than ``log.message.timestamp.after.max.ms``, 1 hour by default,
ahead of its own clock, so an accepted write says the new time is within that of the
broker's). A restart starts a new guard: the operator's way to say "the clock is right".
A backward step only delays timers, and is not held.

Pure: the instants are passed in (``observe``), so it is tested without clocks.
docs/router.md, "The wall clock", explains the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class ClockChange(Enum):
    JUMPED = "jumped"  # forward beyond the threshold: now held
    RESTORED = "restored"  # back on its course before the jump: released
    STEPPED_BACK = "stepped_back"  # backward beyond the threshold: timers only delayed


@dataclass(slots=True)
class ClockGuard:
    threshold: timedelta
    jump: timedelta | None = None  # the forward jump being held, None when not held
    held_at_mono: float | None = None
    _wall: datetime | None = None
    _mono: float = 0.0
    _course: tuple[datetime, float] | None = None  # the last trusted (wall, monotonic)

    @property
    def held(self) -> bool:
        return self.jump is not None

    def observe(self, wall: datetime, mono: float) -> ClockChange | None:
        """Take one reading of both clocks (each timer tick); say what changed."""
        previous, previous_mono = self._wall, self._mono
        self._wall, self._mono = wall, mono
        if previous is None:
            return None
        if self._course is not None:  # held: has the clock come back?
            base_wall, base_mono = self._course
            expected = base_wall + timedelta(seconds=mono - base_mono)
            if abs(wall - expected) <= self.threshold:
                self._release()
                return ClockChange.RESTORED
            return None
        drift = (wall - previous) - timedelta(seconds=mono - previous_mono)
        if drift > self.threshold:
            self.jump = drift
            self.held_at_mono = mono
            self._course = (previous, previous_mono)
            return ClockChange.JUMPED
        if drift < -self.threshold:
            return ClockChange.STEPPED_BACK
        return None

    def confirm(self, started_mono: float) -> bool:
        """The broker accepted a transaction begun at ``started_mono`` (monotonic): when it
        began after the jump was seen, its records carried the new time, and the hold
        ends. True when this released a hold."""
        if self.held_at_mono is None or started_mono < self.held_at_mono:
            return False
        self._release()
        return True

    def _release(self) -> None:
        self.jump = None
        self.held_at_mono = None
        self._course = None


@dataclass(slots=True)
class BehindWatch:
    """Whether this host's wall clock is behind the time stamps of the records it reads.

    ``ClockGuard`` sees a clock step between two ticks; a clock already behind when the
    router started steps nowhere, and only the records say so. kp.events records are
    stamped by the translators' producers as they are written and read after that: one
    stamped later than this host's "now" by more than ``threshold`` says this clock is
    behind (or a translator's ahead, up to the broker's
    ``log.message.timestamp.after.max.ms``, 1 hour by default). Nothing is then decided
    early, but overdue and orphan reports come late by the gap, so operators are told.

    A record read from a backlog is old and proves nothing either way: the episode ends
    only after ``quiet_s`` without a record showing the gap, not at the first one that
    does not. Pure: readings are passed in.
    """

    threshold: timedelta
    quiet_s: float
    gap: timedelta | None = None  # the latest gap seen, None when none is current
    _seen_mono: float = 0.0

    def observe(self, newest_stamp: datetime, wall: datetime, mono: float) -> bool:
        """Take the newest time stamp of a batch read; True when it starts an episode."""
        gap = newest_stamp - wall
        if gap <= self.threshold:
            return False
        started = self.gap is None
        self.gap, self._seen_mono = gap, mono
        return started

    def expire(self, mono: float) -> bool:
        """True when the current episode ended: no record has shown a gap for quiet_s."""
        if self.gap is None or mono - self._seen_mono < self.quiet_s:
            return False
        self.gap = None
        return True
