"""Reload the participant registry when its file changes, so an operator's fix (a pair
enabled, a participant reinstated) takes effect without a restart, e.g. before a replay."""

from __future__ import annotations

from pathlib import Path

import structlog

from gateway.errors import ConfigurationError
from gateway.registry.loader import example_registry_path, load_registry
from gateway.registry.model import ParticipantRegistry

log = structlog.get_logger(__name__)


class RegistryWatcher:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or example_registry_path()
        self._registry = load_registry(self.path)  # a missing file: a ConfigurationError
        self._stamp = self._mtime()

    def _mtime(self) -> tuple[int, int]:
        stat = self.path.stat()
        return (stat.st_mtime_ns, stat.st_size)

    def current(self) -> ParticipantRegistry:
        """The registry as the file says now; an invalid edit keeps the last good one."""
        try:
            stamp = self._mtime()
        except OSError:
            return self._registry
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._registry = load_registry(self.path)
            except ConfigurationError as exc:
                log.error(
                    "registry_reload_failed_keeping_previous",
                    path=str(self.path),
                    error=exc.message,
                )
            else:
                log.info("registry_reloaded", path=str(self.path))
        return self._registry
