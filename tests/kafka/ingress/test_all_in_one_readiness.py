"""The /readyz of ``kpgw run`` with every component in one process: besides the ingress's own
checks (its ``ready``, on which a load balancer routes documents) it shows the translator's
and the router's, as a worker-only process answers them. Before, an operator of the
all-in-one saw a ready gateway while its translator had not joined its group and its router
held a partition.

The scene: a ``kpgw run --only translator --only router`` that joined both groups is killed
(SIGKILL: its members stay in the groups until their sessions time out, 20 s), so the
all-in-one's workers wait for their assignment; meanwhile the router's changelog gets a
state a newer router wrote, so the router, once assigned, holds that partition."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from gateway import runtime
from gateway.demo_tokens import demo_token
from gateway.kafka.clients import transactional_producer
from gateway.settings import Settings
from tests.kafka.helpers import certificate, render
from tests.log_capture import captured
from tests.openapi_shapes import spec, undocumented
from tests.unit.router.test_preflight_changelog import _from_a_newer_router

pytestmark = pytest.mark.kafka
SPEC = spec()
READINESS = {"$ref": "#/components/schemas/Readiness"}
Report = dict[str, Any]


def _kill_after_joining(settings: Settings, log_file: Path) -> None:
    """A translator and a router that join their groups, then die without leaving them."""
    env = {
        **os.environ,
        "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": settings.topic_prefix,
        "KPGW_LOG_FORMAT": "json",
        "KPGW_HTTP_PORT": "0",
    }
    command = [sys.executable, "-m", "gateway", "run", "--only", "translator", "--only", "router"]
    with log_file.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        for _ in range(900):
            assert process.poll() is None, log_file.read_text()[-3000:]
            assigned = {
                line.get("worker")
                for line in map(_json_line, log_file.read_text().splitlines())
                if line.get("event") == "partitions_assigned" and line.get("partitions")
            }
            if {"translator", "router"} <= assigned:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        else:
            raise AssertionError(f"the workers never joined: {log_file.read_text()[-3000:]}")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def _json_line(text: str) -> dict[str, Any]:
    try:
        line = json.loads(text)
    except ValueError:
        return {}
    return line if isinstance(line, dict) else {}


async def _write_newer_state(settings: Settings) -> None:
    producer = transactional_producer(settings, f"readyz-test-{uuid.uuid4().hex[:6]}")
    await producer.start()
    try:
        async with producer.transaction():
            topic = f"{settings.topic_prefix}router.changelog"
            await producer.send_and_wait(
                topic, _from_a_newer_router(), key=b"RU0800031", partition=0
            )
    finally:
        await producer.stop()


def _documented(report: Report) -> None:
    validator = Draft202012Validator({**READINESS, "components": SPEC["components"]})
    assert [error.message for error in validator.iter_errors(report)] == [], report
    assert undocumented(report, READINESS, SPEC) == [], report


async def _until(
    http: aiohttp.ClientSession,
    url: str,
    gateway: asyncio.Task[None],
    condition: Callable[[Report], bool],
    *,
    timeout_s: float = 60,
) -> tuple[int, Report]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: Report = {}
    while asyncio.get_running_loop().time() < deadline:
        assert not gateway.done(), "kpgw run ended"
        async with http.get(url + "/readyz") as response:
            status, last = response.status, await response.json()
        _documented(last)
        if condition(last):
            return status, last
        await asyncio.sleep(0.2)
    raise AssertionError(f"not seen in {timeout_s} s; last: {last}")


def _checks(report: Report, worker: str) -> dict[str, Any]:
    found: dict[str, Any] = report.get("workers", {}).get(worker, {}).get("checks", {})
    return found


def _subscribed(report: Report, worker: str) -> bool:
    return "waiting for the consumer group" in _checks(report, worker).get(f"{worker}_waiting", "")


async def test_the_all_in_one_readiness_shows_its_translator_and_router(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics.model_copy(update={"http_port": 0, "http_host": "127.0.0.1"})
    await asyncio.to_thread(_kill_after_joining, settings, tmp_path / "dead.log")
    stop = runtime.StopRequest()
    with captured("gateway.ingress.app") as logs:
        gateway = asyncio.create_task(runtime.run(settings, stop=stop))
        try:
            for _ in range(300):
                said = [e["url"] for e in logs if e["event"] == "ingress_listening"]
                if said or gateway.done():
                    break
                await asyncio.sleep(0.1)
            assert said, "the ingress never listened"
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                # Both workers subscribed and wait for the dead members' sessions to end.
                _, waiting = await _until(
                    http,
                    said[0],
                    gateway,
                    lambda r: _subscribed(r, "translator") and _subscribed(r, "router"),
                )
                assert waiting["workers"]["translator"]["ready"] is False
                assert waiting["workers"]["translator"]["checks"]["translator"] is False
                assert waiting["workers"]["router"]["checks"]["router"] is False
                # The router is past its start-up check: a newer router's state now is
                # found by its restore, which holds the partition.
                await _write_newer_state(settings)

                def settled(report: Report) -> bool:
                    return (
                        report["ready"]
                        and _checks(report, "translator").get("translator") is True
                        and "router_newer_states" in _checks(report, "router")
                    )

                status, report = await _until(http, said[0], gateway, settled)
                # The ingress accepts documents (200, ready) while the router holds it.
                assert status == 200
                router = report["workers"]["router"]
                assert router["ready"] is False
                assert router["checks"]["router"] is False
                assert router["checks"]["router_restoring_partitions"] == [0]
                assert "newer router" in router["checks"]["router_newer_states"]
                assert report["workers"]["translator"] == {
                    "ready": True,
                    "checks": {"broker": True, "topics": True, "translator": True},
                }
                async with http.post(
                    said[0] + "/v1/messages",
                    data=render(certificate("RU0610911")),
                    headers={
                        "Authorization": f"Bearer {demo_token('RU')}",
                        "Content-Type": "application/xml",
                    },
                ) as response:
                    assert response.status == 202, await response.text()
        finally:
            stop.set()
            await asyncio.wait_for(gateway, 60)
