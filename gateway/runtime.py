"""``kpgw run``: the gateway's components in one process (small sites, the demo) or one at a
time (``--only``), each scaling on its own as a consumer group. SIGTERM/SIGINT stop it
gracefully: in-flight transactions finish or abort, consumers leave their groups. The
ingress first drains (KPGW_INGRESS__DRAIN_SECONDS: /readyz fails while requests are still
served, so a load balancer stops routing before the listener closes); a second signal ends
the drain at once.

A process without the ingress serves its own ``/healthz``, ``/readyz`` and ``/metrics``
(``gateway.ops_http``) on KPGW_HTTP_HOST:KPGW_HTTP_PORT, over HTTPS with the ingress's TLS
files when they are set; the ingress serves them otherwise, its ``/readyz`` showing the
workers' own checks under ``workers``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from gateway import __version__
from gateway.settings import Settings

log = structlog.get_logger(__name__)
Component = Callable[[Settings, asyncio.Event], Coroutine[Any, Any, None]]


class StopRequest(asyncio.Event):
    """Set by the first SIGTERM/SIGINT. ``urgent`` is set by the next one: a component
    that waits before it stops (the ingress's drain window) stops waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.urgent = asyncio.Event()

    def signal(self) -> None:
        if self.is_set():
            self.urgent.set()
            log.info("stop_hurried")
        self.set()


def components() -> dict[str, Component]:
    from gateway.translator.worker import run_translator

    found: dict[str, Component] = {"translator": run_translator}
    try:
        from gateway.router.driver import run_router
    except ImportError:
        pass
    else:
        found["router"] = run_router
    try:
        from gateway.ingress.app import run_ingress
    except ImportError:
        pass
    else:
        found["ingress"] = run_ingress
    return found


async def run(
    settings: Settings, only: tuple[str, ...] = (), stop: asyncio.Event | None = None
) -> None:
    available = components()
    chosen = only or tuple(available)
    missing = [name for name in chosen if name not in available]
    if missing:
        raise ValueError(
            f"unknown or unavailable component(s): {', '.join(missing)}; "
            f"available: {', '.join(available)}"
        )
    if "ingress" in chosen:
        from gateway.ingress.app import run_ingress

        # Its /readyz shows the readiness of the workers beside it (gateway.readiness).
        workers = tuple(name for name in chosen if name != "ingress")
        available = {**available, "ingress": functools.partial(run_ingress, workers=workers)}
    stop = stop or StopRequest()
    loop = asyncio.get_running_loop()
    on_signal = stop.signal if isinstance(stop, StopRequest) else stop.set
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    log.info(
        "gateway_starting",
        version=__version__,
        components=list(chosen),
        bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
    )
    failure: BaseException | None = None
    try:
        async with contextlib.AsyncExitStack() as endpoints:
            if "ingress" not in chosen:
                from gateway.ops_http import serve_operations

                await endpoints.enter_async_context(serve_operations(settings, chosen))
            failure = await _supervise(available, chosen, settings, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        log.info("gateway_stopped")
    if failure is not None:
        raise failure


async def _supervise(
    available: dict[str, Component],
    chosen: tuple[str, ...],
    settings: Settings,
    stop: asyncio.Event,
) -> BaseException | None:
    """Run the chosen components until all have finished; the first failure stops the
    others and is returned."""
    tasks = [asyncio.create_task(available[name](settings, stop), name=name) for name in chosen]
    failure: BaseException | None = None
    try:
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = _failure_of(task, stopping=stop.is_set())
                if error is not None:
                    log.error("component_failed", component=task.get_name(), error=repr(error))
                    failure = failure or error
                    stop.set()  # one component down: stop the others cleanly, then say why
    except BaseException:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return failure


def _failure_of(task: asyncio.Task[None], *, stopping: bool) -> BaseException | None:
    """Why a finished component failed, or None. A component cancelled while the gateway
    stops has stopped (a client library may let its own task's cancellation escape from
    ``stop()`` when the broker is gone); cancelled otherwise, it failed."""
    if task.cancelled():
        return None if stopping else asyncio.CancelledError(f"{task.get_name()} was cancelled")
    return task.exception()
