"""The router's partition handler for ``TransactionalWorker``: restore on assignment,
route each batch through the pure core inside the batch's transaction, apply staged states
on commit, and tick due timers in transactions of the partition's own producer.
``gateway.router.driver`` wires it to the worker; docs/router.md explains the choices."""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition

from gateway.dlq.headers import Failure, Origin
from gateway.dlq.limit import RecordLimitReader
from gateway.dlq.publisher import DeadLetterPublisher
from gateway.errors import (
    MessageRejected,
    NewerRouterStates,
    TransientFailure,
    UndecodableEvent,
)
from gateway.events import record_time
from gateway.kafka.clients import wait_bounded
from gateway.kafka.outbox import Outbox
from gateway.kafka.transactional import TransactionalWorker
from gateway.metrics import (
    ROUTER_CLOCK_BEHIND,
    ROUTER_CLOCK_JUMP,
    ROUTER_STATE_MISSING,
    pipeline_metrics,
)
from gateway.registry import ParticipantRegistry
from gateway.registry.watch import RegistryWatcher
from gateway.router.clock_guard import BehindWatch, ClockChange, ClockGuard
from gateway.router.core import CertificateStateFull, Decision, decide, tick
from gateway.router.holds import HeldPartitions
from gateway.router.records import DeliveryState, TopicKind, status_record
from gateway.router.restore import (
    NewerStatesHold,
    Restored,
    restore_partitions,
    state_headers,
)
from gateway.router.state import state_to_bytes
from gateway.router.store import PartitionStore, timers_fingerprint
from gateway.router.timers import RouterConfig, is_settled, next_deadline
from gateway.router.topic_gate import TopicCheckedRegistry
from gateway.router.wire import decode_event
from gateway.settings import Settings
from gateway.text import audit_text

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]
STAGE = "router"


def wall_clock() -> datetime:
    return datetime.now(UTC)


#: How long no kp.events record may show this host's clock behind before the router says
#: it is not any more (records read from a backlog prove nothing either way).
CLOCK_BEHIND_QUIET_S = 600.0


class MisroutedEvent(MessageRejected):
    """The record key is not the event's certificate id: its state lives elsewhere."""

    code = "KEY_MISMATCH"


class StateTooLarge(MessageRejected):
    """Taking the event in would make the certificate's state larger than a changelog
    record may be: the event is refused (dead-lettered), the state stays as it was."""

    code = "STATE_TOO_LARGE"


def router_config(settings: Settings) -> RouterConfig:
    """The pure core's settings from the gateway's."""
    return replace(
        RouterConfig.from_days(settings.router.retention_days),
        max_events=settings.router.max_events_per_certificate,
        max_events_per_sender=settings.router.max_events_per_sender,
    )


#: The largest state written to the changelog: under the 1 MiB a topic takes by default.
MAX_STATE_BYTES = 900 * 1024
#: How long a cancelled restore (its partitions revoked, the router stopping) is waited
#: for; one that does not end by then (a client that swallows its cancellation) is left.
RESTORE_STOP_S = 30.0


@dataclass(eq=False, slots=True)
class Slot:
    """One assigned input partition: its store, restore and catch-up progress."""

    tp: TopicPartition
    store: PartitionStore
    restored: bool = False
    catch_up_to: int | None = None
    caught_up: bool = False
    in_flight: int = 0  # input records of the open transaction
    started_mono: float = 0.0  # when the open transaction's batch began (time.monotonic)
    stamped: bool = False  # the open transaction wrote records (the broker checks their time)


@dataclass(slots=True)
class Counters:
    events: int = 0
    committed_records: int = 0
    dead_lettered: int = 0
    outcomes: int = 0
    ticked: int = 0
    restored_states: int = 0
    restored_partitions: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


class RouterHandler:
    def __init__(
        self,
        settings: Settings,
        registry: RegistryWatcher,
        *,
        clock: Clock = wall_clock,
        monotonic: Callable[[], float] | None = None,
    ):
        self.settings = settings
        self.prefix = settings.topic_prefix
        self.events_topic = f"{self.prefix}events"
        self.changelog_topic = f"{self.prefix}router.changelog"
        self.registry = TopicCheckedRegistry(settings, registry)
        self.clock = clock
        # The clock-jump guard compares the wall clock with the monotonic one. An injected
        # clock (the demo's day per second, tests) is its own course: never a jump.
        if monotonic is None:
            monotonic = time.monotonic if clock is wall_clock else lambda: clock().timestamp()
        self.monotonic = monotonic
        self.clock_guard = ClockGuard(timedelta(seconds=settings.router.clock_jump_threshold_s))
        # Only the host's own clock can be behind the records; an injected one runs its
        # own course (the demo's is days ahead of them).
        self.clock_behind = (
            BehindWatch(
                timedelta(seconds=settings.router.clock_jump_threshold_s), CLOCK_BEHIND_QUIET_S
            )
            if clock is wall_clock
            else None
        )
        self.group_id = settings.router.group_id
        self.config = router_config(settings)
        self.tick_limit = settings.router.batch_max_records
        self.max_state_bytes = MAX_STATE_BYTES
        self.dead_letters = DeadLetterPublisher(
            f"{self.prefix}dlq",
            component=STAGE,
            read_limit=RecordLimitReader(settings, f"{self.prefix}dlq"),
        )
        self.slots: dict[TopicPartition, Slot] = {}
        self._partitions: int | None = None
        self.counters = Counters()
        self.metrics = pipeline_metrics()
        self._worker: TransactionalWorker | None = None
        self._restores: dict[asyncio.Task[None], frozenset[TopicPartition]] = {}
        #: Partitions held for states a newer router wrote (``NewerRouterStates``).
        self.holds = HeldPartitions(
            settings, events_topic=self.events_topic, changelog_topic=self.changelog_topic
        )
        self._scheduled_with: ParticipantRegistry | None = registry.current()
        self._fingerprint: tuple[ParticipantRegistry | None, str] = (None, "")

    @property
    def worker(self) -> TransactionalWorker:
        if self._worker is None:
            raise RuntimeError("RouterHandler.attach(worker) was not called")
        return self._worker

    def attach(self, worker: TransactionalWorker) -> None:
        self._worker = worker
        self.metrics.watch_router(self)

    # --- assignment and restore ---------------------------------------------------------

    async def on_assigned(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self.slots[tp] = Slot(tp, PartitionStore(tp.partition, self.config))
        if partitions:
            self.worker.hold(*partitions)
            self._start_restore(frozenset(partitions))

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        revoked = set(partitions)
        for tp in revoked:
            self.slots.pop(tp, None)
            self.holds.revoked(tp)
        for task, covered in list(self._restores.items()):
            if covered & revoked:
                task.cancel()
                await wait_bounded(task, RESTORE_STOP_S)
                rest = frozenset(tp for tp in covered - revoked if tp in self.slots)
                if rest:
                    self._start_restore(rest)

    def _start_restore(self, partitions: frozenset[TopicPartition]) -> None:
        task = asyncio.create_task(self._restore(partitions), name="router-restore")
        self._restores[task] = partitions
        task.add_done_callback(lambda done: self._restores.pop(done, None))

    async def _restore(self, partitions: frozenset[TopicPartition]) -> None:
        """Restore ``partitions``, retrying with backoff. One refused for a newer router's
        states stays held: it is rechecked by reading only what its changelog got since
        (``HeldPartitions.recheck``), with a wait doubling up to ``holds.retry_s[1]``, and restored
        in full once none of those states is the latest any more."""
        attempt = held_round = 0
        todo = sorted(partitions)
        while todo:
            try:
                fresh = [tp for tp in todo if tp not in self.holds]
                fresh += await self.holds.recheck([tp for tp in todo if tp in self.holds])
                if fresh:
                    await restore_partitions(
                        self.settings,
                        changelog=self.changelog_topic,
                        events=self.events_topic,
                        partitions=[tp.partition for tp in sorted(fresh)],
                        on_restored=self._restored,
                        timers=self._timers(self.registry.current()),
                        on_held=self._held,
                    )
            except NewerRouterStates:
                held_round = 0  # a new hold (``_held`` said so): recheck it soon
            except Exception as exc:  # noqa: BLE001 - broker trouble: retry, held
                attempt += 1
                log.warning("restore_failed_will_retry", attempt=attempt, error=repr(exc))
                await asyncio.sleep(min(10.0, 0.2 * 2**attempt))
                todo = [tp for tp in todo if tp in self.slots and not self.slots[tp].restored]
                continue
            todo = [tp for tp in todo if tp in self.slots and not self.slots[tp].restored]
            if todo:  # each one left is held
                await asyncio.sleep(self.holds.retry_wait(held_round))
                held_round += 1

    def _held(self, hold: NewerStatesHold) -> None:
        if TopicPartition(self.events_topic, hold.partition) in self.slots:  # not revoked
            self.holds.hold(hold)

    def health(self) -> dict[str, Any]:
        """The worker's ``health()``, and why partitions are held for newer states."""
        health = dict(self.worker.health())
        held = self.holds.reason()
        if held is not None:
            health["newer_states"] = held
        if self.clock_behind is not None and self.clock_behind.gap is not None:
            behind = round(self.clock_behind.gap.total_seconds())
            health["clock_behind"] = (
                f"this host's clock is {behind} s behind the kp.events records it reads "
                "(or a translator's is ahead): overdue and orphan reports come that late"
            )
        return health

    def _restored(self, result: Restored) -> None:
        tp = TopicPartition(self.events_topic, result.partition)
        slot = self.slots.get(tp)
        if slot is None:
            return
        slot.store.load(result.states, result.encoded, self.registry.current())
        slot.catch_up_to = result.catch_up_to
        slot.restored = True
        self.counters.restored_states += len(slot.store)
        self.counters.restored_partitions += 1
        log.info(
            "partition_restored",
            partition=result.partition,
            states=len(slot.store),
            decoded=len(result.states),
            changelog_records=result.records,
            tombstones=result.tombstones,
            corrupt=result.corrupt,
            changelog_offsets=[result.start_offset, result.end_offset],
            catch_up_to=result.catch_up_to,
            seconds=round(result.seconds, 3),
        )
        self._check_state_kept(tp, result)
        self.worker.release(tp)

    def _check_state_kept(self, tp: TopicPartition, result: Restored) -> None:
        """A changelog partition that never held a record is right for a new deployment,
        and a loss when the router's group had already processed events there: the
        changelog was deleted or recreated, and the certificates waiting for a confirmation
        are forgotten (their confirmations become orphans, their overdue never comes). That
        must not pass as an info line (a recovery review). A partition whose events so far
        were all dead letters never wrote a state either, hence "or never written"."""
        processed = self.worker.committed_at_assignment.get(tp)
        if processed is None or result.end_offset > 0:
            return  # not known (the broker did not say), or the changelog has records
        if processed:
            ROUTER_STATE_MISSING[tp.partition] = processed
            log.warning(
                "router_state_missing",
                partition=tp.partition,
                events_processed_up_to=processed,
                hint="the changelog partition never held a record although kp.events was "
                "processed there: its certificates' state is lost (or every event so far "
                "was dead-lettered); stop the routers and run `kpgw router rebuild` "
                "(docs/router.md, 'A lost changelog')",
            )
        else:
            ROUTER_STATE_MISSING.pop(tp.partition, None)

    # --- batches ------------------------------------------------------------------------

    async def process(
        self, partition: TopicPartition, records: Sequence[Any], producer: AIOKafkaProducer
    ) -> None:
        slot = self.slots.get(partition)
        if slot is None or not slot.restored:
            raise TransientFailure(f"partition {partition.partition} is not restored yet")
        slot.in_flight = len(records)
        slot.started_mono = self.monotonic()
        if self.clock_behind is not None and records:
            self._check_behind(max(record.timestamp for record in records))
        slot.stamped = False
        # The translator may already route by a newer registry; topics are the timer's.
        await self.registry.refresh(create_topics=False)
        registry = self.registry.current()
        outbox = Outbox(producer)
        for record in records:
            structlog.contextvars.bind_contextvars(partition=record.partition, offset=record.offset)
            started = time.perf_counter()
            try:
                await self._route(record, slot, registry, outbox)
            finally:
                self.metrics.routing_seconds.observe(time.perf_counter() - started)
                structlog.contextvars.unbind_contextvars("partition", "offset", "certificate_id")
        await outbox.flush()
        slot.stamped = outbox.sent > 0

    async def _route(
        self, record: Any, slot: Slot, registry: ParticipantRegistry, outbox: Outbox
    ) -> None:
        try:
            event, body = decode_event(record.value)
        except UndecodableEvent as exc:
            await self._dead_letter(record, outbox, Failure.of(exc, stage=STAGE))
            return
        certificate_id = event.certificate_id
        # On every line about the event: the document's text, bounded and escaped.
        structlog.contextvars.bind_contextvars(certificate_id=audit_text(certificate_id))
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        if key != certificate_id:
            error = MisroutedEvent(
                f"record key {key!r} is not the certificate id {certificate_id!r}: "
                "events must be keyed by certificate id (co-partitioning)"
            )
            await self._dead_letter(record, outbox, Failure.of(error, stage=STAGE))
            return
        try:
            state = slot.store.get(certificate_id)
            decision = decide(state, event, self.clock(), registry, self.config, body=body)
            encoded = self._encoded_state(decision)
        except (CertificateStateFull, StateTooLarge) as exc:
            # Refused by the core: dead-lettered for the operators, and the sender hears it.
            await self._dead_letter(record, outbox, Failure.of(exc, stage=STAGE))
            status = status_record(
                event,
                DeliveryState.DEAD_LETTERED,
                self.clock(),
                reason=exc.reason,
                detail=exc.message[:500],
            )
            emissions = () if status is None else (status,)
            await self._write(Decision(state, emissions), certificate_id, slot, registry, outbox)
            return
        except Exception as exc:  # noqa: BLE001 - a bug in the core: a poison pill
            # Not log.exception: the error's text may quote the document. Bounded and
            # escaped here, the frames only; the dead letter keeps the whole trace.
            log.error(
                "decide_crashed",
                event_id=event.event_id,
                error=audit_text(repr(exc)),
                trace="".join(traceback.format_tb(exc.__traceback__))[-2000:],
            )
            failure = Failure.of(exc, stage=STAGE, reason="POISON_PILL")
            await self._dead_letter(record, outbox, failure)
            return
        self.counters.events += 1
        await self._write(decision, certificate_id, slot, registry, outbox, encoded=encoded)

    def _encoded_state(self, decision: Decision) -> bytes | None:
        """The changed state as the changelog record's value (None: unchanged, or a
        tombstone); ``StateTooLarge`` when it would not fit a record."""
        if not decision.changed or decision.state is None:
            return None
        value = state_to_bytes(decision.state)
        if len(value) > self.max_state_bytes:
            raise StateTooLarge(
                f"certificate {decision.state.certificate_id}'s state would be "
                f"{len(value):,} bytes with this document (at most {self.max_state_bytes:,}); "
                "it is not taken in: ask the sender why its documents are so many or so large"
            )
        return value

    def _timers(self, registry: ParticipantRegistry) -> str:
        if self._fingerprint[0] is not registry:
            self._fingerprint = (registry, timers_fingerprint(registry, self.config))
        return self._fingerprint[1]

    async def _partition_count(self, outbox: Outbox) -> int:
        """kp.events' partition count (the producer's metadata, cached by it)."""
        if self._partitions is None:
            self._partitions = len(await outbox.producer.partitions_for(self.changelog_topic))
        return self._partitions

    async def _write(
        self,
        decision: Decision,
        certificate_id: str,
        slot: Slot,
        registry: ParticipantRegistry,
        outbox: Outbox,
        *,
        encoded: bytes | None = None,
    ) -> None:
        partition = slot.tp.partition
        if decision.changed:
            value, headers, deadline = None, None, None
            settled = False
            if decision.state is not None:
                value = encoded if encoded is not None else state_to_bytes(decision.state)
                deadline = next_deadline(decision.state, registry, self.config)
                headers = state_headers(
                    deadline, self._timers(registry), await self._partition_count(outbox)
                )
                settled = is_settled(decision.state, registry)
            # A settled state is rarely read again: kept as its changelog bytes it takes a
            # fifth of the memory (a soak review saw the heap grow with uptime).
            slot.store.stage(
                certificate_id, decision.state, (registry, deadline), value if settled else None
            )
            await outbox.send(
                self.changelog_topic,
                certificate_id.encode(),
                value,
                partition=partition,
                headers=headers,
            )
        for emission in decision.emissions:
            on_outcomes = emission.topic is TopicKind.OUTCOMES
            await outbox.send(
                emission.topic_name(self.prefix),
                emission.key.encode(),
                emission.to_bytes(),
                partition=partition if on_outcomes else None,  # co-partitioned with kp.events
            )
            if on_outcomes:
                kind, pair = str(emission.value["outcome"]), emission.value["pair"]
                self.metrics.outcome(slot.tp, kind, pair["exporter"], pair["importer"])
                self.counters.outcomes += 1
                self.counters.by_outcome[kind] = self.counters.by_outcome.get(kind, 0) + 1
                log.info("outcome", outcome=kind, outcome_id=emission.value["outcome_id"])

    async def _dead_letter(self, record: Any, outbox: Outbox, failure: Failure) -> None:
        self.counters.dead_lettered += 1
        tp = TopicPartition(record.topic, record.partition)
        self.metrics.dead_letter(STAGE, tp, failure.reason)
        origin = Origin(
            record.topic, record.partition, record.offset, record.timestamp, self.group_id
        )
        delivery = await self.dead_letters.publish(
            outbox.producer,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
            origin=origin,
            failure=failure,
        )
        outbox.watch(delivery)

    def committed(self, partition: TopicPartition) -> None:
        self.metrics.committed(STAGE, partition)
        slot = self.slots.get(partition)
        if slot is not None:
            slot.store.commit(self.registry.current())
            self.counters.committed_records += slot.in_flight
            slot.in_flight = 0
            # Only records carry time stamps: a batch that wrote none proves nothing.
            if slot.stamped and self.clock_guard.confirm(slot.started_mono):
                ROUTER_CLOCK_JUMP.pop(self.group_id, None)
                log.warning(
                    "router_clock_confirmed",
                    partition=partition.partition,
                    wall=self.clock().isoformat(timespec="seconds"),
                    detail="the broker accepted records stamped with the new time: the "
                    "timer's overdue, orphan and retirement actions resume",
                )

    def aborted(self, partition: TopicPartition) -> None:
        self.metrics.aborted(STAGE, partition)
        slot = self.slots.get(partition)
        if slot is not None:
            slot.store.abort()
            slot.in_flight = 0

    # --- the wall-clock timer -----------------------------------------------------------

    async def run_timer(self, stop: asyncio.Event) -> None:
        interval = self.settings.router.timer_interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            try:
                await self.registry.refresh()
                await self.tick_due()
            except Exception as exc:
                log.exception("timer_failed", error=repr(exc))

    async def tick_due(self) -> int:
        """Tick every due state of every restored, caught-up partition; returns how many
        states changed."""
        registry = self.registry.current()
        if registry is not self._scheduled_with:
            if self._scheduled_with is not None and self._timers(registry) != self._timers(
                self._scheduled_with
            ):
                await self._reschedule(registry)  # deadlines depend on the pairs
            self._scheduled_with = registry
        now = self.clock()
        if not self._clock_trusted(now):
            return 0
        changed = 0
        for tp, slot in list(self.slots.items()):
            if not slot.restored or not await self._caught_up(slot):
                continue
            while self.slots.get(tp) is slot and slot.store.has_due(now):
                count = [0]

                async def write(
                    producer: AIOKafkaProducer, slot: Slot = slot, count: list[int] = count
                ) -> None:
                    count[0] = await self._tick(slot, now, registry, producer)

                if not await self.worker.transact(tp, write) or count[0] == 0:
                    break
                changed += count[0]
        return changed

    def _check_behind(self, newest_ms: int) -> None:
        watch = self.clock_behind
        assert watch is not None
        now = self.clock()
        # A stamp no clock can show (any negative one, or past the calendar, which
        # ``fromtimestamp`` raised for at every attempt of the batch) proves nothing.
        newest = record_time(newest_ms)
        if newest is None:
            return
        if watch.observe(newest, now, self.monotonic()) and watch.gap is not None:
            log.warning(
                "router_clock_behind",
                behind_s=round(watch.gap.total_seconds(), 1),
                wall=now.isoformat(timespec="seconds"),
                record_time=newest.isoformat(timespec="seconds"),
                hint="kp.events records are stamped later than this host's clock: this "
                "host's clock is behind (or a translator host's is ahead); overdue and "
                "orphan reports come that much late; check the hosts' time (NTP)",
            )
        if watch.gap is not None:
            ROUTER_CLOCK_BEHIND[self.group_id] = watch.gap.total_seconds()

    def _clock_trusted(self, now: datetime) -> bool:
        """Read both clocks into the guard: False while a forward jump of the wall clock
        is held (``gateway.router.clock_guard``), and the timer then acts on nothing."""
        guard = self.clock_guard
        change = guard.observe(now, self.monotonic())
        if self.clock_behind is not None and self.clock_behind.expire(self.monotonic()):
            ROUTER_CLOCK_BEHIND.pop(self.group_id, None)
            log.info("router_clock_behind_cleared", wall=now.isoformat(timespec="seconds"))
        if change is ClockChange.JUMPED and guard.jump is not None:
            log.warning(
                "router_clock_jumped",
                jump_s=round(guard.jump.total_seconds(), 1),
                wall=now.isoformat(timespec="seconds"),
                hint="the wall clock moved forward that much more than the monotonic clock "
                "since the last tick: overdue, orphan and retirement are held until the "
                "broker accepts records stamped with the new time or the clock returns; "
                "check the host's time (NTP); a restart releases the hold",
            )
        elif change is ClockChange.RESTORED:
            log.warning("router_clock_restored", wall=now.isoformat(timespec="seconds"))
        elif change is ClockChange.STEPPED_BACK:
            log.warning(
                "router_clock_stepped_back",
                wall=now.isoformat(timespec="seconds"),
                detail="the wall clock went back: timers fire that much later",
            )
        if guard.jump is not None:
            ROUTER_CLOCK_JUMP[self.group_id] = guard.jump.total_seconds()
            return False
        ROUTER_CLOCK_JUMP.pop(self.group_id, None)
        return True

    async def _reschedule(self, registry: ParticipantRegistry) -> None:
        for slot in list(self.slots.values()):
            if slot.restored:
                ids = slot.store.certificate_ids()
                for start in range(0, len(ids), 500):
                    slot.store.reschedule(ids[start : start + 500], registry)
                    await asyncio.sleep(0)  # heartbeats go on
        log.info("deadlines_rescheduled")

    async def _caught_up(self, slot: Slot) -> bool:
        if not slot.caught_up:
            position = await self.worker.position(slot.tp)
            target = slot.catch_up_to
            if position is None or target is None or position < target:
                return False
            slot.caught_up = True
            log.info("partition_caught_up", partition=slot.tp.partition, position=position)
        return True

    async def _tick(
        self, slot: Slot, now: datetime, registry: ParticipantRegistry, producer: AIOKafkaProducer
    ) -> int:
        outbox = Outbox(producer)
        changed = 0
        for certificate_id in slot.store.take_due(now, self.tick_limit):
            state = slot.store.get(certificate_id)
            if state is None:
                continue
            structlog.contextvars.bind_contextvars(
                certificate_id=certificate_id, partition=slot.tp.partition
            )
            try:
                try:
                    decision = tick(state, now, registry, self.config)
                except Exception as exc:
                    log.exception("tick_crashed", error=repr(exc))
                    continue
                if decision.changed:
                    changed += 1
                    self.counters.ticked += 1
                    await self._write(decision, certificate_id, slot, registry, outbox)
            finally:
                structlog.contextvars.unbind_contextvars("certificate_id", "partition")
        await outbox.flush()
        return changed

    async def close(self) -> None:
        for task in list(self._restores):
            task.cancel()
            await wait_bounded(task, RESTORE_STOP_S)
        self.holds.clear()
        if self.clock_behind is not None:  # a stopped router reads nothing: no gap to show
            ROUTER_CLOCK_BEHIND.pop(self.group_id, None)
