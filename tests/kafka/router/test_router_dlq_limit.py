"""The router's dead letters over a smaller ``kp.dlq`` limit: cut, and the partition flows
(the translator's case: tests/kafka/test_dlq_limits.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.dlq import headers as h
from gateway.kafka.topics import delete_topics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from tests.kafka.helpers import registry_copy
from tests.kafka.router.support import pair, partner, produce_events, read_until, routing
from tests.kafka.test_dlq_limits import SMALL_DLQ_BYTES, create_with_small_dlq

pytestmark = pytest.mark.kafka


async def test_an_undecodable_event_over_the_dlq_limit_is_dead_lettered_cut(
    kafka_settings: Settings, example_registry: ParticipantRegistry, tmp_path: Path
) -> None:
    settings = kafka_settings
    await create_with_small_dlq(settings, example_registry)
    try:
        garbage = b"\xc3\x01" + b"not avro " * 9_000  # 81 kB: UNDECODABLE_AVRO
        later, _ = pair("RU0700013")
        await produce_events(settings, [], raw=[(b"RU0700013", garbage)])
        await produce_events(settings, [later])
        async with routing(settings, registry_copy(tmp_path)) as router:
            assert await partner(settings, "EU", 1, timeout_s=45) == ["SHIPMENT_ANNOUNCED"]
            (letter,) = await read_until(settings, "dlq", 1)
        assert h.text_header(letter.headers, h.REASON) == "UNDECODABLE_AVRO"
        assert h.text_header(letter.headers, h.STAGE) == "router"
        assert letter.value is None
        assert (h.text_header(letter.headers, h.VALUE_OMITTED) or "").endswith(
            f"the original record is {settings.topic_prefix}events/"
            f"{h.int_header(letter.headers, h.ORIGINAL_PARTITION)}/0"
        )
        # Cut to kp.dlq's limit, read from its config, at the first try: no refused
        # letter, no retried batch (before, it was learnt by refusals: counted again).
        assert router.counters.dead_lettered == 1
        assert (router.dead_letters.limit, router.dead_letters.limit_source) == (
            SMALL_DLQ_BYTES,
            "config",
        )
    finally:
        await delete_topics(settings)
