"""A stand-in for the ingress's HTTP API, for the command-line clients (``kpgw send`` and
``kpgw status``) without a broker: each route gives its answers in turn, the last one for
ever after; any other route is aiohttp's plain 404 (a wrong base URL). Binds 127.0.0.1 on
a free port of 28800-28849."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.ingress.problems import KINDS, TYPE_BASE, UNKNOWN_MESSAGE
from gateway.kafka.broker import port_free


@dataclass
class Stub:
    url: str
    #: tracking id -> the status documents (or (http status, detail[, problem type slug])
    #: tuples) to give in turn.
    statuses: dict[str, list[Any]] = field(default_factory=dict)
    #: the answers to POST /v1/messages in turn: (http status, document).
    posts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def ingress_stub() -> AsyncIterator[Stub]:
    stub = Stub(url="")

    async def status(request: web.Request) -> web.Response:
        tracking_id = request.match_info["tracking_id"]
        stub.asked.append(tracking_id)
        answers = stub.statuses.get(tracking_id)
        if not answers:  # the ingress's own problem (a client tells it from a wrong URL's)
            detail = UNKNOWN_MESSAGE.format(tracking_id=tracking_id, participant="ZA")
            return _problem(404, detail, "unknown-message")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, tuple):
            return _problem(*answer)
        return web.json_response({"tracking_id": tracking_id, **answer})

    async def post(request: web.Request) -> web.Response:
        await request.read()
        code, document = stub.posts.pop(0) if len(stub.posts) > 1 else stub.posts[0]
        kind = "application/json" if code < 400 else "application/problem+json"
        return web.json_response(document, status=code, content_type=kind)

    app = web.Application()
    app.router.add_get("/v1/messages/{tracking_id}", status)
    app.router.add_post("/v1/messages", post)
    app.router.add_post("/v1/validate", post)
    runner = web.AppRunner(app)
    await runner.setup()
    port = next(p for p in range(28800, 28850) if port_free(p))
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    stub.url = f"http://127.0.0.1:{port}"
    try:
        yield stub
    finally:
        await runner.cleanup()


def _problem(status: int, detail: str, slug: str | None = None) -> web.Response:
    """The ingress's problem document of that status, of type ``slug`` (default: the first
    of that status; ``about:blank`` for a status the ingress never gives)."""
    slug = slug or next((slug for slug, (code, _) in KINDS.items() if code == status), None)
    kind = {"type": TYPE_BASE + slug, "title": KINDS[slug][1]} if slug else {"type": "about:blank"}
    return web.json_response(
        {**kind, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )
