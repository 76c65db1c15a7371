"""``kpgw router rebuild`` on the real broker: a deleted and recreated changelog is
rebuilt from kp.events; the router then knows its certificates again; nothing the topics
already hold is written twice; a deadline missed while the state was lost is reported
once; running routers are refused."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import RecordsToDelete

from gateway import codec
from gateway.errors import EnvironmentProblem
from gateway.events import event_to_avro
from gateway.kafka.clients import admin_client, committed_consumer, transactional_producer
from gateway.kafka.topics import create_topics
from gateway.registry import ParticipantRegistry, load_registry
from gateway.router import rebuild
from gateway.router.rebuild import RoutersRunning, TruncatedEvents, rebuild_changelog
from gateway.settings import Settings
from tests.kafka.helpers import read_until, registry_copy, run_kpgw
from tests.kafka.router.support import outcomes, pair, partner, produce_events, routing, stamp
from tests.unit.router.test_preflight_changelog import RELEASED, _single_object

pytestmark = pytest.mark.kafka


async def lose_changelog(settings: Settings, registry: ParticipantRegistry) -> None:
    """Delete kp.router.changelog and create it again, empty (what an operator's mistake or
    a lost volume leaves)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.delete_topics([f"{settings.topic_prefix}router.changelog"])
    finally:
        await admin.close()
    for _ in range(60):  # deletion is asynchronous: creating may fail for a moment
        try:
            report = await create_topics(settings, registry)
        except Exception:
            report = None
        if report is not None and f"{settings.topic_prefix}router.changelog" in report.created:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("the changelog could not be created again")


async def routed(settings: Settings, registry_path: Path, events: list[Any]) -> None:
    """Produce ``events`` and let a router announce the first certificate to EU."""
    await produce_events(settings, events)
    async with routing(settings, registry_path):
        await partner(settings, "EU", 1)


async def test_a_lost_changelog_is_rebuilt_and_the_router_knows_its_certificates(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    matched_cert, matched_conf = pair("RU0720001")
    waiting_cert, waiting_conf = pair("RU0720002")
    await produce_events(settings, [matched_cert, matched_conf, waiting_cert])
    async with routing(settings, registry_path):
        await outcomes(settings, 1)
        await partner(settings, "EU", 3)  # two announcements and the MATCHED outcome
    await lose_changelog(settings, registry)

    dry = await rebuild_changelog(settings, registry, dry_run=True)
    command = run_kpgw(
        {
            "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "KPGW_TOPIC_PREFIX": settings.topic_prefix,
            "KPGW_PARTNERS_FILE": str(registry_path),
            "KPGW_ROUTER__GROUP_ID": settings.router.group_id,
        },
        "router",
        "rebuild",
        "--dry-run",
        "--json",
    )
    assert command.returncode == 0, command.stderr
    lines = [json.loads(line) for line in command.stdout.splitlines()]
    assert [line["partition"] for line in lines] == [r.partition for r in dry]
    assert sum(line["states"] for line in lines) == 2
    assert not any(line["written"] for line in lines)
    assert sum(r.states for r in dry) == 2
    assert sum(r.events_taken for r in dry) == 3
    assert not any(r.written or r.outcomes_missing or r.notifications_missing for r in dry)
    assert not any(r.statuses_restated for r in dry)  # both messages' statuses are there
    assert await read_until(settings, "router.changelog", 0) == []

    rebuilt = await rebuild_changelog(settings, registry)
    assert all(r.written for r in rebuilt)
    assert sum(r.records_written for r in rebuilt) == 2  # the two states, nothing else
    again = await rebuild_changelog(settings, registry)
    assert sum(r.records_written for r in again) == 2
    assert sum(r.changelog_keys_before for r in again) == 2

    async with routing(settings, registry_path) as router:
        await produce_events(settings, [waiting_conf])
        found = await outcomes(settings, 2)
        restored = router.counters.restored_states
    assert restored == 2
    # Without the rebuild the confirmation would wait for a certificate the router forgot.
    assert sorted((o["certificate_id"], o["outcome"]) for o in found) == [
        ("RU0720001", "MATCHED"),
        ("RU0720002", "MATCHED"),
    ]
    assert Counter(await partner(settings, "EU", 4)) == {"SHIPMENT_ANNOUNCED": 2, "MATCHED": 2}


async def test_a_deadline_that_passed_while_the_state_was_lost_is_reported_once(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    cert, _ = pair("RU0720003")
    await routed(settings, registry_path, [cert])
    await lose_changelog(settings, registry)
    later = stamp() + timedelta(days=15)  # past the RU -> EU deadline of 14 days

    first = await rebuild_changelog(settings, registry, clock=lambda: later)
    second = await rebuild_changelog(settings, registry, clock=lambda: later)

    assert sum(sum(r.outcomes_missing.values()) for r in first) == 1
    assert sum(sum(r.outcomes_missing.values()) for r in second) == 0
    assert sum(r.outcomes_present for r in second) == 1
    (overdue,) = await outcomes(settings, 1)
    assert (overdue["certificate_id"], overdue["outcome"]) == ("RU0720003", "CONFIRMATION_OVERDUE")
    # The exporter hears of it once, as the live router would have told it.
    assert Counter(await partner(settings, "RU", 1)) == {"CONFIRMATION_OVERDUE": 1}


async def test_running_routers_and_unknown_partitions_are_refused(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    async with routing(settings, registry_path):
        with pytest.raises(RoutersRunning, match="stop every router"):
            await rebuild_changelog(settings, registry, dry_run=True)
        command = await asyncio.to_thread(
            run_kpgw,
            {
                "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                "KPGW_TOPIC_PREFIX": settings.topic_prefix,
                "KPGW_PARTNERS_FILE": str(registry_path),
                "KPGW_ROUTER__GROUP_ID": settings.router.group_id,
            },
            "router",
            "rebuild",
        )
    assert command.returncode == 2
    assert "stop every router" in command.stderr
    assert command.stdout == ""
    with pytest.raises(EnvironmentProblem, match="no partition 99"):
        await rebuild_changelog(settings, registry, partitions=[99], dry_run=True)


async def test_a_missing_changelog_is_named_not_waited_for(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry = load_registry(registry_copy(tmp_path))
    changelog = f"{settings.topic_prefix}router.changelog"
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.delete_topics([changelog])
        for _ in range(60):  # until the deletion shows in the metadata
            if changelog not in await admin.list_topics():
                break
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    with pytest.raises(
        EnvironmentProblem, match=r"router.changelog has 0 partition\(s\)"
    ) as raised:
        await rebuild_changelog(settings, registry, dry_run=True)
    assert "kpgw topics create" in raised.value.message


async def test_deadlines_after_the_first_unprocessed_event_are_left_to_the_router(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Events that came while the routers were stopped (after the group's committed offset)
    are processed by the router before its first tick; the rebuild must not fire a deadline
    the backlog may answer: a confirmation that came before the deadline is a MATCHED, not
    a CONFIRMATION_OVERDUE, and a certificate that came is no ORPHAN_CONFIRMATION."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    waiting_cert, waiting_conf = pair("RU0720005")
    early_cert, early_conf = pair("RU0720006")
    await routed(settings, registry_path, [waiting_cert, early_conf])
    await lose_changelog(settings, registry)
    await produce_events(settings, [waiting_conf, early_cert])  # during the outage
    later = stamp() + timedelta(days=15)  # past the deadline and the orphan window

    rebuilt = await rebuild_changelog(settings, registry, clock=lambda: later)

    assert sum(sum(r.outcomes_missing.values()) for r in rebuilt) == 0
    async with routing(settings, registry_path, clock=lambda: later):
        await outcomes(settings, 2)
        await asyncio.sleep(2)  # a few timer ticks
    found = await outcomes(settings, 2)
    assert sorted((o["certificate_id"], o["outcome"]) for o in found) == [
        ("RU0720005", "MATCHED"),
        ("RU0720006", "MATCHED"),
    ]


async def _in_transaction(settings: Settings, events: list[Any], *, commit: bool) -> None:
    """``events`` written as the translator writes them: in a transaction, whose marker
    takes an offset of its own."""
    producer = transactional_producer(settings, f"{settings.topic_prefix}test-translator")
    await producer.start()
    try:
        await producer.begin_transaction()
        for event in events:
            value = codec.encode("CertificateEvent", event_to_avro(event))
            await producer.send(
                f"{settings.topic_prefix}events", value, key=event.certificate_id.encode()
            )
        await (producer.commit_transaction() if commit else producer.abort_transaction())
    finally:
        await producer.stop()


async def test_the_backlog_is_counted_in_events_not_offsets(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Transaction markers and aborted writes take offsets but are no events (a new-user
    review saw "1 later event(s) left to the router" on every partition of an idle
    pipeline, and the rebuild's own start given as that event's time)."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    cert, conf = pair("RU0720008")
    await _in_transaction(settings, [cert], commit=True)
    async with routing(settings, registry_path):
        await partner(settings, "EU", 1)
    await lose_changelog(settings, registry)
    now = stamp() + timedelta(days=1)

    idle = await rebuild_changelog(settings, registry, dry_run=True, clock=lambda: now)
    await _in_transaction(settings, [replace(conf, event_id="aborted")], commit=False)
    before = stamp()
    await _in_transaction(settings, [conf], commit=True)
    waiting = await rebuild_changelog(settings, registry, dry_run=True, clock=lambda: now)

    assert [r.events_waiting for r in idle] == [0] * len(idle)
    assert all(r.timers_until == now for r in idle)
    (late,) = [r for r in waiting if r.events_waiting]
    assert late.events_waiting == 1  # the aborted write and both markers are not events
    assert late.timers_until is not None
    assert before - timedelta(seconds=1) <= late.timers_until <= stamp()


async def test_a_router_that_joins_during_the_rebuild_fails_it(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal at the start is not enough: a router started while the rebuild reads
    restores the empty changelog and keeps that state; the rebuild must not say it is done."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    cert, _ = pair("RU0720007")
    await routed(settings, registry_path, [cert])
    await lose_changelog(settings, registry)
    member = committed_consumer(
        settings, f"{settings.topic_prefix}events", group_id=settings.router.group_id
    )
    read_again = rebuild._decide_again

    async def a_router_joins(*args: Any) -> None:
        await read_again(*args)
        await member.start()
        while not member.assignment():
            await member.getmany(timeout_ms=200)

    monkeypatch.setattr(rebuild, "_decide_again", a_router_joins)
    try:
        with pytest.raises(RoutersRunning, match="joined during the rebuild"):
            await rebuild_changelog(settings, registry)
    finally:
        await member.stop()


async def test_a_group_without_offsets_or_a_truncated_history_deletes_no_state(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A wrong group id (or offsets expired) gives no history: the changelog's states are
    kept, not tombstoned (a code review); events deleted by retention refuse the write
    unless allowed, and then delete nothing either."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    cert, _ = pair("RU0720008")
    await routed(settings, registry_path, [cert])
    other_group = settings.model_copy(
        update={"router": settings.router.model_copy(update={"group_id": "no-such-group"})}
    )
    kept = await rebuild_changelog(other_group, registry)
    assert sum(r.kept_unrebuilt for r in kept) == 1
    assert sum(r.tombstones for r in kept) == 0
    changelog = await read_until(settings, "router.changelog", 1)
    assert [r.value is not None for r in changelog] == [True]

    (partition,) = [r.partition for r in kept if r.kept_unrebuilt]
    later, _ = pair("RU0720009")
    await produce_events(settings, [later], partition=partition)
    async with routing(settings, registry_path):
        await partner(settings, "EU", 2)
    admin = admin_client(settings)
    await admin.start()
    try:
        events = TopicPartition(f"{settings.topic_prefix}events", partition)
        await admin.delete_records({events: RecordsToDelete(before_offset=1)}, timeout_ms=10_000)
    finally:
        await admin.close()
    with pytest.raises(TruncatedEvents, match="--allow-truncated"):
        await rebuild_changelog(settings, registry)
    allowed = await rebuild_changelog(settings, registry, allow_truncated=True)
    (truncated,) = [r for r in allowed if r.partition == partition]
    assert (truncated.log_start, truncated.events_read) == (1, 1)
    assert (truncated.tombstones, truncated.kept_unrebuilt) == (0, 1)


async def test_a_status_an_older_version_wrote_gets_its_outcomes_from_a_rebuild(
    created_topics: Settings, tmp_path: Path
) -> None:
    """An OVERDUE written as DeliveryStatus v2 (before the outcomes were listed) is written
    again with its outcome and sentence, in the rebuild's transaction; a second rebuild
    finds nothing more to say."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)
    registry = load_registry(registry_path)
    cert, _ = pair("RU0720009")
    await routed(settings, registry_path, [cert])
    later = stamp() + timedelta(days=15)  # past the RU -> EU deadline of 14 days
    await rebuild_changelog(settings, registry, clock=lambda: later)  # the overdue, v3
    current = (await _statuses(settings, cert.source.tracking_id))[-1]
    assert current["status"] == "OVERDUE" and current["outcomes"]
    older = _single_object(
        json.loads((RELEASED / "DeliveryStatus" / "v2.avsc").read_text()), current
    )
    producer = transactional_producer(settings, f"older-router-{cert.certificate_id}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(
                f"{settings.topic_prefix}status", older, key=cert.source.tracking_id.encode()
            )
    finally:
        await producer.stop()
    assert (await _statuses(settings, cert.source.tracking_id))[-1]["outcomes"] == []

    mended = await rebuild_changelog(settings, registry, clock=lambda: later)
    again = await rebuild_changelog(settings, registry, clock=lambda: later)

    assert sum(r.statuses_restated for r in mended) == 1
    assert sum(r.statuses_restated for r in again) == 0
    last = (await _statuses(settings, cert.source.tracking_id))[-1]
    assert (last["status"], last["reason"]) == ("OVERDUE", "CONFIRMATION_OVERDUE")
    assert [(o["outcome"], o["detail"]) for o in last["outcomes"]] == [
        (o["outcome"], o["detail"]) for o in current["outcomes"]
    ]
    assert last["outcomes"][0]["detail"].startswith("no confirmation since")


async def _statuses(settings: Settings, tracking_id: str | None) -> list[dict[str, Any]]:
    records = await read_until(settings, "status", 1)
    return [
        codec.decode(r.value, "DeliveryStatus")
        for r in records
        if r.key == (tracking_id or "").encode() and r.value is not None
    ]
