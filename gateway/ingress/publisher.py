"""The durable hand-off: raw bytes to ``kp.inbound``, acknowledged by the broker (acks=all)
before the ingress answers 202, and never half-accepted.

Choice: a **transactional** producer (idempotent, acks=all), discarded on any failure.
Concurrent requests are grouped: a lane takes what is queued, writes it in one transaction
and commits; requests still being validated (``coming``) are waited for, ``LINGER_S`` at
most, so that they share it instead of each few verdicts beginning a transaction of their
own (each costs the ingress and the broker alike whatever it holds). If the commit does not
happen before the batch's deadline (the earliest request's), or anything fails, the lane
drops the producer without flushing (the sender task is cancelled, its connections closed)
and starts a new producer with the same ``transactional_id``: ``init_transactions`` bumps
the epoch, which fences the old one and aborts whatever transaction it left open. So a
record whose request got 503 can never become visible to a ``read_committed`` reader (the
translator, ``kpgw tail``), even when the broker only was slow and appends it later. An
idempotent-only producer cannot promise this: a batch already on the wire is appended
whenever the broker gets to it.

What remains is the commit itself: when the deadline passes after EndTxn(commit) left, the
outcome is unknown (the client got 503, the record may be committed). A lane does not start
a commit with less than ``COMMIT_MARGIN_S`` left, and a client's retry with the same key is
harmless (same tracking id, same event id downstream).

Costs: a transaction per batch (not per request); while a transaction is open
``read_committed`` readers wait at its first offset; an instance that crashes mid-batch
leaves a transaction the coordinator aborts after ``transaction_timeout_ms``. Each
instance uses its own transactional ids (host, pid, random suffix), so instances never
fence each other. While every lane's broker connection is known to be down, requests fail
at once with 503 and ``Retry-After`` instead of waiting for their deadline; lanes reconnect
in the background, so the ingress accepts again as soon as the broker is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from gateway.ingress.position import TopicPosition
from gateway.kafka.clients import release, transactional_producer
from gateway.kafka.clock import clock_accepted, clock_refused, refused_for_clock
from gateway.settings import Settings

log = structlog.get_logger(__name__)

RECONNECT_BACKOFF_S = 1.0
MIN_BUDGET_S = 0.05
SOLO_BYTES = 256 * 1024
MAX_BATCH = 256
REAP_TIMEOUT_S = 5.0
TXN_GAP_S = 0.003
#: Transactions in flight at once. Two overlap one lane's TXN_GAP_S and round trips with
#: the other's; more only split the queue into smaller transactions, and each costs the
#: ingress ~1 ms of CPU whatever it holds (AddPartitionsToTxn, Produce, EndTxn). With
#: validation in a worker process, verdicts arrive one at a time: 4 lanes carried ~6
#: requests per transaction, 2 carry ~10 (session 15, docs/performance.md).
LANES = 2
#: How long a lane that found records queued waits for the requests still on their way
#: (being validated) before it begins the transaction, so that they share it.
LINGER_S = 0.01


class BrokerUnavailable(Exception):
    def __init__(self, detail: str, retry_after_s: float = RECONNECT_BACKOFF_S) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s


class DeadlineExceeded(BrokerUnavailable):
    pass


class ClockAhead(BrokerUnavailable):
    """The broker refused the records' time stamps: this host's clock is ahead of the
    broker's (``gateway.kafka.clock``). Nothing was accepted; a retry elsewhere (another
    ingress instance) or after the clock is fixed succeeds."""


class RecordTooLarge(Exception):
    pass


class RecordsRefused(Exception):
    """The broker refused some records of a transaction, which is then not committed:
    ``outcomes`` holds each record's metadata or its error, in the group's order."""

    def __init__(self, outcomes: Sequence[object]) -> None:
        super().__init__("the broker refused records of the transaction")
        self.outcomes = outcomes


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(eq=False, slots=True)
class _Pending:
    record: OutboundRecord
    deadline: float
    future: asyncio.Future[TopicPosition]
    taken: bool = False
    abandoned: bool = False


class LaneState(Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DOWN = "down"


def kill(producer: AIOKafkaProducer) -> None:
    """Stop a producer at once, without flushing and without awaiting anything: its sender
    task is cancelled (it can start no request, EndTxn included) and its sockets are
    aborted (unsent bytes dropped, in-flight requests failed). Synchronous, so nothing can
    run between deciding to give up and the producer being unable to act.

    aiokafka has no public way to do this, so it uses internals; pyproject.toml bounds the
    aiokafka version and tests/kafka/ingress/test_publisher_kill.py checks them."""
    producer._closed = True  # also silences aiokafka's unclosed-producer warning
    sender = producer._sender
    task = sender.sender_task if sender is not None else None
    if task is not None and not task.done():
        task.cancel()
    for connection in list(getattr(producer.client, "_conns", {}).values()):
        writer = getattr(connection, "_writer", None)
        if writer is not None:
            writer.transport.abort()


async def reap(producer: AIOKafkaProducer) -> None:
    """Release what ``kill`` left, within ``REAP_TIMEOUT_S``: the sender task, its
    in-flight requests (a transactional one retries for as long as the broker is down, and
    the cancelled sender waits for it), the metadata sync task, the connections."""
    await release(producer, what="ingress producer", seconds=REAP_TIMEOUT_S)


async def hard_close(producer: AIOKafkaProducer) -> None:
    """Close without flushing: queued and unacknowledged batches are dropped, never sent."""
    kill(producer)
    await reap(producer)


@dataclass(eq=False)
class _Lane:
    publisher: InboundPublisher
    transactional_id: str
    state: LaneState = LaneState.CONNECTING
    producer: AIOKafkaProducer | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    wanted: asyncio.Event = field(default_factory=asyncio.Event)
    busy: bool = False

    async def connector(self) -> None:
        """Keep a started producer while one is wanted; retry with backoff."""
        settings = self.publisher.settings
        deadline_s = settings.ingress.request_deadline_s
        # Short enough that aiokafka's own timeouts end a hung bootstrap before ours does.
        request_timeout_ms = int(min(max(deadline_s, 1.0), 10.0) * 1000)
        connect_timeout_s = request_timeout_ms / 1000 + 5.0
        while True:
            await self.wanted.wait()
            producer = transactional_producer(
                settings,
                self.transactional_id,
                transaction_timeout_ms=int(max(5.0, 3 * deadline_s) * 1000),
                request_timeout_ms=request_timeout_ms,
                max_request_size=max(1024 * 1024, settings.ingress.max_body_bytes + 64 * 1024),
                max_batch_size=512 * 1024,
                linger_ms=0,
            )
            try:
                async with asyncio.timeout(connect_timeout_s):
                    await producer.start()  # init_transactions: fences and aborts our past
            except Exception as exc:  # noqa: BLE001 - any failure means "not connected yet"
                await hard_close(producer)
                if self.state is not LaneState.DOWN:
                    log.warning(
                        "ingress_producer_down", lane=self.transactional_id, error=repr(exc)
                    )
                self.state = LaneState.DOWN
                await asyncio.sleep(RECONNECT_BACKOFF_S)
                continue
            except BaseException:
                await hard_close(producer)
                raise
            self.producer = producer
            self.wanted.clear()
            self.state = LaneState.CONNECTED
            self.connected.set()
            log.info("ingress_producer_connected", lane=self.transactional_id)

    def drop(self, *, down: bool) -> AIOKafkaProducer | None:
        """Kill the producer now (synchronously); ``reap`` it afterwards."""
        producer, self.producer = self.producer, None
        self.connected.clear()
        self.state = LaneState.DOWN if down else LaneState.CONNECTING
        self.wanted.set()
        if producer is not None:
            kill(producer)
        return producer

    async def discard(self, *, down: bool) -> None:
        producer = self.drop(down=down)
        if producer is not None:
            await reap(producer)

    async def worker(self) -> None:
        queue = self.publisher.queue
        while True:
            await self.connected.wait()
            async with self.publisher.gathering:  # one lane gathers a batch at a time
                await self.publisher.gather()
                batch = [queue.get_nowait()]
                while len(batch) < MAX_BATCH and not queue.empty():
                    batch.append(queue.get_nowait())
            live = [item for item in batch if not item.abandoned]
            for item in live:
                item.taken = True
            large = [item for item in live if len(item.record.value) > SOLO_BYTES]
            small = [item for item in live if len(item.record.value) <= SOLO_BYTES]
            for group in [*([item] for item in large), small]:
                if group:
                    self.busy = True
                    try:
                        await self.deliver(group)
                    finally:
                        self.busy = False
                    # Let the coordinator finish the markers before this producer begins
                    # again: otherwise AddPartitionsToTxn meets CONCURRENT_TRANSACTIONS and
                    # aiokafka backs off 20-100 ms. The other lanes take the queue meanwhile.
                    await asyncio.sleep(TXN_GAP_S)

    async def deliver(self, group: Sequence[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        live: list[_Pending] = []
        for item in group:
            if item.deadline - now < MIN_BUDGET_S:
                _fail(item, DeadlineExceeded("the request deadline passed before the send"))
            else:
                live.append(item)
        if not live:
            return
        deadline = min(item.deadline for item in live)
        try:
            positions = await self._transact(live, deadline)
        except RecordsRefused as refused:
            await self._refused(live, refused)
        except MessageSizeTooLargeError:
            await self._give_up(
                live, RecordTooLarge("the broker refuses records this large"), down=False
            )
        except TimeoutError:
            log.warning("ingress_batch_timed_out", lane=self.transactional_id, records=len(live))
            late = DeadlineExceeded("the broker did not acknowledge within the deadline")
            await self._give_up(live, late, down=True)
        except Exception as exc:  # noqa: BLE001 - whatever failed, nothing was committed
            await self._failed(live, exc)
        except asyncio.CancelledError:  # shutting down mid-batch: the same as a failure
            self.drop(down=True)
            for item in live:
                _fail(item, BrokerUnavailable("the ingress is shutting down"))
            raise
        else:
            clock_accepted("ingress")
            for item, position in zip(live, positions, strict=True):
                if not item.future.done():
                    item.future.set_result(position)

    async def _refused(self, live: Sequence[_Pending], refused: RecordsRefused) -> None:
        """Some records were refused, so the transaction was not committed. When each refusal
        is a record too large, each request hears about its own record (413, or 503 and
        "send it again" for a neighbour that was fine); anything else fails the group."""
        errors = [o for o in refused.outcomes if isinstance(o, BaseException)]
        others = [error for error in errors if not isinstance(error, MessageSizeTooLargeError)]
        if others:  # the cause that concerns every record (a clock, an outage) speaks
            await self._failed(live, others[0])
            return
        producer = self.drop(down=False)
        for item, outcome in zip(live, refused.outcomes, strict=True):
            _fail(
                item,
                RecordTooLarge("the broker refuses records this large")
                if isinstance(outcome, BaseException)
                else BrokerUnavailable(
                    "another request's record in the same transaction was refused, so none "
                    "was written; send it again",
                    retry_after_s=1.0,
                ),
            )
        if producer is not None:
            await reap(producer)

    async def _failed(self, live: Sequence[_Pending], exc: BaseException) -> None:
        """The group's transaction failed (nothing of it was committed): answer each."""
        if refused_for_clock(exc):
            # The connection is fine: the other lanes need not reconnect (down=False).
            clock_refused("ingress", lane=self.transactional_id, records=len(live))
            ahead = ClockAhead(
                "the broker refused the gateway's time stamps: the gateway host's clock "
                "is ahead of the broker's",
                retry_after_s=5.0,
            )
            await self._give_up(live, ahead, down=False)
            return
        log.warning("ingress_batch_failed", lane=self.transactional_id, error=repr(exc))
        error = BrokerUnavailable(f"the broker refused the batch ({type(exc).__name__})")
        await self._give_up(live, error, down=True)

    async def _give_up(self, live: Sequence[_Pending], error: Exception, *, down: bool) -> None:
        """Kill the producer first (nothing it holds can be committed any more), answer the
        requests, then release its resources."""
        producer = self.drop(down=down)
        for item in live:
            _fail(item, error)
        if down:
            await self.publisher.suspect_idle_lanes()
        if producer is not None:
            await reap(producer)

    async def _transact(self, live: Sequence[_Pending], deadline: float) -> list[TopicPosition]:
        """One transaction holding ``live``, committed before ``deadline`` or not at all."""
        producer = self.producer
        if producer is None:
            raise BrokerUnavailable("the broker connection was lost")
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(deadline):
            await producer.begin_transaction()
            sent = [
                await producer.send(
                    self.publisher.topic,
                    item.record.value,
                    key=item.record.key,
                    headers=item.record.headers,
                )
                for item in live
            ]
            # aiokafka commits a transaction even when the broker refused one of its
            # batches: every record must be acknowledged first, or the whole group fails
            # (its producer is dropped, which aborts the transaction) and none is written.
            outcomes = await asyncio.gather(*sent, return_exceptions=True)
            if any(isinstance(outcome, BaseException) for outcome in outcomes):
                raise RecordsRefused(outcomes)
            acknowledged = [
                outcome for outcome in outcomes if not isinstance(outcome, BaseException)
            ]
            if loop.time() > deadline - self.publisher.commit_margin_s:
                raise TimeoutError("too little time left to commit")
            await producer.commit_transaction()
        return [TopicPosition.of(metadata) for metadata in acknowledged]


def _fail(item: _Pending, exc: Exception) -> None:
    if not item.future.done():
        item.future.set_exception(exc)


class InboundPublisher:
    def __init__(self, settings: Settings, *, lanes: int = LANES) -> None:
        self.settings = settings
        self.topic = f"{settings.topic_prefix}inbound"
        self.commit_margin_s = min(0.25, settings.ingress.request_deadline_s / 10)
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        suffix = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lanes = [
            _Lane(self, f"{settings.client_id}-ingress-{suffix}-{n}") for n in range(lanes)
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.accepted = 0
        #: Requests that will publish soon (``coming``); ``_moved`` is set when one
        #: publishes or leaves.
        self.on_the_way = 0
        self._moved = asyncio.Event()
        self.gathering = asyncio.Lock()

    async def start(self) -> None:
        for lane in self.lanes:
            lane.wanted.set()
            self._tasks.append(asyncio.create_task(lane.connector(), name="ingress-connect"))
            self._tasks.append(asyncio.create_task(lane.worker(), name="ingress-lane"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks.clear()
        for lane in self.lanes:
            await lane.discard(down=True)
        while not self.queue.empty():
            _fail(self.queue.get_nowait(), BrokerUnavailable("the ingress is shutting down"))

    @contextlib.contextmanager
    def coming(self) -> Iterator[None]:
        """Around a request's work before it publishes (its validation in a worker): a
        lane waits up to ``LINGER_S`` for such requests, so that they share a transaction."""
        self.on_the_way += 1
        try:
            yield
        finally:
            self.on_the_way -= 1
            self._moved.set()

    async def gather(self) -> None:
        """Return once records are queued and no request is on its way any more, or
        ``LINGER_S`` after the first record, or with ``MAX_BATCH`` records queued. Nothing
        is taken from the queue meanwhile, so a lane cancelled here loses no record."""
        while self.queue.empty():
            self._moved.clear()
            await self._moved.wait()
        until = asyncio.get_running_loop().time() + LINGER_S
        while self.on_the_way and self.queue.qsize() < MAX_BATCH:
            self._moved.clear()
            try:
                async with asyncio.timeout_at(until):
                    await self._moved.wait()
            except TimeoutError:
                return

    async def suspect_idle_lanes(self) -> None:
        """One lane's broker failure makes every idle lane's connection suspect: drop them
        too, so that requests fail at once (503) instead of each lane discovering the
        outage by waiting out a request's deadline. They reconnect in the background."""
        dropped = [
            lane.drop(down=True)
            for lane in self.lanes
            if lane.state is LaneState.CONNECTED and not lane.busy
        ]
        for producer in dropped:
            if producer is not None:
                await reap(producer)

    @property
    def connected(self) -> bool:
        return any(lane.state is LaneState.CONNECTED for lane in self.lanes)

    async def publish(self, record: OutboundRecord, deadline: float) -> TopicPosition:
        """Return where the record is once the broker acknowledged it committed; raise
        ``BrokerUnavailable`` (or ``DeadlineExceeded``, ``RecordTooLarge``) when it is not,
        in which case it never will be."""
        if not self._tasks:
            raise BrokerUnavailable("the ingress is not running")
        if all(lane.state is LaneState.DOWN for lane in self.lanes):
            raise BrokerUnavailable("the message broker is unreachable")
        loop = asyncio.get_running_loop()
        item = _Pending(record, deadline, loop.create_future())
        self.queue.put_nowait(item)
        self._moved.set()
        timer = loop.call_at(deadline, _expire, item)
        try:
            position = await item.future  # a lane that took it settles it within the deadline
        finally:
            timer.cancel()
        self.accepted += 1
        return position


def _expire(item: _Pending) -> None:
    """The deadline passed while the item was still queued: no lane will send it."""
    if not item.taken and not item.future.done():
        item.abandoned = True
        item.future.set_exception(DeadlineExceeded("the broker did not become available in time"))
