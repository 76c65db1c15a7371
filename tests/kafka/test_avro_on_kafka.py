"""An Avro event produced to a real topic and consumed back decodes equal, decimals exact."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from gateway import codec
from gateway.events import (
    CertificateEvent,
    CertificateIssued,
    EventSource,
    HsLine,
    Party,
    event_from_avro,
    event_to_avro,
)
from gateway.kafka.clients import committed_consumer, idempotent_producer
from gateway.settings import Settings

pytestmark = pytest.mark.kafka

EVENT = CertificateEvent(
    event_id="5a0e6a64-1a1f-5c5e-9a59-0d2f3b1c8e01",
    certificate_id="RU0123456",
    occurred_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    received_at=datetime(2026, 3, 2, 8, 0, 1, 250000, tzinfo=UTC),
    source=EventSource("RU", "ru_fts", "1", "2c3f3a4e-7f1b-4c1d-9a55-0c2b9f1e7d10", "ab" * 32),
    payload=CertificateIssued(
        certificate_number="RU0123456",
        issuing_participant="RU",
        exporting_participant="RU",
        importing_participant="EU",
        importing_member_state="BE",
        exporter=Party("ALROSA PJSC", "Moscow, ul. Smolenskaya 3", "RU"),
        importer=Party("Antwerp Rough Trading BV", "Hoveniersstraat 22, Antwerpen", "BE"),
        origin="RU",
        issue_date=date(2026, 3, 2),
        expiry_date=date(2026, 5, 1),
        parcels=4,
        lines=(
            HsLine("7102.31", Decimal("1520.355"), Decimal("147474.44")),
            HsLine("7102.21", Decimal("0.005"), Decimal("0.01")),
        ),
        total_carats=Decimal("1520.360"),
        total_value_usd=Decimal("147474.45"),
        authority="Gokhran of Russia",
    ),
)


async def test_event_round_trips_through_a_real_topic(created_topics: Settings) -> None:
    topic = f"{created_topics.topic_prefix}events"
    producer = idempotent_producer(created_topics)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            codec.encode("CertificateEvent", event_to_avro(EVENT)),
            key=EVENT.certificate_id.encode(),
        )
    finally:
        await producer.stop()
    consumer = committed_consumer(created_topics, topic, group_id=None)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()
    records = [r for rs in batches.values() for r in rs]
    assert len(records) == 1
    decoded = event_from_avro(codec.decode(records[0].value, "CertificateEvent"))
    assert decoded == EVENT
    assert decoded.payload.lines[1].carats == Decimal("0.005")  # type: ignore[union-attr]

    tail = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "tail",
            topic,
            "--from-beginning",
            "--max",
            "1",
            "--idle-timeout",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**__import__("os").environ, "KPGW_KAFKA_BOOTSTRAP": created_topics.kafka_bootstrap},
    )
    line = json.loads(tail.stdout.strip())
    assert line["key"] == "RU0123456" and line["topic"] == topic
    # The name without the deployment's prefix reads the same topic.
    short = subprocess.run(
        [
            *(sys.executable, "-m", "gateway", "tail", "events", "--from-beginning", "--max", "1"),
            *("--idle-timeout", "10", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={
            **__import__("os").environ,
            "KPGW_KAFKA_BOOTSTRAP": created_topics.kafka_bootstrap,
            "KPGW_TOPIC_PREFIX": created_topics.topic_prefix,
        },
    )
    assert json.loads(short.stdout.strip())["topic"] == topic
    assert line["value"]["schema"] == "CertificateEvent"
    # The fingerprint a partner's consumer names when it lacks the file; schemas export
    # prints it beside each file.
    assert line["value"]["fingerprint"] == (
        codec.registry().current("CertificateEvent").fingerprint.hex()
    )
    payload = line["value"]["record"]["payload"]
    assert payload["type"] == "CertificateIssued"
    assert payload["total_carats"] == "1520.360" and payload["lines"][0]["value_usd"] == "147474.44"


async def test_tail_says_why_it_stopped_when_the_topic_went_quiet(created_topics: Settings) -> None:
    """``kpgw tail kp.status --idle-timeout 3`` on a quiet topic ended printing nothing at
    all: no sign that it read the topic, nor that it starts at the end without
    ``--from-beginning``."""
    topic = f"{created_topics.topic_prefix}events"
    producer = idempotent_producer(created_topics)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, codec.encode("CertificateEvent", event_to_avro(EVENT)), key=b"RU0123456"
        )
    finally:
        await producer.stop()
    env = {**__import__("os").environ, "KPGW_KAFKA_BOOTSTRAP": created_topics.kafka_bootstrap}
    command = (sys.executable, "-m", "gateway", "tail", topic, "--idle-timeout", "2", "--json")
    quiet = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=60, env=env
    )
    assert (quiet.returncode, quiet.stdout) == (0, "")
    assert f"0 record(s) of {topic}; none for 2 s" in quiet.stderr
    assert "--from-beginning" in quiet.stderr
    read = subprocess.run(
        (*command, "--from-beginning"),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert read.returncode == 0 and len(read.stdout.splitlines()) == 1
    assert f"1 record(s) of {topic}; none for 2 s" in read.stderr
    assert "--from-beginning" not in read.stderr
