"""Rebuild the router's per-partition state from ``kp.router.changelog``.

The changelog partition is read with ``read_committed`` from its log start offset to the
end offset seen when the read begins (the last stable offset: the previous owner was fenced
before, so no transaction of ours is still open on it). Later records win, a tombstone
deletes, gaps are normal: a compacted, truncated (log start > 0) or empty changelog all
restore the same way. A record that cannot be decoded is logged and skipped: the
changelog is our own topic, so that is a bug to see, not a reason to stop the partition.
A state a newer router wrote (the single-object marker, a writer schema this version does
not know) is not corrupt: skipping it would start its certificate afresh and lose its
outcomes, so the partition's restore is refused (``NewerRouterStates``, retried with the
partition held) until a router that knows the schema owns it (README, "Upgrading"), or
until those states are superseded. While it is held, ``recheck_held`` reads only what
was written after the last read (a ``NewerStatesHold`` remembers the newer states' keys
and offsets and where the read stopped), not the whole partition again.

The driver writes each state with its next deadline and a fingerprint of what deadlines
depend on (``kpgw-next-deadline``, ``kpgw-timers`` headers). When the fingerprint still
matches, the state is kept encoded and scheduled by that deadline, and decoded on first
use; otherwise (an older record, a changed registry) it is decoded and scheduled now.

The same read reports the end offset of the partition's ``kp.events`` at that moment: the
driver ticks a partition's timers only once it has processed the events up to there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway import codec
from gateway.errors import NewerRouterStates, TransientFailure
from gateway.kafka.clients import (
    ReadProgress,
    bounded_end_offsets,
    bounded_first_offsets,
    bounded_position,
    close_for_good,
    committed_consumer,
)
from gateway.router.state import STATE_SCHEMA, CertificateState, state_from_avro
from gateway.router.store import Encoded
from gateway.settings import Settings

log = structlog.get_logger(__name__)
FETCH_BYTES = 16 * 1024 * 1024
DEADLINE_HEADER = "kpgw-next-deadline"
TIMERS_HEADER = "kpgw-timers"
PARTITIONS_HEADER = "kpgw-partitions"
Headers = Sequence[tuple[str, bytes]]


def state_headers(
    deadline: datetime | None, timers: str, partitions: int | None = None
) -> list[tuple[str, bytes]]:
    """The headers of a changelog record: the state's next deadline (epoch ms, empty for
    none), the timers fingerprint it was computed under, and the partition count of the
    topics it was written with (``preflight`` refuses to start on another one)."""
    millis = b"" if deadline is None else str(int(deadline.timestamp() * 1000)).encode()
    headers = [(DEADLINE_HEADER, millis), (TIMERS_HEADER, timers.encode())]
    if partitions is not None:
        headers.append((PARTITIONS_HEADER, str(partitions).encode()))
    return headers


def written_deadline(headers: Headers, timers: str | None) -> tuple[bool, datetime | None]:
    """(usable, deadline) from a record's headers: usable when written under ``timers``."""
    found = dict(headers)
    if timers is None or found.get(TIMERS_HEADER) != timers.encode():
        return False, None
    millis = found.get(DEADLINE_HEADER)
    if millis is None:
        return False, None
    if not millis:
        return True, None
    try:
        return True, datetime.fromtimestamp(int(millis) / 1000, UTC)
    except ValueError:
        return False, None


@dataclass(slots=True)
class Restored:
    """One partition's restored states and what the read saw."""

    partition: int
    catch_up_to: int  # the end offset of kp.events when the restore began
    states: dict[str, CertificateState] = field(default_factory=dict)
    start_offset: int = 0
    end_offset: int = 0
    records: int = 0
    tombstones: int = 0
    corrupt: int = 0
    seconds: float = 0.0
    encoded: dict[str, Encoded] = field(default_factory=dict)
    #: Writer fingerprint (hex) -> how many latest states a newer router wrote with it.
    newer: dict[str, int] = field(default_factory=dict)
    #: Key -> (offset, writer fingerprint) of each latest state a newer router wrote.
    newer_keys: dict[str, tuple[int, str]] = field(default_factory=dict)
    _latest: dict[str, tuple[int, bytes | None, Headers]] = field(default_factory=dict)

    def apply(self, record: Any) -> None:
        """Keep the latest value per key; only those are looked at (``finish``), so the
        versions a compaction has not removed yet cost nothing."""
        self.records += 1
        if not record.key:
            self.corrupt += 1
            log.error(
                "changelog_record_without_key", partition=self.partition, offset=record.offset
            )
            return
        key = record.key.decode("utf-8", "replace")
        self._latest[key] = (record.offset, record.value, record.headers or ())

    async def finish(self, timers: str | None) -> None:
        """Keep each state encoded when its written deadline is usable, else decode it
        (yielding to the event loop now and then: heartbeats go on). A newer router's
        states refuse the partition before anything is decoded."""
        # Before the encoded shortcut: a state kept encoded would fail later, at its first
        # use (``stored_state_undecodable``), and start afresh all the same.
        for key, (offset, value, _) in self._latest.items():
            fingerprint = codec.newer_writer(value)
            if fingerprint is not None:
                self.newer[fingerprint] = self.newer.get(fingerprint, 0) + 1
                self.newer_keys[key] = (offset, fingerprint)
        if self.newer:
            self._latest.clear()
            raise newer_states_refused({self.partition: self.newer})
        for count, (key, (offset, value, headers)) in enumerate(self._latest.items()):
            if value is None:
                self.tombstones += 1
                continue
            usable, deadline = written_deadline(headers, timers)
            if usable:
                self.encoded[key] = (value, deadline)
                continue
            if count % 500 == 499:
                await asyncio.sleep(0)
            try:
                self.states[key] = state_from_avro(codec.decode(value, STATE_SCHEMA))
            except Exception as exc:  # noqa: BLE001 - a bad record of our own topic: log it, go on
                self.corrupt += 1
                log.error(
                    "changelog_record_undecodable",
                    partition=self.partition,
                    offset=offset,
                    certificate_id=key,
                    error=repr(exc),
                )
        self._latest.clear()

    def __len__(self) -> int:
        return len(self.states) + len(self.encoded)

    def hold(self) -> NewerStatesHold:
        """What a refused partition's later rechecks start from."""
        return NewerStatesHold(self.partition, dict(self.newer_keys), self.end_offset)


#: Past this long without a recheck, a hold reads its partition again from the start: the
#: log cleaner removes a tombstone ``delete.retention.ms`` (24 h by default) after it
#: compacted the state it deleted, so a tombstone written after the last read could be
#: gone, with the newer state it superseded, before the next one.
FULL_RECHECK_AFTER_S = 12 * 3600.0


@dataclass(slots=True)
class NewerStatesHold:
    """A changelog partition held because some of its latest states are a newer router's:
    those keys with their offsets and writer fingerprints, and the end offset the reads
    reached. The partition can be restored once no such state is latest any more: each
    was superseded by a later record of its key (a state this version knows, a tombstone:
    an operator's producer), or deleted from the log (retention, ``kafka-delete-records``).
    A compaction removes a record only behind a later one of its key, which a recheck
    reads. The other way out, a newer router taking the partition, is a revocation."""

    partition: int
    newer: dict[str, tuple[int, str]]
    end_offset: int
    #: Records read by the rechecks so far (the first, refused restore not counted).
    records_read: int = 0
    rechecks: int = 0
    since: float = field(default_factory=time.monotonic)
    read_at: float = field(default_factory=time.monotonic)  # the last read's end

    def fingerprints(self) -> dict[str, int]:
        """Writer fingerprint (hex) -> how many of the latest states a newer router wrote."""
        found: dict[str, int] = {}
        for _, fingerprint in self.newer.values():
            found[fingerprint] = found.get(fingerprint, 0) + 1
        return found

    def apply(self, record: Any) -> None:
        """A record written after the last read: a newer router's state is held, anything
        else of that key (a known state, a tombstone, a corrupt record, which the restore
        skips) supersedes it."""
        self.records_read += 1
        if not record.key:
            return
        key = record.key.decode("utf-8", "replace")
        fingerprint = codec.newer_writer(record.value)
        if fingerprint is not None:
            self.newer[key] = (record.offset, fingerprint)
        else:
            self.newer.pop(key, None)

    def begin(self, start: int, end: int, now: float) -> int:
        """Prepare a recheck of the log as it is now (``start``, ``end``); returns the
        offset to read from. States the log no longer holds are forgotten; a log that
        ends before the last read did (deleted and recreated) or that has not been read
        for ``FULL_RECHECK_AFTER_S`` is read again from its start."""
        self.rechecks += 1
        if end < self.end_offset or now - self.read_at > FULL_RECHECK_AFTER_S:
            self.newer.clear()
            self.end_offset = start
        self.newer = {k: (o, fp) for k, (o, fp) in self.newer.items() if o >= start}
        return max(start, self.end_offset)


OnRestored = Callable[[Restored], None]
OnHeld = Callable[[NewerStatesHold], None]


def newer_states_refused(refused: dict[int, dict[str, int]]) -> NewerRouterStates:
    """The refusal of the partitions (partition -> writer fingerprint -> states) whose
    latest states include some a newer router wrote."""
    merged: dict[str, int] = {}
    for newer in refused.values():
        for fingerprint, count in newer.items():
            merged[fingerprint] = merged.get(fingerprint, 0) + count
    partitions = ", ".join(str(p) for p in sorted(refused))
    schemas = ", ".join(f"{fp} ({count} states)" for fp, count in sorted(merged.items()))
    return NewerRouterStates(
        f"the changelog (partition {partitions}) holds states a newer router wrote (RouterState "
        f"writer fingerprint {schemas}) that this router cannot decode: it holds the "
        "partition and retries instead of starting those certificates afresh; stop this "
        "older router, or finish the upgrade so that every router runs the newer version "
        "(README, 'Upgrading')"
    )


def whole_partition_reader(settings: Settings, name: str) -> AIOKafkaConsumer:
    """A consumer without a group, fetching in large chunks: for reading whole partitions
    (a restore, a rebuild)."""
    return committed_consumer(
        settings,
        group_id=None,
        client_id=f"{settings.client_id}-{name}",
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=4 * FETCH_BYTES,
        # The broker holds a fetch with nothing to return this long: with the default
        # 500 ms each end of a partition and each new assignment waited it out (a rebuild
        # of ten records took 13 s, 1 s now).
        fetch_max_wait_ms=20,
    )


async def restore_partitions(
    settings: Settings,
    *,
    changelog: str,
    events: str,
    partitions: Sequence[int],
    on_restored: OnRestored,
    timers: str | None = None,
    on_held: OnHeld | None = None,
) -> None:
    """Read each changelog partition to its end; call ``on_restored`` as each completes.
    ``timers``: the current ``timers_fingerprint`` (None: decode every state). A partition
    refused for a newer router's states is given to ``on_held`` (to recheck it cheaply,
    ``recheck_held``), and the refusal raised once the others are restored."""
    started = time.perf_counter()
    consumer = whole_partition_reader(settings, "router-restore")
    await consumer.start()
    try:
        tps = [TopicPartition(changelog, p) for p in partitions]
        # A restore that lost its broker fails (the router retries it with backoff, saying
        # what it waited for) instead of waiting silently for as long as the outage lasts.
        catch_up = await bounded_end_offsets(
            consumer, [TopicPartition(events, p) for p in partitions], error=TransientFailure
        )
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        starts = await bounded_first_offsets(consumer, tps, error=TransientFailure)
        ends = await bounded_end_offsets(consumer, tps, error=TransientFailure)
        results = {
            tp: Restored(
                tp.partition,
                catch_up[TopicPartition(events, tp.partition)],
                start_offset=starts[tp],
                end_offset=ends[tp],
            )
            for tp in tps
        }
        refused: dict[int, dict[str, int]] = {}  # partition -> newer writer fingerprints

        async def done(tp: TopicPartition) -> None:
            await _done(
                results[tp],
                started=started,
                on_restored=on_restored,
                on_held=on_held,
                timers=timers,
                refused=refused,
            )

        pending: set[TopicPartition] = set()
        for tp in tps:
            if ends[tp] > starts[tp]:
                pending.add(tp)
            else:
                await done(tp)
        await _read_to_ends(
            consumer, changelog, pending, ends, lambda tp: results[tp].apply, reached=done
        )
        if refused:
            raise newer_states_refused(refused)
    finally:
        await close_for_good(consumer, what="restore consumer")


async def _read_to_ends(
    consumer: AIOKafkaConsumer,
    changelog: str,
    pending: set[TopicPartition],
    ends: Mapping[TopicPartition, int],
    applier: Callable[[TopicPartition], Callable[[Any], None]],
    *,
    reached: Callable[[TopicPartition], Awaitable[None]] | None = None,
) -> None:
    """Read the ``pending`` partitions up to their ``ends``, giving each record below its
    partition's end to that partition's ``applier``; ``reached`` is awaited as each one
    gets there. A broker gone mid-read fails it (``TransientFailure``: retried)."""
    progress = ReadProgress(TransientFailure)
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=10_000)
        for tp, records in batches.items():
            progress.advanced()
            apply, end = applier(tp), ends[tp]
            for record in records:
                if record.offset < end:
                    apply(record)
        for tp in list(pending):
            if await bounded_position(consumer, tp, error=TransientFailure) >= ends[tp]:
                pending.discard(tp)
                if reached is not None:
                    await reached(tp)
        if pending:
            progress.check(changelog)


async def _done(
    result: Restored,
    *,
    started: float,
    on_restored: OnRestored,
    on_held: OnHeld | None,
    timers: str | None,
    refused: dict[int, dict[str, int]],
) -> None:
    """Finish one partition; one holding a newer router's states is only noted in
    ``refused`` (and given to ``on_held``), so that the other partitions of the read are
    still restored."""
    try:
        await result.finish(timers)
    except NewerRouterStates:
        refused[result.partition] = result.newer
        if on_held is not None:
            on_held(result.hold())
        return
    result.seconds = time.perf_counter() - started
    on_restored(result)


async def recheck_held(
    settings: Settings, *, changelog: str, holds: Sequence[NewerStatesHold]
) -> None:
    """Read each held partition's changelog from where its last read stopped to its end
    now, and update which of its latest states are still a newer router's (an empty
    ``newer``: the partition can be restored). Reads only the records written since,
    where a restore reads the whole partition."""
    if not holds:
        return
    consumer = whole_partition_reader(settings, "router-recheck")
    await consumer.start()
    try:
        by_tp = {TopicPartition(changelog, hold.partition): hold for hold in holds}
        tps = list(by_tp)
        consumer.assign(tps)
        starts = await bounded_first_offsets(consumer, tps, error=TransientFailure)
        ends = await bounded_end_offsets(consumer, tps, error=TransientFailure)
        now = time.monotonic()
        pending: set[TopicPartition] = set()
        for tp, hold in by_tp.items():
            begin = hold.begin(starts[tp], ends[tp], now)
            if begin < ends[tp]:
                consumer.seek(tp, begin)
                pending.add(tp)
        await _read_to_ends(consumer, changelog, pending, ends, lambda tp: by_tp[tp].apply)
        read_at = time.monotonic()
        for tp, hold in by_tp.items():
            hold.end_offset, hold.read_at = ends[tp], read_at
    finally:
        await close_for_good(consumer, what="recheck consumer")
