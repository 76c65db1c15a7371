"""Materialise one topic into memory: consume it from the beginning (``read_committed``, no
consumer group, every partition assigned) and hand each record to ``apply``, in offset order
per partition. ``caught_up`` is set once the end offsets seen at start-up are reached, so
the ingress is ready only when its view is complete. Every ingress instance runs its own
mirrors; a broker outage pauses them and they resume where they were.

``read_to_end`` waits (briefly) until what the topic holds now has been applied: behind a
load balancer, a client that got 202 from one instance asks another for the status a
moment later, and that instance's view may not have the record yet (a scale-out review
saw 404 for ~0.2 s)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from gateway import codec
from gateway.kafka.clients import close_for_good, committed_consumer
from gateway.kafka.topics import partition_count
from gateway.settings import Settings

log = structlog.get_logger(__name__)
Apply = Callable[[Any], None]
RETRY_S = 1.0
#: Let the broker gather records for up to FETCH_WAIT_MS (or until FETCH_MIN_BYTES): under
#: load ``kp.inbound`` grows by one small transaction after another, and a fetch per
#: transaction costs this process and the broker more than the records themselves. The
#: view then lags by at most this much more (the idempotency window across instances).
FETCH_WAIT_MS = 200
FETCH_MIN_BYTES = 256 * 1024
#: A record of a schema this version does not know is said once, then every this many.
NEWER_SCHEMA_EVERY = 1000


class TopicMirror:
    def __init__(self, settings: Settings, topic: str, apply: Apply) -> None:
        self.settings = settings
        self.topic = topic
        self.apply = apply
        self.caught_up = asyncio.Event()
        self.applied = 0
        self._next: dict[int, int] = {}  # partition -> next offset to read
        self._consumer: AIOKafkaConsumer | None = None  # while a session runs
        self._tps: list[TopicPartition] = []
        #: Records skipped as written with a schema this version does not know, by writer.
        self.skipped_newer: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: (re)connect, read, apply; errors are logged and retried."""
        failures = 0
        while not stop.is_set():
            try:
                await self._session(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a mirror must outlive any broker trouble
                if failures % 30 == 0:  # once, then every ~30 s while it lasts
                    log.warning("mirror_retrying", topic=self.topic, error=repr(exc))
                failures += 1
            else:
                failures = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)

    async def _session(self, stop: asyncio.Event) -> None:
        count = await partition_count(self.settings, self.topic)
        if not count:
            raise LookupError(f"topic {self.topic} does not exist (yet)")
        consumer = committed_consumer(
            self.settings,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=10_000,
            fetch_max_wait_ms=FETCH_WAIT_MS,
            fetch_min_bytes=FETCH_MIN_BYTES,
        )
        try:
            await consumer.start()
            tps = [TopicPartition(self.topic, p) for p in range(count)]
            consumer.assign(tps)
            # One ListOffsets request for all (seek_to_beginning resets one by one, slowly).
            beginnings = await consumer.beginning_offsets(tps)
            for tp in tps:
                consumer.seek(tp, max(beginnings[tp], self._next.get(tp.partition, 0)))
            # Only now: a position asked for before the seek would reset the partition and
            # could report records read that were not (a code review).
            self._consumer, self._tps = consumer, tps
            pending: dict[TopicPartition, int] = {}
            if not self.caught_up.is_set():
                ends = await consumer.end_offsets(tps)  # read_committed: last stable offsets
                pending = {
                    tp: end for tp, end in ends.items() if end > self._next.get(tp.partition, 0)
                }
                self._mark(pending)
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=300, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        self._apply(record)
                        self._next[tp.partition] = record.offset + 1
                if pending:
                    for tp in list(pending):
                        if await consumer.position(tp) >= pending[tp]:
                            del pending[tp]
                    self._mark(pending)
        finally:
            self._consumer = None
            await close_for_good(consumer, what="mirror consumer")

    async def read_to_end(self, timeout_s: float) -> bool:
        """Wait until every record committed on the topic by now has been applied, for at
        most ``timeout_s``; False when that did not happen (no session, broker trouble).
        One ListOffsets request per call, sent after the call began: a shared one sent
        earlier could miss the very record the caller waits for."""
        if self._consumer is None or not self.caught_up.is_set():
            return False
        consumer: AIOKafkaConsumer = self._consumer
        tps = self._tps
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(tps), timeout_s)
            while True:
                # The position, not the last record's offset: it steps over the commit
                # markers of transactions, which are never handed out as records.
                positions = [await consumer.position(tp) for tp in tps]
                if all(position >= ends[tp] for tp, position in zip(tps, positions, strict=True)):
                    return True
                if loop.time() >= deadline or self._consumer is not consumer:
                    return False
                await asyncio.sleep(0.02)
        except (TimeoutError, KafkaError, KeyError, AssertionError, IllegalStateError):
            return False

    def _mark(self, pending: dict[TopicPartition, int]) -> None:
        if not pending and not self.caught_up.is_set():
            self.caught_up.set()
            log.info("mirror_caught_up", topic=self.topic, records=self.applied)

    def _apply(self, record: Any) -> None:
        try:
            self.apply(record)
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the view
            newer = codec.newer_writer(record.value)
            if newer is None:
                log.warning(
                    "mirror_record_skipped",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=repr(exc),
                )
            else:
                self._skipped_newer(record, newer)
        else:
            self.applied += 1

    def _skipped_newer(self, record: Any, fingerprint: str) -> None:
        """A record a newer gateway wrote (this process is older than the translator or
        router writing the topic: upgraded out of order): every such record is skipped,
        about three a message, so it is said once per schema and then every
        ``NEWER_SCHEMA_EVERY`` records, not once per record as before (an upgrade review)."""
        seen = self.skipped_newer.get(fingerprint, 0) + 1
        self.skipped_newer[fingerprint] = seen
        if seen == 1 or seen % NEWER_SCHEMA_EVERY == 0:
            log.warning(
                "mirror_records_of_newer_schema_skipped",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                fingerprint=fingerprint,
                skipped=seen,
                advice="a newer translator or router writes this topic: upgrade this "
                "process (README, 'Upgrading'); its view misses those records until then",
            )
