"""The workers' Prometheus metrics (docs/metrics.md lists every name, type and label):
translation and routing latency, outcomes, dead letters, consumer lag, pending
certificates; one ``PipelineMetrics`` per process (``pipeline_metrics()``), which every
ingress of the process registers into its own registry, so under ``kpgw run`` one
``GET /metrics`` shows all components.

Outcomes and dead letters are counted when their transaction commits (an aborted batch is
processed again and must not count twice). Consumer lag is sampled every few seconds in
each process (``sample_lag``, run by the ingress, or by ``gateway.ops_http`` in a
worker-only process): the last stable offset (read_committed) minus the position of each
assigned partition of every worker in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from gateway import __version__
from gateway.kafka.clients import close_for_good, committed_consumer
from gateway.registry.watch import RELOAD_FAILURES
from gateway.settings import Settings

log = structlog.get_logger(__name__)
#: Per document / per event: sub-millisecond work, a slow tail from schema validation.
WORK_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5)
LAG_INTERVAL_S = 5.0
POSITION_TIMEOUT_S = 5.0


class _Worker(Protocol):
    async def position(self, partition: TopicPartition) -> int | None: ...

    def health(self) -> Mapping[str, Any]: ...


class _HasStore(Protocol):
    @property
    def store(self) -> Sized: ...


class RouterLike(Protocol):
    """What the metrics read from a router handler (``gateway.router.handler``)."""

    @property
    def slots(self) -> Mapping[TopicPartition, _HasStore]: ...

    @property
    def worker(self) -> _Worker: ...

    def health(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class _Watched:
    """A worker of this process, held weakly: a stopped, collected worker disappears."""

    component: str
    owner: weakref.ref[Any]
    partitions: Callable[[Any], Iterable[TopicPartition]]
    position: Callable[[Any, TopicPartition], Awaitable[int | None]]
    pending: Callable[[Any], Mapping[int, int]] | None = None
    health: Callable[[Any], Mapping[str, Any]] | None = None


class PipelineMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.translation_seconds = Histogram(
            "kpgw_translator_translation_seconds",
            "Translation of one inbound document (parse, detect, validate, map, rules, encode)",
            ("result",),
            buckets=WORK_BUCKETS,
            registry=self.registry,
        )
        # Registered on first use: a translator-only or ingress-only process exports no
        # router series (an operations review saw an always-empty histogram there).
        self._routing_seconds = Histogram(
            "kpgw_router_routing_seconds",
            "Routing of one kp.events record (decode, decide, stage the writes)",
            buckets=WORK_BUCKETS,
            registry=None,
        )
        self._routing_registered = False
        self.outcomes = Counter(
            "kpgw_outcomes",
            "Outcomes written to kp.outcomes (committed), by kind and partner pair",
            ("outcome", "exporter", "importer"),
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "kpgw_dlq_records",
            "Records written to kp.dlq (committed), by reason code and stage",
            ("reason", "stage"),
            registry=self.registry,
        )
        self.clock_refusals = Counter(
            "kpgw_clock_refusals",
            "Writes the broker refused because their time stamps (this host's clock) were "
            "too far ahead of its own (InvalidTimestampException), by component",
            ("component",),
            registry=self.registry,
        )
        self.registry.register(_Gauges(self))
        self._staged: dict[tuple[str, TopicPartition], list[tuple[Counter, tuple[str, ...]]]] = {}
        self._watched: list[_Watched] = []
        self.lag: dict[tuple[str, str, int], int] = {}

    @property
    def routing_seconds(self) -> Histogram:
        if not self._routing_registered:
            self.registry.register(self._routing_seconds)
            self._routing_registered = True
        return self._routing_seconds

    # --- counted on commit --------------------------------------------------------------

    def outcome(self, partition: TopicPartition, kind: str, exporter: str, importer: str) -> None:
        self._stage("router", partition, self.outcomes, (kind, exporter, importer))

    def dead_letter(self, stage: str, partition: TopicPartition, reason: str) -> None:
        self._stage(stage, partition, self.dead_letters, (reason, stage))

    def _stage(
        self, component: str, partition: TopicPartition, counter: Counter, labels: tuple[str, ...]
    ) -> None:
        self._staged.setdefault((component, partition), []).append((counter, labels))

    def committed(self, component: str, partition: TopicPartition) -> None:
        for counter, labels in self._staged.pop((component, partition), ()):
            counter.labels(*labels).inc()

    def aborted(self, component: str, partition: TopicPartition) -> None:
        self._staged.pop((component, partition), None)

    # --- workers of this process: lag and pending certificates ---------------------------

    def watch(
        self,
        component: str,
        owner: Any,
        partitions: Callable[[Any], Iterable[TopicPartition]],
        position: Callable[[Any, TopicPartition], Awaitable[int | None]],
        *,
        pending: Callable[[Any], Mapping[int, int]] | None = None,
        health: Callable[[Any], Mapping[str, Any]] | None = None,
    ) -> None:
        """``partitions(owner)``, ``position(owner, tp)``, ``pending(owner)`` and
        ``health(owner)`` take the owner as argument so nothing here keeps a stopped worker
        alive."""
        self._watched.append(
            _Watched(component, weakref.ref(owner), partitions, position, pending, health)
        )

    def watch_router(self, handler: RouterLike) -> None:
        self.watch(
            "router",
            handler,
            lambda h: list(h.slots),
            lambda h, tp: h.worker.position(tp),
            pending=lambda h: {tp.partition: len(slot.store) for tp, slot in list(h.slots.items())},
            health=lambda h: h.health(),
        )

    def health(self, component: str) -> list[Mapping[str, Any]]:
        """``health()`` of each live worker of ``component`` in this process (readiness)."""
        return [
            watched.health(owner)
            for watched, owner in self.live()
            if watched.component == component and watched.health is not None
        ]

    def live(self) -> list[tuple[_Watched, Any]]:
        """The watched workers still alive, with their owners; forgets the others."""
        alive = [(watched, watched.owner()) for watched in self._watched]
        alive = [(watched, owner) for watched, owner in alive if owner is not None]
        self._watched = [watched for watched, _ in alive]
        return alive

    async def positions(self) -> dict[tuple[str, TopicPartition], int]:
        found: dict[tuple[str, TopicPartition], int] = {}
        for watched, owner in self.live():
            for tp in list(watched.partitions(owner)):
                with contextlib.suppress(Exception):  # revoked or stopping: no sample
                    at = await asyncio.wait_for(watched.position(owner, tp), POSITION_TIMEOUT_S)
                    if at is not None:
                        found[(watched.component, tp)] = at
        return found

    async def sample_lag(self, settings: Settings, stop: asyncio.Event) -> None:
        """Until ``stop``: every few seconds, end offsets (read_committed: the last stable
        offset) minus the workers' positions. Broker trouble skips a sample."""
        consumer = None
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), LAG_INTERVAL_S)
                positions = await self.positions()
                if stop.is_set() or not positions:
                    self.lag = {}
                    continue
                try:
                    if consumer is None:
                        consumer = await _started_lag_consumer(settings)
                    ends = await consumer.end_offsets(list({tp for _, tp in positions}))
                except Exception as exc:  # noqa: BLE001 - a missed sample, not a failure
                    log.info("lag_sample_failed", error=repr(exc))
                    # No figure rather than the last one: a lag frozen at its value before
                    # a broker outage would look healthy; an absent series alerts.
                    self.lag = {}
                    continue
                self.lag = {
                    (component, tp.topic, tp.partition): max(0, ends[tp] - at)
                    for (component, tp), at in positions.items()
                    if tp in ends
                }
        finally:
            if consumer is not None:
                await close_for_good(consumer, what="lag consumer")


async def _started_lag_consumer(settings: Settings) -> AIOKafkaConsumer:
    """A started consumer for end offsets; one that failed to start is closed, not kept:
    reused, it failed every later sample, long after the broker was back."""
    consumer = committed_consumer(settings, group_id=None, request_timeout_ms=10_000)
    try:
        await consumer.start()
    except BaseException:
        await close_for_good(consumer, what="lag consumer")
        raise
    return consumer


class _Gauges:
    """Gauges read at scrape time (a custom collector, no stale label sets)."""

    def __init__(self, metrics: PipelineMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        build = GaugeMetricFamily(
            "kpgw_build_info",
            "1, labelled with the version of kpgw this process runs",
            labels=("version",),
        )
        build.add_metric([__version__], 1.0)
        yield build
        lag = GaugeMetricFamily(
            "kpgw_consumer_lag_records",
            "Records not yet processed: last stable offset minus the worker's position",
            labels=("component", "topic", "partition"),
        )
        for (component, topic, partition), value in sorted(self.metrics.lag.items()):
            lag.add_metric([component, topic, str(partition)], float(value))
        yield lag
        pending = GaugeMetricFamily(
            "kpgw_router_pending_certificates",
            "Certificates the router keeps state for (not retired), by kp.events partition",
            labels=("partition",),
        )
        totals: dict[int, int] = {}
        for watched, owner in self.metrics.live():
            if watched.pending is not None:
                for partition, count in watched.pending(owner).items():
                    totals[partition] = totals.get(partition, 0) + count
        for partition, count in sorted(totals.items()):
            pending.add_metric([str(partition)], float(count))
        yield pending
        yield _flags(
            "kpgw_registry_reload_failed",
            "1 while the participant registry file's latest edit is invalid (or the file "
            "is missing or unreadable), or names a partner whose topic the router could "
            "not create, and the previous registry is still in use",
            "path",
            RELOAD_FAILURES,
        )
        yield _flags(
            "kpgw_router_state_missing",
            "1 for a kp.events partition whose changelog partition never held a record at "
            "restore although the router had processed events there (the changelog was "
            "deleted or recreated): its pending certificates are forgotten",
            "partition",
            ROUTER_STATE_MISSING,
        )
        yield _by_label(
            "kpgw_router_newer_states_held",
            "While a kp.events partition is held (not processed) because its changelog's "
            "latest states include some a newer router wrote that this one cannot decode: "
            "how many, by partition",
            "partition",
            ROUTER_NEWER_STATES_HELD,
        )
        yield _by_label(
            "kpgw_router_clock_jump_seconds",
            "While the router holds its timer's irreversible actions (overdue, orphan, "
            "retirement) after its wall clock jumped forward against the monotonic clock: "
            "the jump, in seconds, by consumer group",
            "group",
            ROUTER_CLOCK_JUMP,
        )
        yield _by_label(
            "kpgw_router_clock_behind_seconds",
            "While kp.events records read by the router are stamped later than its host's "
            "clock by more than router.clock_jump_threshold_s (the host's clock is behind, "
            "or a translator's ahead; overdue and orphan reports come that late): the "
            "latest gap in seconds, by consumer group",
            "group",
            ROUTER_CLOCK_BEHIND,
        )
        yield _flags(
            "kpgw_clock_ahead_of_broker",
            "1 while the latest write of a component was refused because this host's clock "
            "is ahead of the broker's by more than log.message.timestamp.after.max.ms: "
            "nothing is written until the clock is set right",
            "component",
            CLOCK_REFUSED,
        )
        yield _flags(
            "kpgw_dlq_topic_too_small",
            "1 while a dead letter does not fit the dead-letter topic even cut to its "
            "smallest (its max.message.bytes is too low): the record's partition is held "
            "and retried until the limit is raised",
            "topic",
            {topic for _, topic in dead_letter_topics_held()},
        )
        yield _flags(
            "kpgw_translator_crash_journal_unavailable",
            "1 while the crash journal directory cannot be used: records that kill the "
            "translator are retried for ever instead of dead-lettered as POISON_PILL",
            "directory",
            CRASH_JOURNAL_UNAVAILABLE,
        )


def _flags(name: str, documentation: str, label: str, present: Iterable[Any]) -> GaugeMetricFamily:
    """A gauge of 1 per key of ``present`` (no series when it is empty)."""
    return _by_label(name, documentation, label, dict.fromkeys(present, 1.0))


def _by_label(
    name: str, documentation: str, label: str, values: Mapping[Any, float]
) -> GaugeMetricFamily:
    """A gauge of each value of ``values`` under its key (no series when it is empty)."""
    gauge = GaugeMetricFamily(name, documentation, labels=(label,))
    for key, value in sorted(values.items()):
        gauge.add_metric([str(key)], float(value))
    return gauge


#: kp.events partitions (this process) whose changelog partition never held a record
#: although the router's group had processed events there -> the committed offset.
ROUTER_STATE_MISSING: dict[int, int] = {}
#: kp.events partitions (this process) held because their changelog's latest states
#: include some a newer router wrote -> how many; ``gateway.router.handler``.
ROUTER_NEWER_STATES_HELD: dict[int, int] = {}
#: Components (this process) whose latest write the broker refused for its time stamps ->
#: when (time.monotonic()); ``gateway.kafka.clock``.
CLOCK_REFUSED: dict[str, float] = {}
#: Router groups (this process) holding their timer after a forward clock jump -> the jump
#: in seconds; ``gateway.router.clock_guard``.
ROUTER_CLOCK_JUMP: dict[str, float] = {}
#: Router groups (this process) reading kp.events records stamped later than this host's
#: clock by more than the threshold -> by how much, in seconds; ``BehindWatch``.
ROUTER_CLOCK_BEHIND: dict[str, float] = {}
#: (component, dead-letter topic) whose max.message.bytes is below a dead letter it must
#: write -> when it was last found so (time.monotonic()) and what to do: that partition is
#: held; ``gateway.dlq.publisher``.
DEAD_LETTER_TOPIC_TOO_SMALL: dict[tuple[str, str], tuple[float, str]] = {}
#: A held partition's batch is retried every few seconds (10 s at most by default): a flag
#: not renewed for this long is stale (the partition went to another process, or was
#: fixed there), so it does not hold a process's /readyz for ever.
DEAD_LETTER_HOLD_S = 120.0


def dead_letter_topics_held(component: str | None = None) -> dict[tuple[str, str], str]:
    """The (component, topic) pairs (of ``component``) found too small lately -> what to
    do."""
    now = time.monotonic()
    return {
        key: detail
        for key, (at, detail) in sorted(DEAD_LETTER_TOPIC_TOO_SMALL.items())
        if now - at < DEAD_LETTER_HOLD_S and component in (None, key[0])
    }


#: Crash journal directories that could not be used (path -> why): no poison-pill counting.
CRASH_JOURNAL_UNAVAILABLE: dict[str, str] = {}


def dead_letter_note() -> dict[str, list[str]]:
    """For the ingress's /readyz (under ``kpgw run`` the workers share its process): the
    dead-letter topics a worker here cannot write a letter to, its partition held. Not a
    failed check: the ingress still accepts documents, which wait on kp.inbound."""
    topics = sorted({topic for _, topic in dead_letter_topics_held()})
    return {"dead_letter_topic_too_small": topics} if topics else {}


@functools.cache
def pipeline_metrics() -> PipelineMetrics:
    """The process's pipeline metrics, built on first use (nothing at import time)."""
    return PipelineMetrics()
