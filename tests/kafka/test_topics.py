from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from gateway.kafka.clients import admin_client
from gateway.kafka.topics import (
    CORE_TOPICS,
    DAY_MS,
    check_topics,
    create_topics,
    delete_topics,
)
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings

pytestmark = pytest.mark.kafka
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a topic's own setting


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


#: What an operations review found on a prefix: events kept an hour, inbound a day, and
#: the broker's default record size (1 MiB) on inbound and dlq.
WEAKENED = {
    "events": {"retention.ms": "3600000"},
    "inbound": {"retention.ms": str(DAY_MS), "max.message.bytes": "1048588"},
    "dlq": {"max.message.bytes": "1048588"},
}


async def _create_weakened(settings: Settings) -> None:
    specs = {spec.suffix: spec for spec in CORE_TOPICS}
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    f"{settings.topic_prefix}{suffix}",
                    specs[suffix].partitions,
                    1,
                    topic_configs={**specs[suffix].configs, **weaker},
                )
                for suffix, weaker in WEAKENED.items()
            ]
        )
    finally:
        await admin.close()


async def test_check_names_retention_and_record_size_too_weak(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> None:
    """Retention shorter than designed and a record size below what the gateway writes
    were passed by the check: KP record keeping and 2 MiB documents broken unnoticed."""
    prefix = kafka_settings.topic_prefix
    await _create_weakened(kafka_settings)
    try:
        await create_topics(kafka_settings, example_registry)
        problems = await check_topics(kafka_settings, example_registry)
        found = {(p.topic, p.config): p for p in problems}
        assert sorted(found) == [
            (f"{prefix}dlq", "max.message.bytes"),
            (f"{prefix}events", "retention.ms"),
            (f"{prefix}inbound", "max.message.bytes"),
            (f"{prefix}inbound", "retention.ms"),
        ], problems
        events = found[f"{prefix}events", "retention.ms"]
        assert events.problem == (
            "retention.ms 3600000 (1 h) is shorter than 3 years: KP record keeping"
        )
        assert (events.found, events.wanted) == ("3600000", str(3 * 366 * DAY_MS))
        dlq = found[f"{prefix}dlq", "max.message.bytes"]
        assert (dlq.found, dlq.wanted) == ("1048588", str(4 * 1024 * 1024))
        assert found[f"{prefix}inbound", "retention.ms"].problem.startswith(
            "retention.ms 86400000 (1 day) is shorter than 30 days: "
        )
    finally:
        await delete_topics(kafka_settings)


async def _overrides(settings: Settings, suffix: str) -> dict[str, str]:
    """The topic's own configs (not the broker's defaults)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        name = f"{settings.topic_prefix}{suffix}"
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    (resource,) = response.resources
    return {entry[0]: entry[1] for entry in resource[4] if entry[3] == DYNAMIC_TOPIC_CONFIG}


async def test_create_reports_weak_configs_and_fix_configs_raises_only_them(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> None:
    """``topics create`` said "0 created, 22 already present" over topics kept an hour and
    too small for a document; now it names them, and ``fix_configs`` raises those keys
    alone: other overrides stay, a longer retention is not lowered, partitions unchanged."""
    prefix = kafka_settings.topic_prefix
    await _create_weakened(kafka_settings)
    specs = {spec.suffix: spec for spec in CORE_TOPICS}
    admin = admin_client(kafka_settings)
    await admin.start()
    try:
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    f"{prefix}events",
                    {
                        **specs["events"].configs,
                        "retention.ms": "3600000",
                        "segment.bytes": "10485760",
                    },
                )
            ]
        )
    finally:
        await admin.close()
    try:
        await create_topics(kafka_settings, example_registry)  # the others, untouched
        report = await create_topics(kafka_settings, example_registry, review_configs=True)
        assert report.created == [] and report.changed == []
        weak = sorted((p.topic, p.config) for p in report.config_problems)
        assert weak == [
            (f"{prefix}dlq", "max.message.bytes"),
            (f"{prefix}events", "retention.ms"),
            (f"{prefix}inbound", "max.message.bytes"),
            (f"{prefix}inbound", "retention.ms"),
        ]
        assert (await _overrides(kafka_settings, "events"))["retention.ms"] == "3600000"

        fixed = await create_topics(kafka_settings, example_registry, fix_configs=True)
        assert fixed.config_problems == []
        assert sorted((c.topic, c.config, c.before, c.after, c.error) for c in fixed.changed) == [
            (f"{prefix}dlq", "max.message.bytes", "1048588", str(4 * 1024 * 1024), None),
            (
                f"{prefix}events",
                "retention.ms",
                "3600000",
                specs["events"].configs["retention.ms"],
                None,
            ),
            (f"{prefix}inbound", "max.message.bytes", "1048588", str(4 * 1024 * 1024), None),
            (f"{prefix}inbound", "retention.ms", str(DAY_MS), str(30 * DAY_MS), None),
        ]
        events = await _overrides(kafka_settings, "events")
        assert events["segment.bytes"] == "10485760"  # another override, kept
        assert events["retention.ms"] == specs["events"].configs["retention.ms"]
        assert await check_topics(kafka_settings, example_registry) == []
        assert (
            await create_topics(kafka_settings, example_registry, fix_configs=True)
        ).changed == []
    finally:
        await delete_topics(kafka_settings)


async def test_fix_configs_never_lowers_retention_nor_touches_a_policy(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> None:
    prefix = kafka_settings.topic_prefix
    admin = admin_client(kafka_settings)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(f"{prefix}outcomes", 12, 1, topic_configs={"retention.ms": "-1"}),
                NewTopic(f"{prefix}status", 6, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
    finally:
        await admin.close()
    try:
        report = await create_topics(kafka_settings, example_registry, fix_configs=True)
        assert report.changed == []
        (policy,) = report.config_problems
        assert (policy.topic, policy.config, policy.found, policy.fix) == (
            f"{prefix}status",
            "cleanup.policy",
            "compact",
            None,
        )
        assert (await _overrides(kafka_settings, "outcomes"))["retention.ms"] == "-1"
        assert (await _overrides(kafka_settings, "status"))["cleanup.policy"] == "compact"
    finally:
        await delete_topics(kafka_settings)
