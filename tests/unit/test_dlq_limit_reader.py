"""Reading kp.dlq's ``max.message.bytes`` (``gateway.dlq.limit``) takes at most its
``seconds`` in all: the read may run inside a worker's transaction, which a slow broker
must not make outlast its timeout. (Against a real broker: tests/kafka/test_dlq_limits.py.)"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.dlq import limit
from gateway.dlq.limit import BROKER_LIMIT, RecordLimitReader
from gateway.settings import Settings


class _SlowAdmin:
    """An admin client whose every request takes ``delay`` seconds; the topic's config
    describes no max.message.bytes, so the broker's is asked for too (four requests)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests: list[str] = []

    async def _answer(self, what: str, answer: Any) -> Any:
        self.requests.append(what)
        await asyncio.sleep(self.delay)
        return answer

    async def start(self) -> None:
        await self._answer("start", None)

    async def describe_configs(self, resources: list[Any]) -> Any:
        [resource] = resources
        entries = [(BROKER_LIMIT, "2000000")] if resource.name == "1" else []
        response = SimpleNamespace(resources=[(0, None, 0, resource.name, entries)])
        return await self._answer(f"configs of {resource.name}", [response])

    async def describe_cluster(self) -> Any:
        return await self._answer("cluster", {"brokers": [{"node_id": 1}]})

    async def stop(self) -> None:
        return None


def test_a_read_takes_its_seconds_in_all_not_for_each_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    admin = _SlowAdmin(delay=0.4)
    monkeypatch.setattr(limit, "admin_client", lambda *_, **__: admin)
    reader = RecordLimitReader(settings, "kp.dlq", seconds=1.0)
    started = time.monotonic()
    found = asyncio.run(reader())
    elapsed = time.monotonic() - started
    assert elapsed < 1.3, (elapsed, admin.requests)  # four requests of 0.4 s each: 1.6 s
    assert found is None  # no answer in time: unread, as with no broker


def test_a_read_within_its_seconds_answers_the_brokers_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    admin = _SlowAdmin(delay=0.01)
    monkeypatch.setattr(limit, "admin_client", lambda *_, **__: admin)
    assert asyncio.run(RecordLimitReader(settings, "kp.dlq", seconds=1.0)()) == 2_000_000
    assert admin.requests == ["start", "configs of kp.dlq", "cluster", "configs of 1"]
