"""A restore cancelled when its partitions are revoked or the router stops is waited for a
bounded time: ``asyncio.wait_for`` (Python 3.11), once its timeout is up, waits for the
cancelled task however long it takes, and a restore inside a Kafka client that swallows
its cancellation would have held the revocation, and so the whole group's rebalance, or
the router's stop, for good."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

from gateway.registry.loader import example_registry_path
from gateway.registry.watch import RegistryWatcher
from gateway.router import handler as handler_module
from gateway.router.handler import RouterHandler
from gateway.settings import load_settings

TP = TopicPartition("stop.events", 0)


class _Worker:
    def hold(self, *partitions: TopicPartition) -> None:
        pass

    def release(self, *partitions: TopicPartition) -> None:
        pass


class _StubbornRestore:
    """A restore in a client that swallows every cancellation until told to end."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.done = False

    async def __call__(self, *_: Any, **__: Any) -> None:
        self.started.set()
        while not self.done:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)
        raise asyncio.CancelledError  # told to end: the restore task ends with it


@pytest.fixture
def handler(tmp_path: Path) -> RouterHandler:
    registry = tmp_path / "partners.toml"
    registry.write_text(example_registry_path().read_text())
    settings = load_settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="stop.")
    built = RouterHandler(settings, RegistryWatcher(registry))
    built.attach(_Worker())  # type: ignore[arg-type]
    return built


@pytest.mark.parametrize("how", ["revoked", "closed"])
async def test_a_restore_that_swallows_its_cancellation_does_not_hold_the_router(
    how: str, handler: RouterHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    restore = _StubbornRestore()
    monkeypatch.setattr(handler_module, "restore_partitions", restore)
    monkeypatch.setattr(handler_module, "RESTORE_STOP_S", 0.2)
    await handler.on_assigned([TP])
    await asyncio.wait_for(restore.started.wait(), 5)
    left = set(handler._restores)
    stopping = asyncio.create_task(
        handler.on_revoked([TP]) if how == "revoked" else handler.close()
    )
    try:
        done, _ = await asyncio.wait({stopping}, timeout=5)
        assert stopping in done, f"{how}: waited for a restore that swallowed its cancel"
        stopping.result()
    finally:
        restore.done = True
        for task in left:
            task.cancel()
        await asyncio.wait(left | {stopping}, timeout=2)
