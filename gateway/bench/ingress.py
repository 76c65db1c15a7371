"""``kpgw bench ingress``: requests per second and p50/p99 latency of ``POST /v1/messages``
at a fixed concurrency against the real ingress on the real broker (KPGW_KAFKA_BOOTSTRAP),
and in the same run a bare aiohttp handler that only produces the same bytes to the same
topic (idempotent producer, acks=all) and answers 202. Goal (issue 6): the ingress keeps at
least 60% of the bare handler's rate.

The load generator runs in the same process and event loop as both servers, so both pay
the same client cost. The ingress does everything it does in production: authentication,
rate limit (raised out of the way), synchronous validation with the translator's code
(in ``KPGW_INGRESS__VALIDATION_PROCESSES`` worker processes; the other choice, workers or
the event loop, is measured too),
idempotency, a transactional hand-off and its per-request log line (pass ``--log-level
warning`` to leave logging out). Documents are generated (unique message ids) and sent by
their issuing participants with the example registry's public demo tokens.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from gateway.bench.adapters import Document, corpus
from gateway.demo_tokens import demo_token
from gateway.ingress.app import serve
from gateway.ingress.validator import WorkerValidator
from gateway.kafka.clients import close_for_good, idempotent_producer
from gateway.kafka.topics import create_topics, delete_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.translator.inbound import inbound_headers, inbound_key

BENCHMARK = "ingress"
GOAL_RATIO = 0.6
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Load:
    """What one measured run produced."""

    seconds: float
    latencies_s: list[float]
    errors: int
    #: CPU time of this process (load generator, server and its Kafka clients) and of the
    #: validation workers while the run lasted.
    cpu_s: float = 0.0
    worker_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_s)

        def quantile(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        return {
            "requests_per_s": round(len(ordered) / self.seconds, 1),
            "p50_ms": quantile(0.50),
            "p99_ms": quantile(0.99),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
            "errors": self.errors,
            # On a shared machine the rates move with the other load; CPU per request much
            # less. The load generator's share is the same for every server measured.
            "cpu_us_per_request": round(self.cpu_s / len(ordered) * 1e6),
            "worker_cpu_us_per_request": round(self.worker_cpu_s / len(ordered) * 1e6),
        }


_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int) -> float:
    """User plus system CPU time of another process so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS_PER_S


def _cpu_s(pids: list[int]) -> tuple[float, float]:
    return time.process_time(), sum(process_cpu_s(pid) for pid in pids)


async def drive(
    url: str,
    documents: list[Document],
    concurrency: int,
    expect: int = 202,
    workers: Callable[[], list[int]] = list,
) -> Load:
    """POST every document once, ``concurrency`` at a time; ``workers`` gives the pids of
    the server's other processes, whose CPU time is counted too."""
    queue: asyncio.Queue[Document] = asyncio.Queue()
    for document in documents:
        queue.put_nowait(document)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                document = queue.get_nowait()
                headers = {
                    "Authorization": f"Bearer {demo_token(document.sender)}",
                    "Content-Type": "application/xml",
                    # A new key per request: every request is a new message, so the same
                    # documents serve every round (same work as the default key).
                    "Idempotency-Key": str(uuid.uuid4()),
                }
                started = time.perf_counter()
                async with http.post(url, data=document.content, headers=headers) as response:
                    await response.read()
                    if response.status != expect:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        pids = workers()
        cpu_before, workers_before = _cpu_s(pids)
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        cpu_after, workers_after = _cpu_s(pids)
    return Load(elapsed, latencies, errors, cpu_after - cpu_before, workers_after - workers_before)


def bare_app(settings: Settings) -> web.Application:
    """The floor: read the body, produce it with acks=all, answer 202. Nothing else."""
    topic = f"{settings.topic_prefix}inbound"
    producer = idempotent_producer(settings)
    body = json.dumps({"tracking_id": "x", "status_url": "/v1/messages/x"}).encode()

    async def handler(request: web.Request) -> web.Response:
        raw = await request.read()
        tracking_id = str(uuid.uuid4())
        headers = inbound_headers(
            sender="RU",
            message_id=tracking_id,
            tracking_id=tracking_id,
            received_at=datetime.now(UTC),
        )
        await producer.send_and_wait(
            topic, raw, key=inbound_key("RU", tracking_id), headers=headers
        )
        return web.Response(status=202, body=body, content_type="application/json")

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await producer.start()
        yield
        await close_for_good(producer, what="bench ingress baseline producer")

    app = web.Application(client_max_size=settings.ingress.max_body_bytes + 1)
    app.router.add_post("/v1/messages", handler)
    app.cleanup_ctx.append(lifecycle)
    return app


Run = Callable[[str, Callable[[], list[int]]], Awaitable[Load]]


async def _bare(settings: Settings, run: Run) -> Load:
    runner = web.AppRunner(bare_app(settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return await run(f"http://127.0.0.1:{port}/v1/messages", list)
    finally:
        await runner.cleanup()


async def _ingress(settings: Settings, run: Run) -> Load:
    async with serve(settings, host="127.0.0.1", port=0) as running:
        ingress = running.ingress
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (
            ingress.inbound_mirror.caught_up.is_set()
            and ingress.status_mirror.caught_up.is_set()
            and ingress.publisher.connected
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("the ingress did not become ready")
            await asyncio.sleep(0.05)
        validator = ingress.validator
        pids = validator.worker_pids if isinstance(validator, WorkerValidator) else list
        return await run(f"{running.url}/v1/messages", pids)


def _cpu_ratio(server: dict[str, Any], bare: dict[str, Any]) -> float | None:
    spent = server["cpu_us_per_request"] + server["worker_cpu_us_per_request"]
    return round(spent / bare["cpu_us_per_request"], 2) if bare["cpu_us_per_request"] else None


def _median(loads: list[Load]) -> dict[str, Any]:
    """The median of each figure over the rounds (a shared machine is noisy)."""
    summaries = [load.summary() for load in loads]
    return {
        key: round(statistics.median(summary[key] for summary in summaries), 2)
        for key in summaries[0]
    }


async def run_ingress_bench(
    settings: Settings,
    registry: ParticipantRegistry,
    *,
    requests: int = 2000,
    concurrency: int = 32,
    rounds: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """One result object: medians over ``rounds`` alternating runs of each server (one
    server up at a time). Topics live under a fresh prefix and are deleted afterwards."""
    prefix = f"bench-ingress-{uuid.uuid4().hex[:8]}."
    ingress_settings = settings.ingress.model_copy(update={"rate_limit_per_minute": 10**9})
    settings = settings.model_copy(
        update={"topic_prefix": prefix, "partners_file": None, "ingress": ingress_settings}
    )
    warmup = max(concurrency * 4, 100)
    documents = corpus("uncefact", warmup + requests, registry, seed)
    if len(documents) < warmup + requests:
        raise ValueError("the generator gave fewer documents than asked")

    async def measured(url: str, workers: Callable[[], list[int]]) -> Load:
        await drive(url, documents[:warmup], concurrency)
        return await drive(url, documents[warmup:], concurrency, workers=workers)

    lenient = settings.model_copy(
        update={"ingress": settings.ingress.model_copy(update={"validate_sync": False})}
    )
    # Validation in worker processes (the default) or on the event loop: both are measured,
    # as on a small machine the workers compete with the broker for the same cores.
    processes = settings.ingress.validation_processes
    other = settings.model_copy(
        update={
            "ingress": settings.ingress.model_copy(
                update={"validation_processes": 0 if processes else 1}
            )
        }
    )
    bare: list[Load] = []
    real: list[Load] = []
    unchecked: list[Load] = []
    alternative: list[Load] = []
    await create_topics(settings, registry)
    try:
        for _ in range(rounds):
            bare.append(await _bare(settings, measured))
            real.append(await _ingress(settings, measured))
            unchecked.append(await _ingress(lenient, measured))
            alternative.append(await _ingress(other, measured))
    finally:
        await delete_topics(settings)
    ingress_summary, bare_summary = _median(real), _median(bare)
    unchecked_summary = _median(unchecked)
    floor = bare_summary["requests_per_s"]
    return {
        "benchmark": BENCHMARK,
        "requests": requests,
        "concurrency": concurrency,
        "rounds": rounds,
        "ingress": ingress_summary,
        "bare_produce": bare_summary,
        "ratio_to_bare": round(ingress_summary["requests_per_s"] / floor, 3),
        # The same ingress with validate_sync off: what the ingress itself costs, apart
        # from the adapters' parse/XSD/mapping/rules work done per request.
        "ingress_without_sync_validation": unchecked_summary,
        "ratio_to_bare_without_sync_validation": round(
            unchecked_summary["requests_per_s"] / floor, 3
        ),
        # CPU per request (this process and the validation workers) against the bare
        # handler's: steadier than the rates on a shared machine.
        "cpu_ratio_to_bare": _cpu_ratio(ingress_summary, bare_summary),
        "cpu_ratio_to_bare_without_sync_validation": _cpu_ratio(unchecked_summary, bare_summary),
        "validation_processes": processes,
        "ingress_validation_processes_" + str(other.ingress.validation_processes): _median(
            alternative
        ),
        "goal_ratio": GOAL_RATIO,
    }
