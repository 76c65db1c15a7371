"""The command line's ``asyncio.run`` ends in bounded time: a task that ignores its
cancellation or a thread that never returns is named in a warning and left behind, where
``asyncio.run`` waits for it for ever (``kpgw demo`` interrupted while it waited for a hung
broker did not exit for two minutes)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import aio_run
from tests.log_capture import captured


@pytest.fixture(autouse=True)
def fresh_runner_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No left thread recorded for the rest of the session (``kpgw``'s main would end the
    test process for it)."""
    monkeypatch.setattr(aio_run, "_threads_left", [])


def test_a_result_and_an_error_come_back_as_with_asyncio_run() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fails() -> None:
        raise LookupError("wrong")

    assert aio_run.run(answer()) == 42
    with pytest.raises(LookupError, match="wrong"):
        aio_run.run(fails())


def test_tasks_still_running_at_the_end_are_cancelled_and_waited_for() -> None:
    finished: list[str] = []

    async def cleans_up() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # a short clean-up is waited for
            finished.append("cleaned up")
            raise

    async def main() -> None:
        asyncio.get_running_loop().create_task(cleans_up())
        await asyncio.sleep(0)

    with captured("gateway.aio_run") as logs:
        aio_run.run(main(), grace_s=5)
    assert finished == ["cleaned up"]
    assert logs == []


def test_a_task_that_ignores_its_cancellation_is_named_and_left_behind() -> None:
    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # as a client's internal task that swallows it

    async def main() -> None:
        asyncio.get_running_loop().create_task(stubborn(), name="fetcher")
        await asyncio.sleep(0)

    started = time.monotonic()
    with captured("gateway.aio_run") as logs:
        aio_run.run(main(), grace_s=0.5)
    assert time.monotonic() - started < 3
    [left] = [entry for entry in logs if entry["event"] == "shutdown_tasks_left"]
    assert left["log_level"] == "warning"
    [task] = left["tasks"]
    assert task.startswith("fetcher: ") and task.endswith("<locals>.stubborn"), task
    assert left["waited_s"] == 0.5
    assert aio_run.threads_left() == []  # a task alone holds no exit


def test_a_stuck_executor_thread_is_named_and_left_behind() -> None:
    release = threading.Event()

    async def main() -> None:
        asyncio.get_running_loop().run_in_executor(None, release.wait, 60)  # never awaited
        await asyncio.sleep(0.05)

    started = time.monotonic()
    try:
        with captured("gateway.aio_run") as logs:
            aio_run.run(main(), grace_s=0.5)
        assert time.monotonic() - started < 3
        [left] = [entry for entry in logs if entry["event"] == "shutdown_threads_left"]
        assert any(name.startswith("asyncio") for name in left["threads"]), left
        assert aio_run.threads_left() == left["threads"]
    finally:
        release.set()  # the thread ends; the test process's exit does not wait


def test_idle_executor_threads_end_even_after_a_stubborn_task_used_the_grace() -> None:
    """A stubborn task took the whole grace, and the executor's shutdown got none: its
    idle threads were reported as stuck (``shutdown_threads_left``), and ``kpgw`` then
    ended with ``os._exit`` (a code review). They are told to stop and end at once."""

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, time.sleep, 0)  # a pool thread, idle from now on
        started.append(loop.create_task(stubborn(), name="fetcher"))
        await asyncio.sleep(0)

    started: list[asyncio.Task[None]] = []
    with captured("gateway.aio_run") as logs:
        aio_run.run(main(), grace_s=0.3)
    assert [entry["event"] for entry in logs] == ["shutdown_tasks_left"]
    assert aio_run.threads_left() == []


@pytest.fixture
def hung_broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A process holding a port that accepts connections and never answers, recorded as
    the local broker of that port under a KPGW_HOME of its own: a broker hung in a
    pause, as ``kpgw demo`` finds it (it waits up to 120 s for it to answer)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(16)\n"
            "print(server.getsockname()[1], flush=True); time.sleep(300)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        home = tmp_path / "home"
        (home / "kafka" / str(port)).mkdir(parents=True)
        (home / "kafka" / str(port) / "broker.pid").write_text(str(process.pid))
        yield port, home
    finally:
        process.kill()
        process.communicate(timeout=10)


def test_kpgw_demo_interrupted_while_it_waits_for_a_hung_broker_exits(
    hung_broker: tuple[int, Path],
) -> None:
    port, home = hung_broker
    env = {**os.environ, "KPGW_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("KPGW_KAFKA_BOOTSTRAP", None)
    # Ctrl-C handled as in a terminal, even where this test's own SIGINT is ignored
    program = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from gateway.cli import main; main(sys.argv[1:])"
    )
    demo = subprocess.Popen(
        [sys.executable, "-c", program, "--log-format", "json", "--log-level", "warning",
         "demo", "--short", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 60
        seen = ""
        while "starting a local one" not in seen and time.monotonic() < deadline:
            line = demo.stdout.readline()  # after its 3 s probe: it now waits in a thread
            if not line:
                break  # it exited
            seen = " ".join((seen + line).split())  # the console wraps long lines
        assert "starting a local one" in seen, seen
        time.sleep(0.5)
        demo.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        out, err = demo.communicate(timeout=aio_run.SHUTDOWN_GRACE_S + 20)
        took = time.monotonic() - interrupted
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate(timeout=10)
    assert demo.returncode == 0, err[-2000:]
    assert "Stopped." in out
    assert took < aio_run.SHUTDOWN_GRACE_S + 10  # asyncio.run: the broker's 120 s
    assert '"event": "shutdown_threads_left"' in err or '"event":"shutdown_threads_left"' in err
