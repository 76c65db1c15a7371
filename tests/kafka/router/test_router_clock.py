"""The router on a host whose clock is ahead of the broker's by more than Kafka 4's
``log.message.timestamp.after.max.ms`` (1 hour by default): every transaction is refused,
the partition waits with a precise signal, and nothing is lost or doubled. On a host whose
clock is behind the records it reads: said, and routed all the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from gateway.kafka.topics import create_topics, delete_topics
from gateway.metrics import CLOCK_REFUSED, ROUTER_CLOCK_BEHIND, pipeline_metrics
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from tests.kafka.helpers import host_clock_off, read_until, registry_copy
from tests.kafka.router.support import outcomes, pair, produce_events, routing

pytestmark = pytest.mark.kafka


@pytest.fixture(autouse=True)
def fresh_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for module in ("gateway.kafka.clock", "gateway.kafka.transactional", "gateway.router.handler"):
        monkeypatch.setattr(f"{module}.log", structlog.get_logger(module))
    CLOCK_REFUSED.clear()
    yield
    CLOCK_REFUSED.clear()


async def test_router_ahead_of_the_broker_waits_says_so_and_loses_nothing(
    kafka_settings: Settings, example_registry: ParticipantRegistry, tmp_path: Path
) -> None:
    settings = kafka_settings
    await create_topics(settings, example_registry)
    try:
        cert, conf = pair("RU0200001")
        await produce_events(settings, [cert, conf])
        with capture_logs() as logs:
            async with routing(settings, registry_copy(tmp_path)) as router:
                with host_clock_off(2 * 3600.0):
                    assert await read_until(settings, "outcomes", 1, timeout_s=8) == []
                    refusals = [e for e in logs if e["event"] == "clock_ahead_of_broker"]
                    assert refusals and refusals[0]["component"] == "router"
                    assert not [e for e in logs if e["event"] == "batch_failed_unexpectedly"]
                    assert (
                        pipeline_metrics().registry.get_sample_value(
                            "kpgw_clock_ahead_of_broker", {"component": "router"}
                        )
                        == 1.0
                    )
                    assert "clock" in router.worker.health()
                found = await outcomes(settings, 1, timeout_s=30)
                assert [o["outcome"] for o in found] == ["MATCHED"]
                assert "clock" not in router.worker.health()
        assert len(await read_until(settings, "outcomes", 2, timeout_s=2)) == 1
    finally:
        await delete_topics(settings)


async def test_router_behind_its_records_says_so_and_routes_all_the_same(
    kafka_settings: Settings, example_registry: ParticipantRegistry, tmp_path: Path
) -> None:
    """Events stamped 20 minutes after this host's clock (as a router host 20 minutes
    behind its translators reads them; the broker accepts them, within its hour): the
    router warns once, exposes the gap, and decides as usual."""
    settings = kafka_settings
    await create_topics(settings, example_registry)
    ROUTER_CLOCK_BEHIND.clear()
    try:
        cert, conf = pair("RU0200002")
        with host_clock_off(20 * 60.0):
            await produce_events(settings, [cert, conf])
        with capture_logs() as logs:
            async with routing(settings, registry_copy(tmp_path)) as router:
                found = await outcomes(settings, 1, timeout_s=30)
                health = router.health()
                gap = pipeline_metrics().registry.get_sample_value(
                    "kpgw_router_clock_behind_seconds", {"group": settings.router.group_id}
                )
        assert [o["outcome"] for o in found] == ["MATCHED"]
        behind = [e for e in logs if e["event"] == "router_clock_behind"]
        assert len(behind) == 1 and 1150 < behind[0]["behind_s"] <= 1200, behind
        assert gap is not None and 1150 < gap <= 1200
        assert "s behind the kp.events records" in health["clock_behind"]
    finally:
        ROUTER_CLOCK_BEHIND.clear()
        await delete_topics(settings)
