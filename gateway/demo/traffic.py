"""The demo's traffic: generated stories over real partner pairs, certificates first and
confirmations later, sent over HTTP as each participant's national system would."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from aiokafka import AIOKafkaProducer

from gateway.demo_tokens import demo_token
from gateway.generate import GenerateOptions, generate
from gateway.generate.corpus import GeneratedCertificate
from gateway.kafka.clients import close_for_good, idempotent_producer
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.translator.inbound import inbound_headers, inbound_key

#: The pairs the demo speaks for (issue P1.1): real trade routes, both directions of AE-IN.
DEMO_PAIRS = (("RU", "EU"), ("BW", "AE"), ("IN", "AE"), ("ZA", "EU"), ("CA", "EU"), ("AE", "IN"))


def demo_registry(registry: ParticipantRegistry) -> ParticipantRegistry:
    """The registry the generator draws from: only the demo pairs exchange."""
    pairs = tuple(p for p in registry.pairs if (p.exporter, p.importer) in DEMO_PAIRS)
    return registry.model_copy(update={"pairs": pairs})


def stories(
    registry: ParticipantRegistry, *, pairs: int, seed: int, faults: float
) -> list[GeneratedCertificate]:
    options = GenerateOptions(pairs=pairs, seed=seed, format="mixed", faults=faults)
    return list(generate(options, demo_registry(registry)))


#: Participants whose national system produces straight into Kafka (kp.inbound) instead of
#: calling the HTTP API: their broken documents become dead letters, not HTTP 4xx answers.
#: BW is here so that the demo's seeded stories show that path (RU's draws are all clean);
#: tests/unit/demo/test_traffic.py keeps both paths covered when the generator changes.
KAFKA_NATIVE = frozenset({"RU", "BW"})


@dataclass(slots=True)
class SendReport:
    accepted: int = 0
    via_kafka: int = 0
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)  # (sender, reason)
    problems: list[str] = field(default_factory=list)


async def send(
    session: aiohttp.ClientSession, url: str, sender: str, body: bytes, report: SendReport
) -> None:
    headers = {"Authorization": f"Bearer {demo_token(sender)}", "Content-Type": "application/xml"}
    for attempt in range(5):
        async with session.post(f"{url}/v1/messages", data=body, headers=headers) as response:
            if response.status == 202:
                report.accepted += 1
                return
            if response.status in (429, 503) and attempt < 4:
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            problem = await response.json(content_type=None)
            findings = problem.get("findings") or [{}]
            reason = findings[0].get("code") or f"HTTP_{response.status}"
            report.refused[(sender, reason)] += 1
            if len(report.problems) < 20:
                report.problems.append(f"{sender}: {response.status} {problem.get('title', '')}")
            return


async def send_wave(
    url: str,
    settings: Settings,
    documents: list[tuple[str, bytes]],
    report: SendReport,
    *,
    concurrency: int = 16,
    progress: Callable[[], None] | None = None,
) -> None:
    """POST every (sender, document), a few at a time; Kafka-native senders produce to
    kp.inbound directly, as their national system would."""
    limit = asyncio.Semaphore(concurrency)
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

            async def one(sender: str, body: bytes) -> None:
                async with limit:
                    if sender in KAFKA_NATIVE:
                        await produce(producer, settings, sender, body)
                        report.via_kafka += 1
                    else:
                        await send(session, url, sender, body, report)
                    if progress:
                        progress()

            await asyncio.gather(*(one(sender, body) for sender, body in documents))
    finally:
        await close_for_good(producer, what="demo traffic producer")


async def produce(producer: AIOKafkaProducer, settings: Settings, sender: str, body: bytes) -> None:
    message_id = str(uuid.uuid4())
    headers = inbound_headers(
        sender=sender,
        message_id=message_id,
        tracking_id=str(uuid.uuid4()),
        received_at=datetime.now(UTC),
    )
    await producer.send_and_wait(
        f"{settings.topic_prefix}inbound",
        body,
        key=inbound_key(sender, message_id),
        headers=headers,
    )


def waves(
    items: list[GeneratedCertificate],
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """Certificates (each story's first document) now; everything else later, in order."""
    first: list[tuple[str, bytes]] = []
    later: list[tuple[str, bytes]] = []
    for item in items:
        for index, document in enumerate(item.files):
            (first if index == 0 else later).append((document.sender, document.content))
    return first, later
