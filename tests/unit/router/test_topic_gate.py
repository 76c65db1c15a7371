"""The router takes a reloaded registry only once the partner topics it names exist
(``gateway.router.topic_gate``); the creation itself runs on the real broker in
tests/kafka/router/test_router.py. Here: a creation that fails keeps the previous registry
in use, says why on /metrics, and is tried again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from gateway.kafka.topics import TopicReport
from gateway.registry.loader import example_registry_path
from gateway.registry.watch import RELOAD_FAILURES, RegistryWatcher
from gateway.router import topic_gate
from gateway.settings import load_settings


def _gate(tmp_path: Path) -> tuple[Path, topic_gate.TopicCheckedRegistry]:
    """A gate on a copy of the example registry that the test may edit."""
    path = tmp_path / "participants.toml"
    path.write_text(example_registry_path().read_text())
    return path, topic_gate.TopicCheckedRegistry(load_settings(), RegistryWatcher(path))


NEW_PAIR = '\n[[pairs]]\nexporter = "RU"\nimporter = "JP"\nconfirmation_deadline_days = 30\n'


async def test_a_registry_whose_partner_topic_cannot_be_created_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, gate = _gate(tmp_path)
    first = gate.current()
    attempts: list[str] = []

    async def refused(settings: Any, registry: Any, *, wait_s: float) -> TopicReport:
        attempts.append("refused")
        raise TopicAuthorizationFailedError()

    monkeypatch.setattr(topic_gate, "create_topics", refused)
    assert not await gate.refresh()  # nothing changed yet: no attempt
    path.write_text(path.read_text() + NEW_PAIR)
    assert not await gate.refresh()
    assert gate.current() is first and attempts == ["refused"]
    assert "kp.partner.JP" in RELOAD_FAILURES[str(path)]

    async def created(settings: Any, registry: Any, *, wait_s: float) -> TopicReport:
        attempts.append("created")
        return TopicReport(created=["kp.partner.JP"], existing=[])

    monkeypatch.setattr(topic_gate, "create_topics", created)
    assert await gate.refresh()  # the next round tries again
    assert gate.current().pair("RU", "JP") is not None
    assert str(path) not in RELOAD_FAILURES
    path.write_text(path.read_text() + "\n# a comment\n")
    assert await gate.refresh() and attempts == ["refused", "created"]  # JP known now


async def test_a_batch_never_creates_topics_and_a_refused_creation_blocks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code review: refresh() ran in every batch's transaction, and a creation the broker
    refused inside its response (RuntimeError from topics._created, e.g. no CREATE right)
    escaped and failed every batch, for ever."""
    path, gate = _gate(tmp_path)
    first = gate.current()
    attempts: list[str] = []

    async def refused_in_response(settings: Any, registry: Any, *, wait_s: float) -> TopicReport:
        attempts.append("refused")
        raise RuntimeError("creating kp.partner.JP failed: Kafka error 29")

    monkeypatch.setattr(topic_gate, "create_topics", refused_in_response)
    path.write_text(path.read_text() + NEW_PAIR)
    assert not await gate.refresh(create_topics=False)  # a batch: no creation attempted
    assert attempts == [] and gate.current() is first
    assert not await gate.refresh()  # the timer: attempted, refused, kept the previous one
    assert attempts == ["refused"] and gate.current() is first
    assert "Kafka error 29" in RELOAD_FAILURES[str(path)]


async def test_a_watchers_good_reload_does_not_hide_the_gates_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All in one process, the translator's watcher loads the file the router's gate could
    not take (its partner topic not created): that must not clear the gate's failure."""
    path, gate = _gate(tmp_path)
    translator = RegistryWatcher(path)

    async def refused(settings: Any, registry: Any, *, wait_s: float) -> TopicReport:
        raise TopicAuthorizationFailedError()

    monkeypatch.setattr(topic_gate, "create_topics", refused)
    path.write_text(path.read_text() + NEW_PAIR)
    assert not await gate.refresh()
    assert translator.current().pair("RU", "JP") is not None
    assert "kp.partner.JP" in RELOAD_FAILURES[str(path)]
