"""The router's guard against a wall clock that jumps forward: the timer's irreversible
actions (overdue, orphan, retirement) are held until the new time is confirmed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiokafka import TopicPartition
from structlog.testing import capture_logs

from gateway.metrics import ROUTER_CLOCK_BEHIND, ROUTER_CLOCK_JUMP, pipeline_metrics
from gateway.readiness import worker_checks
from gateway.registry.loader import example_registry_path
from gateway.registry.watch import RegistryWatcher
from gateway.router.clock_guard import BehindWatch, ClockChange, ClockGuard
from gateway.router.handler import RouterHandler, Slot
from gateway.router.store import PartitionStore
from gateway.settings import load_settings

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FIVE_MIN = timedelta(minutes=5)


def test_a_steady_clock_and_small_steps_are_trusted() -> None:
    guard = ClockGuard(FIVE_MIN)
    assert guard.observe(T0, 100.0) is None
    assert guard.observe(T0 + timedelta(seconds=5), 105.0) is None
    # NTP stepping a few minutes, a stalled loop (both clocks advance together): no hold.
    assert guard.observe(T0 + timedelta(seconds=250), 110.0) is None
    assert guard.observe(T0 + timedelta(hours=3, seconds=250), 110.0 + 3 * 3600) is None
    assert not guard.held


def test_a_forward_jump_holds_until_the_clock_returns_to_its_course() -> None:
    guard = ClockGuard(FIVE_MIN)
    guard.observe(T0, 100.0)
    assert guard.observe(T0 + timedelta(days=2, seconds=5), 105.0) is ClockChange.JUMPED
    assert guard.held and guard.jump == timedelta(days=2)
    assert guard.observe(T0 + timedelta(days=2, seconds=10), 110.0) is None
    assert guard.held  # still two days off its course
    assert guard.observe(T0 + timedelta(seconds=20), 120.0) is ClockChange.RESTORED
    assert not guard.held
    assert guard.observe(T0 + timedelta(seconds=25), 125.0) is None


def test_a_forward_jump_is_released_by_a_transaction_begun_after_it() -> None:
    guard = ClockGuard(FIVE_MIN)
    guard.observe(T0, 100.0)
    guard.observe(T0 + timedelta(hours=2), 105.0)
    assert guard.held
    assert guard.confirm(104.0) is False  # begun before the jump was seen: proves nothing
    assert guard.held
    assert guard.confirm(106.0) is True
    assert not guard.held
    # The new time is the course now: no second hold.
    assert guard.observe(T0 + timedelta(hours=2, seconds=5), 110.0) is None


def test_a_backward_step_is_reported_and_not_held() -> None:
    guard = ClockGuard(FIVE_MIN)
    guard.observe(T0, 100.0)
    assert guard.observe(T0 - timedelta(days=2), 105.0) is ClockChange.STEPPED_BACK
    assert not guard.held


def test_records_stamped_after_this_clock_say_it_is_behind_until_none_has_for_a_while() -> None:
    watch = BehindWatch(FIVE_MIN, quiet_s=600)
    # Read at once or later than written: no gap, or a backlog's negative one.
    assert not watch.observe(T0 - timedelta(hours=5), T0, 100.0)
    assert not watch.observe(T0 + timedelta(minutes=4), T0, 101.0)  # within the threshold
    assert watch.gap is None
    assert watch.observe(T0 + timedelta(minutes=20), T0, 102.0)  # starts an episode
    assert not watch.observe(T0 + timedelta(minutes=19), T0, 150.0)  # the same one
    assert watch.gap == timedelta(minutes=19)
    # Records of a backlog prove nothing: the episode outlives them for quiet_s.
    assert not watch.observe(T0 - timedelta(hours=1), T0, 200.0)
    assert not watch.expire(700.0) and watch.gap is not None
    assert watch.expire(750.0) and watch.gap is None


class _Worker:
    """What the timer uses of the worker; counts the transactions it is asked for."""

    def __init__(self) -> None:
        self.transactions = 0

    async def position(self, partition: TopicPartition) -> int:
        return 0

    async def transact(self, partition: TopicPartition, write: Any) -> bool:
        self.transactions += 1
        return False

    def health(self) -> dict[str, Any]:
        return {"joined": True, "held": []}


@pytest.fixture
def handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RouterHandler:
    monkeypatch.setattr("gateway.router.handler.log", structlog.get_logger("router-test"))
    registry = tmp_path / "partners.toml"
    registry.write_text(example_registry_path().read_text())
    settings = load_settings(
        kafka_bootstrap="127.0.0.1:1", topic_prefix="clock.", router={"group_id": "clock-g"}
    )
    clock = {"wall": T0, "mono": 100.0}
    built = RouterHandler(
        settings,
        RegistryWatcher(registry),
        clock=lambda: clock["wall"],
        monotonic=lambda: clock["mono"],
    )
    built.test_clock = clock  # type: ignore[attr-defined]
    built.attach(_Worker())  # type: ignore[arg-type]
    tp = TopicPartition("clock.events", 0)
    store = PartitionStore(0)
    monkeypatch.setattr(store, "has_due", lambda now: True)
    built.slots[tp] = Slot(tp, store, restored=True, catch_up_to=0, caught_up=True)
    ROUTER_CLOCK_JUMP.clear()
    ROUTER_CLOCK_BEHIND.clear()
    return built


def test_the_timer_acts_on_nothing_while_a_jump_is_held(handler: RouterHandler) -> None:
    clock: dict[str, Any] = handler.test_clock  # type: ignore[attr-defined]
    worker: _Worker = handler.worker  # type: ignore[assignment]
    with capture_logs() as logs:
        asyncio.run(handler.tick_due())
        assert worker.transactions == 1  # trusted: the due states are ticked
        clock["wall"], clock["mono"] = T0 + timedelta(days=2, seconds=5), 105.0
        asyncio.run(handler.tick_due())
        asyncio.run(handler.tick_due())
        assert worker.transactions == 1  # held: no overdue, orphan or retirement
    jumped = [e for e in logs if e["event"] == "router_clock_jumped"]
    assert len(jumped) == 1 and jumped[0]["jump_s"] == 2 * 86400.0
    assert "NTP" in jumped[0]["hint"]
    gauge = pipeline_metrics().registry.get_sample_value(
        "kpgw_router_clock_jump_seconds", {"group": "clock-g"}
    )
    assert gauge == 2 * 86400.0
    # A batch begun after the jump that wrote no record proves nothing (a code review).
    tp = TopicPartition("clock.events", 0)
    clock["mono"] = 106.0
    handler.slots[tp].started_mono = handler.monotonic()
    with capture_logs() as logs:
        handler.committed(tp)
    assert logs == []
    # One that wrote records commits: the broker accepted the new time stamps.
    handler.slots[tp].stamped = True
    with capture_logs() as logs:
        handler.committed(tp)
    assert [e["event"] for e in logs] == ["router_clock_confirmed"]
    clock["mono"] = 110.0
    asyncio.run(handler.tick_due())
    assert worker.transactions == 2
    assert (
        pipeline_metrics().registry.get_sample_value(
            "kpgw_router_clock_jump_seconds", {"group": "clock-g"}
        )
        is None
    )


def test_a_router_behind_its_records_says_so_and_stays_ready(handler: RouterHandler) -> None:
    """A host clock already behind when the router started never steps: only the time
    stamps of the kp.events records it reads show it (overdue and orphan reports come
    late by as much). It was not detected at all."""
    clock: dict[str, Any] = handler.test_clock  # type: ignore[attr-defined]
    handler.clock_behind = BehindWatch(FIVE_MIN, quiet_s=600)
    stamped = int((T0 + timedelta(minutes=20)).timestamp() * 1000)
    with capture_logs() as logs:
        handler._check_behind(stamped)
        handler._check_behind(stamped)
    behind = [e for e in logs if e["event"] == "router_clock_behind"]
    assert len(behind) == 1 and behind[0]["behind_s"] == 1200.0  # once per episode
    assert "NTP" in behind[0]["hint"]
    gauge = {"group": "clock-g"}
    metrics = pipeline_metrics().registry
    assert metrics.get_sample_value("kpgw_router_clock_behind_seconds", gauge) == 1200.0
    ready = worker_checks("router", [handler.health()])
    assert ready["router"] is True  # nothing is decided early: ready all the same
    assert "1200 s behind" in ready["router_clock_behind"]
    clock["mono"] += 601  # ten minutes without a record showing it
    with capture_logs() as logs:
        asyncio.run(handler.tick_due())
    assert [e["event"] for e in logs] == ["router_clock_behind_cleared"]
    assert metrics.get_sample_value("kpgw_router_clock_behind_seconds", gauge) is None
    assert "router_clock_behind" not in worker_checks("router", [handler.health()])


@pytest.mark.parametrize("stamp_ms", [-(10**15), 253_402_300_800_000 + 86_400_000])
def test_a_record_stamped_outside_the_calendar_says_nothing_of_this_clock(
    handler: RouterHandler, stamp_ms: int
) -> None:
    """A producer may stamp a kp.events record with any negative timestamp (the broker
    keeps it, as the translator's kp.inbound test shows) or, with a raised
    log.message.timestamp.after.max.ms, one past year 9999: ``fromtimestamp`` raised for
    it at the start of every attempt of the batch, and the partition stopped for good."""
    handler.clock_behind = BehindWatch(FIVE_MIN, quiet_s=600)
    handler._check_behind(stamp_ms)
    assert handler.clock_behind.gap is None
    assert "clock-g" not in ROUTER_CLOCK_BEHIND
