"""Reload the participant registry when its file changes, so an operator's fix (a pair
enabled, a participant reinstated) takes effect without a restart, e.g. before a replay."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path

import structlog

from gateway.errors import ConfigurationError
from gateway.registry.loader import example_registry_path, load_registry
from gateway.registry.model import ParticipantRegistry

log = structlog.get_logger(__name__)
#: How often a ``RegistrySnapshot`` looks at the file.
REGISTRY_CHECK_S = 1.0


class ReloadFailures(Mapping[str, str]):
    """Registry files whose latest edit could not be taken in this process (path -> why):
    the process keeps the previous registry, which is right but must not go unnoticed;
    /metrics exposes it (``kpgw_registry_reload_failed``) until a good edit is taken.

    Each reporter (a ``RegistryWatcher``, the router's topic gate) reports its own state,
    and a path is listed while any of them still fails on it. One process can hold several
    watchers of one file (``kpgw run`` without ``--only``, the operations endpoints): one
    watcher's good reload clears only its own report, never another's that has not read the
    good file yet (each does on its next look), nor the topic gate's, which
    fails on a file every watcher loads. A reporter that is gone takes its report along,
    so nothing keeps the series up once no one in the process is on the failed edit."""

    def __init__(self) -> None:
        self._reports: weakref.WeakKeyDictionary[object, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )

    def report(self, reporter: object, path: str, why: str | None) -> None:
        """``reporter``'s latest attempt on ``path``: failed (``why``) or taken (None)."""
        if why is None:
            self._reports.pop(reporter, None)
        else:
            self._reports.pop(reporter, None)  # the newest report names the path's why
            self._reports[reporter] = (path, why)

    def _failing(self) -> dict[str, str]:
        return dict(list(self._reports.values()))  # a copy: reporters may go meanwhile

    def __getitem__(self, path: str) -> str:
        return self._failing()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._failing())

    def __len__(self) -> int:
        return len(self._failing())


RELOAD_FAILURES = ReloadFailures()


#: What ``RegistryWatcher`` compares to tell a change: the inode (a file replaced by a
#: rename, a ConfigMap's symlink swapped), the modification and change times (``chmod``
#: changes only the latter) and the size; None while the file cannot be ``stat``-ed.
Stamp = tuple[int, int, int, int] | None


class RegistryWatcher:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or example_registry_path()
        self._registry = load_registry(self.path)  # a missing file: a ConfigurationError
        self._stamp = self._mtime()

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
                RELOAD_FAILURES.report(self, str(self.path), exc.message)
                log.error(
                    "registry_reload_failed_keeping_previous",
                    path=str(self.path),
                    error=exc.message,
                )
            else:
                RELOAD_FAILURES.report(self, str(self.path), None)
                log.info("registry_reloaded", path=str(self.path))
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
