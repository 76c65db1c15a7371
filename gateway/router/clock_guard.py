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
