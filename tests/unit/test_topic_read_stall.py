"""Reading a topic to its end (``kpgw dlq list|show|stats|replay``, ``read_until``) while
the broker is gone ends with an environment problem instead of polling for ever (a hang
review found the loop without a deadline)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from gateway.dlq import store
from gateway.errors import EnvironmentProblem
from gateway.kafka import clients
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
