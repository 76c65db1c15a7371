"""The test suite's hang watchdog (tests/hang_watchdog.py): a test that hangs, awaiting
something that never comes, in a teardown whose task swallows its cancellation, or
blocked outside any event loop, fails with the stacks that show where, and the run goes
on. A test within the limit is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

HANGING_TESTS = '''
import asyncio
import time

import pytest


async def test_awaits_forever():
    await asyncio.get_running_loop().create_future()


class Stubborn:
    """Like aiokafka's fetcher close: swallows its cancellation, then waits again."""

    async def routine(self):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)


@pytest.fixture
async def leaked_task():
    task = asyncio.create_task(Stubborn().routine())
    yield
    await asyncio.wait_for(task, 0.1)  # cancels, then waits for it to end: forever


async def test_teardown_waits_for_a_stubborn_task(leaked_task):
    await asyncio.sleep(0)


def test_sleeps_outside_any_loop():
    time.sleep(3600)


async def test_within_the_limit():
    await asyncio.sleep(0.1)
'''


def _run_pytest(test_file: Path, *options: str, **environment: str) -> str:
    """Run pytest on ``test_file`` with the watchdog, in a child process; its output."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.hang_watchdog",
            "-p",
            "no:cacheprovider",
            "-q",
            *options,
            str(test_file),
        ],
        cwd=test_file.parent,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


@pytest.mark.slow
def test_hanging_tests_fail_with_their_stacks_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(textwrap.dedent(HANGING_TESTS))
    artifacts = tmp_path / "artifacts"
    out = _run_pytest(
        tmp_path / "test_hangs.py",
        "-rA",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        KPGW_TEST_HANG_S="2",
        KPGW_TEST_HANG_GRACE_S="2",
        KPGW_ARTIFACTS_DIR=str(artifacts),
    )
    assert out.startswith("exit 1\n"), out
    assert "FAILED test_hangs.py::test_awaits_forever" in out
    assert "ERROR test_hangs.py::test_teardown_waits_for_a_stubborn_task" in out
    assert "FAILED test_hangs.py::test_sleeps_outside_any_loop" in out
    assert "PASSED test_hangs.py::test_within_the_limit" in out
    assert "HangTimeout" in out  # raised in the blocked main thread
    # The diagnosis: every thread's stack and every pending task's await chain.
    assert "=== hang watchdog: test_hangs.py::test_awaits_forever still in call" in out
    assert "Current thread" in out or "Thread 0x" in out
    assert "in test_awaits_forever" in out
    assert "in routine" in out and "cancelling=1" in out  # the stubborn task, cancelled once
    assert "still in teardown" in out
    assert any(artifacts.glob("hang-*test_awaits_forever*.txt"))


UNINTERRUPTIBLE_TEST = """
import time


def test_swallows_every_interruption():
    while True:
        try:
            time.sleep(3600)
        except BaseException:
            pass
"""


@pytest.mark.slow
def test_a_test_that_cannot_be_interrupted_ends_the_run_rather_than_hang_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_stubborn.py").write_text(textwrap.dedent(UNINTERRUPTIBLE_TEST))
    out = _run_pytest(
        tmp_path / "test_stubborn.py", KPGW_TEST_HANG_S="1", KPGW_TEST_HANG_GRACE_S="1"
    )
    assert out.startswith("exit 70\n"), out
    assert "interruption 4 of 4" in out
    assert "could not be interrupted; ending the run" in out
    assert "in test_swallows_every_interruption" in out
