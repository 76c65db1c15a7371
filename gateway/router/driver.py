"""The router's Kafka driver: ``kp.events`` -> the pure core (``decide``/``tick``) ->
``kp.partner.<P>``, ``kp.outcomes``, ``kp.status`` and ``kp.router.changelog``, exactly once.

Its handler (``gateway.router.handler``) runs in ``TransactionalWorker`` (one transactional
producer per input partition, read_committed, input offsets committed inside the batch's
transaction). Per batch it stages
each changed state in the partition's ``PartitionStore`` and writes it to the changelog
partition with the same number as the input partition; the store applies the staged
states only when the transaction committed. On assignment each partition is held (paused)
while its state is restored from the changelog. A wall-clock timer ticks the states whose
deadline has passed, in a transaction of the partition's own producer, but only once the
partition has caught up with the events that were in ``kp.events`` at assignment.
docs/router.md describes the choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import structlog

from gateway.kafka.transactional import TransactionalWorker
from gateway.registry.watch import RegistryWatcher, polled
from gateway.router.handler import Clock, RouterHandler, wall_clock
from gateway.router.preflight import check_router_topics
from gateway.settings import Settings

__all__ = ["Clock", "RouterHandler", "build_router", "run_router", "wall_clock"]
log = structlog.get_logger(__name__)
#: The broker holds a fetch up to the commit interval to fill this much: under a light,
#: steady load a transaction carries up to ``commit_interval_ms`` of records, not one.
FETCH_MIN_BYTES = 256 * 1024


def build_router(
    settings: Settings, *, registry_path: Path | None = None, clock: Clock = wall_clock
) -> tuple[TransactionalWorker, RouterHandler]:
    watcher = RegistryWatcher(registry_path or settings.partners_file)
    handler = RouterHandler(settings, watcher, clock=clock)
    worker = TransactionalWorker(
        settings,
        name="router",
        topic=handler.events_topic,
        group_id=settings.router.group_id,
        handler=handler,
        max_records=settings.router.batch_max_records,
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=settings.router.commit_interval_ms,
    )
    handler.attach(worker)
    return worker, handler


async def run_router(settings: Settings, stop: asyncio.Event) -> None:
    """``kpgw run --only router``: check the topics, then route until ``stop``."""
    started = time.monotonic()
    registry = RegistryWatcher(settings.partners_file).current()
    if not await check_router_topics(settings, registry, stop):
        return
    worker, handler = build_router(settings)
    await handler.dead_letters.start()  # dead letters cut to fit kp.dlq at the first try
    timer = asyncio.create_task(handler.run_timer(stop), name="router-timer")
    log.info(
        "router_started",
        group_id=settings.router.group_id,
        seconds=round(time.monotonic() - started, 2),
    )
    try:
        # A broken edit is said within a second; a good one is taken at the next batch or
        # timer round (after its partner topics are created: ``topic_gate``).
        async with polled(handler.registry.watcher):
            await worker.run(stop)
    finally:
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
        await handler.close()
        log.info(
            "router_stopped", events=handler.counters.events, outcomes=handler.counters.outcomes
        )
