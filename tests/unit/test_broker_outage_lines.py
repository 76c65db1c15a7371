"""A worker says in its own words when it loses the broker and when it has it back (an
operations review: during a 20 s outage only aiokafka's lines spoke of it). One warning
however many partitions fail meanwhile, one info at the first commit after; an idle
worker, whose consumer lost its group coordinator, says it too. No broker is needed: the
transactions are made to fail, the coordinator to be unknown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError
from structlog.testing import capture_logs

from gateway.errors import TransientFailure
from gateway.kafka import transactional
from gateway.kafka.transactional import TransactionalWorker, broker_unreachable
from gateway.settings import Settings

MODULES = ("gateway.kafka.transactional",)


@pytest.fixture(autouse=True)
def _fresh_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loggers another test used are cached with its configuration: capture_logs sees
    only fresh ones."""
    for module in MODULES:
        monkeypatch.setattr(f"{module}.log", structlog.get_logger(module))


TPS = [TopicPartition("t.inbound", 0), TopicPartition("t.inbound", 1)]


class _Handler:
    def __init__(self) -> None:
        self.commits = 0

    def committed(self, partition: TopicPartition) -> None:
        self.commits += 1

    def aborted(self, partition: TopicPartition) -> None:
        pass


class _Coordinator:
    coordinator_id: int | None = 1


class _Consumer:
    def __init__(self) -> None:
        self._coordinator = _Coordinator()

    def assignment(self) -> set[TopicPartition]:
        return set(TPS)


@pytest.fixture
async def worker(monkeypatch: pytest.MonkeyPatch) -> TransactionalWorker:
    monkeypatch.setattr(transactional, "committed_consumer", lambda *_, **__: _Consumer())
    built = TransactionalWorker(
        Settings(kafka_bootstrap="127.0.0.1:1", http_port=0),
        name="translator",
        topic="t.inbound",
        group_id="g",
        handler=_Handler(),  # type: ignore[arg-type]
        backoff_ms=1,
        backoff_max_ms=2,
    )
    built._owned.update(TPS)

    async def producer_for(partition: TopicPartition) -> Any:
        return object()

    async def drop(partition: TopicPartition) -> None:
        pass

    monkeypatch.setattr(built, "_producer_for", producer_for)
    monkeypatch.setattr(built, "_drop_producer", drop)
    return built


def _failing(monkeypatch: pytest.MonkeyPatch, error: BaseException, times: int) -> None:
    left = [times]

    async def transact(producer: Any, write: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise error

    monkeypatch.setattr(transactional, "_transact", transact)


async def _write(producer: Any) -> None:
    pass


async def test_one_warning_when_the_broker_goes_and_one_info_when_it_is_back(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing(monkeypatch, KafkaConnectionError("no broker"), times=6)
    with capture_logs() as logs:
        for partition in TPS:
            assert await worker.transact(partition, _write)
        assert await worker.transact(TPS[0], _write)
    lost = [e for e in logs if e["event"] == "broker_unavailable"]
    back = [e for e in logs if e["event"] == "broker_available_again"]
    assert len(lost) == 1 and lost[0]["log_level"] == "warning"
    assert lost[0]["worker"] == "translator" and "KafkaConnectionError" in lost[0]["error"]
    assert len(back) == 1 and back[0]["log_level"] == "info" and back[0]["unavailable_s"] >= 0
    assert worker.broker_lost_at is None


async def test_a_handler_s_transient_failure_is_no_outage(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's "not restored yet" is retried like an outage but is none."""
    _failing(monkeypatch, TransientFailure("partition 0 is not restored yet"), times=2)
    with capture_logs() as logs:
        assert await worker.transact(TPS[0], _write)
    assert not [e for e in logs if e["event"].startswith("broker_")]


def test_what_counts_as_the_broker_gone() -> None:
    assert broker_unreachable(KafkaConnectionError())
    assert broker_unreachable(transactional.TransactionTimeout("no commit within 30 s"))
    assert not broker_unreachable(TransientFailure("not restored yet"))
    assert not broker_unreachable(ValueError("a bug"))


def _lines(logs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        [e for e in logs if e["event"] == "broker_unavailable"],
        [e for e in logs if e["event"] == "broker_available_again"],
    )


async def test_an_idle_worker_says_it_once_its_coordinator_is_gone_a_while(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No transaction fails when there is nothing to process: the consumer's group
    coordinator, unknown while the broker does not answer, tells."""
    coordinator = worker._consumer._coordinator
    coordinator.coordinator_id = None
    with capture_logs() as logs:
        worker._watch_broker()  # a coordinator moving to another broker: not yet
        assert _lines(logs) == ([], [])
        monkeypatch.setattr(transactional, "COORDINATOR_LOST_S", 0.0)
        for _ in range(3):
            worker._watch_broker()
        coordinator.coordinator_id = 1
        for _ in range(3):
            worker._watch_broker()
    lost, back = _lines(logs)
    assert len(lost) == 1 and lost[0]["log_level"] == "warning"
    assert "no group coordinator" in lost[0]["error"]
    assert len(back) == 1 and back[0]["log_level"] == "info"
    assert worker.broker_lost_at is None


async def test_a_failing_transaction_keeps_the_outage_until_it_commits(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coordinator back does not end an outage a transaction still meets (a broker
    that answers heartbeats but refuses writes): its commit does, once."""
    retry = asyncio.Event()
    calls = [0]

    async def transact(producer: Any, write: Any) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise KafkaConnectionError("no broker")
        await retry.wait()

    monkeypatch.setattr(transactional, "_transact", transact)
    with capture_logs() as logs:
        task = asyncio.create_task(worker.transact(TPS[0], _write))
        while calls[0] < 2:
            await asyncio.sleep(0.01)
        worker._watch_broker()  # the coordinator is known: the transaction says otherwise
        assert _lines(logs)[1] == []
        retry.set()
        assert await task
        worker._watch_broker()
    lost, back = _lines(logs)
    assert len(lost) == 1 and len(back) == 1


async def test_a_missing_output_topic_is_said_as_such_not_as_an_outage(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A night-duty walkthrough: with kp.partner.ZA deleted, the router's transactions
    failed with UnknownTopicOrPartitionError and it logged ``broker_unavailable``, which
    sent the operator to a broker that was fine. Now one warning naming the commands, one
    info once a transaction commits again, and no outage."""
    _failing(monkeypatch, UnknownTopicOrPartitionError(), times=3)
    with capture_logs() as logs:
        assert await worker.transact(TPS[0], _write)
    events = [e["event"] for e in logs]
    assert "broker_unavailable" not in events and "broker_available_again" not in events
    (missing,) = [e for e in logs if e["event"] == "output_topic_missing"]
    assert missing["log_level"] == "warning" and "kpgw topics create" in missing["detail"]
    (back,) = [e for e in logs if e["event"] == "output_topic_available_again"]
    assert back["log_level"] == "info" and back["missing_s"] >= 0
    assert worker.broker_lost_at is None and worker.topic_missing_since is None


async def test_a_topic_missing_for_one_partition_is_not_back_when_another_commits(
    worker: TransactionalWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deleted kp.partner.ZA fails only the partitions whose batches write to it; the
    others commit meanwhile. Their commits said ``output_topic_available_again`` while the
    topic was still missing, and the next retry ``output_topic_missing`` again, in turn."""
    created = asyncio.Event()
    attempts = [0]

    async def transact(producer: Any, write: Any) -> None:
        await write(producer)

    async def to_the_missing_topic(producer: Any) -> None:
        if not created.is_set():
            attempts[0] += 1
            raise UnknownTopicOrPartitionError()

    monkeypatch.setattr(transactional, "_transact", transact)
    with capture_logs() as logs:
        held = asyncio.create_task(worker.transact(TPS[0], to_the_missing_topic))
        for _ in range(3):  # the other partition commits while the first one retries
            while attempts[0] < 2:
                await asyncio.sleep(0.001)
            attempts[0] = 0
            assert await worker.transact(TPS[1], _write)
        assert worker.topic_missing_since is not None
        created.set()
        assert await held
    events = [e["event"] for e in logs if e["event"].startswith("output_topic")]
    assert events == ["output_topic_missing", "output_topic_available_again"]
    assert worker.topic_missing_since is None
