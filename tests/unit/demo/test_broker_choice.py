"""Which broker ``kpgw demo`` uses, starts and cleans up: --port, else KPGW_KAFKA_BOOTSTRAP,
else 127.0.0.1:9092. No broker is reached here: the probe, the local broker and the topic
calls are stand-ins."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

from gateway.demo import run
from gateway.demo.run import DemoOptions, choose_broker, ensure_broker, run_demo
from gateway.errors import EnvironmentProblem
from gateway.kafka import broker
from gateway.settings import Settings, load_settings


@dataclass
class World:
    """Brokers that answer, local brokers started, topic calls made (by bootstrap)."""

    answering: set[str]
    started: list[int] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    output: io.StringIO = field(default_factory=io.StringIO)

    @property
    def console(self) -> Console:
        return Console(file=self.output, width=200)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Callable[..., World]:
    def make(*answering: str) -> World:
        state = World(set(answering))

        def answers(bootstrap: str, *, timeout_s: float = 5) -> bool:
            return bootstrap in state.answering

        class FakeBroker:
            def __init__(self, port: int) -> None:
                self.port = port

            def up(self) -> broker.BrokerStatus:
                state.started.append(self.port)
                state.answering.add(f"127.0.0.1:{self.port}")
                return broker.BrokerStatus(
                    True, 1, f"127.0.0.1:{self.port}", True, Path("/nonexistent")
                )

        async def list_topics(settings: Settings) -> list[str]:
            state.listed.append(settings.kafka_bootstrap)
            return ["demo.20200101000000.outcomes", "kp.outcomes"]

        async def delete_topics(settings: Settings) -> None:
            state.deleted.append((settings.kafka_bootstrap, settings.topic_prefix))

        monkeypatch.setattr(run, "answers_metadata", answers)
        monkeypatch.setattr(run, "LocalBroker", FakeBroker)
        monkeypatch.setattr(run, "list_topics", list_topics)
        monkeypatch.setattr(run, "delete_topics", delete_topics)
        return state

    return make


def configured(monkeypatch: pytest.MonkeyPatch, bootstrap: str | None) -> Settings:
    for name in ("KPGW_KAFKA_BOOTSTRAP", "KPGW_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    if bootstrap:
        monkeypatch.setenv("KPGW_KAFKA_BOOTSTRAP", bootstrap)
    return load_settings()


def test_precedence_port_then_environment_then_9092(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = configured(monkeypatch, "127.0.0.1:9470")
    assert choose_broker(chosen, 9480) == ("127.0.0.1:9480", "--port 9480")
    assert choose_broker(chosen, None) == ("127.0.0.1:9470", "KPGW_KAFKA_BOOTSTRAP")
    bootstrap, why = choose_broker(configured(monkeypatch, None), None)
    assert bootstrap == "127.0.0.1:9092"
    assert why.startswith("the default")


def test_port_wins_over_a_broker_answering_on_9092(
    monkeypatch: pytest.MonkeyPatch, world: Callable[..., World]
) -> None:
    state = world("127.0.0.1:9092")
    settings = asyncio.run(ensure_broker(configured(monkeypatch, None), 9480, state.console))
    assert settings.kafka_bootstrap == "127.0.0.1:9480"
    assert state.started == [9480]
    assert "No Kafka broker answers at 127.0.0.1:9480 (--port 9480)" in state.output.getvalue()


def test_an_answering_broker_on_the_port_is_used_and_named(
    monkeypatch: pytest.MonkeyPatch, world: Callable[..., World]
) -> None:
    state = world("127.0.0.1:9092", "127.0.0.1:9480")
    settings = asyncio.run(
        ensure_broker(configured(monkeypatch, "127.0.0.1:9470"), 9480, state.console)
    )
    assert settings.kafka_bootstrap == "127.0.0.1:9480"
    assert state.started == []
    assert "Using the Kafka broker at 127.0.0.1:9480 (--port 9480)" in state.output.getvalue()


def test_the_configured_bootstrap_is_started_on_its_own_port(
    monkeypatch: pytest.MonkeyPatch, world: Callable[..., World]
) -> None:
    state = world("127.0.0.1:9092")
    settings = asyncio.run(
        ensure_broker(configured(monkeypatch, "localhost:9470"), None, state.console)
    )
    assert settings.kafka_bootstrap == "127.0.0.1:9470"
    assert state.started == [9470]


def test_a_silent_remote_bootstrap_is_an_error_not_a_local_broker(
    monkeypatch: pytest.MonkeyPatch, world: Callable[..., World]
) -> None:
    state = world("127.0.0.1:9092")
    with pytest.raises(EnvironmentProblem, match=r"kafka-1\.example\.org:9092.*--port"):
        asyncio.run(
            ensure_broker(configured(monkeypatch, "kafka-1.example.org:9092"), None, state.console)
        )
    assert state.started == []


def test_old_demo_topics_are_deleted_only_on_the_demo_broker(
    monkeypatch: pytest.MonkeyPatch, world: Callable[..., World]
) -> None:
    state = world("127.0.0.1:9092", "127.0.0.1:9480")

    class Stop(Exception):
        pass

    async def create_topics(*_: object) -> None:
        raise Stop

    monkeypatch.setattr(run, "create_topics", create_topics)
    with pytest.raises(Stop):
        asyncio.run(
            run_demo(configured(monkeypatch, None), DemoOptions(broker_port=9480), state.console)
        )
    assert state.listed == ["127.0.0.1:9480"]
    assert state.deleted == [("127.0.0.1:9480", "demo.20200101000000.")]
    assert "demo run(s) older than a day at 127.0.0.1:9480" in state.output.getvalue()


def test_any_server_of_a_bootstrap_list_may_accept_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def metadata(bootstrap: str, timeout_s: float) -> bool:
        return True

    monkeypatch.setattr(broker, "_metadata", metadata)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))  # a free port: other test runs share the host
        listener.listen()
        port = listener.getsockname()[1]
        assert broker.answers_metadata(f"127.0.0.1:1,127.0.0.1:{port}", timeout_s=1)
        assert broker.answers_metadata(f"localhost:{port}", timeout_s=1)
    assert not broker.answers_metadata("127.0.0.1:1", timeout_s=1)


def test_the_probe_ends_in_bounded_time_when_a_client_task_ignores_its_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``kpgw kafka up|down`` and the demo wait on this probe: a client task left running
    that swallows its cancellation (as aiokafka's may with a hung broker) held
    ``asyncio.run``'s exit for as long as it ran; the bounded runner leaves it."""
    from gateway import aio_run

    monkeypatch.setattr(aio_run, "_threads_left", [])
    released = time.monotonic() + 30  # the stand-in ends by itself, whatever happens

    async def stubborn() -> None:
        while time.monotonic() < released:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(released - time.monotonic())

    async def metadata(bootstrap: str, timeout_s: float) -> bool:
        asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        return True

    monkeypatch.setattr(broker, "_metadata", metadata)
    monkeypatch.setattr(broker, "_accepts", lambda server, timeout_s: True)
    answers: list[bool] = []
    probe = threading.Thread(
        target=lambda: answers.append(broker.answers_metadata("127.0.0.1:1", timeout_s=1)),
        daemon=True,
    )
    probe.start()
    probe.join(timeout=15)
    assert answers == [True]


def test_the_probe_gives_up_on_a_name_lookup_that_never_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A socket's timeout does not cover ``getaddrinfo``: a resolver that hangs held
    ``kpgw kafka status`` for as long (found by a review). The probe's own timeout does."""
    released = threading.Event()

    def hung_resolver(*args: object, **kwargs: object) -> list[object]:
        released.wait(30)  # the stand-in ends by itself, whatever happens
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", hung_resolver)
    started = time.monotonic()
    try:
        assert not broker.answers_metadata("kafka.example:9092", timeout_s=1)
    finally:
        released.set()
    assert time.monotonic() - started < 5
