"""Reading a topic to its end (``kpgw dlq list|show|stats|replay``, ``read_until``, the
rebuild's reader) while the broker is gone ends with an environment problem instead of
polling for ever (a hang review found the loop without a deadline), and so does waiting
for a position; a router's restore fails with a retriable error instead."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import TopicPartition

from gateway.dlq import store
from gateway.errors import EnvironmentProblem, TransientFailure
from gateway.kafka import clients
from gateway.router import restore
from gateway.router.rebuild import Reader
from gateway.settings import Settings


class SilentBroker:
    """A consumer whose broker has gone: the end is known, no record ever comes."""

    def __init__(self) -> None:
        self.polls = 0

    async def start(self) -> None:
        return None

    def assign(self, tps: list[TopicPartition]) -> None:
        self.tps = tps

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 5)

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        return None

    async def position(self, tp: TopicPartition) -> int:
        return 0

    async def getmany(self, *tps: TopicPartition, **_: Any) -> dict[TopicPartition, list[Any]]:
        self.polls += 1
        await asyncio.sleep(0.01)
        return {}


async def test_a_read_that_makes_no_progress_is_an_environment_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = SilentBroker()

    async def one_partition(*_: Any) -> int:
        return 1

    async def closed(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr(store, "partition_count", one_partition)
    monkeypatch.setattr(store, "committed_consumer", lambda *_, **__: consumer)
    monkeypatch.setattr(store, "close_for_good", closed)
    monkeypatch.setattr(clients, "READ_STALL_S", 0.1)

    async def read_all() -> None:
        async with asyncio.timeout(5):  # a hang fails here, not the whole run
            async for _ in store.iter_topic(Settings(), "kp.dlq"):
                pass

    with pytest.raises(EnvironmentProblem, match="made no progress for"):
        await read_all()
    assert consumer.polls >= 2  # it did wait a while before giving up


class StuckPosition(SilentBroker):
    """The broker went away before the seek to the beginning settled: aiokafka's
    ``position`` then waits for as long as the outage lasts (this one also swallows the
    cancellation of its wait, as aiokafka does in places)."""

    def __init__(self) -> None:
        super().__init__()
        self.never = asyncio.Event()

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        return None

    async def position(self, tp: TopicPartition) -> int:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        await self.never.wait()
        return 0


async def _closed(*_: Any, **__: Any) -> None:
    return None


@pytest.fixture
def stuck(monkeypatch: pytest.MonkeyPatch) -> Iterator[StuckPosition]:
    consumer = StuckPosition()

    async def one_partition(*_: Any) -> int:
        return 1

    monkeypatch.setattr(clients, "ANSWER_WAIT_S", 0.2)
    monkeypatch.setattr(store, "partition_count", one_partition)
    monkeypatch.setattr(store, "committed_consumer", lambda *_, **__: consumer)
    monkeypatch.setattr(store, "close_for_good", _closed)
    monkeypatch.setattr(restore, "whole_partition_reader", lambda *_, **__: consumer)
    monkeypatch.setattr(restore, "close_for_good", _closed)
    yield consumer
    consumer.never.set()  # the position left running ends


async def test_a_dlq_read_whose_position_never_comes_is_an_environment_problem(
    stuck: StuckPosition,
) -> None:
    async def read_all() -> None:
        async with asyncio.timeout(5):
            async for _ in store.iter_topic(Settings(), "kp.dlq"):
                pass

    with pytest.raises(EnvironmentProblem, match=r"did not answer the position of kp\.dlq-0"):
        await read_all()


async def test_a_rebuild_read_whose_position_never_comes_is_an_environment_problem(
    stuck: StuckPosition,
) -> None:
    reader = Reader(stuck, {"kp.events": 1})  # type: ignore[arg-type]

    async def read_all() -> None:
        async with asyncio.timeout(5):
            async for _ in reader.read({TopicPartition("kp.events", 0): 5}):
                pass

    with pytest.raises(EnvironmentProblem, match=r"did not answer the position of kp\.events-0"):
        await read_all()


async def test_a_restore_without_its_broker_fails_to_be_retried(
    stuck: StuckPosition, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's restore retries any failure with backoff (``restore_failed_will_retry``
    with the error): the error is retriable and says what was waited for."""

    async def restore_all() -> None:
        async with asyncio.timeout(5):
            await restore.restore_partitions(
                Settings(),
                changelog="kp.router.changelog",
                events="kp.events",
                partitions=[0],
                on_restored=lambda _: None,
            )

    with pytest.raises(TransientFailure, match=r"position of kp\.router\.changelog-0") as caught:
        await restore_all()
    assert caught.value.retriable
    # Its positions answered, but no record comes: the restore's own stall guard.
    monkeypatch.setattr(StuckPosition, "position", SilentBroker.position)
    monkeypatch.setattr(clients, "READ_STALL_S", 0.1)
    with pytest.raises(TransientFailure, match=r"reading kp\.router\.changelog made no progress"):
        await restore_all()
