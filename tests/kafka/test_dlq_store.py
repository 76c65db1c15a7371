"""Reading kp.dlq without reading all of it: ``dlq show ID`` and ``--since`` seek to where
their dead letters can be (the DLQ of a busy gateway holds months of letters)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.dlq import headers as h
from gateway.dlq.store import DlqFilter, scan_dead_letters
from gateway.kafka.clients import idempotent_producer
from gateway.kafka.topics import partition_count
from gateway.settings import Settings

pytestmark = pytest.mark.kafka

#: Recent enough for any retention the topic has.
DAY0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
LETTERS_PER_PARTITION = 40


async def _dead_letters(settings: Settings) -> int:
    """Dead letters one hour apart in every partition of kp.dlq, oldest first; the reason
    says the hour (``H07``), the sender alternates RU / BW. Returns the partition count."""
    topic = f"{settings.topic_prefix}dlq"
    partitions = await partition_count(settings, topic)
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        sends = []
        for hour in range(LETTERS_PER_PARTITION):
            stamp = int((DAY0 + timedelta(hours=hour)).timestamp() * 1000)
            headers = [
                (h.REASON, f"H{hour:02d}".encode()),
                (h.STAGE, b"translator"),
                (h.SENDER, b"RU" if hour % 2 == 0 else b"BW"),
                (h.ORIGINAL_TOPIC, f"{settings.topic_prefix}inbound".encode()),
            ]
            sends += [
                await producer.send(
                    topic,
                    b"<not-xml",
                    key=b"k",
                    partition=partition,
                    timestamp_ms=stamp,
                    headers=headers,
                )
                for partition in range(partitions)
            ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return partitions


async def test_since_reads_only_from_that_time_on(created_topics: Settings) -> None:
    partitions = await _dead_letters(created_topics)
    since = DAY0 + timedelta(hours=LETTERS_PER_PARTITION - 3)
    scan = await scan_dead_letters(created_topics, DlqFilter(since=since))
    assert scan.scanned == 3 * partitions  # not the whole DLQ
    assert [x.reason for x in scan.letters] == sorted(["H37", "H38", "H39"] * partitions)
    assert all(x.timestamp >= since for x in scan.letters)
    # A bound in between two letters starts at the next one; the other filters still apply.
    between = since - timedelta(minutes=30)
    scan = await scan_dead_letters(created_topics, DlqFilter(since=between, senders=("BW",)))
    assert scan.scanned == 3 * partitions
    assert {x.reason for x in scan.letters} == {"H37", "H39"}
    # After the last letter: nothing is read.
    later = await scan_dead_letters(created_topics, DlqFilter(since=DAY0 + timedelta(days=30)))
    assert (later.scanned, later.letters) == (0, [])


async def test_ids_read_only_their_range(created_topics: Settings) -> None:
    partitions = await _dead_letters(created_topics)
    last = partitions - 1
    wanted = ("0-5", f"{last}-7", f"{last}-9")
    scan = await scan_dead_letters(created_topics, DlqFilter(ids=wanted))
    assert sorted(x.id for x in scan.letters) == sorted(wanted)
    assert scan.scanned == 1 + 3  # offset 5 of partition 0; offsets 7..9 of the last
    assert {x.id: x.reason for x in scan.letters}["0-5"] == "H05"
    # Ids that name nothing: past the end, a partition that does not exist, not an id.
    nothing = ("0-999", f"{partitions + 3}-1", "zero-one", "-1")
    scan = await scan_dead_letters(created_topics, DlqFilter(ids=nothing))
    assert (scan.scanned, scan.letters) == (0, [])


async def test_without_a_bound_every_letter_is_read(created_topics: Settings) -> None:
    partitions = await _dead_letters(created_topics)
    scan = await scan_dead_letters(created_topics, DlqFilter(reasons=("H00", "H39")))
    assert scan.scanned == LETTERS_PER_PARTITION * partitions
    assert len(scan.letters) == 2 * partitions
    assert scan.senders == {"RU", "BW"}
    until = DAY0 + timedelta(hours=2)
    early = await scan_dead_letters(created_topics, DlqFilter(until=until))
    assert {x.reason for x in early.letters} == {"H00", "H01"}
