"""A dead letter larger than what ``kp.dlq`` takes (its ``max.message.bytes`` set lower than
the gateway creates it with): the broker refuses it, and the publisher writes a smaller one
that keeps the reason and the coordinates, so the partition keeps flowing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic

from gateway.dlq import headers as h
from gateway.kafka.clients import admin_client
from gateway.kafka.topics import CORE_TOPICS, create_topics, delete_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.translator.worker import build_translator
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

pytestmark = pytest.mark.kafka

#: kp.dlq as an operator may have created it by hand: 20 kB records.
SMALL_DLQ_BYTES = 20_000


async def create_with_small_dlq(settings: Settings, registry: ParticipantRegistry) -> None:
    spec = next(spec for spec in CORE_TOPICS if spec.suffix == "dlq")
    admin = admin_client(settings)
    await admin.start()
    try:
        configs = {**spec.configs, "max.message.bytes": str(SMALL_DLQ_BYTES)}
        await admin.create_topics(
            [NewTopic(spec.name(settings.topic_prefix), spec.partitions, 1, topic_configs=configs)]
        )
    finally:
        await admin.close()
    await create_topics(settings, registry)  # the others, as the gateway creates them


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
        worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
        async with running(lambda: worker):
            events = await read_until(settings, "events", 1, timeout_s=45)
            dlq = await read_until(settings, "dlq", 2, timeout_s=15)
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
