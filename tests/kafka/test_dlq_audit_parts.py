"""A replay whose audit does not fit one record of ``kp.dlq.audit`` (found by a review: a bulk
replay of ~60,000 letters wrote one record over the topic's 1 MiB; the broker refused it and
the whole replay was rolled back, saying "the broker refused 1 re-sent record(s)"). Here the
topic takes 1,500-byte records, so a few hundred letters need several audit records."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.admin import NewTopic

from gateway import codec
from gateway.dlq import headers as h
from gateway.dlq import replay as replay_module
from gateway.dlq.store import DlqFilter
from gateway.errors import EnvironmentProblem
from gateway.kafka.alter_configs import set_topic_configs
from gateway.kafka.clients import admin_client, idempotent_producer
from gateway.kafka.topics import CORE_TOPICS, create_topics, delete_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from tests.kafka.helpers import read_until, run_kpgw

pytestmark = pytest.mark.kafka

AUDIT_BYTES = 1_500
LETTERS = 240


@pytest.fixture
async def small_audit(kafka_settings: Settings, example_registry: ParticipantRegistry) -> Any:
    """Every topic, kp.dlq.audit created by hand with 1,500-byte records."""
    settings = kafka_settings
    spec = next(spec for spec in CORE_TOPICS if spec.suffix == "dlq.audit")
    admin = admin_client(settings)
    await admin.start()
    try:
        configs = {**spec.configs, "max.message.bytes": str(AUDIT_BYTES)}
        await admin.create_topics(
            [NewTopic(spec.name(settings.topic_prefix), 1, 1, topic_configs=configs)]
        )
    finally:
        await admin.close()
    await create_topics(settings, example_registry)
    yield settings
    await delete_topics(settings)


async def dead_letters(settings: Settings, count: int) -> None:
    """``count`` dead letters of kp.inbound records, as the translator writes them."""
    inbound = f"{settings.topic_prefix}inbound"
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for n in range(count):
            origin = h.Origin(inbound, 0, n, 1_772_000_000_000 + n, "kp.translator")
            failure = h.Failure("translator", "PAIR_NOT_ENABLED", "x.PairNotEnabled", "off")
            headers = h.dlq_headers([(h.SENDER, b"RU")], origin, failure, datetime.now(UTC))
            await producer.send(
                f"{settings.topic_prefix}dlq", b"<x/>", key=f"RU:{n}".encode(), headers=headers
            )
        await producer.flush()
    finally:
        await producer.stop()


def kpgw_json(env: dict[str, str], *args: str) -> list[Any]:
    done = run_kpgw(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_a_replay_too_large_for_one_audit_record_is_audited_in_parts(
    small_audit: Settings,
) -> None:
    settings = small_audit
    await dead_letters(settings, LETTERS)
    env = {
        "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": settings.topic_prefix,
    }
    everything = sorted(x["id"] for x in kpgw_json(env, "dlq", "list"))
    assert len(everything) == LETTERS

    (report,) = kpgw_json(env, "dlq", "replay", "--all", "--operator", "ops")
    assert (report["replayed"], report["skipped_already_replayed"]) == (LETTERS, 0)
    parts = report["audit_records"]
    assert parts > 1

    # Every letter re-sent, and audited exactly once across the replay's parts.
    resent = await read_until(settings, "inbound", LETTERS)
    assert len(resent) == LETTERS
    records = await read_until(settings, "dlq.audit", parts)
    assert all(len(x.value) < AUDIT_BYTES for x in records)
    audits = [codec.decode(x.value, "DlqAudit") for x in records]
    assert [(x["part"], x["parts"]) for x in audits] == [(n, parts) for n in range(1, parts + 1)]
    assert {x["replay_id"] for x in audits} == {report["replay_id"]}
    assert {x.key for x in records} == {report["replay_id"].encode()}
    audited = [where for x in audits for where in x["dead_letters"]]
    assert len(audited) == len(set(audited)) == LETTERS
    assert sorted(where.removeprefix("dlq/").replace("/", "-") for where in audited) == everything
    assert all(x["replayed"] == LETTERS and x["operator"] == "ops" for x in audits)

    # The tools read the parts together: nothing pending, each letter by this replay.
    (stats,) = kpgw_json(env, "dlq", "stats")
    assert (stats["total"], stats["pending"]) == (LETTERS, 0)
    assert kpgw_json(env, "dlq", "list", "--pending") == []
    listed = kpgw_json(env, "dlq", "list")
    assert {x["replayed_by"] for x in listed} == {report["replay_id"]}

    # Replaying again re-sends nothing: every letter, in whichever part, is known replayed.
    (again,) = kpgw_json(env, "dlq", "replay", "--all", "--operator", "ops")
    assert (again["replayed"], again["skipped_already_replayed"]) == (0, LETTERS)
    assert (again["result"], again["audit_records"]) == ("nothing to replay", 1)
    assert len(await read_until(settings, "inbound", LETTERS + 1, timeout_s=3)) == LETTERS
    last = codec.decode((await read_until(settings, "dlq.audit", parts + 1))[-1].value)
    assert (last["dead_letters"], last["part"], last["parts"]) == ([], 1, 1)


async def test_an_audit_topic_too_small_for_one_letter_stops_the_replay_before_sending(
    small_audit: Settings,
) -> None:
    settings = small_audit
    await dead_letters(settings, 3)
    admin = admin_client(settings)
    await admin.start()
    try:
        topic = f"{settings.topic_prefix}dlq.audit"
        assert await set_topic_configs(admin, {topic: {"max.message.bytes": "200"}}) == {
            topic: None
        }
    finally:
        await admin.close()
    env = {
        "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": settings.topic_prefix,
    }
    done = run_kpgw(env, "dlq", "replay", "--all")
    assert done.returncode == 2, done.stderr
    assert f"{topic} takes records of at most 200 bytes (max.message.bytes)" in done.stderr
    assert "nothing was re-sent" in done.stderr
    assert await read_until(settings, "inbound", 1, timeout_s=2) == []
    assert await read_until(settings, "dlq.audit", 1, timeout_s=2) == []


async def test_an_audit_the_broker_refuses_rolls_the_replay_back_and_says_so(
    small_audit: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The topic's limit lowered after it was read (or read wrong): the broker refuses an
    audit record; the replay is rolled back, and the operator is told it was the audit,
    not a re-sent letter (as the review's reproduction said before the fix)."""
    settings = small_audit
    await dead_letters(settings, LETTERS)

    async def read_as_the_default(_settings: Settings, _topic: str) -> int:
        return 1024 * 1024

    monkeypatch.setattr(replay_module, "audit_part_limit", read_as_the_default)
    with pytest.raises(EnvironmentProblem) as caught:
        await replay_module.replay(settings, DlqFilter(), operator="ops")
    said = caught.value.message
    topic = f"{settings.topic_prefix}dlq.audit"
    assert said.startswith(f"{topic} refused 1 of the 1 audit record(s) of this chunk")
    assert "MessageSizeTooLargeError" in said
    assert "the replay was rolled back and re-sent nothing" in said
    assert await read_until(settings, "inbound", 1, timeout_s=2) == []
    assert await read_until(settings, "dlq.audit", 1, timeout_s=2) == []


async def test_a_replay_outlasting_its_transaction_timeout_is_said_so_not_blamed_on_another(
    small_audit: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured: 90,000 letters of 10 kB took 120 s, the coordinator aborted the transaction
    after 60 s, and the operator was told another replay had taken over (none had). Here
    the timeout is 1 s and the replay takes 12 s before its audit (the coordinator looks
    every 10 s)."""
    settings = small_audit
    await dead_letters(settings, 3)
    monkeypatch.setattr(replay_module, "TRANSACTION_TIMEOUT_S", 1.0)
    send_alone = replay_module.send_alone

    async def slowly(*args: Any) -> Any:  # the letters are sent: their transaction is open
        await asyncio.sleep(12)
        return await send_alone(*args)

    monkeypatch.setattr(replay_module, "send_alone", slowly)
    with pytest.raises(EnvironmentProblem) as caught:
        await replay_module.replay(settings, DlqFilter(), operator="ops")
    said = caught.value.message
    assert said.startswith("this replay's transaction was open 1")
    assert "longer than the broker keeps one (1 s), re-sending 3 dead letters" in said
    assert "another kpgw dlq replay" not in said
    assert await read_until(settings, "inbound", 1, timeout_s=2) == []
    assert await read_until(settings, "dlq.audit", 1, timeout_s=2) == []
