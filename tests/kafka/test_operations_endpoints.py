"""A worker alone (``kpgw run --only translator|router``) serves ``/healthz``, ``/readyz``
and ``/metrics`` of its own (found by an SRE review: only the ingress had them, so a
translator or router deployed alone had no probe and no metrics)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import aiohttp
import pytest

from gateway.kafka.broker import port_free
from gateway.settings import Settings

pytestmark = pytest.mark.kafka


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


@pytest.mark.parametrize("component", ["translator", "router"])
async def test_a_worker_alone_serves_probes_and_metrics(
    created_topics: Settings, component: str
) -> None:
    port = next(p for p in range(28100, 28150) if port_free(p))
    env = {
        **os.environ,
        "KPGW_KAFKA_BOOTSTRAP": created_topics.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": created_topics.topic_prefix,
        "KPGW_HTTP_PORT": str(port),
        "KPGW_LOG_FORMAT": "json",
        "KPGW_INGRESS__METRICS_TOKEN": "scrape-secret",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "--only", component,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    ready: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    status, ready = await _get(http, url + "/readyz")
                except aiohttp.ClientConnectionError:
                    status = 0
                if status == 200:
                    break
                assert status in (0, 503), ready
                assert process.returncode is None, "kpgw run exited"
                await asyncio.sleep(0.1)
            assert ready["ready"] is True, ready
            assert ready["checks"] == {"broker": True, "topics": True, component: True}
            assert await _get(http, url + "/healthz") == (200, {"status": "alive"})
            status, _ = await _get(http, url + "/metrics")
            assert status == 401  # the metrics token applies here as on the ingress
            async with http.get(
                url + "/metrics", headers={"Authorization": "Bearer scrape-secret"}
            ) as response:
                assert response.status == 200
                text = await response.text()
            assert "kpgw_dlq_records" in text and "kpgw_consumer_lag_records" in text
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    logged = output.decode()
    assert process.returncode == 0, logged[-2000:]
    assert '"operations_listening"' in logged and "gateway_stopped" in logged
