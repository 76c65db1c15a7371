"""Readiness checks shared by concurrent probes: each check opens a broker connection and
the endpoints are open, so probes arriving together share one run of the check, and its
answer is reused for a short while."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

Report = dict[str, Any]


class SharedCheck:
    def __init__(self, run: Callable[[], Awaitable[Report]], reuse_s: float) -> None:
        self.run = run
        self.reuse_s = reuse_s
        self._last: tuple[float, Report] | None = None
        self._running: asyncio.Future[Report] | None = None

    async def __call__(self) -> Report:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.reuse_s:
            return self._last[1]
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._run(now))
        # shield: a probe that gives up must not cancel the check the others wait for
        return await asyncio.shield(self._running)

    async def _run(self, started: float) -> Report:
        report = await self.run()
        self._last = (started, report)
        return report
