"""``kpgw run``: the gateway's components in one process (small sites, the demo) or one at a
time (``--only``), each scaling on its own as a consumer group. SIGTERM/SIGINT stop it
gracefully: in-flight transactions finish or abort, consumers leave their groups."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from gateway.settings import Settings

log = structlog.get_logger(__name__)
Component = Callable[[Settings, asyncio.Event], Coroutine[Any, Any, None]]


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
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "gateway_starting",
        components=list(chosen),
        bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
    )
    tasks = [asyncio.create_task(available[name](settings, stop), name=name) for name in chosen]
    failure: BaseException | None = None
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            error = task.exception()
            if error is not None:
                log.error("component_failed", component=task.get_name(), error=repr(error))
                failure = failure or error
                stop.set()  # one component down: stop the others cleanly, then say why
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        log.info("gateway_stopped")
    if failure is not None:
        raise failure
