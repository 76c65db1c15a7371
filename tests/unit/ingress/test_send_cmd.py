"""``kpgw send``'s pure parts (the command against a real ingress is in tests/kafka)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from gateway.cli.http_client import base_url, client_setup
from gateway.cli.send_cmd import _send_all


@pytest.mark.parametrize(
    "url",
    [
        "http://h:8080",
        "http://h:8080/",
        "http://h:8080/v1/messages",
        "http://h:8080/v1/validate/",
    ],
)
def test_base_url(url: str) -> None:
    assert base_url(url) == "http://h:8080"


# --- retries and answers that are not JSON (against a small local HTTP server) -------------


@contextlib.asynccontextmanager
async def _answering(*answers: web.Response) -> AsyncIterator[tuple[str, list[bytes]]]:
    """An HTTP server on 127.0.0.1 that gives ``answers`` in turn and records the bodies."""
    bodies: list[bytes] = []
    pending = list(answers)

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return pending.pop(0)

    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1/messages", bodies
    finally:
        await runner.cleanup()


def _problem(status: int, retry_after: str | None = None) -> web.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return web.json_response(
        {"type": "urn:kpgw:problem:broker-unavailable", "status": status},
        status=status,
        headers=headers,
        content_type="application/problem+json",
    )


async def test_a_503_is_retried_after_retry_after_with_the_same_body(tmp_path: Path) -> None:
    document = tmp_path / "c.xml"
    document.write_bytes(b"<doc/>")
    accepted = web.json_response(
        {"tracking_id": "t-1", "status_url": "/v1/messages/t-1"}, status=202
    )
    async with _answering(_problem(503, "0"), _problem(429, "0"), accepted) as (url, bodies):
        (result,) = await _send_all(url, (document,), {}, 5.0, None, retries=3)
    assert (result["status"], result["tracking_id"], result["attempts"]) == (202, "t-1", 3)
    assert bodies == [b"<doc/>"] * 3


async def test_a_persistent_503_is_reported_with_its_problem(tmp_path: Path) -> None:
    document = tmp_path / "c.xml"
    document.write_bytes(b"<doc/>")
    async with _answering(_problem(503, "0"), _problem(503, "0")) as (url, bodies):
        (result,) = await _send_all(url, (document,), {}, 5.0, None, retries=1)
    assert result["status"] == 503
    assert result["problem"]["type"] == "urn:kpgw:problem:broker-unavailable"
    assert len(bodies) == 2


async def test_an_answer_that_is_not_json_keeps_its_status_and_text(tmp_path: Path) -> None:
    document = tmp_path / "c.xml"
    document.write_bytes(b"<doc/>")
    page = web.Response(status=400, text="400, message: Invalid header", content_type="text/plain")
    async with _answering(page) as (url, _):
        (result,) = await _send_all(url, (document,), {}, 5.0, None, retries=0)
    assert result["status"] == 400
    assert result["problem"] == {"detail": "400, message: Invalid header", "not_json": True}
    assert result["title"] == "Bad Request"  # the HTTP reason: the page has no title


def test_a_token_over_plain_http_beyond_loopback_is_warned_about(
    capsys: pytest.CaptureFixture[str],
) -> None:
    client_setup("http://127.0.0.1:8080", "t", None, None, None)
    assert capsys.readouterr().err == ""
    client_setup("https://gateway.example:8443", "t", None, None, None)
    assert capsys.readouterr().err == ""
    client_setup("http://gateway.example:8080/v1/messages", "t", None, None, None)
    assert "plain http to gateway.example; use https" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
async def test_a_file_larger_than_any_ingress_accepts_is_not_read_whole_nor_sent() -> None:
    """`kpgw send /dev/zero` read without end while its memory grew."""
    async with _answering() as (url, bodies):
        (result,) = await _send_all(url, (Path("/dev/zero"),), {}, 5.0, None, retries=0)
    assert result["status"] is None and bodies == []
    assert "larger than 2,097,152 bytes" in result["error"]
