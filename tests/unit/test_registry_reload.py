"""An invalid edit of the participant registry keeps the previous registry in use, and
/metrics says so until a good edit loads (an SRE review found it only in one log line,
with nothing to alert on)."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import generate_latest

from gateway.metrics import pipeline_metrics
from gateway.registry.watch import RegistryWatcher
from tests.kafka.helpers import registry_copy


def _edit(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + tick * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))  # a new stamp even within the clock's resolution


def _failed_series(path: Path) -> bool:
    exposed = generate_latest(pipeline_metrics().registry).decode()
    return f'kpgw_registry_reload_failed{{path="{path}"}} 1.0' in exposed


def test_an_invalid_edit_is_exposed_until_a_good_one_loads(tmp_path: Path) -> None:
    path = registry_copy(tmp_path)
    good = path.read_text()
    watcher = RegistryWatcher(path)
    before = watcher.current()
    assert not _failed_series(path)

    _edit(path, good + "\n[[participants]]\ncode = \n", 1)
    assert watcher.current() is before  # the previous registry stays in use
    assert _failed_series(path)

    _edit(path, good, 2)
    assert watcher.current() is not before
    assert not _failed_series(path)
