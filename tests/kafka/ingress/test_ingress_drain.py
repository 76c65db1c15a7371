"""Stopping the ingress behind a load balancer: on SIGTERM it fails /readyz but keeps
serving for KPGW_INGRESS__DRAIN_SECONDS, so requests routed to it before the balancer
notices are still accepted; a second signal ends the drain at once. Real signals to this
process, handled by ``kpgw run``'s own handlers."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import aiohttp
import pytest

from gateway import runtime
from gateway.demo_tokens import demo_token
from gateway.kafka.broker import port_free
from gateway.settings import Settings
from tests.kafka.helpers import certificate, render
from tests.kafka.ingress.conftest import with_ingress

pytestmark = pytest.mark.kafka


def _draining(settings: Settings, seconds: float) -> tuple[Settings, str]:
    port = next(p for p in range(28160, 28200) if port_free(p))
    drained = with_ingress(settings, drain_seconds=seconds).model_copy(
        update={"http_port": port, "http_host": "127.0.0.1"}
    )
    return drained, f"http://127.0.0.1:{port}"


async def _readyz(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url + "/readyz") as response:
        return response.status, await response.json()


async def _until_ready(http: aiohttp.ClientSession, url: str, gateway: asyncio.Task[None]) -> None:
    for _ in range(600):
        assert not gateway.done(), "kpgw run ended before it was ready"
        try:
            if (await _readyz(http, url))[0] == 200:
                return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the ingress never became ready")


async def test_sigterm_fails_readiness_but_still_accepts_until_a_second_signal(
    created_topics: Settings,
) -> None:
    settings, url = _draining(created_topics, 60.0)
    gateway = asyncio.create_task(runtime.run(settings, only=("ingress",)))
    async with aiohttp.ClientSession() as http:
        await _until_ready(http, url, gateway)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.2)

        assert await _readyz(http, url) == (503, {"ready": False, "draining": True, "checks": {}})
        async with http.post(
            url + "/v1/messages",
            data=render(certificate("RU0610901")),
            headers={
                "Authorization": f"Bearer {demo_token('RU')}",
                "Content-Type": "application/xml",
            },
        ) as response:
            assert response.status == 202, await response.text()
        assert not gateway.done()

        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(gateway, 15)
        assert time.monotonic() - started < 15  # not the 60 s drain
        with pytest.raises(aiohttp.ClientConnectionError):
            await _readyz(http, url)


async def test_the_drain_ends_by_itself_after_its_seconds(created_topics: Settings) -> None:
    settings, url = _draining(created_topics, 1.5)
    gateway = asyncio.create_task(runtime.run(settings, only=("ingress",)))
    async with aiohttp.ClientSession() as http:
        await _until_ready(http, url, gateway)
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(gateway, 20)
    assert time.monotonic() - started >= 1.5
