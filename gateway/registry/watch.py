"""Reload the participant registry when its file changes, so an operator's fix (a pair
enabled, a participant reinstated) takes effect without a restart, e.g. before a replay.

Every component that runs with a ``RegistryWatcher`` also has it ``polled``: a request or
a record looked at the file only when it came, so a broken edit on a quiet gateway went
unlogged and unexposed for as long as none came (an operations review found 18 s)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import structlog

from gateway.errors import ConfigurationError
from gateway.registry.loader import example_registry_path, load_registry
from gateway.registry.model import ParticipantRegistry

log = structlog.get_logger(__name__)
#: How often a ``RegistrySnapshot`` looks at the file, and ``polled`` in the background.
REGISTRY_CHECK_S = 1.0


class ReloadFailures(Mapping[str, str]):
    """Registry files whose latest edit could not be taken in this process (path -> why):
    the process keeps the previous registry, which is right but must not go unnoticed;
    /metrics exposes it (``kpgw_registry_reload_failed``) until a good edit is taken.

    Each reporter (a ``RegistryWatcher``, the router's topic gate) reports its own state,
    and a path is listed while any of them still fails on it. One process can hold several
    watchers of one file (``kpgw run`` without ``--only``, the operations endpoints): one
    watcher's good reload clears only its own report, never another's that has not read the
    good file yet (each does within a second: ``polled``), nor the topic gate's, which
    fails on a file every watcher loads. A reporter that is gone takes its report along,
    so nothing keeps the series up once no one in the process is on the failed edit."""

    def __init__(self) -> None:
        self._reports: weakref.WeakKeyDictionary[object, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )

    def report(self, reporter: object, path: str, why: str | None) -> bool:
        """``reporter``'s latest attempt on ``path``: failed (``why``) or taken (None).
        True for a failure no other reporter of the process had reported already (several
        watchers of one file: the first says it in the log, the others need not)."""
        known = any(
            other is not reporter and state == (path, why)
            for other, state in list(self._reports.items())
        )
        self._reports.pop(reporter, None)  # the newest report names the path's why
        if why is not None:
            self._reports[reporter] = (path, why)
        return why is not None and not known

    def _failing(self) -> dict[str, str]:
        return dict(list(self._reports.values()))  # a copy: reporters may go meanwhile

    def __getitem__(self, path: str) -> str:
        return self._failing()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._failing())

    def __len__(self) -> int:
        return len(self._failing())


RELOAD_FAILURES = ReloadFailures()


def readiness_note() -> dict[str, list[str]]:
    """For a /readyz report: the registry files this process could not reload. Not a
    failed check: the previous registry keeps serving, and an instance taken out of a
    load balancer for an operator's typo would help no one. The why stays in the log and
    on /metrics (behind its token); /readyz answers anyone."""
    failing = sorted(RELOAD_FAILURES)
    return {"registry_reload_failed": failing} if failing else {}


#: What ``RegistryWatcher`` compares to tell a change: the inode (a file replaced by a
#: rename, a ConfigMap's symlink swapped), the modification and change times (``chmod``
#: changes only the latter) and the size; None while the file cannot be ``stat``-ed.
Stamp = tuple[int, int, int, int] | None


class RegistryWatcher:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or example_registry_path()
        self._registry = load_registry(self.path)  # a missing file: a ConfigurationError
        self._stamp = self._mtime()
        #: Called with each registry taken (``on_reload``), in the taking call.
        self._listeners: list[Callable[[ParticipantRegistry], None]] = []

    def on_reload(self, listener: Callable[[ParticipantRegistry], None]) -> Callable[[], None]:
        """Have ``listener`` called with every registry this watcher takes from now on, at
        once in the call that took it (e.g. to hand it to the ingress's validation worker
        processes); returns what undoes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def latest(self) -> ParticipantRegistry:
        """The registry last taken, without looking at the file."""
        return self._registry

    def _mtime(self) -> Stamp:
        try:
            stat = self.path.stat()
        except OSError:
            return None  # deleted, or its directory unreadable: a failed reload
        return (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)

    def current(self) -> ParticipantRegistry:
        """The registry as the file says now; an invalid edit, or a file deleted or made
        unreadable, keeps the last good one (and says so, once per change)."""
        stamp = self._mtime()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._registry = load_registry(self.path)
            except ConfigurationError as exc:
                new = RELOAD_FAILURES.report(self, str(self.path), exc.message)
                (log.error if new else log.debug)(
                    "registry_reload_failed_keeping_previous",
                    path=str(self.path),
                    error=exc.message,
                )
            else:
                RELOAD_FAILURES.report(self, str(self.path), None)
                log.info("registry_reloaded", path=str(self.path))
                for listener in list(self._listeners):
                    listener(self._registry)
        return self._registry


class RegistrySnapshot:
    """The participant registry as its file says, checked at most once a second (an
    operator's edit takes effect within a second, without a ``stat`` per request)."""

    def __init__(self, watcher: RegistryWatcher) -> None:
        self.watcher = watcher
        self._registry = watcher.current()
        self._checked = time.monotonic()

    def __call__(self) -> ParticipantRegistry:
        now = time.monotonic()
        if now - self._checked >= REGISTRY_CHECK_S:
            self._registry = self.watcher.current()
            self._checked = now
        return self._registry


@contextlib.asynccontextmanager
async def polled(
    watcher: RegistryWatcher, every_s: float = REGISTRY_CHECK_S
) -> AsyncIterator[RegistryWatcher]:
    """Look at ``watcher``'s file every ``every_s`` while the block runs (a ``stat``; the
    file is read only when it changed), so an edit is taken, or its failure logged and
    exposed, within a second or two even when no request or record comes to look."""
    task = asyncio.create_task(_poll(watcher, every_s), name="registry-poll")
    try:
        yield watcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _poll(watcher: RegistryWatcher, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            watcher.current()
        except Exception as exc:  # noqa: BLE001 - the polling must outlive any surprise
            log.error("registry_poll_failed", path=str(watcher.path), error=repr(exc))
