"""``kpgw bench translator``: inbound records per second through the translator worker with
Kafka transactions on the real broker, against the adapter-only rate of the same documents
measured in the same run (goal: the worker keeps >= 70% of the adapter-only rate, one core).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.bench.adapters import Document, corpus, rate
from gateway.dlq.store import read_topic_to_end
from gateway.kafka.clients import idempotent_producer
from gateway.kafka.topics import create_topics, delete_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.translation import InboundMeta, translate
from gateway.translator.inbound import inbound_headers, inbound_key
from gateway.translator.worker import build_translator

GOAL_RATIO = 0.7
RECEIVED_AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


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
        await producer.stop()


async def _worker_rate(
    settings: Settings, expected: int, registry_path: Path | None, timeout_s: float
) -> tuple[float, int]:
    worker, handler = build_translator(settings, registry_path=registry_path)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 60)
        started = time.perf_counter()
        deadline = started + timeout_s
        while (
            handler.translated + handler.dead_lettered < expected and time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    done = handler.translated + handler.dead_lettered
    return done / elapsed, done


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
    adapter_only = rate(
        lambda d: translate(
            d.content, InboundMeta(sender=d.sender, received_at=RECEIVED_AT), registry
        ),
        docs,
        seconds=2.0,
    )
    bench_settings = settings.with_prefix(f"bench{uuid.uuid4().hex[:8]}.")
    await create_topics(bench_settings, registry)
    try:
        await _produce(bench_settings, docs)
        worker_rate, done = await _worker_rate(bench_settings, len(docs), registry_path, timeout_s)
        events = len(
            await read_topic_to_end(bench_settings, f"{bench_settings.topic_prefix}events")
        )
    finally:
        await delete_topics(bench_settings)
    return {
        "benchmark": "translator",
        "format": fmt,
        "records": len(docs),
        "processed": done,
        "events": events,
        "worker_records_per_s": round(worker_rate, 1),
        "adapter_only_docs_per_s": round(adapter_only, 1),
        "ratio_to_adapter_only": round(worker_rate / adapter_only, 3),
        "goal_ratio": GOAL_RATIO,
        "batch_max_records": 500,
    }
