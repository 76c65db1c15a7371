"""The router's start-up look at the changelog's latest records: it refuses a changelog a
newer router wrote states in (a rollback, or a rolling restart mixing versions), which it
would not decode and would start afresh, and still accepts the states every released
RouterState version wrote (an upgrade review: a 01b56e4 router restarted on the states of
the next one logged ``stored_state_undecodable`` and made an announced certificate's
confirmation an orphan)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest

from gateway import codec
from gateway.errors import ConfigurationError
from gateway.kafka.topics import ProblemKind, TopicProblem
from gateway.registry import ParticipantRegistry
from gateway.router import STATE_SCHEMA, preflight, state_to_avro
from gateway.router.restore import state_headers
from gateway.settings import Settings
from tests.unit.router.factories import Harness, certificate, event

TOPIC = "kp.router.changelog"
RELEASED = Path(codec.__file__).resolve().parents[1] / "schemas" / "avro" / "released"


@dataclass(frozen=True)
class Record:
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    key: bytes = b"RU0000001"


def _state() -> dict[str, Any]:
    router = Harness()
    router.feed(event(certificate()))
    assert router.state is not None
    return state_to_avro(router.state)


def _single_object(schema: Any, record: dict[str, Any]) -> bytes:
    parsed = fastavro.parse_schema(schema, named_schemas={})
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, record)
    return codec.MAGIC + codec.fingerprint(parsed) + body.getvalue()


def _released(version: int) -> bytes:
    """A pending certificate's state as a router of that RouterState version wrote it (no
    outcome emitted yet, so the later fields are only absent)."""
    schema = json.loads((RELEASED / "RouterState" / f"v{version}.avsc").read_text())
    return _single_object(schema, _state())


def _from_a_newer_router() -> bytes:
    """The state as a router one schema version ahead of this one writes it."""
    schema = codec.expanded_schema(STATE_SCHEMA)
    schema["fields"].append({"name": "added_later", "type": ["null", "string"], "default": None})
    return _single_object(schema, {**_state(), "added_later": "x"})


def _headers(partitions: int = 12) -> tuple[tuple[str, bytes], ...]:
    return tuple(state_headers(None, "timers", partitions))


def test_states_of_every_released_version_and_tombstones_pass() -> None:
    records = [Record(_released(v), _headers()) for v in (3, 4, 5)]
    records += [Record(codec.encode(STATE_SCHEMA, _state()), _headers()), Record(None)]
    records.append(Record(b"not single-object encoded"))  # the restore's to report
    assert preflight.changelog_problems(TOPIC, 12, records) == []


def test_a_state_a_newer_router_wrote_is_a_problem_naming_its_schema() -> None:
    newer = _from_a_newer_router()
    records = [Record(_released(4), _headers()), Record(newer, _headers())]
    (problem,) = preflight.changelog_problems(TOPIC, 12, records)
    assert problem.topic == TOPIC
    assert problem.problem.startswith(preflight.NEWER_STATES)
    assert problem.kind is ProblemKind.NEWER_STATES  # what the refusal's remedy keys on
    assert newer[2:10].hex() in problem.problem


def test_states_written_with_another_partition_count_are_still_a_problem() -> None:
    (problem,) = preflight.changelog_problems(TOPIC, 24, [Record(_released(5), _headers(12))])
    assert "written with 12 partitions and the topics now have 24" in problem.problem
    assert problem.kind is ProblemKind.REPARTITIONED


async def test_the_router_refuses_to_start_on_a_newer_routers_states(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def topics_fine(*_args: Any, **_kwargs: Any) -> list[TopicProblem]:
        return []

    async def counts(*_args: Any) -> dict[str, int]:
        return {TOPIC: 12}

    async def last_records(*_args: Any, **_kwargs: Any) -> AsyncIterator[list[Record]]:
        yield [Record(_released(4), _headers()), Record(_from_a_newer_router(), _headers())]

    monkeypatch.setattr(preflight, "check_topics_patiently", topics_fine)
    monkeypatch.setattr(preflight, "partition_counts", counts)
    monkeypatch.setattr(preflight, "iter_topic", last_records)
    with pytest.raises(ConfigurationError) as raised:
        await preflight.check_router_topics(Settings(), ParticipantRegistry(participants={}))
    assert preflight.NEWER_STATES in raised.value.message
    assert "stop every older router of the group" in raised.value.message
