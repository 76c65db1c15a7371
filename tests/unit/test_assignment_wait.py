"""A worker restarted after a crash waits for the dead member's session to time out
before the group assigns it anything (~17 s measured, an operations review): readiness
said only ``{"router": false}`` and no line was logged between ``partitions_revoked``
and ``partitions_assigned``. Now both say why."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from aiokafka.errors import InvalidSessionTimeoutError
from structlog.testing import capture_logs

from gateway.errors import ConfigurationError
from gateway.kafka import transactional
from gateway.kafka.transactional import TransactionalWorker
from gateway.readiness import worker_checks
from gateway.settings import Settings

MODULES = ("gateway.kafka.transactional",)


@pytest.fixture(autouse=True)
def _fresh_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loggers another test used are cached with its configuration: capture_logs sees
    only fresh ones."""
    for module in MODULES:
        monkeypatch.setattr(f"{module}.log", structlog.get_logger(module))


class _Consumer:
    def assignment(self) -> set[Any]:
        return set()


@pytest.fixture
async def worker(monkeypatch: pytest.MonkeyPatch) -> TransactionalWorker:
    monkeypatch.setattr(transactional, "committed_consumer", lambda *_, **__: _Consumer())
    return TransactionalWorker(
        Settings(kafka_bootstrap="127.0.0.1:1", http_port=0),
        name="router",
        topic="t.events",
        group_id="g",
        handler=object(),  # type: ignore[arg-type]
    )


async def test_readiness_says_why_a_worker_has_no_assignment_yet(
    worker: TransactionalWorker,
) -> None:
    assert "has not started" in worker.health()["waiting"]
    worker._subscribed_at = asyncio.get_running_loop().time() - 7
    health = worker.health()
    assert health["joined"] is False
    checks = worker_checks("router", [health])
    assert checks["router"] is False
    assert checks["router_waiting"] == (
        "waiting for the consumer group to assign partitions (a member that died holds "
        "them until its session times out, up to 20 s); waiting 7 s"
    )
    worker.ready.set()
    assert "waiting" not in worker.health()
    assert worker_checks("router", [worker.health()]) == {"router": True}


async def test_one_line_when_the_assignment_is_slow(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transactional, "ASSIGNMENT_NOTE_S", 0.05)
    worker._subscribed_at = asyncio.get_running_loop().time()
    with capture_logs() as logs:
        await worker._note_slow_assignment(asyncio.Event())
    assert [(e["event"], e["log_level"]) for e in logs] == [("waiting_for_assignment", "info")]
    assert "session times out, up to 20 s" in logs[0]["detail"]


async def test_no_line_when_assigned_or_stopped_in_time(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transactional, "ASSIGNMENT_NOTE_S", 0.05)
    stop = asyncio.Event()
    stop.set()
    with capture_logs() as logs:
        await worker._note_slow_assignment(stop)
        worker.ready.set()
        await worker._note_slow_assignment(asyncio.Event())
    assert logs == []


async def test_the_group_session_timeout_is_the_operators_and_heartbeats_fit_in_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``group_session_timeout_s`` (``KPGW_GROUP_SESSION_TIMEOUT_S``): how long a killed
    worker keeps its partitions. The consumer gets it, and at least three heartbeats per
    session, else a short session would expire between two heartbeats."""
    given: dict[str, Any] = {}

    def consumer(*_: Any, **options: Any) -> _Consumer:
        given.update(options)
        return _Consumer()

    monkeypatch.setattr(transactional, "committed_consumer", consumer)
    for seconds, heartbeat_ms in ((20.0, 3_000), (6.0, 2_000)):
        waiting = TransactionalWorker(
            Settings(kafka_bootstrap="127.0.0.1:1", group_session_timeout_s=seconds),
            name="router",
            topic="t.events",
            group_id="g",
            handler=object(),  # type: ignore[arg-type]
        )
        assert given["session_timeout_ms"] == seconds * 1000
        assert given["heartbeat_interval_ms"] == heartbeat_ms
        assert waiting.session_timeout_s == seconds
    with pytest.raises(ValueError, match="greater than or equal to 6"):
        Settings(group_session_timeout_s=1)


async def test_a_session_timeout_the_brokers_refuse_stops_the_worker_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cluster whose group.min/max.session.timeout.ms exclude KPGW_GROUP_SESSION_TIMEOUT_S
    refuses every join: retried as a broker hiccup, the worker waited for an assignment
    for ever (found by a review). aiokafka raises the refusal from ``getmany``."""

    class Refused(_Consumer):
        async def start(self) -> None:
            return None

        def subscribe(self, *_: Any, **__: Any) -> None:
            return None

        async def getmany(self, **_: Any) -> Any:
            raise InvalidSessionTimeoutError()

        async def stop(self) -> None:
            return None

    monkeypatch.setattr(transactional, "committed_consumer", lambda *_, **__: Refused())
    worker = TransactionalWorker(
        Settings(kafka_bootstrap="127.0.0.1:1", group_session_timeout_s=300),
        name="router",
        topic="t.events",
        group_id="g",
        handler=object(),  # type: ignore[arg-type]
    )
    with pytest.raises(ConfigurationError) as refused:
        await asyncio.wait_for(worker.run(asyncio.Event()), 10)
    assert "session timeout of 300 s (KPGW_GROUP_SESSION_TIMEOUT_S)" in refused.value.message
    assert "group.max.session.timeout.ms" in refused.value.message
