"""The broker process is stopped while the translator works and started again: no inbound
record is lost and none becomes two events (read_committed count == input count)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from gateway.dlq.store import partition_count
from gateway.kafka.broker import LocalBroker
from gateway.kafka.clients import committed_consumer
from gateway.kafka.topics import create_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings, load_settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import (
    broker_of_its_own,
    certificate,
    decoded,
    produce_inbound,
    read_until,
    registry_copy,
    render,
    stopped,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
RECORDS = 400


@pytest.fixture
def own_broker(tmp_path: Path, kafka_bootstrap: str) -> Iterator[LocalBroker]:
    """A broker of this test's own: stopping it disturbs no other test."""
    with broker_of_its_own(tmp_path / "broker") as broker:
        yield broker


async def test_broker_stop_and_start_loses_nothing_and_doubles_nothing(
    own_broker: LocalBroker, tmp_path: Path, example_registry: ParticipantRegistry
) -> None:
    settings: Settings = load_settings(kafka_bootstrap=own_broker.bootstrap, topic_prefix="outage.")
    await create_topics(settings, example_registry)
    documents: list[tuple[str | None, str, bytes]] = [
        ("RU", f"m-{i}", render(certificate(f"RU{5_000_000 + i}"))) for i in range(RECORDS)
    ]
    await produce_inbound(settings, documents)
    worker, handler = build_translator(settings, registry_path=registry_copy(tmp_path))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 60)
        while handler.translated < RECORDS // 8:  # translating: stop the broker mid-stream
            await asyncio.sleep(0.05)
        await asyncio.to_thread(own_broker.down)
        assert not own_broker.status().running
        await asyncio.sleep(3)
        await asyncio.to_thread(own_broker.up)
        events = await read_until(settings, "events", RECORDS, timeout_s=240)
        await asyncio.sleep(2)
        events = await read_until(settings, "events", RECORDS, timeout_s=5)
    finally:
        stop.set()
        await stopped(task)
    ids = [e["certificate_id"] for e in decoded(events, "CertificateEvent")]
    if len(ids) != RECORDS:  # rare, seen twice: say why, for the CI log
        why = await _diagnosis(settings, own_broker, handler.translated)
        pytest.fail(f"{len(ids)} events for {RECORDS} inbound records\n{why}")
    assert len(set(ids)) == RECORDS
    assert await read_until(settings, "dlq", 0, timeout_s=1) == []  # transient: never dead-lettered


async def _diagnosis(settings: Settings, broker: LocalBroker, translated: int) -> str:
    """Per partition of kp.events and kp.status, the last stable offset (what read_committed
    sees) against the high watermark, and the broker's last warnings: an open transaction
    holds the LSO, a lost write lowers the high watermark."""
    lines = [f"records translated by the worker (counted before commit): {translated}"]
    committed = committed_consumer(settings, group_id=None)
    uncommitted = committed_consumer(settings, group_id=None, isolation_level="read_uncommitted")
    await committed.start()
    await uncommitted.start()
    try:
        for suffix in ("events", "status"):
            topic = f"{settings.topic_prefix}{suffix}"
            parts = [
                TopicPartition(topic, p) for p in range(await partition_count(settings, topic))
            ]
            stable = await committed.end_offsets(parts)
            high = await uncommitted.end_offsets(parts)
            short = {tp.partition: (stable[tp], high[tp]) for tp in parts if stable[tp] != high[tp]}
            lines.append(
                f"{topic} (LSO, HW) where they differ: {short or 'none'}; HW total {sum(high.values())}"
            )
    finally:
        await committed.stop()
        await uncommitted.stop()
    log = broker.paths.logs / "server.log"
    if log.exists():
        worrying = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if " WARN " in line or " ERROR " in line
        ]
        lines.append("broker warnings (last 25):")
        lines.extend(line[:300] for line in worrying[-25:])
    return "\n".join(lines)
