"""Prometheus metrics: every name is there and documented, outcomes and dead letters count
on commit only, the gauges read the workers of this process (and forget stopped ones)."""

from __future__ import annotations

import asyncio
import gc
import re
import time
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from prometheus_client import generate_latest

import gateway
import gateway.metrics as metrics_module
from gateway.ingress.metrics import IngressMetrics
from gateway.metrics import (
    CLOCK_REFUSED,
    CRASH_JOURNAL_UNAVAILABLE,
    DEAD_LETTER_TOPIC_TOO_SMALL,
    ROUTER_CLOCK_BEHIND,
    ROUTER_CLOCK_JUMP,
    ROUTER_NEWER_STATES_HELD,
    ROUTER_STATE_MISSING,
    PipelineMetrics,
    pipeline_metrics,
)
from gateway.registry.watch import RELOAD_FAILURES
from gateway.settings import Settings
from tests.conftest import REPO_ROOT

EVENTS = TopicPartition("kp.events", 3)
INBOUND = TopicPartition("kp.inbound", 1)
NAMES = {
    "kpgw_ingress_requests_total": "counter",
    "kpgw_ingress_request_seconds": "histogram",
    "kpgw_ingress_accepted_messages_total": "counter",
    "kpgw_ingress_refused_messages_total": "counter",
    "kpgw_ingress_tracked_messages": "gauge",
    "kpgw_translator_translation_seconds": "histogram",
    "kpgw_router_routing_seconds": "histogram",
    "kpgw_outcomes_total": "counter",
    "kpgw_dlq_records_total": "counter",
    "kpgw_consumer_lag_records": "gauge",
    "kpgw_router_pending_certificates": "gauge",
    "kpgw_registry_reload_failed": "gauge",
    "kpgw_router_state_missing": "gauge",
    "kpgw_router_newer_states_held": "gauge",
    "kpgw_clock_ahead_of_broker": "gauge",
    "kpgw_clock_refusals_total": "counter",
    "kpgw_router_clock_jump_seconds": "gauge",
    "kpgw_router_clock_behind_seconds": "gauge",
    "kpgw_translator_crash_journal_unavailable": "gauge",
    "kpgw_dlq_topic_too_small": "gauge",
    "kpgw_build_info": "gauge",
}


def _text(metrics: PipelineMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def _value(text: str, sample: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_one_scrape_shows_the_ingress_and_the_workers_of_the_process() -> None:
    metrics = IngressMetrics()
    metrics.observe("/dashboard", "GET", 200, 0.01)
    pipeline_metrics().translation_seconds.labels("translated").observe(0.001)
    assert pipeline_metrics().routing_seconds is not None  # a router in this process
    text = metrics.render().decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    assert {name: types.get(name) for name in NAMES} == NAMES
    assert 'kpgw_ingress_requests_total{method="GET",route="/dashboard",status="200"} 1.0' in text
    assert all(name.startswith("kpgw_") for name in types)


class _Reporter:
    """Reports a registry reload failure (``ReloadFailures`` keeps a weak reference)."""


def test_a_process_without_a_router_exports_no_router_histogram() -> None:
    metrics = PipelineMetrics()
    metrics.translation_seconds.labels("translated").observe(0.001)
    assert "kpgw_router_routing_seconds" not in _text(metrics)
    metrics.routing_seconds.observe(0.001)
    metrics.routing_seconds.observe(0.002)  # registered once
    assert "kpgw_router_routing_seconds_count 2.0" in _text(metrics)


def _every_metric_used() -> str:
    """One sample of every metric: an ingress's and this process's pipeline metrics."""
    ingress = IngressMetrics()
    ingress.observe("/v1/messages", "POST", 202, 0.01)
    ingress.accepted.labels("RU").inc()
    ingress.refused.labels("RU", "invalid-document").inc()
    ingress.track("accepted", lambda: 3)
    pipeline = pipeline_metrics()
    pipeline.translation_seconds.labels("translated").observe(0.001)
    pipeline.routing_seconds.observe(0.001)
    tp = TopicPartition("kp.events.doc-test", 0)
    pipeline.outcome(tp, "MATCHED", "RU", "EU")
    pipeline.dead_letter("router", tp, "KEY_MISMATCH")
    pipeline.committed("router", tp)
    router = Router(Worker({tp: 1}), {tp: Slot(["RU1"])})
    pipeline.watch_router(router)
    saved, pipeline.lag = pipeline.lag, {("router", tp.topic, 0): 2}
    reporter = _Reporter()
    RELOAD_FAILURES.report(reporter, "/etc/kpgw/doc-test.toml", "an invalid edit")
    ROUTER_STATE_MISSING[99] = 1
    ROUTER_NEWER_STATES_HELD[99] = 3
    CRASH_JOURNAL_UNAVAILABLE["/var/lib/kpgw-doc-test"] = "PermissionError()"
    ROUTER_CLOCK_JUMP["doc-test"] = 7200.0
    ROUTER_CLOCK_BEHIND["doc-test"] = 1200.0
    CLOCK_REFUSED["doc-test"] = 0.0
    DEAD_LETTER_TOPIC_TOO_SMALL[("router", "kp.dlq.doc-test")] = (time.monotonic(), "too small")
    pipeline.clock_refusals.labels("doc-test").inc()
    try:
        return ingress.render().decode()
    finally:
        pipeline.lag = saved
        RELOAD_FAILURES.report(reporter, "/etc/kpgw/doc-test.toml", None)
        ROUTER_STATE_MISSING.pop(99)
        ROUTER_NEWER_STATES_HELD.pop(99)
        CRASH_JOURNAL_UNAVAILABLE.pop("/var/lib/kpgw-doc-test")
        ROUTER_CLOCK_JUMP.pop("doc-test")
        ROUTER_CLOCK_BEHIND.pop("doc-test")
        CLOCK_REFUSED.pop("doc-test")
        DEAD_LETTER_TOPIC_TOO_SMALL.pop(("router", "kp.dlq.doc-test"))


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    doc = (REPO_ROOT / "docs" / "metrics.md").read_text()
    rows = {
        m[0]: (m[1], m[2])
        for m in re.findall(r"^\| `(kpgw_\w+)` \| (\w+) \| ([^|]*) \|", doc, re.M)
    }
    assert {name: kind for name, (kind, _) in rows.items()} == NAMES
    text = _every_metric_used()
    for name, (_, labels) in rows.items():
        documented = set(re.findall(r"`(\w+)`", labels))
        assert re.search(rf"^# HELP {name} ", text, re.M), name
        samples = re.findall(rf"^{name}(?:_bucket|_count|_sum)?(?:{{([^}}]*)}})? ", text, re.M)
        assert samples, name
        for sample in samples:
            found = set(re.findall(r"(\w+)=", sample)) - {"le"}
            assert found == documented, (name, found, documented)


def test_outcomes_and_dead_letters_count_when_their_transaction_commits() -> None:
    metrics = PipelineMetrics()
    metrics.outcome(EVENTS, "MATCHED", "RU", "EU")
    metrics.dead_letter("router", EVENTS, "KEY_MISMATCH")
    metrics.dead_letter("translator", INBOUND, "XSD_VIOLATION")
    assert _value(
        _text(metrics), 'kpgw_outcomes_total{exporter="RU",importer="EU",outcome="MATCHED"}'
    ) in {None, 0.0}
    metrics.aborted("router", EVENTS)  # the batch is processed again ...
    metrics.outcome(EVENTS, "MATCHED", "RU", "EU")
    metrics.committed("router", EVENTS)  # ... and counts once
    metrics.committed("translator", INBOUND)
    text = _text(metrics)
    assert _value(text, 'kpgw_outcomes_total{exporter="RU",importer="EU",outcome="MATCHED"}') == 1.0
    assert _value(text, 'kpgw_dlq_records_total{reason="XSD_VIOLATION",stage="translator"}') == 1.0
    assert _value(text, 'kpgw_dlq_records_total{reason="KEY_MISMATCH",stage="router"}') is None
    metrics.committed("router", EVENTS)  # nothing staged: nothing counted again
    assert (
        _value(_text(metrics), 'kpgw_outcomes_total{exporter="RU",importer="EU",outcome="MATCHED"}')
        == 1.0
    )


@dataclass
class Slot:
    store: list[str]


@dataclass
class Worker:
    positions: dict[TopicPartition, int | None]

    async def position(self, partition: TopicPartition) -> int | None:
        return self.positions.get(partition)


@dataclass
class Router:
    worker: Worker
    slots: dict[TopicPartition, Slot] = field(default_factory=dict)

    def health(self) -> dict[str, object]:
        return {"joined": True, "held": []}


def test_pending_certificates_and_positions_come_from_live_workers_only() -> None:
    metrics = PipelineMetrics()
    router = Router(Worker({EVENTS: 7}), {EVENTS: Slot(["RU1", "RU2"])})
    metrics.watch_router(router)
    assert _value(_text(metrics), 'kpgw_router_pending_certificates{partition="3"}') == 2.0
    assert asyncio.run(metrics.positions()) == {("router", EVENTS): 7}
    metrics.lag = {("router", EVENTS.topic, EVENTS.partition): 5}
    text = _text(metrics)
    assert (
        _value(
            text, 'kpgw_consumer_lag_records{component="router",partition="3",topic="kp.events"}'
        )
        == 5.0
    )
    del router
    gc.collect()
    assert metrics.live() == []
    assert _value(_text(metrics), 'kpgw_router_pending_certificates{partition="3"}') is None


def test_a_partition_without_a_position_has_no_lag_sample() -> None:
    metrics = PipelineMetrics()
    worker = Worker({INBOUND: None})
    assigned = {INBOUND}
    metrics.watch("translator", worker, lambda w: assigned, lambda w, tp: w.position(tp))
    assert asyncio.run(metrics.positions()) == {}


def test_request_and_acceptance_counts_through_the_cached_children() -> None:
    metrics = IngressMetrics()
    for status in (202, 202, 409):
        metrics.observe("/v1/messages", "POST", status, 0.01)
    metrics.accept("RU")
    metrics.accept("RU")
    text = generate_latest(metrics.registry).decode()
    assert (
        'kpgw_ingress_requests_total{method="POST",route="/v1/messages",status="202"} 2.0' in text
    )
    assert (
        'kpgw_ingress_requests_total{method="POST",route="/v1/messages",status="409"} 1.0' in text
    )
    assert 'kpgw_ingress_request_seconds_count{method="POST",route="/v1/messages"} 3.0' in text
    assert 'kpgw_ingress_accepted_messages_total{participant="RU"} 2.0' in text


def test_the_version_is_a_metric() -> None:
    """Found by an operations review: neither the metrics nor the logs said which version
    a process runs."""
    text = _text(pipeline_metrics())
    assert _value(text, f'kpgw_build_info{{version="{gateway.__version__}"}}') == 1.0


class LagConsumer:
    """Stands in for the lag sampler's Kafka consumer (pure sampling logic, no broker): the
    first one fails to start, as during a broker outage."""

    made: ClassVar[list[LagConsumer]] = []

    def __init__(self) -> None:
        self.started = False
        self.stopped = False
        LagConsumer.made.append(self)

    async def start(self) -> None:
        if len(LagConsumer.made) == 1:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")
        self.started = True

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        assert self.started, "end offsets asked of a consumer that never started"
        return dict.fromkeys(partitions, 12)

    async def stop(self) -> None:
        self.stopped = True


def test_lag_is_sampled_again_after_the_consumer_failed_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lag consumer that failed to start (the broker not up yet) was kept, and every later
    sample failed on it, long after the broker was back; it is closed and made anew now."""
    LagConsumer.made = []
    monkeypatch.setattr(metrics_module, "LAG_INTERVAL_S", 0.01)
    monkeypatch.setattr(metrics_module, "committed_consumer", lambda *a, **k: LagConsumer())
    metrics = PipelineMetrics()
    router = Router(Worker({EVENTS: 7}), {EVENTS: Slot(["RU1"])})
    metrics.watch_router(router)

    async def sample() -> dict[tuple[str, str, int], int]:
        stop = asyncio.Event()
        sampling = asyncio.create_task(metrics.sample_lag(Settings(), stop))
        async with asyncio.timeout(10):
            while not metrics.lag:
                await asyncio.sleep(0.01)
        sampled = metrics.lag
        stop.set()
        await sampling
        return sampled

    assert asyncio.run(sample()) == {("router", EVENTS.topic, EVENTS.partition): 5}
    first, *later = LagConsumer.made
    assert first.stopped and not first.started
    assert len(later) == 1 and later[0].stopped
