"""Split processes (``kpgw run --only ingress|translator|router``) each say a broken
registry edit within a second or two, with no traffic at all, and each clears it when the
file is good again (an operations review: the router said it at once, the ingress and the
translator only when a request or record came, 18 s later, and kept the series after the
fix; a deleted file was said by none, and /readyz did not show it)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.kafka.broker import port_free
from gateway.settings import Settings
from tests.kafka.helpers import registry_copy

pytestmark = pytest.mark.kafka
COMPONENTS = ("ingress", "translator", "router")


async def _failed(http: aiohttp.ClientSession, url: str, path: Path) -> bool | None:
    """Whether ``url``'s /metrics has the series for ``path``; None while it does not
    answer yet."""
    try:
        async with http.get(url + "/metrics") as response:
            if response.status != 200:
                return None
            text = await response.text()
    except aiohttp.ClientConnectionError:
        return None
    return f'kpgw_registry_reload_failed{{path="{path}"}} 1.0' in text


async def _all_become(
    http: aiohttp.ClientSession, urls: dict[str, str], path: Path, failed: bool, within_s: float
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        states = {name: await _failed(http, url, path) for name, url in urls.items()}
        if all(state is failed for state in states.values()):
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"after {within_s} s, failed={failed} expected: {states}")


async def _all_ready(http: aiohttp.ClientSession, urls: dict[str, str], within_s: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        statuses = {}
        for name, url in urls.items():
            try:
                async with http.get(url + "/readyz") as response:
                    statuses[name] = response.status
            except aiohttp.ClientConnectionError:
                statuses[name] = None
        if all(status == 200 for status in statuses.values()):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not all ready after {within_s} s: {statuses}")


async def test_every_split_process_says_a_broken_registry_without_traffic(
    created_topics: Settings, tmp_path: Path
) -> None:
    registry = registry_copy(tmp_path)
    good = registry.read_text()
    free = (port for port in range(29700, 29750) if port_free(port))
    ports = {name: next(free) for name in COMPONENTS}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    processes: dict[str, asyncio.subprocess.Process] = {}
    logs = {name: tmp_path / f"{name}.log" for name in COMPONENTS}
    try:
        for name, port in ports.items():
            env = {
                **os.environ,
                "KPGW_KAFKA_BOOTSTRAP": created_topics.kafka_bootstrap,
                "KPGW_TOPIC_PREFIX": created_topics.topic_prefix,
                "KPGW_PARTNERS_FILE": str(registry),
                "KPGW_HTTP_HOST": "127.0.0.1",
                "KPGW_HTTP_PORT": str(port),
                "KPGW_LOG_FORMAT": "json",
            }
            with logs[name].open("wb") as sink:
                processes[name] = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "gateway", "run", "--only", name,
                    stdout=sink, stderr=asyncio.subprocess.STDOUT, env=env,
                )  # fmt: skip
        async with aiohttp.ClientSession() as http:
            await _all_become(http, urls, registry, False, within_s=60)
            # A process answers /metrics before its component has read the registry (it
            # would read the broken one below at start and exit 2, rightly): all ready first.
            await _all_ready(http, urls, within_s=60)

            broken = good.replace('token_hashes = ["sha256:2756', 'token_hashes = ["sha257:2756')
            assert broken != good
            registry.write_text(broken)  # no request, no record from here on
            await _all_become(http, urls, registry, True, within_s=3)

            registry.write_text(good)
            await _all_become(http, urls, registry, False, within_s=3)

            registry.unlink()
            await _all_become(http, urls, registry, True, within_s=3)
            for name, url in urls.items():  # still ready: the previous registry serves
                async with http.get(url + "/readyz") as response:
                    report = await response.json()
                assert response.status == 200, (name, report)
                assert report["registry_reload_failed"] == [str(registry)], (name, report)
            registry.write_text(good)
            await _all_become(http, urls, registry, False, within_s=3)
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            await asyncio.wait_for(process.wait(), 60)
    for name, process in processes.items():
        logged = logs[name].read_text()
        assert process.returncode == 0, logged[-2000:]
        errors = [
            line
            for line in logged.splitlines()
            if '"registry_reload_failed_keeping_previous"' in line and '"error"' in line
        ]
        assert len(errors) == 2, (name, errors)  # the broken edit, the deletion: once each
        assert "gateway_stopped" in logged
