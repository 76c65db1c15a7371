"""The router's refusal says what mends each problem: ``kpgw topics create`` creates
missing topics and nothing more (it once was the hint for every refusal)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ConfigurationError, EnvironmentProblem
from gateway.kafka.topics import ProblemKind, TopicProblem
from gateway.registry import ParticipantRegistry
from gateway.router import preflight
from gateway.settings import Settings


async def _refusal(monkeypatch: pytest.MonkeyPatch, problems: list[TopicProblem]) -> str:
    async def check(*_args: Any, **_kwargs: Any) -> list[TopicProblem]:
        return problems

    async def history(*_args: Any) -> list[TopicProblem]:
        return []

    monkeypatch.setattr(preflight, "check_topics_patiently", check)
    monkeypatch.setattr(preflight, "_repartitioned_or_unknown", history)
    with pytest.raises(ConfigurationError) as raised:
        await preflight.check_router_topics(Settings(), ParticipantRegistry(participants={}))
    return raised.value.message


async def test_not_co_partitioned_is_not_sent_to_topics_create(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await _refusal(
        monkeypatch,
        [
            TopicProblem(
                "kp.events,kp.outcomes",
                "not co-partitioned (kp.events=12, kp.outcomes=4)",
                kind=ProblemKind.CO_PARTITIONING,
            )
        ],
    )
    assert "create them with" not in message
    assert "never changes an existing topic's partitions" in message
    assert "new deployment with its own topic prefix" in message


async def test_missing_topics_go_to_topics_create_a_delete_changelog_to_kafka_configs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await _refusal(
        monkeypatch,
        [
            TopicProblem("kp.status", "missing", kind=ProblemKind.MISSING),
            TopicProblem(
                "kp.router.changelog",
                "cleanup.policy is delete, expected compact",
                config="cleanup.policy",
                found="delete",
                wanted="compact",
            ),
        ],
    )
    assert "`kpgw topics create` creates the missing topics" in message
    assert "cleanup.policy=compact on kp.router.changelog with kafka-configs --alter" in message


async def test_a_history_read_the_broker_does_not_answer_lets_the_router_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the changelog's end says "the broker did not answer ..." as an environment
    problem (an operator's read stops there); start-up only skips the check."""

    async def silent(*_args: Any) -> list[TopicProblem]:
        raise EnvironmentProblem("the broker did not answer the position of kp.x-0 within 15 s")

    monkeypatch.setattr(preflight, "_repartitioned", silent)
    assert await preflight._repartitioned_or_unknown(Settings()) == []
