"""Reading the dead-letter queue: every record of kp.dlq (read_committed) as a
``DeadLetter``, filtered as the operator asks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from gateway.dlq import headers as h
from gateway.kafka.clients import committed_consumer
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

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        headers = tuple(record.headers or ())
        try:
            findings = json.loads(h.text_header(headers, h.FINDINGS) or "[]")
        except ValueError:
            findings = []
        return cls(
            id=f"{record.partition}-{record.offset}",
            partition=record.partition,
            offset=record.offset,
            timestamp=datetime.fromtimestamp(record.timestamp / 1000, tz=UTC),
            key=record.key,
            value=record.value,
            headers=headers,
            reason=h.text_header(headers, h.REASON) or "UNKNOWN",
            stage=h.text_header(headers, h.STAGE) or "unknown",
            sender=h.text_header(headers, h.SENDER) or "",
            original_topic=h.text_header(headers, h.ORIGINAL_TOPIC) or "",
            original_partition=h.int_header(headers, h.ORIGINAL_PARTITION),
            original_offset=h.int_header(headers, h.ORIGINAL_OFFSET),
            message=h.text_header(headers, h.EXCEPTION_MESSAGE) or "",
            findings=findings,
        )

    @property
    def coordinates(self) -> str:
        return f"dlq/{self.partition}/{self.offset}"

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dead_lettered_at": self.timestamp,
            "reason": self.reason,
            "stage": self.stage,
            "sender": self.sender,
            "key": self.key.decode("utf-8", "replace") if self.key else None,
            "original": f"{self.original_topic}/{self.original_partition}/{self.original_offset}",
            "message": self.message,
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
            and (not self.senders or letter.sender in self.senders)
            and (not self.stages or letter.stage in self.stages)
            and (self.since is None or letter.timestamp >= self.since)
            and (self.until is None or letter.timestamp < self.until)
            and (not self.ids or letter.id in self.ids)
        )

    def as_json(self) -> str:
        return json.dumps(
            {
                "reason": list(self.reasons),
                "sender": list(self.senders),
                "stage": list(self.stages),
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "id": list(self.ids),
            },
            sort_keys=True,
        )


async def read_topic_to_end(settings: Settings, topic: str) -> list[Any]:
    """Every committed record of ``topic`` up to its current end, without a consumer group."""
    count = await partition_count(settings, topic)
    if count == 0:
        return []
    tps = [TopicPartition(topic, p) for p in range(count)]
    consumer = committed_consumer(settings, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # read_committed: end_offsets is the last stable offset.
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=1000)
            for tp, items in batches.items():
                records.extend(r for r in items if r.offset < ends[tp])
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return records
    finally:
        await consumer.stop()


async def read_dead_letters(
    settings: Settings, selection: DlqFilter = DlqFilter()
) -> list[DeadLetter]:
    topic = f"{settings.topic_prefix}dlq"
    await require_topic(settings, topic)  # "0 dead letters" from a wrong prefix would mislead
    records = await read_topic_to_end(settings, topic)
    letters = [DeadLetter.of(record) for record in records]
    return sorted((x for x in letters if selection.matches(x)), key=lambda x: (x.timestamp, x.id))


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
        "by_sender": dict(Counter(x.sender or "(none)" for x in items).most_common()),
        "by_stage": dict(Counter(x.stage for x in items).most_common()),
        "by_age": dict(Counter(age_bucket(x) for x in items).most_common()),
    }
