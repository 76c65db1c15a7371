"""Refusals name the peer address (found by an operations review: a refused token left no
source address in the log, so token guessing could not be traced), never the token."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from gateway.ingress.app import serve
from gateway.registry.model import hash_token
from gateway.settings import IngressSettings, Settings
from tests.log_capture import captured


async def _status(url: str, authorization: str, method: str = "POST") -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            url,
            data=b"<x/>",
            headers={"Authorization": authorization, "Content-Type": "application/xml"},
        ) as response,
    ):
        return response.status


async def test_401_403_and_429_lines_carry_the_peer_address(tmp_path: Path) -> None:
    registry = tmp_path / "participants.toml"
    registry.write_text(
        f'[participants.RU]\nname = "Russia"\ntoken_hashes = ["{hash_token("ru-own")}"]\n'
        f'[participants.BW]\nname = "Botswana"\nstatus = "suspended"\n'
        f'token_hashes = ["{hash_token("bw-own")}"]\n'
    )
    settings = Settings(
        kafka_bootstrap="127.0.0.1:1",
        partners_file=registry,
        ingress=IngressSettings(
            validation_processes=0,
            rate_limit_per_minute=1,
            metrics_token=SecretStr("scrape-token"),
        ),
    )
    with captured("gateway.ingress.app") as logs:
        async with serve(settings, host="127.0.0.1", port=0) as running:
            messages = running.url + "/v1/messages"
            assert await _status(messages, "Bearer guessed-token") == 401
            assert await _status(messages, "Bearer bw-own") == 403
            await _status(messages, "Bearer ru-own")  # takes the one request a minute
            assert await _status(messages, "Bearer ru-own") == 429
            basic = "Basic " + base64.b64encode(b"op:guessed-scrape").decode()
            assert await _status(running.url + "/metrics", basic, "GET") == 401
    refused: list[dict[str, Any]] = [line for line in logs if line["event"] == "request_refused"]
    watched = [line["status"] for line in refused if line["status"] in (401, 403, 429)]
    assert watched == [401, 403, 429, 401]
    assert all(line["remote"] == "127.0.0.1" for line in refused)
    text = repr(logs)
    for secret in ("guessed-token", "bw-own", "ru-own", "guessed-scrape"):
        assert secret not in text
