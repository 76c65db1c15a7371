"""A watchdog for hanging tests (registered by ``tests/conftest.py``).

When one test, its fixtures' setup and teardown included, runs longer than
``KPGW_TEST_HANG_S`` seconds (default 240; 0 turns the watchdog off), it writes every
thread's stack (``faulthandler``) and every pending asyncio task's await chain of every
running event loop to the terminal (pytest's own stderr, past the capture), to
``$KPGW_ARTIFACTS_DIR/hang-*.txt`` when that is set, and into the test's report. Then it
fails the test so that the run goes on: a running event loop is stopped (its
``run_until_complete`` raises), a main thread outside any loop gets ``HangTimeout`` from a
signal. Still there ``KPGW_TEST_HANG_GRACE_S`` later (a teardown hanging in turn), it does
it again; after ``MAX_FIRES`` times it ends the process with a diagnosis rather than hang
CI. Nothing happens while a test is within its limit: one idle thread waits for deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import signal
import tempfile
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

LIMIT_ENV = "KPGW_TEST_HANG_S"
GRACE_ENV = "KPGW_TEST_HANG_GRACE_S"
DEFAULT_LIMIT_S = 240.0
#: After this many interruptions of one test that did not end it, the process exits.
MAX_FIRES = 4
#: How long the watchdog waits for a loop to list its own tasks before reading them itself.
LOOP_ANSWER_S = 5.0
EXIT_CODE = 70


class HangTimeout(BaseException):
    """Raised in the main thread of a test the watchdog interrupts. A BaseException, like a
    KeyboardInterrupt, so that an ``except Exception`` on the way does not swallow it."""


# --- which event loops run, and in which thread ---------------------------------------------

_running_loops: dict[asyncio.AbstractEventLoop, int] = {}
_loops_lock = threading.Lock()
_original_run_forever = asyncio.BaseEventLoop.run_forever


def _tracking_run_forever(self: asyncio.BaseEventLoop) -> None:
    with _loops_lock:
        _running_loops[self] = threading.get_ident()
    try:
        _original_run_forever(self)
    finally:
        with _loops_lock:
            _running_loops.pop(self, None)


def running_loops() -> list[tuple[asyncio.AbstractEventLoop, int]]:
    with _loops_lock:
        return list(_running_loops.items())


# --- what is waiting on what ---------------------------------------------------------------


def _frame_line(frame: FrameType) -> str:
    code = frame.f_code
    return f'    File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}'


def await_chain(task: asyncio.Task[Any]) -> list[str]:
    """The coroutine frames ``task`` is suspended in, outermost first, down to what it
    awaits (``Task.print_stack`` shows the outermost frame only)."""
    lines: list[str] = []
    node: Any = task.get_coro()
    for _ in range(200):  # a cycle cannot happen, a runaway chain is cut
        frame = (
            getattr(node, "cr_frame", None)
            or getattr(node, "gi_frame", None)
            or getattr(node, "ag_frame", None)
        )
        if frame is None:
            if node is not None:
                lines.append(f"    awaiting {_short(node)}")
            break
        lines.append(_frame_line(frame))
        node = (
            getattr(node, "cr_await", None)
            or getattr(node, "gi_yieldfrom", None)
            or getattr(node, "ag_await", None)
        )
    waiter = getattr(task, "_fut_waiter", None)
    if waiter is not None:
        lines.append(f"    waiting for {_short(waiter)}")
    return lines


def _short(thing: object) -> str:
    text = repr(thing)
    return text if len(text) <= 300 else text[:297] + "..."


def describe_tasks(loop: asyncio.AbstractEventLoop) -> str:
    for _ in range(10):  # read from another thread the set may change under us
        try:
            tasks = list(asyncio.all_tasks(loop))
            break
        except RuntimeError:
            time.sleep(0.01)
    else:
        return "  (the tasks could not be listed)\n"
    out = [f"  {len(tasks)} pending task(s)"]
    for task in sorted(tasks, key=lambda t: t.get_name()):
        cancelling = task.cancelling() if hasattr(task, "cancelling") else 0
        out.append(f"  Task {task.get_name()!r} cancelling={cancelling}: {_short(task)}")
        try:
            out.extend(await_chain(task))
        except Exception as exc:
            out.append(f"    (its stack could not be read: {exc!r})")
    return "\n".join(out) + "\n"


def _tasks_of_loop(loop: asyncio.AbstractEventLoop) -> str:
    """The loop lists its own tasks when it is idle (a hang awaiting something); when it
    does not answer (blocked in synchronous code) they are read from this thread."""
    answer: list[str] = []
    answered = threading.Event()

    def in_loop() -> None:
        answer.append(describe_tasks(loop))
        answered.set()

    with contextlib.suppress(RuntimeError):  # closed meanwhile
        loop.call_soon_threadsafe(in_loop)
    if answered.wait(LOOP_ANSWER_S):
        return answer[0]
    return "  (the loop did not answer: read from the watchdog's thread)\n" + describe_tasks(loop)


def _thread_stacks() -> str:
    with tempfile.TemporaryFile(mode="w+") as file:
        faulthandler.dump_traceback(file, all_threads=True)
        file.flush()
        file.seek(0)
        return file.read()


def diagnosis(headline: str) -> str:
    parts = [f"=== hang watchdog: {headline} ===", "--- threads ---", _thread_stacks()]
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for loop, ident in running_loops():
        parts.append(f"--- asyncio tasks of {loop!r} (thread {names.get(ident, ident)}) ---")
        parts.append(_tasks_of_loop(loop))
    parts.append("=== end of hang watchdog diagnosis ===\n")
    return "\n".join(parts)


# --- the watchdog --------------------------------------------------------------------------


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


class HangWatchdog:
    def __init__(self, config: pytest.Config, limit_s: float, grace_s: float) -> None:
        self.config = config
        self.limit_s = limit_s
        self.grace_s = grace_s
        self._condition = threading.Condition()
        self._item: pytest.Item | None = None
        self._deadline: float | None = None
        self._phase = "setup"
        self._fires: list[tuple[str, str]] = []  # (phase, diagnosis) of the current item
        self._pending_signal = False
        self._closed = False
        self._main_ident = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="hang-watchdog", daemon=True)
        self._thread.start()

    # pytest's side ---------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        with self._condition:
            self._item, self._phase, self._fires = item, "setup", []
            self._deadline = time.monotonic() + self.limit_s
            self._condition.notify()
        try:
            return (yield)
        finally:
            with self._condition:
                self._item, self._deadline = None, None
                self._pending_signal = False

    @contextlib.contextmanager
    def _phase_of(self, phase: str) -> Iterator[None]:
        with self._condition:
            self._phase = phase
        yield

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        with self._phase_of("setup"):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        with self._phase_of("call"):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        with self._phase_of("teardown"):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        with self._condition:
            fired = [text for phase, text in self._fires if phase == call.when]
        if fired:
            text = "\n".join(fired)
            report.sections.append((f"hang watchdog ({call.when})", text))
            if not report.failed:  # interrupted, it must not pass (nor skip)
                report.outcome = "failed"
                report.longrepr = (
                    f"hang watchdog: over {self.limit_s:.0f} s (KPGW_TEST_HANG_S); "
                    "the stacks are in the 'hang watchdog' section"
                )
        return report

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join(timeout=5)

    # the watchdog's thread ------------------------------------------------------------------

    def _watch(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (
                    self._deadline is None or time.monotonic() < self._deadline
                ):
                    timeout = None if self._deadline is None else self._deadline - time.monotonic()
                    self._condition.wait(timeout)
                if self._closed:
                    return
                item, phase = self._item, self._phase
                fires = len(self._fires) + 1
                self._deadline = time.monotonic() + self.grace_s
            try:
                self._fire(item, phase, fires)
            except Exception as exc:
                _write_terminal(self.config, f"hang watchdog: failed to fire: {exc!r}\n")

    def _fire(self, item: pytest.Item | None, phase: str, fires: int) -> None:
        name = item.nodeid if item is not None else "?"
        headline = (
            f"{name} still in {phase} after {self.limit_s:.0f} s"
            + (f" (+{(fires - 1) * self.grace_s:.0f} s)" if fires > 1 else "")
            + f", interruption {fires} of {MAX_FIRES}"
        )
        text = diagnosis(headline)
        with self._condition:
            if self._item is not item:
                return  # it ended meanwhile
            self._fires.append((phase, text))
        _write_terminal(self.config, "\n" + text)
        _write_artifact(text, name, fires)
        if fires >= MAX_FIRES:
            _write_terminal(
                self.config,
                f"hang watchdog: {name} could not be interrupted; ending the run "
                f"(exit {EXIT_CODE}) rather than hanging\n",
            )
            os._exit(EXIT_CODE)
        self._interrupt(fires)

    def _interrupt(self, fires: int) -> None:
        """Stop the main thread's running loops (``run_until_complete`` raises
        "Event loop stopped before Future completed."); without one, or the second time,
        raise HangTimeout in the main thread through a signal (a blocking call returns)."""
        stopped = False
        for loop, ident in running_loops():
            if ident == self._main_ident:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(loop.stop)
                    stopped = True
        if (not stopped or fires > 1) and _signal_installed:
            with self._condition:
                self._pending_signal = True
            if self._main_ident is not None:
                signal.pthread_kill(self._main_ident, signal.SIGALRM)

    def on_signal(self) -> None:
        with self._condition:
            pending, self._pending_signal = self._pending_signal, False
        if pending:
            raise HangTimeout(f"hang watchdog: over {self.limit_s:.0f} s ({LIMIT_ENV})")


def _write_terminal(config: pytest.Config, text: str) -> None:
    """To pytest's own stderr, past the capture of the test's output when there is one."""
    capman = config.pluginmanager.getplugin("capturemanager")
    capturing = getattr(capman, "_global_capturing", None)
    fd = getattr(getattr(capturing, "err", None), "targetfd_save", None)
    with contextlib.suppress(OSError):
        os.write(fd if isinstance(fd, int) else 2, text.encode("utf-8", "replace"))


def _write_artifact(text: str, name: str, fires: int) -> None:
    directory = os.environ.get("KPGW_ARTIFACTS_DIR")
    if not directory:
        return
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-120:]
    with contextlib.suppress(OSError):
        path = Path(directory) / f"hang-{safe}-{fires}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


_watchdog: HangWatchdog | None = None
_signal_installed = False
_previous_handler: Any = None


def _on_sigalrm(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    if _watchdog is not None:
        _watchdog.on_signal()


def pytest_configure(config: pytest.Config) -> None:
    global _watchdog, _signal_installed, _previous_handler  # noqa: PLW0603 - one per process
    limit_s = _float_env(LIMIT_ENV, DEFAULT_LIMIT_S)
    if limit_s <= 0 or _watchdog is not None:
        return
    grace_s = _float_env(GRACE_ENV, min(60.0, max(5.0, limit_s / 4)))
    asyncio.BaseEventLoop.run_forever = _tracking_run_forever  # type: ignore[method-assign]
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM"):
        previous = signal.getsignal(signal.SIGALRM)
        if previous in (signal.SIG_DFL, None):  # not when a test tool uses SIGALRM itself
            _previous_handler = previous
            signal.signal(signal.SIGALRM, _on_sigalrm)
            _signal_installed = True
    _watchdog = HangWatchdog(config, limit_s, grace_s)
    config.pluginmanager.register(_watchdog, "kpgw-hang-watchdog")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _watchdog, _signal_installed  # noqa: PLW0603 - one per process
    if _watchdog is None:
        return
    _watchdog.close()
    config.pluginmanager.unregister(_watchdog)
    _watchdog = None
    asyncio.BaseEventLoop.run_forever = _original_run_forever  # type: ignore[method-assign]
    if _signal_installed and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGALRM, _previous_handler or signal.SIG_DFL)
        _signal_installed = False
