"""``kpgw bench translator``: inbound records per second through the translator worker with
Kafka transactions on the real broker, against the adapter-only rate of the same documents
measured in the same run (goal: the worker keeps >= 70% of the adapter-only rate, one core).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.bench.adapters import Document, corpus, rate
from gateway.dlq.store import read_topic_to_end
from gateway.kafka.clients import close_for_good, idempotent_producer, wait_bounded
from gateway.kafka.topics import create_topics, delete_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.translation import InboundMeta, translate
from gateway.translator.inbound import inbound_headers, inbound_key
from gateway.translator.worker import build_translator

GOAL_RATIO = 0.7
RECEIVED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # after every generated document


async def _produce(settings: Settings, documents: list[Document]) -> None:
    producer = idempotent_producer(settings, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        sends = []
        for index, document in enumerate(documents):
            message_id = f"bench-{index}"
            headers = inbound_headers(
                sender=document.sender,
                message_id=message_id,
                tracking_id=str(uuid.uuid4()),
                received_at=RECEIVED_AT,
            )
            sends.append(
                await producer.send(
                    f"{settings.topic_prefix}inbound",
                    document.content,
                    key=inbound_key(document.sender, message_id),
                    headers=headers,
                )
            )
        await asyncio.gather(*sends)
    finally:
        await close_for_good(producer, what="bench translator feeder")


@dataclass(frozen=True, slots=True)
class WorkerRun:
    records_per_s: float
    processed: int
    cpu_share: float  # this process's CPU time / wall time while the worker ran
    cpu_us_per_record: float
    translate_us_per_record: float  # translate + encode inside the worker (its histogram, wall)


async def _worker_rate(
    settings: Settings, expected: int, registry_path: Path | None, timeout_s: float
) -> WorkerRun:
    worker, handler = build_translator(settings, registry_path=registry_path)
    timings = handler.metrics.translation_seconds.labels("translated")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 60)
        translate_before = _histogram_sum(timings)
        cpu_started = time.process_time()
        started = time.perf_counter()
        deadline = started + timeout_s
        while (
            handler.translated + handler.dead_lettered < expected and time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        translate_s = _histogram_sum(timings) - translate_before
    finally:
        stop.set()
        if not await wait_bounded(task, 60):  # a worker that does not stop: said, not hung
            raise RuntimeError("the worker did not stop within 60 s")
        if not task.cancelled():
            task.result()
    done = handler.translated + handler.dead_lettered
    return WorkerRun(
        records_per_s=done / elapsed,
        processed=done,
        cpu_share=cpu / elapsed,
        cpu_us_per_record=cpu / max(done, 1) * 1e6,
        translate_us_per_record=translate_s / max(handler.translated, 1) * 1e6,
    )


def _histogram_sum(child: Any) -> float:
    """The running total of a prometheus histogram child (its ``_sum`` sample)."""
    for metric in child.collect():
        for sample in metric.samples:
            if sample.name.endswith("_sum"):
                return float(sample.value)
    return 0.0


def _adapter_only(registry: ParticipantRegistry, docs: list[Document]) -> float:
    return rate(
        lambda d: translate(
            d.content, InboundMeta(sender=d.sender, received_at=RECEIVED_AT), registry
        ),
        docs,
        seconds=2.0,
    )


async def run_translator_bench(
    settings: Settings,
    registry: ParticipantRegistry,
    *,
    documents: int = 5000,
    fmt: str = "mixed",
    registry_path: Path | None = None,
    timeout_s: float = 300,
) -> dict[str, Any]:
    docs = corpus(fmt, documents, registry)
    # Measured before and after the worker and averaged: on a shared machine the load
    # drifts over a run, and one measurement would put all of the drift on one side.
    adapter_before = _adapter_only(registry, docs)
    bench_settings = settings.with_prefix(f"bench{uuid.uuid4().hex[:8]}.")
    await create_topics(bench_settings, registry)
    try:
        await _produce(bench_settings, docs)
        run = await _worker_rate(bench_settings, len(docs), registry_path, timeout_s)
        events = len(
            await read_topic_to_end(bench_settings, f"{bench_settings.topic_prefix}events")
        )
    finally:
        await delete_topics(bench_settings)
    adapter_after = _adapter_only(registry, docs)
    adapter_only = (adapter_before + adapter_after) / 2
    return {
        "benchmark": "translator",
        "format": fmt,
        "records": len(docs),
        "processed": run.processed,
        "events": events,
        "worker_records_per_s": round(run.records_per_s, 1),
        "adapter_only_docs_per_s": round(adapter_only, 1),
        "adapter_only_before_after": [round(adapter_before, 1), round(adapter_after, 1)],
        "ratio_to_adapter_only": round(run.records_per_s / adapter_only, 3),
        "goal_ratio": GOAL_RATIO,
        "batch_max_records": 500,
        # Where the worker's time goes, per record (CPU of this process; the broker runs
        # beside it on the same machine):
        "worker_cpu_share": round(run.cpu_share, 3),
        "worker_cpu_us_per_record": round(run.cpu_us_per_record),
        "translate_and_encode_us_per_record_in_worker": round(run.translate_us_per_record),
        "adapter_only_us_per_doc": round(1e6 / adapter_only),
    }
