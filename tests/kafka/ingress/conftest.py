"""A real ingress (``gateway.ingress.app.serve`` on a free port) against the real broker,
and a small HTTP client speaking for participants with their public demo tokens."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.demo_tokens import demo_token
from gateway.ingress.app import RunningIngress, serve
from gateway.settings import Settings

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "findings"}


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any
    content_type: str

    def problem(self, status: int) -> dict[str, Any]:
        """Assert an RFC 9457 problem with ``status``; return its document."""
        assert self.status == status, (self.status, self.body)
        assert self.content_type == "application/problem+json", self.content_type
        assert isinstance(self.body, dict) and set(self.body) == PROBLEM_KEYS, self.body
        assert self.body["status"] == status
        assert self.body["type"].startswith("urn:kpgw:problem:")
        assert self.body["instance"].startswith("urn:uuid:")
        for finding in self.body["findings"]:
            assert set(finding) == {"code", "message", "line", "path"}
        return dict(self.body)


@dataclass
class Client:
    url: str
    http: aiohttp.ClientSession
    running: RunningIngress
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    async def request(
        self,
        method: str,
        path: str,
        *,
        participant: str | None = None,
        token: str | None = None,
        body: Any = None,
        content_type: str | None = "application/xml",
        headers: Mapping[str, str] | None = None,
        route: str | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if participant is not None:
            sent["Authorization"] = f"Bearer {demo_token(participant)}"
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None and content_type is not None:
            sent["Content-Type"] = content_type
        async with self.http.request(method, self.url + path, data=body, headers=sent) as response:
            raw = await response.read()
            kind = response.content_type
            parsed: Any = raw.decode()
            if kind.endswith("json"):
                parsed = json.loads(raw)
            self.seen.add((route or path, method.lower(), response.status))
            return Reply(response.status, response.headers, parsed, kind)

    async def send(self, body: Any, participant: str | None = "RU", **kwargs: Any) -> Reply:
        return await self.request(
            "POST", "/v1/messages", participant=participant, body=body, **kwargs
        )

    async def validate(self, body: Any, participant: str | None = "RU", **kwargs: Any) -> Reply:
        return await self.request(
            "POST", "/v1/validate", participant=participant, body=body, **kwargs
        )

    async def status(
        self, tracking_id: str, participant: str | None = "RU", **kwargs: Any
    ) -> Reply:
        return await self.request(
            "GET",
            f"/v1/messages/{tracking_id}",
            participant=participant,
            route="/v1/messages/{tracking_id}",
            **kwargs,
        )

    async def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            async with self.http.get(self.url + "/readyz") as response:
                report = await response.json()
                if response.status == 200:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"ingress not ready: {report}")
            await asyncio.sleep(0.2)

    async def wait_status(
        self, tracking_id: str, participant: str, wanted: set[str], timeout_s: float = 60
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            reply = await self.status(tracking_id, participant)
            if reply.status == 200 and reply.body["status"] in wanted:
                return dict(reply.body)
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{tracking_id}: {reply.status} {reply.body}, wanted {wanted}")
            await asyncio.sleep(0.3)


def with_ingress(settings: Settings, **overrides: Any) -> Settings:
    updated = settings.ingress.model_copy(update=overrides)
    return settings.model_copy(update={"ingress": updated})


@contextlib.asynccontextmanager
async def started(
    settings: Settings, *, ready: bool = True, **overrides: Any
) -> AsyncIterator[Client]:
    """An ingress on 127.0.0.1 and a free port, with ``IngressSettings`` overrides."""
    async with serve(with_ingress(settings, **overrides), host="127.0.0.1", port=0) as running:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            client = Client(running.url, http, running)
            if ready:
                await client.wait_ready()
            yield client
