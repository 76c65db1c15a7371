"""A host whose clock is wrong, on the real broker (Kafka 4 refuses records stamped more
than ``log.message.timestamp.after.max.ms``, 1 hour by default, ahead of its clock): the
translator and the ingress lose nothing and say precisely that the clock is at fault."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import structlog
from structlog.testing import capture_logs

from gateway.demo_tokens import demo_token
from gateway.ingress.app import serve
from gateway.metrics import CLOCK_REFUSED, pipeline_metrics
from gateway.readiness import worker_checks
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import (
    certificate,
    host_clock_off,
    produce_inbound,
    read_until,
    registry_copy,
    render,
    running,
)

pytestmark = pytest.mark.kafka
TWO_HOURS = 2 * 3600.0
TWO_DAYS = 2 * 86400.0


@pytest.fixture(autouse=True)
def fresh_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh module loggers (one may be cached with an earlier configuration), and no
    refusal left over from another test of this process."""
    for module in ("gateway.kafka.clock", "gateway.kafka.transactional"):
        monkeypatch.setattr(f"{module}.log", structlog.get_logger(module))
    CLOCK_REFUSED.clear()
    yield
    CLOCK_REFUSED.clear()


def gauge(component: str) -> float | None:
    return pipeline_metrics().registry.get_sample_value(
        "kpgw_clock_ahead_of_broker", {"component": component}
    )


async def test_translator_ahead_of_the_broker_says_so_and_loses_nothing(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    await produce_inbound(settings, [("RU", "m-1", render(certificate("RU0100001")))])
    worker = build_translator(settings, registry_path=registry_copy(tmp_path))[0]
    with capture_logs() as logs:
        async with running(lambda: worker):
            with host_clock_off(TWO_HOURS):
                assert await read_until(settings, "events", 1, timeout_s=6) == []
                refusals = [e for e in logs if e["event"] == "clock_ahead_of_broker"]
                assert refusals, [e["event"] for e in logs]
                assert refusals[0]["component"] == "translator"
                assert "InvalidTimestampException" in refusals[0]["hint"]
                assert "NTP" in refusals[0]["hint"]
                assert not [e for e in logs if e["event"] == "batch_failed_unexpectedly"]
                assert gauge("translator") == 1.0
                checks = worker_checks("translator", [worker.health()])
                assert checks["translator"] is False
                assert "ahead of the broker" in checks["translator_clock"]
            # The clock is right again: the same record goes through, once.
            events = await read_until(settings, "events", 1, timeout_s=30)
            await asyncio.sleep(1)
            assert len(await read_until(settings, "events", 2, timeout_s=1)) == len(events) == 1
            assert gauge("translator") is None
            assert any(e["event"] == "clock_accepted_by_broker" for e in logs)


async def test_a_clock_behind_the_broker_is_accepted(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Kafka's ``log.message.timestamp.before.max.ms`` is unbounded by default: records
    stamped two days back are written with that time (docs/router.md, "The wall clock")."""
    settings = created_topics
    await produce_inbound(settings, [("RU", "m-1", render(certificate("RU0100002")))])
    worker = build_translator(settings, registry_path=registry_copy(tmp_path))[0]
    with host_clock_off(-TWO_DAYS):
        async with running(lambda: worker):
            events = await read_until(settings, "events", 1, timeout_s=30)
    assert len(events) == 1
    assert gauge("translator") is None


async def test_ingress_ahead_of_the_broker_answers_503_naming_the_clock(
    created_topics: Settings,
) -> None:
    settings = created_topics
    body = render(certificate("RU0100003"))
    headers = {"Authorization": f"Bearer {demo_token('RU')}", "Content-Type": "application/xml"}
    async with (
        serve(settings, host="127.0.0.1", port=0) as ingress,
        aiohttp.ClientSession() as http,
    ):
        url = ingress.url
        for _ in range(300):
            async with http.get(f"{url}/readyz") as response:
                if response.status == 200:
                    break
            await asyncio.sleep(0.2)
        with capture_logs() as logs, host_clock_off(TWO_HOURS):
            async with http.post(f"{url}/v1/messages", data=body, headers=headers) as response:
                assert response.status == 503
                problem = await response.json()
                assert "clock is ahead of the broker" in problem["detail"], problem
                assert response.headers["Retry-After"]
            await asyncio.sleep(1.1)  # past the readiness cache
            async with http.get(f"{url}/readyz") as response:
                report = await response.json()
                assert response.status == 503
                assert report["checks"]["clock"] is False
                assert report["checks"]["producer"] is True  # the connection is fine
        assert [e["component"] for e in logs if e["event"] == "clock_ahead_of_broker"] == [
            "ingress"
        ]
        assert gauge("ingress") == 1.0
        async with http.post(f"{url}/v1/messages", data=body, headers=headers) as response:
            assert response.status == 202, await response.text()
        assert gauge("ingress") is None
    assert len(await read_until(settings, "inbound", 1, timeout_s=10)) == 1
