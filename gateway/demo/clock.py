"""The demo clock: real time, sped up so a day passes in about a second and confirmation
deadlines (14-30 days) pass while the demo runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

DAY = 86_400.0


class DemoClock:
    def __init__(self, day_seconds: float, start: datetime | None = None) -> None:
        self.day_seconds = day_seconds
        self.speedup = DAY / day_seconds
        self.start = start or datetime.now(UTC)
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speedup)

    def days_elapsed(self) -> float:
        return (time.monotonic() - self._origin) / self.day_seconds

    def real_seconds(self, days: float) -> float:
        return days * self.day_seconds
