"""``kpgw router rebuild``: the router's changelog rebuilt from ``kp.events``, for a
changelog that was deleted, recreated or damaged (docs/router.md, "A lost changelog").

Offline, partition by partition, with the routers stopped (refused while the router's
group has members):

1. the group's committed offset on ``kp.events`` says which events the router already
   processed; those are decided again in order (``gateway.router.history``), each at its
   record's timestamp, the timers firing in between at their deadlines, and finally at
   the wall clock. Events after the committed offset are left to the router, and so are
   the deadlines after the first of them: the router processes that backlog before its
   first tick, so a confirmation waiting there is a match, not an overdue;
2. what the topics already hold is read: ``kp.outcomes`` of the partition, the partner
   topics and ``kp.status`` (only keys of this partition's certificates and messages);
3. in transactions of the partition's own router ``transactional_id`` (which fences a
   router that was left running anyway), every rebuilt state is written to the
   changelog (keys it no longer has get a tombstone), and of the records the history
   emitted only those missing: outcomes and notifications by their deterministic ids, a
   message's status when its last one says otherwise or less (``history.status_gist``:
   a status an older version wrote without the outcomes and sentences is restated).

Running it twice writes the same states again and no record twice. With ``dry_run``
nothing is written; the report says what would be.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from gateway import codec
from gateway.errors import EnvironmentProblem
from gateway.kafka.clients import (
    ReadProgress,
    admin_client,
    bounded_end_offsets,
    bounded_first_offsets,
    bounded_position,
    close_for_good,
    transactional_producer,
)
from gateway.kafka.outbox import DeliveryFailed, Outbox
from gateway.kafka.topics import partner_participants, partner_topic
from gateway.kafka.transactional import TRANSACTION_TIMEOUT_S, transactional_id_of
from gateway.registry import ParticipantRegistry
from gateway.router.handler import MAX_STATE_BYTES, router_config
from gateway.router.history import Held, History, missing_records, status_gist
from gateway.router.records import Emission, TopicKind
from gateway.router.restore import state_headers, whole_partition_reader
from gateway.router.state import state_to_bytes
from gateway.router.store import timers_fingerprint
from gateway.router.timers import RouterConfig, next_deadline
from gateway.settings import Settings

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]
#: Records per transaction: well inside the transaction timeout, and a re-run after a
#: crash between two of them writes the rest (nothing is written twice).
CHUNK_RECORDS = 2_000


class RoutersRunning(EnvironmentProblem):
    """The router's group has members: a running router would overwrite the rebuild."""


class TruncatedEvents(EnvironmentProblem):
    """Retention deleted the first events of a partition: its history is incomplete."""


class RebuildInterrupted(EnvironmentProblem):
    """A router took the partition over during the rebuild (the transaction was fenced)."""


@dataclass(slots=True)
class PartitionRebuild:
    """What one partition's rebuild found and wrote (or would write)."""

    partition: int
    processed_up_to: int | None  # the group's committed offset; None: never processed
    log_start: int = 0
    #: Events after the committed offset (up to the end offset), left to the router.
    events_waiting: int = 0
    #: The deadlines were fired up to this instant: the wall clock, or the time of the
    #: first event left to the router (those after it are the router's, once caught up).
    timers_until: datetime | None = None
    events_read: int = 0
    events_taken: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    states: int = 0
    changelog_keys_before: int = 0
    tombstones: int = 0
    #: Changelog states the history does not give but cannot disprove either (the group
    #: has no committed offset, or retention deleted the first events): kept as they are.
    kept_unrebuilt: int = 0
    outcomes_missing: Counter[str] = field(default_factory=Counter)
    outcomes_present: int = 0
    #: Outcomes on kp.outcomes about this partition's certificates that the history does
    #: not give: written by a router that had lost its state (they cannot be taken back).
    outcomes_unexplained: int = 0
    unexplained_ids: list[str] = field(default_factory=list)
    notifications_missing: int = 0
    statuses_restated: int = 0
    records_written: int = 0
    written: bool = False
    seconds: float = 0.0  # from the start of the rebuild until this partition was done

    def as_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "processed_up_to": self.processed_up_to,
            "log_start": self.log_start,
            "events_waiting": self.events_waiting,
            "timers_until": None if self.timers_until is None else self.timers_until.isoformat(),
            "events_read": self.events_read,
            "events_taken": self.events_taken,
            "refused": dict(self.refused),
            "states": self.states,
            "changelog_keys_before": self.changelog_keys_before,
            "tombstones": self.tombstones,
            "kept_unrebuilt": self.kept_unrebuilt,
            "outcomes_missing": dict(self.outcomes_missing),
            "outcomes_present": self.outcomes_present,
            "outcomes_unexplained": self.outcomes_unexplained,
            "unexplained_outcome_ids": self.unexplained_ids,
            "notifications_missing": self.notifications_missing,
            "statuses_restated": self.statuses_restated,
            "records_written": self.records_written,
            "written": self.written,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class Topics:
    events: str
    changelog: str
    outcomes: str
    status: str
    prefix: str

    @classmethod
    def of(cls, prefix: str) -> Topics:
        return cls(
            f"{prefix}events",
            f"{prefix}router.changelog",
            f"{prefix}outcomes",
            f"{prefix}status",
            prefix,
        )


async def rebuild_changelog(
    settings: Settings,
    registry: ParticipantRegistry,
    *,
    partitions: Sequence[int] | None = None,
    dry_run: bool = False,
    allow_truncated: bool = False,
    clock: Clock = lambda: datetime.now(UTC),
    on_partition: Callable[[PartitionRebuild], None] | None = None,
) -> list[PartitionRebuild]:
    """Rebuild ``partitions`` (default: all of ``kp.events``); see the module docstring."""
    topics = Topics.of(settings.topic_prefix)
    group_id = settings.router.group_id
    admin = admin_client(settings)
    await admin.start()
    try:
        await _refuse_running_routers(admin, group_id)
        described = await admin.describe_topics([topics.events])
        count = len(described[0]["partitions"]) if described else 0
        if count == 0:
            raise EnvironmentProblem(f"topic {topics.events} does not exist")
        chosen = sorted(set(range(count) if partitions is None else partitions))
        unknown = [p for p in chosen if not 0 <= p < count]
        if unknown:
            raise EnvironmentProblem(
                f"{topics.events} has partitions 0-{count - 1}; no partition {unknown[0]}"
            )
        offsets = await admin.list_consumer_group_offsets(
            group_id, partitions=[TopicPartition(topics.events, p) for p in chosen]
        )
        others = [
            topics.changelog,
            topics.outcomes,
            topics.status,
            *(partner_topic(topics.prefix, p) for p in partner_participants(registry)),
        ]
        counts = {
            item["topic"]: len(item["partitions"]) for item in await admin.describe_topics(others)
        }
        for topic in (topics.changelog, topics.outcomes):
            if counts.get(topic, 0) != count:
                raise EnvironmentProblem(
                    f"{topic} has {counts.get(topic, 0)} partition(s), {topics.events} {count}: "
                    "the router's topics must exist and be co-partitioned (a deleted "
                    "changelog: `kpgw topics create` makes it again, empty)"
                )
    finally:
        await close_for_good(admin, what="admin client")
    config = router_config(settings)
    consumer = whole_partition_reader(settings, "router-rebuild")
    await consumer.start()
    try:
        reader = Reader(consumer, counts)
        reports = {p: PartitionRebuild(p, _processed(offsets, topics.events, p)) for p in chosen}
        histories = {p: History(registry, config, MAX_STATE_BYTES) for p in chosen}
        await _decide_again(reader, topics, reports, histories, clock())
        truncated = [p for p, r in reports.items() if r.log_start and r.processed_up_to]
        if truncated and not dry_run and not allow_truncated:
            raise TruncatedEvents(
                f"{topics.events} partition(s) {', '.join(map(str, truncated))} no longer "
                "begin at offset 0 (retention deleted their first events): a certificate "
                "whose events are gone is unknown to the rebuild, so a confirmation of it "
                "would be written as an orphan. See what would be written with --dry-run, "
                "then --allow-truncated to write it anyway (no state the changelog holds is "
                "deleted then)"
            )
        holdings = await _holdings(reader, topics, histories)
        for partition in chosen:
            report = reports[partition]
            await _finish_partition(
                settings,
                topics,
                histories[partition],
                report,
                holdings=holdings,
                partitions=count,
                dry_run=dry_run,
            )
            fields = {key: value for key, value in report.as_dict().items() if key != "partition"}
            log.info(
                "partition_rebuilt" if report.written else "partition_rebuild_read",
                partition=partition,
                **fields,
            )
            if on_partition is not None:
                on_partition(report)
    finally:
        await close_for_good(consumer, what="rebuild consumer")
    if not dry_run:
        await _refuse_routers_joined(settings, group_id)
    return [reports[p] for p in chosen]


async def _refuse_routers_joined(settings: Settings, group_id: str) -> None:
    """A router that joined the group while the rebuild read or wrote restored its
    partitions from the changelog as it was then (empty, or half written) and keeps that
    state in memory: the rebuild did not reach it, fencing or not."""
    admin = admin_client(settings)
    await admin.start()
    try:
        await _refuse_running_routers(admin, group_id)
    except RoutersRunning as exc:
        raise RoutersRunning(
            f"a router joined during the rebuild and may hold the state it restored before "
            f"the rebuild wrote it: {exc}, then run the rebuild again"
        ) from None
    finally:
        await close_for_good(admin, what="admin client")


def _processed(offsets: dict[TopicPartition, Any], topic: str, partition: int) -> int | None:
    committed = offsets.get(TopicPartition(topic, partition))
    return None if committed is None or committed.offset < 0 else int(committed.offset)


async def _refuse_running_routers(admin: Any, group_id: str) -> None:
    for response in await admin.describe_consumer_groups([group_id]):
        for group in response.groups:
            members = group[5]
            if members:
                hosts = sorted({member[2].lstrip("/") for member in members})
                raise RoutersRunning(
                    f"the router group {group_id!r} has {len(members)} member(s) "
                    f"({', '.join(hosts)}); stop every router (kpgw run, kpgw run --only "
                    "router) before rebuilding its changelog"
                )


async def _decide_again(
    reader: Reader,
    topics: Topics,
    reports: dict[int, PartitionRebuild],
    histories: dict[int, History],
    now: datetime,
) -> None:
    """Every partition's processed events decided again, then its timers up to ``now``,
    or up to the first event the router has not processed yet (the live router ticks a
    partition only once it has caught up: the backlog may hold the answer to a deadline)."""
    started = time.perf_counter()
    stops: dict[TopicPartition, int] = {}
    partitions = [TopicPartition(topics.events, p) for p in reports]
    for events, log_start in (await bounded_first_offsets(reader.consumer, partitions)).items():
        report = reports[events.partition]
        report.log_start = log_start
        if report.processed_up_to:
            stops[events] = report.processed_up_to
    async for record in reader.read(stops):
        reports[record.partition].events_read += 1
        histories[record.partition].take(record.key, record.value, _instant(record.timestamp))
    # The backlog: counted record by record (the offsets also count transaction markers
    # and aborted writes; a new-user review saw "1 later event" where none was), and the
    # first one's time bounds the deadlines fired here.
    processed = {
        TopicPartition(topics.events, p): max(r.processed_up_to or 0, r.log_start)
        for p, r in reports.items()
    }
    ends = await bounded_end_offsets(reader.consumer, list(processed)) if processed else {}
    backlog = {tp: end for tp, end in ends.items() if end > processed[tp]}
    first: dict[int, int] = {}
    async for record in reader.read(backlog, starts=processed):
        reports[record.partition].events_waiting += 1
        first.setdefault(record.partition, int(record.timestamp))
    for partition, history in histories.items():
        report = reports[partition]
        at = first.get(partition)
        report.timers_until = now if at is None else min(now, _instant(at))
        history.advance(report.timers_until)
        report.events_taken, report.refused = history.events, history.refused
        report.states = len(history.states)
        report.seconds = time.perf_counter() - started


@dataclass(slots=True)
class Holdings:
    """What the topics hold now: the changelog's keys and ``kp.outcomes``' outcome ids
    per partition, and (for all partitions) the partner topics' notification ids and each
    message's last status."""

    changelog: dict[int, set[str]] = field(default_factory=dict)
    outcomes: dict[int, set[str]] = field(default_factory=dict)
    shared: Held = field(default_factory=Held)

    def held(self, partition: int) -> Held:
        return Held(
            self.outcomes.get(partition, set()),
            self.shared.notifications,
            self.shared.statuses,
        )


async def _holdings(reader: Reader, topics: Topics, histories: dict[int, History]) -> Holdings:
    """Read what the topics hold of ``histories``' certificates and messages; every topic
    once, its partitions together."""
    holdings = Holdings({p: set() for p in histories}, {p: set() for p in histories})
    changelog = [TopicPartition(topics.changelog, p) for p in histories]
    async for record in reader.to_end(changelog):
        keys = holdings.changelog[record.partition]
        if record.value is None:
            keys.discard(_key(record))
        else:
            keys.add(_key(record))
    certificates: set[str] = set()
    messages: set[str] = set()
    partner_topics: set[str] = set()
    for history in histories.values():
        certificates.update(history.states)
        for emission in history.emissions:
            if emission.topic is TopicKind.STATUS:
                messages.add(emission.key)
            else:
                certificates.add(emission.key)
                if emission.topic is TopicKind.PARTNER:
                    partner_topics.add(emission.topic_name(topics.prefix))
    outcomes = [TopicPartition(topics.outcomes, p) for p in histories]
    async for record in reader.to_end(outcomes):
        if record.value is not None and _key(record) in certificates:
            value = codec.decode(record.value, "Outcome")
            holdings.outcomes[record.partition].add(str(value["outcome_id"]))
    shared = holdings.shared
    for topic in sorted(partner_topics):
        async for record in reader.to_end(reader.partitions(topic)):
            if record.value is not None and _key(record) in certificates:
                value = codec.decode(record.value, "PartnerNotification")
                shared.notifications.add(str(value["notification_id"]))
    if messages:
        async for record in reader.to_end(reader.partitions(topics.status)):
            key = _key(record)
            if key not in messages:
                continue
            if record.value is None:
                shared.statuses.pop(key, None)
            else:
                value = codec.decode(record.value, "DeliveryStatus")
                shared.statuses[key] = status_gist(value)
    return holdings


async def _finish_partition(
    settings: Settings,
    topics: Topics,
    history: History,
    report: PartitionRebuild,
    *,
    holdings: Holdings,
    partitions: int,
    dry_run: bool,
) -> None:
    """Compare one partition's history with what the topics hold, and write what is
    missing."""
    started = time.perf_counter()
    partition = report.partition
    existing = holdings.changelog.get(partition, set())
    report.changelog_keys_before = len(existing)
    stale = sorted(existing - history.states.keys())
    if report.processed_up_to is None or report.log_start > 0:
        # An incomplete history (no committed offset: a wrong group id, offsets expired;
        # or the first events deleted) deletes nothing it cannot rebuild (a code review:
        # an unknown group id tombstoned the whole changelog).
        report.kept_unrebuilt, stale = len(stale), []
    report.tombstones = len(stale)
    missing = missing_records(history.emissions, holdings.held(partition))
    report.outcomes_missing = missing.outcomes
    report.outcomes_present = missing.outcomes_present
    report.outcomes_unexplained = missing.outcomes_unexplained
    report.unexplained_ids = missing.unexplained_ids
    report.notifications_missing = missing.notifications
    report.statuses_restated = missing.statuses
    if not dry_run:
        report.records_written = await _write(
            settings,
            topics,
            registry=history.registry,
            config=history.config,
            partition=partition,
            partitions=partitions,
            history=history,
            stale=stale,
            missing=missing.records,
        )
        report.written = True
    report.seconds += time.perf_counter() - started


async def _write(
    settings: Settings,
    topics: Topics,
    *,
    registry: ParticipantRegistry,
    config: RouterConfig,
    partition: int,
    partitions: int,
    history: History,
    stale: list[str],
    missing: list[Emission],
) -> int:
    """Everything in transactions of the partition's router ``transactional_id``."""
    timers = timers_fingerprint(registry, config)
    records: list[tuple[str, bytes, bytes | None, int | None, list[tuple[str, bytes]] | None]] = []
    # The missing records first: a rebuild that dies between two transactions leaves
    # states that say "reported" only for what was written (a router started instead of
    # a second run would otherwise never write the rest).
    for emission in missing:
        on_outcomes = emission.topic is TopicKind.OUTCOMES
        records.append(
            (
                emission.topic_name(topics.prefix),
                emission.key.encode(),
                emission.to_bytes(),
                partition if on_outcomes else None,
                None,
            )
        )
    for certificate_id, state in sorted(history.states.items()):
        deadline = next_deadline(state, registry, config)
        records.append(
            (
                topics.changelog,
                certificate_id.encode(),
                state_to_bytes(state),
                partition,
                state_headers(deadline, timers, partitions),
            )
        )
    records.extend((topics.changelog, key.encode(), None, partition, None) for key in stale)
    if not records:
        return 0
    events = TopicPartition(topics.events, partition)
    producer = transactional_producer(
        settings, transactional_id_of(settings.router.group_id, events), request_timeout_ms=30_000
    )
    try:
        await producer.start()  # init_transactions: fences a router left running on it
        for start in range(0, len(records), CHUNK_RECORDS):
            # aiokafka waits for the end of a transaction without a deadline of its own.
            async with asyncio.timeout(TRANSACTION_TIMEOUT_S), producer.transaction():
                outbox = Outbox(producer)
                for topic, key, value, where, headers in records[start : start + CHUNK_RECORDS]:
                    await outbox.send(topic, key, value, partition=where, headers=headers)
                await outbox.flush()
    except ProducerFenced as exc:
        raise RebuildInterrupted(
            f"a router took partition {partition} over during the rebuild; stop every "
            "router and run the rebuild again (what was written is kept, nothing twice)"
        ) from exc
    except (TimeoutError, DeliveryFailed, KafkaError) as exc:
        raise EnvironmentProblem(
            f"writing partition {partition}'s rebuild failed ({exc!r}); what was committed "
            "is kept: run the rebuild again once the broker is well"
        ) from exc
    finally:
        await close_for_good(producer, what="rebuild producer")
    return len(records)


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reader:
    """Committed records of whole partitions, with one consumer (assigned, no group)."""

    consumer: AIOKafkaConsumer
    counts: dict[str, int]  # partition counts of the topics read whole

    def partitions(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in range(self.counts.get(topic, 0))]

    async def read(
        self, stops: dict[TopicPartition, int], starts: dict[TopicPartition, int] | None = None
    ) -> AsyncIterator[Any]:
        """The records of each partition from its start (or ``starts``, when later) up to
        ``stop`` (exclusive)."""
        consumer = self.consumer
        firsts = await bounded_first_offsets(consumer, list(stops)) if stops else {}
        starts = {tp: max(first, (starts or {}).get(tp, 0)) for tp, first in firsts.items()}
        pending = {tp for tp, stop in stops.items() if starts[tp] < stop}
        if not pending:
            return
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, starts[tp])
        progress = ReadProgress()
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=200, max_records=10_000)
            for tp, batch in batches.items():
                progress.advanced()
                for record in batch:
                    if record.offset < stops[tp]:
                        yield record
            for tp in list(pending):
                if await bounded_position(consumer, tp) >= stops[tp]:
                    pending.discard(tp)
            if pending:
                progress.check(sorted(tp.topic for tp in pending)[0])

    async def to_end(self, tps: list[TopicPartition]) -> AsyncIterator[Any]:
        """Every record of ``tps`` up to their end offsets as the read begins."""
        if tps:
            async for record in self.read(await bounded_end_offsets(self.consumer, tps)):
                yield record


def _key(record: Any) -> str:
    return "" if record.key is None else str(record.key.decode("utf-8", "replace"))


def _instant(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)
