"""``run(main)``: ``asyncio.run`` for the command line's entry points, with an exit that
ends in bounded time.

``asyncio.run`` ends by cancelling the tasks still running and waiting for every one of
them, then for the default executor's threads, without a bound: one task that swallows its
cancellation, or waits on a peer that never answers, or one thread stuck in a blocking
call, and the command never exits (``kpgw demo`` interrupted while it waited for a hung
broker in a thread waited for it for two minutes). Here each of those waits shares one
deadline, ``SHUTDOWN_GRACE_S`` (the executor's threads get ``EXECUTOR_FLOOR_S`` at least);
what is still running then is named in a warning (``shutdown_tasks_left``,
``shutdown_threads_left``) and left behind.

A thread cannot be stopped, and the interpreter joins the executor's threads before it
exits; so :func:`exit_now_if_threads_left` (called by ``kpgw``'s ``main``) ends the process
with ``os._exit`` once the command is done, after flushing what it wrote, when a runner
left threads behind. Tasks left behind need nothing of the kind: a closed loop never runs
them again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: Seconds the exit waits, all stages together, for the tasks cancelled at the end, the
#: async generators' clean-up and the default executor's threads.
SHUTDOWN_GRACE_S = 5.0
#: The default executor's shutdown always gets at least this long, even when stubborn
#: tasks used the whole grace: idle pool threads end at once when told to, and without
#: this they were reported as stuck and the process ended with ``os._exit``.
EXECUTOR_FLOOR_S = 1.0

#: Tasks left behind by a runner, kept referenced: collected with their closed loop, each
#: would log "Task was destroyed but it is pending" on its way out.
_tasks_left: list[asyncio.Task[Any]] = []
#: Names of the threads a runner left behind (they would hold the interpreter's exit).
_threads_left: list[str] = []


def run(main: Coroutine[Any, Any, T], *, grace_s: float = SHUTDOWN_GRACE_S) -> T:
    """Run ``main`` on a new event loop and return its result, as ``asyncio.run`` does
    (a first Ctrl-C cancels ``main`` and raises ``KeyboardInterrupt``), then shut the loop
    down within ``grace_s`` seconds."""
    loop = asyncio.new_event_loop()
    # asyncio.Runner runs ``main`` (its Ctrl-C handling included); its close() would wait
    # without a bound, so it is never called: the loop is shut down here instead.
    runner = asyncio.Runner(loop_factory=lambda: loop)
    asyncio.set_event_loop(loop)
    try:
        return runner.run(main)
    finally:
        try:
            _shut_down(loop, time.monotonic() + grace_s, grace_s)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _shut_down(loop: asyncio.AbstractEventLoop, deadline: float, grace_s: float) -> None:
    _cancel_remaining(loop, deadline, grace_s)
    cleanup = loop.create_task(loop.shutdown_asyncgens(), name="shutdown_asyncgens")
    if not _within(loop, cleanup, deadline):
        _tasks_left.append(cleanup)
        log.warning("shutdown_tasks_left", tasks=[_describe(cleanup)], waited_s=grace_s)
    executor = loop.create_task(loop.shutdown_default_executor())
    if not _within(loop, executor, max(deadline, time.monotonic() + EXECUTOR_FLOOR_S)):
        _tasks_left.append(executor)
        stuck = sorted(
            thread.name
            for thread in threading.enumerate()
            if thread.is_alive()
            and not thread.daemon
            and thread not in (threading.current_thread(), threading.main_thread())
        )
        _threads_left.extend(stuck)
        log.warning("shutdown_threads_left", threads=stuck, waited_s=grace_s)


def _cancel_remaining(loop: asyncio.AbstractEventLoop, deadline: float, grace_s: float) -> None:
    remaining = asyncio.all_tasks(loop)
    if not remaining:
        return
    for task in remaining:
        task.cancel()
    done, pending = loop.run_until_complete(
        asyncio.wait(remaining, timeout=max(0.0, deadline - time.monotonic()))
    )
    for task in done:  # reported as asyncio.run reports them
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
    if pending:
        _tasks_left.extend(pending)
        log.warning(
            "shutdown_tasks_left",
            tasks=sorted(_describe(task) for task in pending),
            waited_s=grace_s,
        )


def _within(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], deadline: float) -> bool:
    """Run the loop until ``task`` ends or ``deadline`` passes; True when it ended. A task
    still running then is left as it is: cancelling it would mean waiting for it again."""
    loop.run_until_complete(asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic())))
    return task.done()


def _describe(task: asyncio.Task[Any]) -> str:
    """``name: coroutine`` (``Task-7: Fetcher._fetch_requests_routine``)."""
    coroutine = task.get_coro()
    what = getattr(coroutine, "__qualname__", None) or repr(coroutine)
    return f"{task.get_name()}: {what}"


def threads_left() -> list[str]:
    """Names of the threads a runner of this process left behind."""
    return list(_threads_left)


def exit_now_if_threads_left(code: object) -> None:
    """When a runner left threads behind, end the process at once with ``code`` (a
    ``SystemExit`` code), after flushing the standard streams and the log handlers: the
    interpreter's own exit would wait for those threads for ever. Otherwise return."""
    if not _threads_left:
        return
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)  # as the interpreter prints a SystemExit message
        status = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed: nothing more to write
            stream.flush()
    os._exit(status)
