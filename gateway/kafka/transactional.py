"""Consume-transform-produce with Kafka transactions, one stable ``transactional_id`` per
input partition (aiokafka's ``send_offsets_to_transaction`` has no KIP-447 fencing, so the
partition, not the process, owns the transactional id: a new owner's ``init_transactions``
fences the old one and aborts whatever it left open).

For each batch of one partition: begin, let the handler write its outputs, add the input
offset (last + 1), commit. Kafka failures (broker down, timeouts, fencing) abort and retry
the same batch with backoff, never dead-letter; a handler decides per record what is a
dead letter. Handlers may keep per-partition state: ``committed``/``aborted`` tell them
whether their staged changes became durable.

On assignment the worker first starts each partition's producer (``init_transactions``
fences a previous owner and completes its open transaction), then positions the consumer
at the committed offset read *after* that, so a batch the previous owner committed at the
last moment is never processed twice. Partitions stay paused until the handler's
``on_assigned`` returns, and longer if it ``hold``s them (e.g. while restoring state).
A partition's batches and any other transaction on it (``transact``, e.g. a timer) are
serialised by a per-partition lock; revocation waits for the one in flight.

Partitions are processed concurrently: each batch runs as its own task while its
partition is paused, so one partition's commit round trips (AddOffsetsToTxn,
TxnOffsetCommit, EndTxn) overlap with the work on the others instead of idling the
process. Pausing keeps at most one batch per partition in flight, so the order within a
partition holds, and a batch that must be read again (fenced) is simply fetched again
from the position it seeks back to.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    InvalidSessionTimeoutError,
    KafkaError,
    KafkaTimeoutError,
    ProducerFenced,
    UnknownTopicOrPartitionError,
)

from gateway.errors import ConfigurationError, TransientFailure
from gateway.kafka.clients import (
    CANCEL_GRACE_S,
    CLIENT_STOP_S,
    close_for_good,
    committed_consumer,
    coordinator_known,
    transactional_producer,
)
from gateway.kafka.clock import clock_accepted, clock_refused, recently_refused, refused_for_clock
from gateway.kafka.outbox import DeliveryFailed
from gateway.metrics import dead_letter_topics_held
from gateway.settings import Settings

log = structlog.get_logger(__name__)
Write = Callable[[AIOKafkaProducer], Awaitable[None]]
#: How long revocation waits for a partition's in-flight transaction.
REVOKE_WAIT_S = 30.0
#: A transaction that has not committed by then is abandoned, its producer dropped (the
#: next one's init_transactions aborts it) and the batch retried: aiokafka waits for the
#: EndTxn response without a deadline, and a broker that went away at that moment would
#: otherwise hold the partition forever. Well under the brokers' 60 s transaction timeout.
TRANSACTION_TIMEOUT_S = 30.0
#: A worker still without its first assignment after this long says why it waits.
ASSIGNMENT_NOTE_S = 5.0
#: A worker whose consumer has known no group coordinator for this long has lost its
#: broker (a coordinator moving to another broker takes a moment, and is no outage).
COORDINATOR_LOST_S = 10.0
#: A heartbeat at least this often, and at least three per session timeout.
HEARTBEAT_INTERVAL_MS = 3_000


class TransactionTimeout(TransientFailure):
    """A transaction did not commit within ``TRANSACTION_TIMEOUT_S``."""


async def _within(coroutine: Awaitable[None], seconds: float) -> None:
    """Await ``coroutine`` for ``seconds``, else cancel it and raise TransactionTimeout.
    Cancelled inside ``producer.transaction()`` it first awaits an abort, which may hang
    the same way, hence the repeated cancels."""
    task = asyncio.ensure_future(coroutine)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()  # the worker is stopping: the transaction goes with it
        raise
    if task in done:
        return task.result()
    for _ in range(3):
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if done:
            break
    raise TransactionTimeout(f"the transaction did not commit within {seconds:.0f} s")


class PartitionHandler(Protocol):
    async def on_assigned(self, partitions: Sequence[TopicPartition]) -> None: ...

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None: ...

    async def process(
        self, partition: TopicPartition, records: Sequence[Any], producer: AIOKafkaProducer
    ) -> None:
        """Write this batch's outputs with ``producer`` (inside the open transaction)."""
        ...

    def committed(self, partition: TopicPartition) -> None: ...

    def aborted(self, partition: TopicPartition) -> None: ...


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: TransactionalWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.worker._revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.worker._assigned(list(assigned))


def transactional_id_of(group_id: str, partition: TopicPartition) -> str:
    """The stable ``transactional_id`` of a group's input partition (``kpgw router
    rebuild`` writes with the router's, so that it fences a router left running)."""
    return f"{group_id}-{partition.topic}-{partition.partition}"


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TransientFailure | asyncio.TimeoutError | ConnectionError):
        return True
    if isinstance(error, DeliveryFailed) and isinstance(error.__cause__, TransientFailure):
        return True  # a dead letter kp.dlq refused as too large: cut smaller at the retry
    return isinstance(error, KafkaError)


def broker_unreachable(error: BaseException) -> bool:
    """A failure that says the broker (or the partition's leader or coordinator) is not
    answering now, as opposed to one the handler or the data caused."""
    if isinstance(error, TransactionTimeout | ConnectionError | TimeoutError | KafkaTimeoutError):
        return True
    return isinstance(error, KafkaError) and bool(error.retriable)


async def _transact(producer: AIOKafkaProducer, write: Write) -> None:
    async with producer.transaction():
        await write(producer)


class TransactionalWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        topic: str,
        group_id: str,
        handler: PartitionHandler,
        max_records: int = 500,
        poll_timeout_ms: int = 500,
        backoff_ms: int = 200,
        backoff_max_ms: int = 10_000,
        transaction_timeout_s: float = TRANSACTION_TIMEOUT_S,
        **consumer_options: Any,
    ) -> None:
        self.settings = settings
        self.name = name
        self.topic = topic
        self.group_id = group_id
        self.handler = handler
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self.transaction_timeout_s = transaction_timeout_s
        self._producers: dict[TopicPartition, AIOKafkaProducer] = {}
        self._locks: dict[TopicPartition, asyncio.Lock] = {}
        self._owned: set[TopicPartition] = set()
        self._held: set[TopicPartition] = set()
        self._unprocessed: dict[TopicPartition, int] = {}
        self._in_flight: dict[TopicPartition, asyncio.Task[None]] = {}
        #: The group's committed offset of each partition when it was assigned here (absent:
        #: not read, the broker did not answer).
        self.committed_at_assignment: dict[TopicPartition, int] = {}
        self._stop = asyncio.Event()
        session_ms = int(settings.group_session_timeout_s * 1000)
        options: dict[str, Any] = {
            "session_timeout_ms": session_ms,
            "heartbeat_interval_ms": min(HEARTBEAT_INTERVAL_MS, session_ms // 3),
            "rebalance_timeout_ms": 60_000,
            **consumer_options,  # e.g. fetch sizes; may override the above
        }
        #: How long a member that died keeps its partitions: a restarted worker waits up to
        #: that long for its first assignment.
        self.session_timeout_s = options["session_timeout_ms"] / 1000
        self._consumer = committed_consumer(
            settings,
            group_id=group_id,
            client_id=f"{settings.client_id}-{name}",
            max_poll_records=max_records,
            **options,
        )
        self.ready = asyncio.Event()
        #: When (event-loop time) it subscribed: since then it waits for an assignment.
        self._subscribed_at: float | None = None
        #: Since when (event-loop time) its transactions fail for want of the broker, or its
        #: consumer has no group coordinator: one warning when that starts, one info when a
        #: transaction commits again, or the coordinator is back with none failing.
        self.broker_lost_at: float | None = None
        self._coordinator_lost_at: float | None = None
        #: The partitions whose transaction is failing for want of the broker meanwhile.
        self._failing: set[TopicPartition] = set()
        #: Since when (event-loop time) a transaction fails because a topic it writes to
        #: does not exist (one warning, one info when those partitions commit again), and
        #: which partitions' transactions fail so: only their batches write to that topic,
        #: so another partition's commit says nothing of it.
        self.topic_missing_since: float | None = None
        self._topic_missing_on: set[TopicPartition] = set()

    def transactional_id(self, partition: TopicPartition) -> str:
        return transactional_id_of(self.group_id, partition)

    async def _producer_for(self, partition: TopicPartition) -> AIOKafkaProducer:
        producer = self._producers.get(partition)
        if producer is None:
            producer = transactional_producer(
                self.settings, self.transactional_id(partition), request_timeout_ms=15_000
            )
            try:
                await producer.start()  # init_transactions: fences any previous owner
            except BaseException:  # a half-started client holds sockets and tasks
                await close_for_good(producer, what=f"producer of {partition.partition}")
                raise
            self._producers[partition] = producer
        return producer

    async def _drop_producer(self, partition: TopicPartition) -> None:
        producer = self._producers.pop(partition, None)
        if producer is not None:  # with a transaction pending in an outage stop() hangs
            await close_for_good(producer, what=f"producer of {partition.partition}")

    def _lock(self, partition: TopicPartition) -> asyncio.Lock:
        lock = self._locks.get(partition)
        if lock is None:
            lock = self._locks[partition] = asyncio.Lock()
        return lock

    async def _assigned(self, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions_assigned", worker=self.name, partitions=[p.partition for p in partitions]
        )
        self._consumer.pause(*partitions)  # nothing is handed out before the handler is ready
        self._owned.update(partitions)
        await self._fence_and_position(partitions)
        await self.handler.on_assigned(partitions)
        self._resume(partitions)
        self.ready.set()

    async def _fence_and_position(self, partitions: list[TopicPartition]) -> None:
        """Start the producers (fencing any previous owner), then seek to the committed
        offsets as they are after that: aiokafka reads them without KIP-447's
        require_stable, so one read before the fence could miss a commit in progress."""
        try:
            await asyncio.gather(*(self._producer_for(p) for p in partitions))
            for partition in partitions:
                committed = await self._consumer.committed(partition)
                # What the group had processed when this process took the partition
                # (0: nothing), read after the fence, before any batch of ours commits.
                self.committed_at_assignment[partition] = int(committed or 0)
                if committed is not None:
                    self._consumer.seek(partition, committed)
        except Exception as exc:  # noqa: BLE001 - the first batch retries with backoff
            log.warning("fence_on_assignment_failed", worker=self.name, error=repr(exc))

    async def _revoked(self, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions_revoked", worker=self.name, partitions=[p.partition for p in partitions]
        )
        async with contextlib.AsyncExitStack() as held:
            for partition in partitions:
                lock = self._lock(partition)
                try:  # let the transaction in flight finish (or abort)
                    await asyncio.wait_for(lock.acquire(), REVOKE_WAIT_S)
                except TimeoutError:
                    log.warning(
                        "revoke_without_lock", worker=self.name, partition=partition.partition
                    )
                else:
                    held.callback(lock.release)
                self._owned.discard(partition)
                self._held.discard(partition)
            for partition in partitions:
                await self._drop_producer(partition)
            await self.handler.on_revoked(partitions)

    # --- for handlers -----------------------------------------------------------------------

    def hold(self, *partitions: TopicPartition) -> None:
        """Keep these partitions paused (from ``on_assigned``) until ``release``."""
        self._held.update(p for p in partitions if p in self._owned)
        self._consumer.pause(*[p for p in partitions if p in self._owned])

    def release(self, *partitions: TopicPartition) -> None:
        owned = [p for p in partitions if p in self._owned]
        self._held.difference_update(owned)
        self._resume(owned)

    def _resume(self, partitions: Sequence[TopicPartition]) -> None:
        """Resume those that are ours, not held, and have no batch in flight (and are still
        assigned: aiokafka refuses to resume a partition it no longer has)."""
        assigned = self._consumer.assignment()
        self._consumer.resume(
            *[
                p
                for p in partitions
                if p in self._owned
                and p not in self._held
                and p not in self._in_flight
                and p in assigned
            ]
        )

    def health(self) -> dict[str, Any]:
        """For readiness probes: whether it joined its group (its first assignment was
        handled, possibly an empty one), the partitions held back (a router restoring
        their state), which it does not process yet, and ``clock`` while the broker
        refuses its writes' time stamps (``gateway.kafka.clock``), ``dead_letter_topic``
        while a dead letter does not fit kp.dlq (``gateway.dlq.publisher``)."""
        health: dict[str, Any] = {
            "joined": self.ready.is_set(),
            "held": sorted(p.partition for p in self._held),
        }
        if not self.ready.is_set():
            health["waiting"] = self.waiting_for()
        if recently_refused(self.name):
            health["clock"] = "ahead of the broker's: writes refused (InvalidTimestampException)"
        held_by = list(dead_letter_topics_held(self.name).values())
        if held_by:
            health["dead_letter_topic"] = held_by[0]
        return health

    def waiting_for(self) -> str:
        """Why the worker is not in its group yet, for readiness and the log."""
        if self._subscribed_at is None:
            return "its consumer has not started yet (is the broker answering?)"
        waited = asyncio.get_running_loop().time() - self._subscribed_at
        return (
            "waiting for the consumer group to assign partitions (a member that died holds "
            f"them until its session times out, up to {self.session_timeout_s:.0f} s); "
            f"waiting {waited:.0f} s"
        )

    async def _note_slow_assignment(self, stop: asyncio.Event) -> None:
        """One line when the first assignment takes longer than ``ASSIGNMENT_NOTE_S``:
        after a crash the group waits for the dead member's session to time out, and
        nothing else is logged between the revocation and the assignment meanwhile."""
        waits = [asyncio.ensure_future(self.ready.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=ASSIGNMENT_NOTE_S, return_when="FIRST_COMPLETED")
        finally:
            for waiting in waits:
                waiting.cancel()
        if not self.ready.is_set() and not stop.is_set():
            log.info("waiting_for_assignment", worker=self.name, detail=self.waiting_for())

    async def position(self, partition: TopicPartition) -> int | None:
        """The next offset of ``partition`` this worker will process (records fetched but
        not processed yet are not counted), or None when it is not ours or held."""
        async with self._lock(partition):
            if partition not in self._owned or partition in self._held:
                return None
            if partition in self._unprocessed:
                return self._unprocessed[partition]
            try:
                return int(await asyncio.wait_for(self._consumer.position(partition), 5))
            except (KafkaError, TimeoutError):
                return None

    async def transact(self, partition: TopicPartition, write: Write) -> bool:
        """Run ``write(producer)`` in one transaction of ``partition``'s producer (no input
        offsets), serialised with its batches and retried like them; ``committed`` or
        ``aborted`` is called on the handler. False when the partition is not (or no longer)
        ours, or the worker is stopping."""
        return await self._transaction(partition, write, first_offset=None)

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        await self._start_consumer(stop)
        note = asyncio.create_task(self._note_slow_assignment(stop), name=f"{self.name}-note")
        try:
            while not stop.is_set():
                self._watch_broker()
                try:
                    batches = await self._consumer.getmany(
                        timeout_ms=self.poll_timeout_ms, max_records=self.max_records
                    )
                except InvalidSessionTimeoutError:
                    # Retrying would only wait for an assignment that never comes.
                    raise ConfigurationError(
                        f"the brokers refuse the {self.name}'s group session timeout of "
                        f"{self.session_timeout_s:g} s (KPGW_GROUP_SESSION_TIMEOUT_S): it is "
                        "outside their group.min.session.timeout.ms and "
                        "group.max.session.timeout.ms; set it within them"
                    ) from None
                except KafkaError as exc:
                    log.warning("poll_failed", worker=self.name, error=repr(exc))
                    await asyncio.sleep(self.backoff_ms / 1000)
                    continue
                for partition, records in batches.items():
                    if records and not stop.is_set():
                        self._dispatch(partition, records)
        finally:
            note.cancel()
            await self._drain()
            await self._shutdown()

    def _dispatch(self, partition: TopicPartition, records: Sequence[Any]) -> None:
        """Process one partition's batch in its own task, the partition paused meanwhile."""
        self._consumer.pause(partition)
        self._unprocessed[partition] = records[0].offset
        task = asyncio.create_task(
            self._process_batch(partition, records), name=f"{self.name}-{partition.partition}"
        )
        self._in_flight[partition] = task
        task.add_done_callback(lambda done: self._batch_done(partition, done))

    def _batch_done(self, partition: TopicPartition, task: asyncio.Task[None]) -> None:
        if self._in_flight.get(partition) is task:
            del self._in_flight[partition]
        self._unprocessed.pop(partition, None)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "batch_task_failed",
                worker=self.name,
                partition=partition.partition,
                error=repr(task.exception()),
            )
        self._resume([partition])

    async def _drain(self) -> None:
        """Let the batches in flight finish (a stopping worker retries nothing); one stuck
        on a hung broker is cancelled after ``CLIENT_STOP_S`` (its transaction aborts on
        the broker's side), so the whole stop stays within ~30 s."""
        tasks = list(self._in_flight.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CLIENT_STOP_S)
            for task in pending:
                task.cancel()
            if pending:  # bounded: a batch that swallows its cancellation is left behind
                _, left = await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
                if left:
                    log.warning("batches_left_running", worker=self.name, batches=len(left))

    async def _start_consumer(self, stop: asyncio.Event) -> None:
        attempt = 0
        while True:
            try:
                await self._consumer.start()
                self._consumer.subscribe([self.topic], listener=_Listener(self))
                self._subscribed_at = asyncio.get_running_loop().time()
                return
            except KafkaError as exc:
                attempt += 1
                log.warning(
                    "consumer_start_failed", worker=self.name, attempt=attempt, error=repr(exc)
                )
                if stop.is_set():
                    return  # a deliberate stop during an outage is a clean stop
                await asyncio.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        ceiling = float(min(self.backoff_max_ms, self.backoff_ms * 2 ** min(attempt, 16)))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2)) / 1000  # noqa: S311 - jitter

    async def _process_batch(self, partition: TopicPartition, records: Sequence[Any]) -> None:
        async def write(producer: AIOKafkaProducer) -> None:
            await self.handler.process(partition, records, producer)
            await producer.send_offsets_to_transaction(
                {partition: records[-1].offset + 1}, self.group_id
            )

        await self._transaction(partition, write, first_offset=records[0].offset)

    async def _transaction(
        self, partition: TopicPartition, write: Write, *, first_offset: int | None
    ) -> bool:
        try:
            return await self._attempts(partition, write, first_offset=first_offset)
        finally:
            self._failing.discard(partition)
            self._topic_missing_on.discard(partition)  # committed, revoked or stopping
            if not self._topic_missing_on:
                self.topic_missing_since = None

    async def _attempts(
        self, partition: TopicPartition, write: Write, *, first_offset: int | None
    ) -> bool:
        attempt = 0
        async with self._lock(partition):
            while True:
                if partition not in self._owned or partition not in self._consumer.assignment():
                    return False  # lost ownership: the new owner starts at the committed offset
                try:
                    producer = await self._producer_for(partition)
                    await _within(_transact(producer, write), self.transaction_timeout_s)
                except ProducerFenced:
                    self.handler.aborted(partition)
                    log.warning("producer_fenced", worker=self.name, partition=partition.partition)
                    await self._drop_producer(partition)
                    if first_offset is not None and partition in self._consumer.assignment():
                        # Still ours: read the uncommitted batch again rather than skip it.
                        self._consumer.seek(partition, first_offset)
                    return False
                except Exception as exc:
                    self.handler.aborted(partition)
                    attempt += 1
                    transient = is_transient(exc)
                    if refused_for_clock(exc):  # not unexpected: a precise line, no trace
                        clock_refused(
                            self.name,
                            partition=partition.partition,
                            first_offset=first_offset,
                            attempt=attempt,
                        )
                    else:
                        log.warning(
                            "batch_aborted_will_retry"
                            if transient
                            else "batch_failed_unexpectedly",
                            worker=self.name,
                            partition=partition.partition,
                            first_offset=first_offset,
                            attempt=attempt,
                            error=repr(exc),
                            exc_info=not transient,
                        )
                    if isinstance(exc, UnknownTopicOrPartitionError):
                        self._topic_missing(partition, repr(exc))
                    elif broker_unreachable(exc):
                        self._failing.add(partition)
                        self._broker_lost(repr(exc))
                    await self._drop_producer(partition)  # a failed producer may be unusable
                    if self._stop.is_set():
                        return False
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                self.handler.committed(partition)
                clock_accepted(self.name)
                self._broker_back()
                self._topic_back(partition)
                return True

    def _broker_lost(
        self,
        error: str,
        detail: str = "transactions fail and are retried with backoff; nothing is lost",
        since: float | None = None,
    ) -> None:
        """The worker's own line about an outage (aiokafka's are warnings about
        connections): once, however many partitions' transactions fail meanwhile."""
        if self.broker_lost_at is None:
            self.broker_lost_at = since or asyncio.get_running_loop().time()
            log.warning("broker_unavailable", worker=self.name, error=error, detail=detail)

    def _topic_missing(self, partition: TopicPartition, error: str) -> None:
        """A topic the worker writes to is missing (deleted, or never created): the broker
        answers, so this is no outage. It was logged as ``broker_unavailable``, which sent
        an operator to look at a broker that was fine (a night-duty walkthrough: a deleted
        ``kp.partner.ZA`` held the router's partition)."""
        self._topic_missing_on.add(partition)
        if self.topic_missing_since is None:
            self.topic_missing_since = asyncio.get_running_loop().time()
            log.warning(
                "output_topic_missing",
                worker=self.name,
                error=error,
                detail="a topic this worker writes to does not exist: kpgw topics check "
                "names it and kpgw topics create creates it; the partition's batch is "
                "retried meanwhile, nothing is lost",
            )

    def _topic_back(self, partition: TopicPartition) -> None:
        """``partition`` committed: said once no partition fails for a missing topic."""
        self._topic_missing_on.discard(partition)
        if self.topic_missing_since is not None and not self._topic_missing_on:
            missing_s = asyncio.get_running_loop().time() - self.topic_missing_since
            self.topic_missing_since = None
            log.info(
                "output_topic_available_again", worker=self.name, missing_s=round(missing_s, 1)
            )

    def _watch_broker(self) -> None:
        """The outage line of a worker with nothing to process (no transaction fails to
        say it): its consumer has known no group coordinator for ``COORDINATOR_LOST_S``.
        The coordinator known again, and no transaction failing (that one says it when it
        commits), the broker is back."""
        known = coordinator_known(self._consumer)
        now = asyncio.get_running_loop().time()
        if known is False:
            lost_at = self._coordinator_lost_at = self._coordinator_lost_at or now
            if now - lost_at >= COORDINATOR_LOST_S:
                self._broker_lost(
                    f"no group coordinator for {now - lost_at:.0f} s",
                    "the worker waits for the broker; nothing is lost",
                    since=lost_at,
                )
        elif known:
            self._coordinator_lost_at = None
            if not self._failing:
                self._broker_back()

    def _broker_back(self) -> None:
        if self.broker_lost_at is not None:
            lost_s = asyncio.get_running_loop().time() - self.broker_lost_at
            self.broker_lost_at = None
            log.info("broker_available_again", worker=self.name, unavailable_s=round(lost_s, 1))

    async def _shutdown(self) -> None:
        # Bounded even with a hung broker (an SRE review measured 30 s): the producers stop
        # together, and the group notices a consumer that could not leave by its session
        # timeout. Offsets are in the transactions, so nothing is lost by not waiting.
        await close_for_good(self._consumer, what="consumer")
        await asyncio.gather(*(self._drop_producer(p) for p in list(self._producers)))
