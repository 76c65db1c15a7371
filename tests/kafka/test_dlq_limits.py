"""A dead letter larger than what ``kp.dlq`` takes (its ``max.message.bytes`` set lower than
the gateway creates it with): the broker refuses it, and the publisher writes a smaller one
that keeps the reason and the coordinates, so the partition keeps flowing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic
from prometheus_client import generate_latest

from gateway.dlq import headers as h
from gateway.dlq.limit import RecordLimitReader
from gateway.errors import ConfigurationError
from gateway.kafka.alter_configs import set_topic_configs
from gateway.kafka.clients import admin_client
from gateway.kafka.topics import CORE_TOPICS, create_topics, delete_topics
from gateway.metrics import DEAD_LETTER_TOPIC_TOO_SMALL, pipeline_metrics
from gateway.readiness import worker_checks
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.translator.worker import build_translator, check_translator_topics
from tests.kafka.helpers import (
    certificate,
    decoded,
    produce_inbound,
    read_until,
    registry_copy,
    render,
    run_kpgw,
    running,
)
from tests.log_capture import captured

pytestmark = pytest.mark.kafka

#: kp.dlq as an operator may have created it by hand: 20 kB records.
SMALL_DLQ_BYTES = 20_000


async def create_with_small_dlq(
    settings: Settings,
    registry: ParticipantRegistry,
    limit: int = SMALL_DLQ_BYTES,
    partitions: int | None = None,
) -> None:
    spec = next(spec for spec in CORE_TOPICS if spec.suffix == "dlq")
    admin = admin_client(settings)
    await admin.start()
    try:
        configs = {**spec.configs, "max.message.bytes": str(limit)}
        await admin.create_topics(
            [
                NewTopic(
                    spec.name(settings.topic_prefix),
                    partitions or spec.partitions,
                    1,
                    topic_configs=configs,
                )
            ]
        )
    finally:
        await admin.close()
    await create_topics(settings, registry)  # the others, as the gateway creates them


async def set_dlq_limit(settings: Settings, limit: int) -> None:
    """``kafka-configs --alter ... --add-config max.message.bytes=<limit>`` on kp.dlq, and
    wait until the broker describes it."""
    topic = f"{settings.topic_prefix}dlq"
    admin = admin_client(settings)
    await admin.start()
    try:
        errors = await set_topic_configs(admin, {topic: {"max.message.bytes": str(limit)}})
        assert errors == {topic: None}
    finally:
        await admin.close()
    read = RecordLimitReader(settings, topic)
    for _ in range(50):
        if await read() == limit:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{topic} still does not take {limit}-byte records")


async def test_a_dead_letter_over_the_dlq_topics_limit_is_written_smaller(
    kafka_settings: Settings, example_registry: ParticipantRegistry, tmp_path: Path
) -> None:
    """Before, the broker refused the 80 kB dead letter (MessageSizeTooLarge), the
    transaction was retried for ever and the certificate behind it never translated."""
    settings = kafka_settings
    await create_with_small_dlq(settings, example_registry)
    try:
        big = b"not xml " * 10_000  # 80 kB: NOT_XML, its dead letter over 20 kB
        small = b"not xml " * 1_000  # 8 kB: its dead letter fits as it is
        behind = certificate("RU0120001")
        await produce_inbound(
            settings,
            [("RU", "m-big", big), ("RU", "m-small", small), ("RU", "m-ok", render(behind))],
            partition=0,
        )
        worker, handler = build_translator(settings, registry_path=registry_copy(tmp_path))
        with captured("gateway.dlq.publisher") as logs:
            async with running(lambda: worker):
                events = await read_until(settings, "events", 1, timeout_s=45)
                dlq = await read_until(settings, "dlq", 2, timeout_s=15)
        # Cut to the limit read from kp.dlq's config at the first try: no refusal, no
        # retry (before, every process learnt it by refusals after each restart).
        assert [e["event"] for e in logs if "too_large" in e["event"]] == []
        assert (handler.dead_letters.limit, handler.dead_letters.limit_source) == (
            SMALL_DLQ_BYTES,
            "config",
        )
        assert [e["certificate_id"] for e in decoded(events, "CertificateEvent")] == [
            behind.certificate_number
        ]
        letters = {h.text_header(r.headers, "kpgw-message-id"): r for r in dlq}
        assert sorted(letters) == ["m-big", "m-small"]
        cut, whole = letters["m-big"], letters["m-small"]
        assert h.text_header(cut.headers, h.REASON) == "NOT_XML"
        assert cut.value is None
        omitted = h.text_header(cut.headers, h.VALUE_OMITTED) or ""
        assert omitted.startswith("80,000 bytes left out")
        assert omitted.endswith(f"the original record is {settings.topic_prefix}inbound/0/0")
        assert whole.value == small and h.header(whole.headers, h.VALUE_OMITTED) is None

        # The operator is told, by `dlq show` and by `dlq replay`, where the bytes are.
        env = {
            "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "KPGW_TOPIC_PREFIX": settings.topic_prefix,
        }
        shown = run_kpgw(env, "dlq", "show", f"{cut.partition}-{cut.offset}")
        assert shown.returncode == 0, shown.stderr
        document = shown.stdout.split("document: left out of the dead letter")[1]
        assert f"the original record is {settings.topic_prefix}inbound/0/0" in document
        as_json = run_kpgw(env, "dlq", "show", "--json", f"{cut.partition}-{cut.offset}")
        assert json.loads(as_json.stdout)["document_omitted"] == omitted
        raw = run_kpgw(env, "dlq", "show", "--raw", f"{cut.partition}-{cut.offset}")
        assert raw.returncode != 0 and raw.stdout == ""
        assert "does not hold the document: 80,000 bytes left out" in raw.stderr
        replayed = run_kpgw(env, "dlq", "replay", "--id", f"{cut.partition}-{cut.offset}")
        assert "too large to keep in the dead letter" in replayed.stdout + replayed.stderr
    finally:
        await delete_topics(settings)


async def test_a_dlq_limit_changed_at_run_time_is_read_again(
    kafka_settings: Settings, example_registry: ParticipantRegistry, tmp_path: Path
) -> None:
    """kp.dlq's limit lowered while the translator runs: the broker refuses one letter, the
    publisher reads the new limit (not half the refused size) and the retry fits."""
    settings = kafka_settings
    await create_with_small_dlq(settings, example_registry)
    try:
        worker, handler = build_translator(settings, registry_path=registry_copy(tmp_path))
        with captured("gateway.dlq.publisher") as logs:
            async with running(lambda: worker):
                await produce_inbound(settings, [("RU", "m-1", b"not xml " * 1_000)], partition=0)
                [whole] = await read_until(settings, "dlq", 1, timeout_s=30)
                await set_dlq_limit(settings, 6_000)
                await produce_inbound(settings, [("RU", "m-2", b"not xml " * 1_000)], partition=0)
                dlq = await read_until(settings, "dlq", 2, timeout_s=30)
        assert whole.value == b"not xml " * 1_000  # 8 kB: it fitted 20 kB whole
        [cut] = [r for r in dlq if h.text_header(r.headers, "kpgw-message-id") == "m-2"]
        assert cut.value is None and h.text_header(cut.headers, h.REASON) == "NOT_XML"
        assert (handler.dead_letters.limit, handler.dead_letters.limit_source) == (6_000, "config")
        refusals = [e for e in logs if e["event"] == "dead_letter_too_large_will_cut"]
        assert [(e["limit_bytes"], e["limit_source"]) for e in refusals] == [(6_000, "config")]
    finally:
        await delete_topics(settings)


async def test_a_dlq_too_small_for_any_dead_letter_holds_the_partition_and_says_so(
    kafka_settings: Settings, example_registry: ParticipantRegistry, tmp_path: Path
) -> None:
    """kp.dlq at 600 bytes: no dead letter fits, even cut. The partition is held, the
    record never lost; the log names the topic, its limit, the size needed and the fix;
    /metrics and the worker's readiness say so; `topics check` (and the start-up check)
    refuses it. Raised, the letter is written and the records behind it translated.
    Before, the broker's refusal was retried with only `batch_aborted_will_retry` lines."""
    settings = kafka_settings
    await create_with_small_dlq(settings, example_registry, limit=600)
    env = {
        "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": settings.topic_prefix,
    }
    try:
        checked = run_kpgw(env, "topics", "check")
        assert checked.returncode == 1
        assert f"{settings.topic_prefix}dlq: max.message.bytes 600 is below" in checked.stdout
        assert "the smallest dead letter the gateway writes" in checked.stdout
        with pytest.raises(ConfigurationError, match="translator refuses to start"):
            await check_translator_topics(settings)

        behind = certificate("RU0120002")
        await produce_inbound(
            settings, [("RU", "m-bad", b"not xml"), ("RU", "m-ok", render(behind))], partition=0
        )
        worker, handler = build_translator(settings, registry_path=registry_copy(tmp_path))
        key = ("translator", f"{settings.topic_prefix}dlq")
        with captured("gateway.dlq.publisher") as logs:
            async with running(lambda: worker):
                for _ in range(100):
                    if key in DEAD_LETTER_TOPIC_TOO_SMALL:
                        break
                    await asyncio.sleep(0.2)
                checks = worker_checks("translator", [worker.health()])
                metrics = generate_latest(pipeline_metrics().registry).decode()
                assert await read_until(settings, "events", 1, timeout_s=3) == []  # held
                await set_dlq_limit(settings, 4 * 1024 * 1024)
                events = await read_until(settings, "events", 1, timeout_s=45)
                dlq = await read_until(settings, "dlq", 1, timeout_s=15)
        assert checks["translator"] is False
        assert "at most 600 bytes" in checks["translator_dead_letter_topic"]
        assert f'kpgw_dlq_topic_too_small{{topic="{key[1]}"}} 1.0' in metrics
        [said, *_] = [e for e in logs if e["event"] == "dead_letter_topic_too_small"]
        assert said["log_level"] == "error" and said["max_message_bytes"] == 600
        assert said["needed_bytes"] > 600
        assert f"--entity-name {key[1]} --add-config max.message.bytes=" in said["fix"]
        # Raised: nothing lost, in order, the flag gone.
        assert [h.text_header(r.headers, "kpgw-message-id") for r in dlq] == ["m-bad"]
        assert dlq[0].value == b"not xml"
        assert [e["certificate_id"] for e in decoded(events, "CertificateEvent")] == [
            behind.certificate_number
        ]
        assert key not in DEAD_LETTER_TOPIC_TOO_SMALL
        assert "dead_letter_topic" not in worker.health()
        assert handler.dead_letters.limit_source == "config"
    finally:
        await delete_topics(settings)


async def test_dead_letters_of_one_batch_each_fit_on_their_own(
    kafka_settings: Settings, example_registry: ParticipantRegistry, tmp_path: Path
) -> None:
    """Two dead letters of one transaction for the same kp.dlq partition, each under its
    limit: the producer packed them into one batch, which the broker refused as a whole
    (then the limit was halved, and the documents left out). Each goes in a batch of its
    own now, both whole, with no refusal."""
    settings = kafka_settings
    await create_with_small_dlq(settings, example_registry, limit=5_000, partitions=1)
    try:
        bad = b"not xml " * 300  # 2.4 kB: its dead letter, about 3.2 kB, fits 5 kB whole
        await produce_inbound(settings, [("RU", "m-1", bad), ("RU", "m-2", bad)], partition=0)
        worker, handler = build_translator(settings, registry_path=registry_copy(tmp_path))
        with captured("gateway.dlq.publisher") as logs:
            async with running(lambda: worker):
                dlq = await read_until(settings, "dlq", 2, timeout_s=30)
        assert [r.value for r in dlq] == [bad, bad]
        assert [e["event"] for e in logs if "too_large" in e["event"]] == []
        assert handler.dead_letters.limit == 5_000
    finally:
        await delete_topics(settings)
