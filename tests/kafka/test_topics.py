from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic

from gateway.kafka.clients import admin_client
from gateway.kafka.topics import CORE_TOPICS, check_topics, create_topics, delete_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings

pytestmark = pytest.mark.kafka


async def test_create_is_idempotent_and_check_passes(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> None:
    try:
        first = await create_topics(kafka_settings, example_registry)
        assert f"{kafka_settings.topic_prefix}events" in first.created
        assert f"{kafka_settings.topic_prefix}partner.EU" in first.created
        second = await create_topics(kafka_settings, example_registry)
        assert second.created == []
        assert await check_topics(kafka_settings, example_registry) == []
    finally:
        await delete_topics(kafka_settings)


async def test_wrong_partition_count_and_policy_fail_the_check(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> None:
    prefix = kafka_settings.topic_prefix
    admin = admin_client(kafka_settings)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(f"{prefix}outcomes", 4, 1),  # events will have 12: not co-partitioned
                NewTopic(f"{prefix}status", 6, 1, topic_configs={"cleanup.policy": "delete"}),
            ]
        )
    finally:
        await admin.close()
    try:
        await create_topics(kafka_settings, example_registry)
        problems = {
            (p.topic, p.problem) for p in await check_topics(kafka_settings, example_registry)
        }
        assert (f"{prefix}outcomes", "has 4 partitions, expected 12") in problems
        assert (f"{prefix}status", "cleanup.policy is delete, expected compact,delete") in problems
        assert any("not co-partitioned" in problem for _, problem in problems)
        assert len(CORE_TOPICS) == 7
    finally:
        await delete_topics(kafka_settings)


async def test_topics_get_and_check_their_copies(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> None:
    """One broker here: one copy and one in sync; a setting asking for three is a problem
    ``topics check`` names (the broker's default of one copy is never taken silently)."""
    await create_topics(kafka_settings, example_registry)
    try:
        assert await check_topics(kafka_settings, example_registry) == []
        admin = admin_client(kafka_settings)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([f"{kafka_settings.topic_prefix}inbound"])
        finally:
            await admin.close()
        assert {len(part["replicas"]) for part in described["partitions"]} == {1}
        strict = kafka_settings.model_copy(
            update={"topic_replication_factor": 3, "topic_min_insync_replicas": 2}
        )
        problems = await check_topics(strict, example_registry, only=("inbound",))
        assert [p.problem.split(",")[0] for p in problems] == [
            "has 1 copy of each partition",
            "min.insync.replicas is 1",
        ]
    finally:
        await delete_topics(kafka_settings)
