"""``kpgw bench router``: the router on the real broker, under a throw-away topic prefix.

- **Throughput**: events per second through the router (decode, ``decide``, changelog +
  outputs + input offsets in one transaction per partition batch) against, in the same
  run and on the same records, a bare aiokafka consume-and-produce passthrough (read
  committed, one output record per input, acks=all, idempotent, offsets committed at the
  end). Both are timed from their first record to their last durable output.
  Goal (issue 5): ratio router / passthrough >= 0.5.
- **Restore**: seconds to rebuild the state of ``pending`` certificates awaiting their
  confirmation from ``kp.router.changelog`` (read, decode, load, schedule), goal < 20 s;
  memory per pending certificate, as the RSS growth over the restore and as the Python
  heap (tracemalloc) of a sample.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from gateway import aio_run, codec
from gateway.events import (
    CertificateEvent,
    CertificateIssued,
    EventSource,
    HsLine,
    ImportConfirmed,
    Party,
    Payload,
    deterministic_event_id,
    event_to_avro,
    raw_sha256,
)
from gateway.kafka.clients import (
    close_for_good,
    committed_consumer,
    idempotent_producer,
    wait_bounded,
)
from gateway.kafka.topics import CORE_TOPICS, create_topics, delete_topics
from gateway.registry import load_registry
from gateway.router.driver import build_router
from gateway.router.restore import Restored, restore_partitions, state_headers
from gateway.router.state import STATE_SCHEMA, CertificateState, StoredEvent, state_to_avro
from gateway.router.store import PartitionStore, timers_fingerprint
from gateway.router.timers import RouterConfig, next_deadline
from gateway.settings import Settings

BENCHMARK = "router"
GOAL_RATIO = 0.5
GOAL_RESTORE_S = 20.0
NOW = datetime.now(UTC).replace(microsecond=0)
_LINE = HsLine("7102.31", Decimal("1520.350"), Decimal("147474.00"))
_CERT = CertificateIssued(
    certificate_number="RU0000000",
    issuing_participant="RU",
    exporting_participant="RU",
    importing_participant="EU",
    importing_member_state="BE",
    exporter=Party("ALROSA PJSC", "Moscow", "RU"),
    importer=Party("Antwerp Rough Trading BV", "Hoveniersstraat 22, Antwerpen", "BE"),
    origin="RU",
    issue_date=date(2026, 3, 2),
    expiry_date=date(2026, 5, 1),
    parcels=3,
    lines=(_LINE,),
    total_carats=_LINE.carats,
    total_value_usd=_LINE.value_usd,
    authority="Gokhran of Russia",
)


def _event(payload: Payload) -> CertificateEvent:
    digest = raw_sha256(repr(payload).encode())
    event_id = deterministic_event_id(payload.sender, digest, payload)
    source = EventSource(payload.sender, "ru_fts", "1", event_id[:12], digest, None, event_id)
    return CertificateEvent(event_id, payload.certificate_number, NOW, NOW, source, payload)


def pair_events(index: int) -> tuple[CertificateEvent, CertificateEvent]:
    cert = replace(_CERT, certificate_number=f"RU{index:07d}")
    conf = ImportConfirmed(
        certificate_number=cert.certificate_number,
        confirming_participant="EU",
        confirming_member_state="BE",
        date_of_receipt=cert.issue_date + timedelta(days=5),
        parcels=cert.parcels,
        lines=cert.lines,
        total_carats=cert.total_carats,
        total_value_usd=cert.total_value_usd,
        importer=cert.importer,
        exporter=cert.exporter,
        authority="FPS Economy, Antwerp Diamond Office (BE)",
    )
    return _event(cert), _event(conf)


def event_records(events: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of ``events`` canonical events: certificates, each confirmed 100
    certificates later (so states are looked up, not just created)."""
    pairs = [pair_events(i) for i in range((events + 1) // 2)]
    ordered: list[CertificateEvent] = []
    for i, (cert, _) in enumerate(pairs):
        ordered.append(cert)
        if i >= 100:
            ordered.append(pairs[i - 100][1])
    ordered += [conf for _, conf in pairs[max(0, len(pairs) - 100) :]]
    return [
        (e.certificate_id.encode(), codec.encode("CertificateEvent", event_to_avro(e)))
        for e in ordered[:events]
    ]


async def _produce(
    settings: Settings, topic: str, records: Sequence[tuple[bytes, bytes | None]], **kw: Any
) -> None:
    producer = idempotent_producer(settings, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, v, key=k, **kw) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await close_for_good(producer, what="bench router producer")


async def _produce_states(
    settings: Settings, topic: str, states: int, partitions: int, timers: str
) -> None:
    """``states`` certificates announced and awaiting their confirmation, as the router
    writes them (with their deadline headers)."""
    registry = load_registry(settings.partners_file)
    config = RouterConfig.from_days(settings.router.retention_days)
    producer = idempotent_producer(settings, linger_ms=20, max_batch_size=1024 * 1024)
    await producer.start()
    try:
        futures = []
        for i in range(states):
            cert, _ = pair_events(5_000_000 + i)
            state = CertificateState(
                cert.certificate_id, NOW, StoredEvent(cert, NOW), announced=True
            )
            value = codec.encode(STATE_SCHEMA, state_to_avro(state))
            headers = state_headers(next_deadline(state, registry, config), timers)
            futures.append(
                await producer.send(
                    topic,
                    value,
                    key=cert.certificate_id.encode(),
                    partition=i % partitions,
                    headers=headers,
                )
            )
        await asyncio.gather(*futures)
    finally:
        await close_for_good(producer, what="bench router producer")


async def passthrough(settings: Settings, total: int, batch: int) -> tuple[float, float]:
    """Seconds from the first record to the last acknowledged output, and the CPU seconds
    this process spent meanwhile."""
    prefix = settings.topic_prefix
    consumer = committed_consumer(
        settings, f"{prefix}events", group_id=f"{prefix}passthrough", max_poll_records=batch
    )
    producer: AIOKafkaProducer = idempotent_producer(settings)
    await consumer.start()
    await producer.start()
    try:
        seen = 0
        futures: list[asyncio.Future[Any]] = []
        started: float | None = None
        cpu = 0.0
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=batch)
            for records in batches.values():
                if started is None:
                    started, cpu = time.perf_counter(), time.process_time()
                futures += [
                    await producer.send(f"{prefix}outcomes", record.value, key=record.key)
                    for record in records
                ]
                seen += len(records)
        await asyncio.gather(*futures)
        await consumer.commit()
        assert started is not None
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await close_for_good(consumer, what="bench router consumer")
        await close_for_good(producer, what="bench router producer")


async def through_router(
    settings: Settings, total: int, registry: Path | None
) -> tuple[float, float]:
    """Seconds from the router's first record to the commit of the last one, and the CPU
    seconds this process spent meanwhile."""
    worker, handler = build_router(settings, registry_path=registry)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        while handler.counters.committed_records == 0 and handler.counters.events == 0:
            await asyncio.sleep(0.001)
        started, cpu = time.perf_counter(), time.process_time()
        while handler.counters.committed_records < total:
            if task.done():
                task.result()
                raise RuntimeError("the router stopped before the benchmark's end")
            await asyncio.sleep(0.002)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        stop.set()
        if not await wait_bounded(task, 60):  # a worker that does not stop: said, not hung
            raise RuntimeError("the worker did not stop within 60 s")
        if not task.cancelled():
            task.result()
        await handler.close()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


async def _restore_once(
    settings: Settings, partitions: int, timers: str | None
) -> tuple[float, dict[int, PartitionStore]]:
    registry = load_registry(settings.partners_file)
    config = RouterConfig.from_days(settings.router.retention_days)
    stores: dict[int, PartitionStore] = {}

    def load(result: Restored) -> None:  # what the driver does with each partition
        store = PartitionStore(result.partition, config)
        store.load(result.states, result.encoded, registry)
        stores[result.partition] = store

    started = time.perf_counter()
    await restore_partitions(
        settings,
        changelog=f"{settings.topic_prefix}router.changelog",
        events=f"{settings.topic_prefix}events",
        partitions=list(range(partitions)),
        on_restored=load,
        timers=timers,
    )
    return time.perf_counter() - started, stores


async def restore_bench(
    settings: Settings, pending: int, partitions: int, log: Any = print
) -> dict[str, Any]:
    """Restore ``pending`` certificates: as normally (states kept encoded, scheduled by the
    deadline written with them), then once more decoding every state (what happens after
    the registry's deadlines changed); memory per pending certificate both ways."""
    registry = load_registry(settings.partners_file)
    config = RouterConfig.from_days(settings.router.retention_days)
    timers = timers_fingerprint(registry, config)
    log(f"writing {pending} pending states to {settings.topic_prefix}router.changelog")
    await _produce_states(
        settings, f"{settings.topic_prefix}router.changelog", pending, partitions, timers
    )
    log("restoring")
    gc.collect()
    rss_before = _rss_bytes()
    seconds, stores = await _restore_once(settings, partitions, timers)
    restored = sum(len(store) for store in stores.values())
    gc.collect()
    rss_per_state = (_rss_bytes() - rss_before) / max(1, restored)
    del stores
    heap_encoded = await _heap_per_state(settings, partitions, timers, restored)
    log("restoring again, decoding every state")
    decode_s, stores = await _restore_once(settings, partitions, None)
    decoded = sum(len(store) for store in stores.values())
    del stores
    heap_decoded = await _heap_per_state(settings, partitions, None, decoded)
    return {
        "pending_certificates": pending,
        "restored_states": restored,
        "restore_s": round(seconds, 2),
        "restore_states_per_s": round(restored / seconds),
        "goal_restore_s": GOAL_RESTORE_S,
        "restore_ok": restored == pending and seconds < GOAL_RESTORE_S,
        "restore_decoding_every_state_s": round(decode_s, 2),
        "restore_decoding_ok": decoded == pending and decode_s < GOAL_RESTORE_S,
        "heap_bytes_per_pending_certificate": round(heap_encoded),
        "heap_bytes_per_pending_certificate_decoded": round(heap_decoded),
        "rss_bytes_per_pending_certificate": round(rss_per_state),
    }


async def _heap_per_state(
    settings: Settings, partitions: int, timers: str | None, states: int
) -> float:
    """Python heap retained by the restored stores (tracemalloc), per state."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _, stores = await _restore_once(settings, partitions, timers)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
        del stores
    finally:
        tracemalloc.stop()
    return retained / max(1, states)


async def _run(
    base: Settings, events: int, pending: int, registry: Path | None, log: Any
) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    router = base.router.model_copy(update={"group_id": f"{prefix}router"})
    settings = base.model_copy(update={"topic_prefix": prefix, "router": router})
    if registry is not None:
        settings = settings.model_copy(update={"partners_file": registry})
    await create_topics(settings, load_registry(settings.partners_file))
    try:
        log(f"producing {events} events to {prefix}events")
        await _produce(settings, f"{prefix}events", event_records(events))
        batch = settings.router.batch_max_records
        log("bare passthrough")
        bare_s, bare_cpu = await passthrough(settings, events, batch)
        log("router")
        router_s, router_cpu = await through_router(settings, events, settings.partners_file)
        restore = await _restore_in_fresh_topics(settings, pending, log)
        ratio = bare_s / router_s  # = (events / router_s) / (events / bare_s)
        return {
            "benchmark": BENCHMARK,
            "events": events,
            "batch_max_records": batch,
            "commit_interval_ms": settings.router.commit_interval_ms,
            "router_events_per_s": round(events / router_s),
            "passthrough_events_per_s": round(events / bare_s),
            "ratio_router_to_passthrough": round(ratio, 3),
            # CPU of this process per event: the router is CPU-bound, the passthrough is not
            "router_cpu_us_per_event": round(router_cpu / events * 1e6),
            "passthrough_cpu_us_per_event": round(bare_cpu / events * 1e6),
            "goal_ratio": GOAL_RATIO,
            "ratio_ok": ratio >= GOAL_RATIO,
            **restore,
        }
    finally:
        await delete_topics(settings)


def _changelog_partitions() -> int:
    return next(spec.partitions for spec in CORE_TOPICS if spec.suffix == "router.changelog")


async def _restore_in_fresh_topics(settings: Settings, pending: int, log: Any) -> dict[str, Any]:
    prefix = f"{settings.topic_prefix}r."
    fresh = settings.model_copy(update={"topic_prefix": prefix})
    await create_topics(fresh, load_registry(settings.partners_file))
    try:
        partitions = _changelog_partitions()
        return {"partitions": partitions, **await restore_bench(fresh, pending, partitions, log)}
    finally:
        await delete_topics(fresh)


def run_router_bench(
    settings: Settings,
    events: int = 20_000,
    json_out: bool = True,
    *,
    pending: int = 100_000,
    registry: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark against ``settings.kafka_bootstrap`` under a throw-away prefix
    (its topics are deleted afterwards); progress goes to stderr unless ``json_out``."""
    import sys

    def log(message: str) -> None:
        if not json_out:
            print(f"kpgw bench router: {message}", file=sys.stderr)

    from gateway.logs import configure_logging

    configure_logging(fmt="json", level="warning")  # one log line per outcome would be measured too
    return aio_run.run(_run(settings, events, pending, registry, log))
