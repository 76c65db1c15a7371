"""``kpgw send`` (a national system's test client) against a real ingress, and
``kpgw run --only ingress`` as a process of its own."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.demo_tokens import demo_token
from gateway.kafka.broker import port_free
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import certificate, read_until, registry_copy, render, running
from tests.kafka.ingress.conftest import started

pytestmark = pytest.mark.kafka


async def _kpgw(command: str, *args: str) -> tuple[int, list[dict[str, object]], str]:
    """The real command line in-process (a thread: it runs its own event loop), its JSON
    lines (``--json``) read."""
    result = await asyncio.to_thread(CliRunner().invoke, cli, [command, "--json", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.output


async def test_send_prints_one_line_per_file_and_exits_by_outcome(
    created_topics: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "RU0650001.xml"
    good.write_bytes(render(certificate("RU0650001")))
    bad = tmp_path / "broken.xml"
    bad.write_bytes(b"<not closed")
    token = demo_token("RU")
    async with started(created_topics) as client:
        code, lines, text = await _kpgw(
            "send", "--url", client.url + "/", "--token", token, str(good), str(bad)
        )
        assert code == 1, text
        assert [line["status"] for line in lines] == [202, 400]
        assert lines[0]["file"] == str(good) and lines[0]["tracking_id"]
        assert lines[1]["problem"]["findings"][0]["code"] == "TRUNCATED_DOCUMENT"  # type: ignore[index]
        assert token not in text

        code, again, _ = await _kpgw(
            "send", "--url", client.url + "/v1/messages", "--token", token, str(good)
        )
        assert code == 0 and again[0]["tracking_id"] == lines[0]["tracking_id"]  # idempotent
        code, checked, _ = await _kpgw(
            "send", "--validate-only", "--url", client.url, "--token", token, str(good)
        )
        assert (
            code == 0
            and checked[0]["status"] == 200
            and checked[0]["certificate_id"] == "RU0650001"
        )
        code, refused, _ = await _kpgw("send", "--url", client.url, "--token", "wrong", str(good))
        assert code == 2 and refused[0]["status"] == 401  # the call, not the document
        code, typed, _ = await _kpgw(
            "send", "--url", client.url, "--token", token, "--content-type", "text/csv", str(good)
        )
        assert code == 2 and typed[0]["status"] == 415

    port = next(p for p in range(29580, 29590) if port_free(p))
    code, unreachable, _ = await _kpgw(
        "send", "--url", f"http://127.0.0.1:{port}", "--token", token, str(good)
    )
    assert code == 2 and unreachable[0]["status"] is None and unreachable[0]["error"]
    code, _, text = await _kpgw(
        "send", "--url", "http://127.0.0.1:1", "--token", token, str(tmp_path / "missing.xml")
    )
    assert code == 2
    code, _, text = await _kpgw("send", "--url", "http://127.0.0.1:1", str(good))
    assert code == 2 and "--token" in text
    assert len(await read_until(created_topics, "inbound", 1)) == 1


async def test_status_reports_and_waits_for_each_message(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    document = tmp_path / "RU0650002.xml"
    document.write_bytes(render(certificate("RU0650002")))
    token = demo_token("RU")
    async with started(settings) as client:
        code, sent, _ = await _kpgw("send", "--url", client.url, "--token", token, str(document))
        assert code == 0
        tracking_id = str(sent[0]["tracking_id"])
        base = ("status", "--url", client.url, "--token", token)

        code, found, text = await _kpgw(*base, tracking_id)
        assert code == 0, text
        assert found[0]["http_status"] == 200 and found[0]["status"] == "accepted"
        assert token not in text
        # Nothing translates it yet: the wait ends at --timeout, exit 2, last state shown.
        code, waited, text = await _kpgw(
            *base, "--wait", "--timeout", "1", "--interval", "0.2", tracking_id
        )
        assert code == 2 and waited[0]["timed_out"] and waited[0]["status"] == "accepted"
        # An operator review: exit 2 said nothing; one line says why.
        assert "1 of 1 message(s) had no final answer within --timeout" in text

        worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
        async with running(lambda: worker):
            code, done, text = await _kpgw(
                *base, "--wait-for", "translated", "--timeout", "60", tracking_id
            )
        assert code == 0, text
        assert done[0]["status"] == "translated" and done[0]["certificate_id"] == "RU0650002"
        assert "timed_out" not in done[0]

        # Someone else's message reads as unknown; an id with a slash stays one id.
        code, other, _ = await _kpgw(
            "status", "--url", client.url, "--token", demo_token("EU"), tracking_id, "a/b"
        )
        assert code == 1 and [line["http_status"] for line in other] == [404, 404]
        # A wrong base URL is a 404 too, of no route: the call failed, not the id (exit 2).
        code, lost, text = await _kpgw(
            "status", "--url", client.url + "/nope", "--token", token, tracking_id
        )
        assert code == 2 and lost[0]["http_status"] == 404, text
        assert "1 of 1 request(s) failed" in text


async def test_kpgw_run_only_ingress(created_topics: Settings) -> None:
    port = next(p for p in range(28050, 28100) if port_free(p))
    env = {
        **os.environ,
        "KPGW_KAFKA_BOOTSTRAP": created_topics.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": created_topics.topic_prefix,
        "KPGW_HTTP_HOST": "127.0.0.1",
        "KPGW_HTTP_PORT": str(port),
        "KPGW_LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "--only", "ingress",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(url + "/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert process.returncode is None, "kpgw run exited"
                await asyncio.sleep(0.1)
            headers = {
                "Authorization": f"Bearer {demo_token('RU')}",
                "Content-Type": "application/xml",
            }
            async with http.post(
                url + "/v1/messages", data=render(certificate("RU0650002")), headers=headers
            ) as response:
                assert response.status == 202
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()[-2000:]
    assert "gateway_stopped" in output.decode()
    assert demo_token("RU") not in output.decode()
    assert len(await read_until(created_topics, "inbound", 1)) == 1
