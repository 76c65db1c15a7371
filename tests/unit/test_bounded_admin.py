"""Admin clients and broker requests are bounded even where aiokafka swallows the
cancellation of a step that timed out (its ``AIOKafkaClient.close()`` does, while it awaits
its metadata task): the topic commands, the broker probe of ``kpgw kafka`` and the tests,
the ingress's readiness check, and ``broker_answer`` for any request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

import gateway.ingress.service as service
from gateway.errors import EnvironmentProblem, TransientFailure
from gateway.kafka import broker, clients, topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings

SETTINGS = Settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="t.", http_port=0)


async def _swallowing(never: asyncio.Event) -> None:
    """Like aiokafka's ``close()``: the first cancellation is swallowed, then it waits on."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await never.wait()


class _StuckAdmin(AIOKafkaAdminClient):  # type: ignore[misc]
    """An admin client that answers everything at once but whose ``close`` never ends."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(bootstrap_servers="127.0.0.1:1")
        self.names = names
        self.never = asyncio.Event()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await _swallowing(self.never)

    async def list_topics(self) -> list[str]:
        return self.names

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [
            {"topic": name, "error_code": 0, "partitions": [{"leader": 1, "replicas": [1]}]}
            for name in names
        ]

    async def describe_configs(self, resources: list[Any]) -> list[Any]:
        return []

    async def describe_cluster(self) -> dict[str, Any]:
        return {"brokers": [{"node_id": 1}]}

    async def delete_topics(self, names: list[str]) -> None:
        return None


def _others() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def _settle() -> None:
    if left := _others():
        await asyncio.wait(left, timeout=1)


Call = Callable[[ParticipantRegistry], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "create_topics": lambda registry: topics.create_topics(SETTINGS, registry),
    "check_topics": lambda registry: topics.check_topics(SETTINGS, registry),
    "partition_count": lambda _: topics.partition_count(SETTINGS, "t.events"),
    "partition_counts": lambda _: topics.partition_counts(SETTINGS, ["t.events"]),
    "list_topics": lambda _: topics.list_topics(SETTINGS),
    "delete_topics": lambda _: topics.delete_topics(SETTINGS),
}


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_a_topic_command_s_admin_close_is_bounded(
    name: str, example_registry: ParticipantRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [spec.name(SETTINGS.topic_prefix) for spec in topics.all_specs(example_registry)]
    admin = _StuckAdmin(names)
    monkeypatch.setattr(topics, "admin_client", lambda *_, **__: admin)
    monkeypatch.setattr(clients, "CLIENT_STOP_S", 0.2)  # a second, not ten
    call = asyncio.create_task(CALLS[name](example_registry))
    try:
        done, _ = await asyncio.wait({call}, timeout=10)
        assert call in done, f"{name} waited for an admin close that swallowed its cancel"
        call.result()
        assert _others() == set()  # the close left running was released (cancelled again)
    finally:
        admin.never.set()


async def test_the_broker_probe_is_bounded_when_a_start_swallows_its_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    never = asyncio.Event()

    class _StuckStart(_StuckAdmin):
        def __init__(self, **_: Any) -> None:
            super().__init__([])

        async def start(self) -> None:
            await _swallowing(never)

        async def close(self) -> None:
            return None

    monkeypatch.setattr("aiokafka.admin.AIOKafkaAdminClient", _StuckStart)
    probe = asyncio.create_task(broker._metadata("127.0.0.1:1", 0.2))
    try:
        done, _ = await asyncio.wait({probe}, timeout=10)
        assert probe in done, "the probe waited for a start that swallowed its cancel"
        assert probe.result() is False
    finally:
        never.set()
        await _settle()


async def test_the_readiness_check_is_bounded_when_its_close_swallows_its_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    never = asyncio.Event()

    class _Client:
        def __init__(self, **_: Any) -> None:
            pass

        async def bootstrap(self) -> None:
            raise KafkaConnectionError("no broker")

        async def close(self) -> None:
            await _swallowing(never)

    monkeypatch.setattr(service, "AIOKafkaClient", _Client)
    monkeypatch.setattr(service, "STOP_GRACE_S", 0.2)
    check = asyncio.create_task(service.broker_topics(SETTINGS, 0.5))
    try:
        done, _ = await asyncio.wait({check}, timeout=10)
        assert check in done, "the readiness check waited for a close that swallowed its cancel"
        assert check.result() is None
    finally:
        never.set()
        await _settle()


# --- broker_answer --------------------------------------------------------------------


async def _answer(value: int) -> int:
    return value


async def _failing(error: BaseException) -> int:
    raise error


async def test_an_answer_or_a_failure_passes_through() -> None:
    assert await clients.broker_answer(_answer(7), "the position of t.events-0") == 7
    with pytest.raises(KafkaConnectionError):
        await clients.broker_answer(_failing(KafkaConnectionError()), "the end offsets of t")


async def test_no_answer_is_the_error_asked_for_naming_what_was_waited_for() -> None:
    never = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(EnvironmentProblem, match=r"did not answer the position of t\.dlq-0 within"):
        await clients.broker_answer(_swallowing(never), "the position of t.dlq-0", seconds=0.2)
    assert loop.time() - started < 2  # bounded though the request swallowed its cancel
    with pytest.raises(TransientFailure, match=r"the end offsets of t\.events"):
        await clients.broker_answer(
            _failing(KafkaTimeoutError("Failed to get offsets by times in 15000 ms")),
            "the end offsets of t.events",
            error=TransientFailure,
        )
    never.set()
    await asyncio.sleep(0)


async def test_cancelling_the_caller_cancels_the_request() -> None:
    request = asyncio.ensure_future(asyncio.sleep(3600))
    caller = asyncio.create_task(clients.broker_answer(request, "anything"))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert request.cancelled()
