"""Restoring the router's state from kp.router.changelog: later records win, tombstones
delete, aborted transactions are invisible, and truncated, compacted and empty changelogs
restore alike; after a restart the timer waits until the partition has caught up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic, RecordsToDelete

from gateway import codec
from gateway.errors import NewerRouterStates
from gateway.events import to_millis
from gateway.kafka.clients import admin_client, committed_consumer, transactional_producer
from gateway.metrics import ROUTER_NEWER_STATES_HELD, pipeline_metrics
from gateway.readiness import worker_checks
from gateway.router import STATE_SCHEMA, CertificateState, state_to_avro
from gateway.router.restore import NewerStatesHold, Restored, recheck_held, restore_partitions
from gateway.router.state import StoredEvent
from gateway.settings import Settings
from tests.kafka.helpers import registry_copy
from tests.kafka.router.support import (
    event,
    issued,
    outcomes,
    pair,
    partner,
    produce_events,
    routing,
    stamp,
)
from tests.log_capture import captured
from tests.unit.router.factories import certificate
from tests.unit.router.test_preflight_changelog import _from_a_newer_router

pytestmark = pytest.mark.kafka
T = to_millis(stamp())


def state(number: str, *, announced: bool = False) -> CertificateState:
    item = event(certificate(number))
    return CertificateState(number, T, StoredEvent(item, T), announced=announced)


def encoded(item: CertificateState) -> bytes:
    return codec.encode(STATE_SCHEMA, state_to_avro(item))


@pytest.fixture
async def changelog(kafka_settings: Settings) -> AsyncIterator[Settings]:
    """A compacted two-partition changelog (compacting fast; "delete" too, so records can
    be deleted to truncate it) and its events topic."""
    settings = kafka_settings
    fast = {
        "cleanup.policy": "compact,delete",
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.01",
        "min.compaction.lag.ms": "0",
        "delete.retention.ms": "100",
    }
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(f"{settings.topic_prefix}router.changelog", 2, 1, topic_configs=fast),
                NewTopic(f"{settings.topic_prefix}events", 2, 1),
            ]
        )
        yield settings
    finally:
        await admin.delete_topics(
            [f"{settings.topic_prefix}router.changelog", f"{settings.topic_prefix}events"]
        )
        await admin.close()


async def restore(settings: Settings) -> dict[int, Restored]:
    found: dict[int, Restored] = {}
    await restore_partitions(
        settings,
        changelog=f"{settings.topic_prefix}router.changelog",
        events=f"{settings.topic_prefix}events",
        partitions=[0, 1],
        on_restored=lambda r: found.__setitem__(r.partition, r),
    )
    return found


async def test_latest_wins_tombstones_delete_aborted_is_invisible_truncated_and_empty_work(
    changelog: Settings,
) -> None:
    settings = changelog
    topic = f"{settings.topic_prefix}router.changelog"
    a1, a2, b, c = (
        state("RU0800001"),
        state("RU0800001", announced=True),
        state("RU0800002"),
        state("RU0800003"),
    )
    producer = transactional_producer(settings, f"restore-test-{uuid.uuid4().hex[:6]}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, encoded(b), key=b"RU0800002", partition=0)  # offset 0
            await producer.send(topic, encoded(a1), key=b"RU0800001", partition=0)
        await producer.begin_transaction()  # aborted: never visible
        await producer.send(topic, encoded(c), key=b"RU0800003", partition=0)
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, encoded(a2), key=b"RU0800001", partition=0)
            await producer.send(topic, None, key=b"RU0800002", partition=0)
            # Corrupt: a known writer schema, its body cut short (marker and an unknown
            # fingerprint would be a newer router's state: see below).
            await producer.send(topic, encoded(b)[:12], key=b"RU0800004", partition=0)
    finally:
        await producer.stop()
    admin = admin_client(settings)
    await admin.start()
    try:  # truncate: the log now starts at offset 1
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=1)})
    finally:
        await admin.close()
    found = await restore(settings)
    assert found[0].start_offset == 1
    assert found[0].states == {"RU0800001": a2}
    assert (found[0].tombstones, found[0].corrupt) == (1, 1)
    assert found[1].states == {} and found[1].end_offset == 0  # empty


async def test_a_newer_routers_state_refuses_its_partition_and_corrupt_is_still_skipped(
    changelog: Settings,
) -> None:
    """An older router taking over a partition a newer router wrote states in (a rollback,
    a rolling restart that mixes versions) must not start those certificates afresh (an
    upgrade review): that partition's restore fails retriably; the other one restores."""
    settings = changelog
    topic = f"{settings.topic_prefix}router.changelog"
    kept, newer = state("RU0800021"), _from_a_newer_router()
    producer = transactional_producer(settings, f"restore-test-{uuid.uuid4().hex[:6]}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, encoded(kept), key=b"RU0800021", partition=0)
            await producer.send(topic, newer, key=b"RU0800022", partition=0)
            await producer.send(topic, encoded(kept), key=b"RU0800021", partition=1)
            await producer.send(topic, encoded(kept)[:12], key=b"RU0800023", partition=1)
    finally:
        await producer.stop()
    found: dict[int, Restored] = {}
    with pytest.raises(NewerRouterStates) as refused:
        await restore_partitions(
            settings,
            changelog=topic,
            events=f"{settings.topic_prefix}events",
            partitions=[0, 1],
            on_restored=lambda r: found.__setitem__(r.partition, r),
        )
    assert refused.value.retriable
    assert "partition 0)" in refused.value.message and newer[2:10].hex() in refused.value.message
    assert list(found) == [1]  # the other partition is restored, its corrupt record skipped
    assert found[1].states == {"RU0800021": kept} and found[1].corrupt == 1


@pytest.mark.slow
async def test_a_compacted_changelog_restores_the_same_states(changelog: Settings) -> None:
    settings = changelog
    topic = f"{settings.topic_prefix}router.changelog"
    producer = transactional_producer(settings, f"restore-test-{uuid.uuid4().hex[:6]}")
    await producer.start()
    versions = [
        replace(state("RU0800010"), last_change=T + timedelta(seconds=i)) for i in range(30)
    ]
    try:
        for version in versions:
            async with producer.transaction():
                await producer.send(topic, encoded(version), key=b"RU0800010", partition=1)
                await producer.send(
                    topic, encoded(state("RU0800011")), key=b"RU0800011", partition=1
                )
        await asyncio.sleep(0.3)
        for _ in range(150):  # roll the segment, then wait for the log cleaner (<= 45 s)
            async with producer.transaction():
                await producer.send(topic, None, key=b"RU0800099", partition=1)
            if await _records(settings, topic) < 40:
                break
            await asyncio.sleep(0.3)
    finally:
        await producer.stop()
    assert await _records(settings, topic) < 40, "the log cleaner did not compact in time"
    found = await restore(settings)
    assert found[1].states == {"RU0800010": versions[-1], "RU0800011": state("RU0800011")}


async def _records(settings: Settings, topic: str) -> int:
    """How many records partition 1 holds from its start (compaction removes some)."""
    consumer = committed_consumer(settings, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 1)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        count = 0
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            count += len(batch.get(tp, []))
        return count
    finally:
        await consumer.stop()


async def test_timer_waits_until_the_backlog_is_read_after_a_restart(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Restored with a certificate already past its deadline and its confirmation still
    unread behind a backlog: no CONFIRMATION_OVERDUE, the confirmation matches."""
    router = created_topics.router.model_copy(update={"timer_interval_s": 0.02})
    settings = created_topics.model_copy(update={"router": router})
    registry = registry_copy(tmp_path)
    cert, conf = pair("RU0800020")
    await produce_events(settings, [cert], partition=0)
    async with routing(settings, registry, clock=lambda: T):
        await partner(settings, "EU", 1)
    backlog = [event(certificate(f"RU08{i:05d}")) for i in range(100, 1600)]
    await produce_events(settings, [*backlog, conf], partition=0)
    later = T + timedelta(days=15)
    async with routing(settings, registry, clock=lambda: later) as second:
        found = await outcomes(settings, 1)
        await asyncio.sleep(1)  # the timer runs every 20 ms: give an overdue every chance
        found = await outcomes(settings, 1, timeout_s=1)
    assert [(o["certificate_id"], o["outcome"]) for o in found] == [("RU0800020", "MATCHED")]
    assert second.counters.restored_states == 1
    assert issued(cert).certificate_number == "RU0800020"


async def test_a_running_router_holds_a_partition_a_newer_router_wrote_states_in(
    created_topics: Settings, tmp_path: Path
) -> None:
    """What the restore's refusal does in a running router (a rebalance gives it the
    partition; the start-up check is not run): the partition stays held and retried, listed
    as restoring (/readyz), instead of its states being skipped; the others are served."""
    settings = created_topics
    topic = f"{settings.topic_prefix}router.changelog"
    producer = transactional_producer(settings, f"restore-test-{uuid.uuid4().hex[:6]}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, _from_a_newer_router(), key=b"RU0800030", partition=0)
    finally:
        await producer.stop()
    async with routing(settings, registry_copy(tmp_path)) as handler:
        for _ in range(100):
            if all(slot.restored for tp, slot in handler.slots.items() if tp.partition):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # retried with backoff meanwhile, never restored
        restored = {tp.partition: slot.restored for tp, slot in handler.slots.items()}
        held = handler.worker.health()["held"]
    assert len(restored) > 1 and not restored[0]
    assert all(restored[p] for p in restored if p)
    assert held == [0]


async def _write_changelog(
    settings: Settings, records: list[tuple[bytes, bytes | None]], partition: int = 0
) -> None:
    topic = f"{settings.topic_prefix}router.changelog"
    producer = transactional_producer(settings, f"restore-test-{uuid.uuid4().hex[:6]}")
    await producer.start()
    try:
        async with producer.transaction():
            sent = [
                await producer.send(topic, value, key=key, partition=partition)
                for key, value in records
            ]
            written = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    await _until_stable(settings, TopicPartition(topic, partition), written[-1].offset)


async def _until_stable(settings: Settings, tp: TopicPartition, offset: int) -> None:
    """Until a read_committed reader's end offset is past ``offset``: a commit returns
    before the broker has written its markers, and until then the last stable offset
    stays where it was (a recheck then read nothing new: a flaky failure under load)."""
    consumer = committed_consumer(settings, group_id=None)
    await consumer.start()
    try:
        for _ in range(200):
            if (await consumer.end_offsets([tp]))[tp] > offset:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{tp} not stable past offset {offset} after 10 s")
    finally:
        await consumer.stop()


def _big_changelog(count: int, newer_every: int) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """``count`` pending certificates' states, every ``newer_every``-th written by a newer
    router; and the keys of those."""
    known, newer = encoded(state("RU0900000")), _from_a_newer_router()
    records = [
        (f"RU09{i:05d}".encode(), newer if i % newer_every == 0 else known) for i in range(count)
    ]
    return records, [key for key, value in records if value is newer]


async def test_a_held_partition_is_rechecked_by_reading_only_what_came_since(
    changelog: Settings,
) -> None:
    """A partition of 5,000 states, 50 of them a newer router's: the refused restore reads
    them all once; each recheck then reads only the records written since (none, then
    the few that supersede some newer states), and once every newer state is superseded
    the partition restores."""
    settings = changelog
    topic = f"{settings.topic_prefix}router.changelog"
    records, newer_keys = _big_changelog(5_000, newer_every=100)
    await _write_changelog(settings, records)
    holds: list[NewerStatesHold] = []
    with pytest.raises(NewerRouterStates):
        await restore_partitions(
            settings,
            changelog=topic,
            events=f"{settings.topic_prefix}events",
            partitions=[0],
            on_restored=lambda r: None,
            on_held=holds.append,
        )
    (hold,) = holds
    assert len(hold.newer) == 50 and hold.end_offset >= 5_000

    await recheck_held(settings, changelog=topic, holds=[hold])  # nothing written since
    assert (hold.records_read, len(hold.newer)) == (0, 50)

    known = encoded(state("RU0900000"))
    # An operator's producer overwrites 20 of them with states this version knows, deletes
    # 10, and writes 5 states of other certificates.
    later = [(key, known) for key in newer_keys[:20]] + [(key, None) for key in newer_keys[20:30]]
    later += [(f"RU09{i:05d}".encode(), known) for i in range(5_001, 5_006)]
    await _write_changelog(settings, later)
    await recheck_held(settings, changelog=topic, holds=[hold])
    assert hold.records_read == 35  # not the 5,035 a restore reads
    assert sorted(hold.newer) == sorted(k.decode() for k in newer_keys[30:])

    await _write_changelog(settings, [(key, known) for key in newer_keys[30:]])
    await recheck_held(settings, changelog=topic, holds=[hold])
    assert (hold.records_read, hold.newer, hold.rechecks) == (55, {}, 3)
    found = await restore(settings)
    assert len(found[0]) == 5_000 - 10 + 5


async def test_a_running_router_resumes_a_held_partition_once_its_newer_states_are_superseded(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running router holds the partition (one warning, the gauge, /readyz's reason),
    its rechecks read only what came since, not the 2,000 states again and again, and it
    restores and processes the partition once the newer states are overwritten."""
    settings = created_topics
    # Readiness reads every router this process watches: a router of an earlier test of
    # this worker, not yet collected, would be judged with this one.
    monkeypatch.setattr(pipeline_metrics(), "_watched", [])
    records, newer_keys = _big_changelog(2_000, newer_every=200)
    await _write_changelog(settings, records)
    with captured("gateway.router.handler", "gateway.router.holds") as logs:
        async with routing(settings, registry_copy(tmp_path)) as handler:
            handler.holds.retry_s = (0.1, 0.4)
            tp = TopicPartition(f"{settings.topic_prefix}events", 0)
            for _ in range(200):
                hold = handler.holds.get(tp)
                if hold is not None and hold.rechecks >= 5:
                    break
                await asyncio.sleep(0.1)
            assert hold is not None and hold.rechecks >= 5
            assert hold.records_read == 0
            assert ROUTER_NEWER_STATES_HELD[0] == 10
            assert "partition(s) 0 (10 states)" in handler.health()["newer_states"]
            readiness = worker_checks("router", pipeline_metrics().health("router"))
            assert readiness["router_newer_states"] == handler.health()["newer_states"]
            assert handler.worker.health()["held"] == [0]
            await _write_changelog(
                settings, [(key, encoded(state("RU0900000"))) for key in newer_keys]
            )
            for _ in range(100):
                if handler.slots[tp].restored:
                    break
                await asyncio.sleep(0.1)
            restored = handler.slots[tp].restored
            held = handler.worker.health()["held"]
            pending = len(handler.slots[tp].store)
    assert restored and held == [] and pending == 2_000
    assert hold.records_read == 10 and 0 not in ROUTER_NEWER_STATES_HELD
    said = [e["event"] for e in logs if e.get("partition") == 0]
    assert said.count("router_partition_held_for_newer_states") == 1
    assert said.count("router_partition_hold_lifted") == 1
    assert "restore_failed_will_retry" not in [e["event"] for e in logs]
