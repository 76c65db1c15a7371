"""An invalid edit of the participant registry keeps the previous registry in use, and
/metrics says so until a good edit loads (an SRE review found it only in one log line,
with nothing to alert on)."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import MutableMapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from gateway.metrics import pipeline_metrics
from gateway.registry import watch
from gateway.registry.watch import RegistryWatcher, polled
from tests import log_capture
from tests.kafka.helpers import registry_copy


def captured() -> AbstractContextManager[list[MutableMapping[str, Any]]]:
    return log_capture.captured(watch.__name__)


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


def test_a_deleted_file_is_a_failed_reload_said_once_until_it_is_back(tmp_path: Path) -> None:
    """Deleting the file was silent: ``current`` swallowed the ``stat`` error, nothing was
    logged or exposed, and the next restart exited 2 (an operations review)."""
    path = registry_copy(tmp_path)
    good = path.read_text()
    watcher = RegistryWatcher(path)
    before = watcher.current()

    path.unlink()
    with captured() as logs:
        assert watcher.current() is before
        assert watcher.current() is before  # still missing: no second line
    failed = [e for e in logs if e["event"] == "registry_reload_failed_keeping_previous"]
    assert len(failed) == 1 and failed[0]["log_level"] == "error"
    assert "cannot read participant registry" in failed[0]["error"]
    assert _failed_series(path)

    path.write_text(good)
    with captured() as logs:
        assert watcher.current() is not before
    assert [e["event"] for e in logs] == ["registry_reloaded"]
    assert not _failed_series(path)


def test_a_file_that_cannot_be_decoded_is_a_failed_reload(tmp_path: Path) -> None:
    path = registry_copy(tmp_path)
    good = path.read_text()
    watcher = RegistryWatcher(path)
    before = watcher.current()

    path.write_bytes(b"\xff\xfe not the registry")
    assert watcher.current() is before  # before, UnicodeDecodeError reached the caller
    assert _failed_series(path)
    _edit(path, good, 1)
    assert watcher.current() is not before
    assert not _failed_series(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_a_file_made_unreadable_is_a_failed_reload(tmp_path: Path) -> None:
    path = registry_copy(tmp_path)
    watcher = RegistryWatcher(path)
    before = watcher.current()

    path.chmod(0)  # changes the change time only: the stamp must include it
    try:
        assert watcher.current() is before
        assert _failed_series(path)
    finally:
        path.chmod(0o644)
    assert watcher.current() is not before
    assert not _failed_series(path)


BROKEN = "\n[[participants]]\ncode = \n"


def test_one_watchers_good_reload_does_not_hide_anothers_failure(tmp_path: Path) -> None:
    """``kpgw run`` holds several watchers of one file. The series was one dict entry per
    path: the first watcher to load the good file cleared it while another still ran on
    the previous registry after failing, and a failure reported by a watcher no longer in
    use stayed for ever."""
    path = registry_copy(tmp_path)
    good = path.read_text()
    ingress, translator = RegistryWatcher(path), RegistryWatcher(path)

    _edit(path, good + BROKEN, 1)
    ingress.current()
    _edit(path, good, 2)
    translator.current()  # never saw the broken edit: nothing of its own to clear
    assert _failed_series(path)  # the ingress has not taken the good file yet
    ingress.current()
    assert not _failed_series(path)

    _edit(path, good + BROKEN, 3)
    ingress.current(), translator.current()
    _edit(path, good, 4)
    ingress.current()
    assert _failed_series(path)  # the translator still fails
    translator.current()
    assert not _failed_series(path)


def test_a_failure_goes_with_the_watcher_that_reported_it(tmp_path: Path) -> None:
    path = registry_copy(tmp_path)
    good = path.read_text()
    watcher = RegistryWatcher(path)
    _edit(path, good + BROKEN, 1)
    watcher.current()
    assert _failed_series(path)
    del watcher
    gc.collect()
    assert not _failed_series(path)


async def test_a_polled_watcher_says_a_broken_edit_without_anyone_asking(
    tmp_path: Path,
) -> None:
    """A request or a record looked at the file only when it came: with none, a broken
    edit went unlogged and off /metrics (18 s in an operations review)."""
    path = registry_copy(tmp_path)
    good = path.read_text()
    watcher = RegistryWatcher(path)

    async def settled(failed: bool) -> None:
        for _ in range(100):
            if _failed_series(path) is failed:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"kpgw_registry_reload_failed never became {failed}")

    with captured() as logs:
        async with polled(watcher, every_s=0.02):
            _edit(path, good + BROKEN, 1)
            await settled(True)
            path.unlink()
            await asyncio.sleep(0.2)  # several rounds while the file is away
            _edit(path, good, 2)
            await settled(False)
    events = [e["event"] for e in logs]
    assert events == [
        "registry_reload_failed_keeping_previous",  # the broken edit
        "registry_reload_failed_keeping_previous",  # the file deleted: once
        "registry_reloaded",
    ]
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "registry-poll"]


def test_several_watchers_of_a_file_log_its_failure_once(tmp_path: Path) -> None:
    path = registry_copy(tmp_path)
    good = path.read_text()
    watchers = [RegistryWatcher(path) for _ in range(3)]  # kpgw run: one per component
    _edit(path, good + BROKEN, 1)
    with captured() as logs:
        for watcher in watchers:
            watcher.current()
    levels = [e["log_level"] for e in logs if e["event"].startswith("registry_reload_failed")]
    assert levels == ["error", "debug", "debug"]


def test_reload_listeners_get_each_registry_taken_and_only_those(tmp_path: Path) -> None:
    """What hands the ingress's validation workers each edit it takes (the ingress's
    ``WorkerValidator``): called in the call that took it, never for a refused edit."""
    path = registry_copy(tmp_path)
    good = path.read_text()
    watcher = RegistryWatcher(path)
    taken: list[object] = []
    undo = watcher.on_reload(taken.append)

    _edit(path, good + "\n[[participants]]\ncode = \n", 1)
    watcher.current()
    assert taken == []  # refused: the previous registry stays, nobody is told

    _edit(path, good, 2)
    assert taken == [watcher.current()] == [watcher.latest()]

    undo()
    _edit(path, good, 3)  # taken again, but no longer told
    watcher.current()
    assert len(taken) == 1
