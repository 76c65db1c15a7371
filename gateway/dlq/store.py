"""Reading the dead-letter queue: every record of kp.dlq (read_committed) as a
``DeadLetter``, filtered as the operator asks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway.dlq import headers as h
from gateway.events import record_instant
from gateway.kafka.clients import (
    ADMIN_REQUEST_TIMEOUT_MS,
    ReadProgress,
    bounded_end_offsets,
    bounded_position,
    close_for_good,
    committed_consumer,
)
from gateway.kafka.topics import partition_count, require_topic
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # "<partition>-<offset>" in kp.dlq
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    reason: str
    stage: str
    sender: str
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    message: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: Every sender its ``kpgw-sender`` headers name (``headers.sender_values``): more than
    #: one when a Kafka-native sender gave conflicting ones. ``sender`` is them joined by
    #: ", ", for people; filters and counts go by each of them.
    senders: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.senders and self.sender:  # built with its one sender only
            object.__setattr__(self, "senders", (self.sender,))

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        headers = tuple(h.non_null(record.headers or ()))
        try:
            findings = json.loads(h.text_header(headers, h.FINDINGS) or "[]")
        except ValueError:
            findings = []
        senders = h.sender_values(headers)
        return cls(
            id=f"{record.partition}-{record.offset}",
            partition=record.partition,
            offset=record.offset,
            # Any a producer wrote: one of year -29719 made `kpgw dlq list` fail whole.
            timestamp=record_instant(record.timestamp),
            key=record.key,
            value=record.value,
            headers=headers,
            reason=h.text_header(headers, h.REASON) or "UNKNOWN",
            stage=h.text_header(headers, h.STAGE) or "unknown",
            sender=", ".join(senders),
            senders=senders,
            original_topic=h.text_header(headers, h.ORIGINAL_TOPIC) or "",
            original_partition=h.int_header(headers, h.ORIGINAL_PARTITION),
            original_offset=h.int_header(headers, h.ORIGINAL_OFFSET),
            message=h.text_header(headers, h.EXCEPTION_MESSAGE) or "",
            findings=findings,
        )

    @property
    def coordinates(self) -> str:
        return f"dlq/{self.partition}/{self.offset}"

    @property
    def replay_of(self) -> str | None:
        """The id of the dead letter whose replay failed again as this one, if any: one
        document replayed before its cause was fixed leaves a chain of letters."""
        came_from = h.text_header(self.headers, h.REPLAYED_FROM) or ""
        parts = came_from.split("/")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return f"{parts[1]}-{parts[2]}"
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dead_lettered_at": self.timestamp,
            "reason": self.reason,
            "stage": self.stage,
            "sender": self.sender,
            "senders": list(self.senders),
            "key": self.key.decode("utf-8", "replace") if self.key else None,
            "original": f"{self.original_topic}/{self.original_partition}/{self.original_offset}",
            "message": self.message,
            "replay_of": self.replay_of,
        }


@dataclass(frozen=True, slots=True)
class DlqFilter:
    reasons: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[str, ...] = ()

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (not self.reasons or letter.reason in self.reasons)
            # A letter naming several senders is each one's: a conflicting kpgw-sender must
            # not hide it from the filter of either sender. "" selects letters with none.
            and (not self.senders or any(x in self.senders for x in letter.senders or ("",)))
            and (not self.stages or letter.stage in self.stages)
            and (self.since is None or letter.timestamp >= self.since)
            and (self.until is None or letter.timestamp < self.until)
            and (not self.ids or letter.id in self.ids)
        )

    def as_json(self, *, force: bool = False) -> str:
        """The filter as the audit records it; ``force``: a replay that re-sends letters
        replayed before says so (an operator review found it indistinguishable)."""
        selected: dict[str, object] = {
            "reason": list(self.reasons),
            "sender": list(self.senders),
            "stage": list(self.stages),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "id": list(self.ids),
        }
        if force:
            selected["force"] = True
        return json.dumps(selected, sort_keys=True)


async def read_topic_to_end(settings: Settings, topic: str) -> list[Any]:
    """Every committed record of ``topic`` up to its current end, without a consumer group."""
    records: list[Any] = []
    async for batch in iter_topic(settings, topic):
        records.extend(batch)
    return records


#: Where reading a partition starts: the consumer, the partition and the partition's end.
Start = Callable[
    [AIOKafkaConsumer, list[TopicPartition], dict[TopicPartition, int]], Awaitable[None]
]


async def iter_topic(
    settings: Settings, topic: str, *, start: Start | None = None
) -> AsyncIterator[list[Any]]:
    """The committed records of ``topic`` up to its current end, batch by batch, without a
    consumer group: from the beginning, or from where ``start`` seeks each partition."""
    count = await partition_count(settings, topic)
    if count == 0:
        return
    tps = [TopicPartition(topic, p) for p in range(count)]
    consumer = committed_consumer(
        settings,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=ADMIN_REQUEST_TIMEOUT_MS,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        # read_committed: end_offsets is the last stable offset.
        ends = await bounded_end_offsets(consumer, tps)
        await consumer.seek_to_beginning(*tps)
        if start is not None:
            await start(consumer, tps, ends)
        pending = {tp for tp in tps if ends[tp] > await bounded_position(consumer, tp)}
        progress = ReadProgress()  # a broker gone mid-read is said, not polled for ever
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=1000)
            if batches:
                progress.advanced()
            for tp, items in batches.items():
                batch = [r for r in items if r.offset < ends[tp]]
                if batch:
                    yield batch
            for tp in list(pending):
                if await bounded_position(consumer, tp) >= ends[tp]:
                    pending.discard(tp)
            if pending:
                progress.check(topic)
    finally:
        await close_for_good(consumer, what="topic reader")


@dataclass(slots=True)
class DlqScan:
    """The dead letters a filter selected (oldest first), and what the part of the DLQ it
    had to read holds, for saying why nothing matched."""

    topic: str
    letters: list[DeadLetter] = field(default_factory=list)
    scanned: int = 0
    reasons: set[str] = field(default_factory=set)
    senders: set[str] = field(default_factory=set)
    #: The ids asked for that are dead letters, matching the other filters or not.
    present: set[str] = field(default_factory=set)
    #: partition -> (first offset still held, end offset) of every partition of kp.dlq.
    extents: dict[int, tuple[int, int]] = field(default_factory=dict)

    def why_absent(self, dead_letter_id: str) -> str:
        """Why no dead letter ``dead_letter_id`` (``partition-offset``) was found, from
        where the partitions of the DLQ topic begin and end."""
        if dead_letter_id in self.present:
            return "it does not match the other filters given"
        partition, offset = (int(x) for x in dead_letter_id.split("-"))
        if partition not in self.extents:
            count = len(self.extents)
            return f"{self.topic} has no partition {partition}: it has {count} (0-{count - 1})"
        first, end = self.extents[partition]
        if offset >= end:
            held = f"offsets {first}-{end - 1}" if end > first else "no dead letter"
            return f"partition {partition} holds {held} so far"
        if offset < first:
            return (
                f"partition {partition} now begins at offset {first}: the topic's retention "
                "removed older dead letters"
            )
        # Inside the partition but not a record: a transaction's commit or abort marker,
        # or a dead letter of a transaction that was aborted (read_committed skips both).
        return (
            f"offset {offset} of partition {partition} holds a transaction marker or an "
            "aborted write, not a dead letter"
        )


def _wanted_ids(ids: tuple[str, ...]) -> dict[int, tuple[int, int]]:
    """partition -> [first, last + 1) offsets of the ids asked for ("3-42")."""
    ranges: dict[int, tuple[int, int]] = {}
    for text in ids:
        partition, _, offset = text.partition("-")
        if not (partition.isdigit() and offset.isdigit()):
            continue
        first, stop = ranges.get(int(partition), (int(offset), int(offset) + 1))
        ranges[int(partition)] = (min(first, int(offset)), max(stop, int(offset) + 1))
    return ranges


def _start_for(selection: DlqFilter) -> Start | None:
    """Seek each partition past what ``selection`` cannot match: to the ids asked for, or
    to the first record at or after ``since`` (Kafka's time index answers exactly: the
    earliest offset whose timestamp is at least that), so a DLQ of months is not read
    from its beginning to show one letter or the last hour."""
    if not selection.ids and selection.since is None:
        return None
    wanted = _wanted_ids(selection.ids) if selection.ids else None
    since_ms = (
        max(0, int(selection.since.timestamp() * 1000)) if selection.since is not None else None
    )

    async def start(
        consumer: AIOKafkaConsumer, tps: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> None:
        found = (
            await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
            if since_ms is not None
            else {}
        )
        for tp in tps:
            offset = await bounded_position(consumer, tp)
            if wanted is not None:
                first, stop = wanted.get(tp.partition, (ends[tp], ends[tp]))
                offset = max(offset, first)
                ends[tp] = min(ends[tp], stop)  # nothing past the last id asked for
            if since_ms is not None:
                at = found.get(tp)
                offset = max(offset, ends[tp] if at is None else at.offset)
            consumer.seek(tp, min(offset, ends[tp]))

    return start


async def scan_dead_letters(settings: Settings, selection: DlqFilter = DlqFilter()) -> DlqScan:
    """The dead letters ``selection`` matches, reading only the part of kp.dlq that can
    hold them and keeping only those (a DLQ may hold far more than memory should)."""
    topic = f"{settings.topic_prefix}dlq"
    await require_topic(settings, topic)  # "0 dead letters" from a wrong prefix would mislead
    scan = DlqScan(topic)
    seek = _start_for(selection)

    async def start(
        consumer: AIOKafkaConsumer, tps: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> None:
        for tp in tps:  # at the beginning: the position is the partition's first offset
            scan.extents[tp.partition] = (await bounded_position(consumer, tp), ends[tp])
        if seek is not None:
            await seek(consumer, tps, ends)

    async for batch in iter_topic(settings, topic, start=start):
        for record in batch:
            letter = DeadLetter.of(record)
            scan.scanned += 1
            scan.reasons.add(letter.reason)
            scan.senders.update(letter.senders or ("(none)",))
            if letter.id in selection.ids:
                scan.present.add(letter.id)
            if selection.matches(letter):
                scan.letters.append(letter)
    scan.letters.sort(key=lambda x: (x.timestamp, x.id))
    return scan


async def read_dead_letters(
    settings: Settings, selection: DlqFilter = DlqFilter()
) -> list[DeadLetter]:
    return (await scan_dead_letters(settings, selection)).letters


def stats(letters: Iterable[DeadLetter], now: datetime) -> dict[str, Any]:
    items = list(letters)

    def age_bucket(letter: DeadLetter) -> str:
        hours = (now - letter.timestamp).total_seconds() / 3600
        if hours < 1:
            return "<1h"
        if hours < 24:
            return "1h-24h"
        if hours < 24 * 7:
            return "1d-7d"
        return ">7d"

    return {
        "total": len(items),
        "by_reason": dict(Counter(x.reason for x in items).most_common()),
        # Under each sender it names, as `--sender` selects it: a letter with conflicting
        # kpgw-sender headers is counted under each (so these may add up to more than
        # the total; "conflicting_senders" says by how many letters).
        "by_sender": dict(
            Counter(name for x in items for name in x.senders or ("(none)",)).most_common()
        ),
        "conflicting_senders": sum(1 for x in items if len(x.senders) > 1),
        "by_stage": dict(Counter(x.stage for x in items).most_common()),
        "by_age": dict(Counter(age_bucket(x) for x in items).most_common()),
    }
