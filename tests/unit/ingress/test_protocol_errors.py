"""Requests aiohttp's HTTP parser refuses are answered as problem documents that quote
nothing of the request (a real aiohttp server on loopback, raw bytes on a socket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.ingress import handlers
from gateway.ingress.protocol import ProblemAppRunner
from tests.raw_http import exchange

TOKEN = "kpgw_ru_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXhxdXV4"


async def _hello(request: web.Request) -> web.Response:
    del request
    return web.Response(text="hello")


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = ProblemAppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "raw",
    [
        # A token file's stray CR inside the Authorization value.
        b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\r\n\r\n",
        # A space before the colon.
        b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer " + TOKEN.encode() + b"\r\n\r\n",
        # Not a request line at all.
        b"HELLO " + TOKEN.encode() + b"\r\n\r\n",
        # A header line over 8 KiB.
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + TOKEN.encode() + b"\r\n\r\n",
    ],
    ids=["stray-cr", "space-before-colon", "bad-request-line", "line-too-long"],
)
async def test_unparsable_requests_get_a_problem_that_quotes_nothing(port: int, raw: bytes) -> None:
    status, headers, body = await exchange(port, raw)
    assert status == 400
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["type"] == "urn:kpgw:problem:bad-request"
    assert problem["status"] == 400
    assert "could not be parsed" in problem["detail"]
    assert problem["instance"].startswith("urn:uuid:")
    assert problem["instance"] == f"urn:uuid:{headers['x-request-id']}"  # as every answer
    assert TOKEN.encode() not in body and b"Bearer" not in body


async def test_a_well_formed_request_is_served_as_usual(port: int) -> None:
    status, _, body = await exchange(
        port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert (status, body) == (200, b"hello")


@pytest.fixture
async def ingress_routes_port() -> AsyncIterator[int]:
    """The ingress's routes without an ingress behind them: enough for what aiohttp
    answers before any handler or middleware runs."""
    app = web.Application()
    handlers.add_routes(app)
    runner = ProblemAppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


ROUTES = [
    (b"POST", b"/v1/messages"),
    (b"POST", b"/v1/validate"),
    (b"GET", b"/v1/messages/some-id"),
    (b"GET", b"/v1/openapi.yaml"),
    (b"GET", b"/healthz"),
    (b"GET", b"/readyz"),
    (b"GET", b"/metrics"),
    (b"GET", b"/dashboard"),
    (b"GET", b"/dashboard/data.json"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[p.decode() for _, p in ROUTES])
async def test_an_unknown_expectation_is_a_problem_not_aiohttp_plain_text(
    ingress_routes_port: int, method: bytes, path: bytes
) -> None:
    """Found by sending odd headers: aiohttp answers an Expect other than 100-continue
    before any middleware, with a plain-text 417 quoting the header (on the GET routes
    until the OpenAPI review: only the POSTs had the ingress's handler), and without the
    ``X-Request-Id`` every other answer has."""
    status, headers, body = await exchange(
        ingress_routes_port,
        method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Expect: teapot\r\nContent-Type: application/xml\r\nContent-Length: 6\r\n\r\n<doc/>",
    )
    assert status == 400
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["type"] == "urn:kpgw:problem:bad-request"
    assert "100-continue" in problem["detail"]
    assert b"teapot" not in body
    assert problem["instance"] == f"urn:uuid:{headers['x-request-id']}"


async def test_every_answer_names_the_server_without_versions(
    port: int, ingress_routes_port: int
) -> None:
    """aiohttp's default ``Server: Python/3.11 aiohttp/3.14.5`` told any caller, without a
    token, which versions to look up vulnerabilities for (a customs security review): a
    served answer, a parser's refusal and an unknown expectation all say ``kpgw`` alone."""
    served = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    unparsable = await exchange(port, b"HELLO\r\n\r\n")
    refused = await exchange(
        ingress_routes_port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: teapot\r\n\r\n",
    )
    for status, headers, _ in (served, unparsable, refused):
        assert (status, headers["server"]) in {(200, "kpgw"), (400, "kpgw")}


HEAD_DEADLINE_S = 0.5


async def _slow_hello(request: web.Request) -> web.Response:
    await asyncio.sleep(HEAD_DEADLINE_S * 3)  # longer than the head may take: not cut
    return web.Response(text=f"slow {len(await request.read())}")


async def _early(request: web.Request) -> web.Response:
    del request
    return web.Response(text="early")  # the body is left unread: aiohttp drains it


@pytest.fixture
async def deadline_port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/", _hello)
    app.router.add_post("/slow", _slow_hello)
    app.router.add_post("/early", _early)
    runner = ProblemAppRunner(
        app, access_log=None, shutdown_timeout=1.0, head_deadline_s=HEAD_DEADLINE_S
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def _trickle(writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> bytes:
    """One byte of a header every tenth of a second until the server answers or closes."""
    for _ in range(100):
        writer.write(b"x")
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(reader.read(), 0.1)
    return b"<still open>"


async def test_a_head_that_never_ends_is_a_408_problem_and_the_connection_closes(
    deadline_port: int,
) -> None:
    """A slowloris: aiohttp held a connection trickling a header for its keep-alive
    timeout (3630 s under AppRunner), so a few thousand took every file descriptor."""
    reader, writer = await asyncio.open_connection("127.0.0.1", deadline_port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = asyncio.get_running_loop().time()
        answer = await _trickle(writer, reader)
        took = asyncio.get_running_loop().time() - started
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"\r\nServer: kpgw\r\n" in answer  # as on every answer, no versions
    problem = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert problem["type"] == "urn:kpgw:problem:request-timeout"
    assert problem["status"] == 408
    assert "did not arrive within 0.5 s" in problem["detail"]
    assert b"x-slow" not in answer.lower()
    assert took < HEAD_DEADLINE_S * 4


async def test_a_silent_connection_is_closed_without_an_answer(deadline_port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", deadline_port)
    try:
        answer = await asyncio.wait_for(reader.read(), HEAD_DEADLINE_S * 4)
    finally:
        writer.close()
    assert answer == b""


async def test_the_next_head_on_a_kept_connection_has_the_same_deadline(
    deadline_port: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", deadline_port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"hello"), 5)
        await asyncio.sleep(HEAD_DEADLINE_S * 1.5)  # idle between requests: kept alive
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answer = await _trickle(writer, reader)
    finally:
        writer.close()
    assert first.startswith(b"HTTP/1.1 200 ")
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_complete_head_is_not_cut_by_a_slow_body_or_a_slow_handler(
    deadline_port: int,
) -> None:
    """The body and the handling have the ingress's request deadline, not this one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", deadline_port)
    try:
        writer.write(
            b"POST /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\n"
        )
        for byte in b"body":
            await asyncio.sleep(HEAD_DEADLINE_S / 2)
            writer.write(bytes([byte]))
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"slow 4")


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        (
            b"Content-Type: application/xml\r\nContent-Type: text/xml\r\nContent-Length: 6\r\n",
            "the header Content-Type is given more than once",
        ),
        (b"Content-Length: 6\r\nContent-Length: 6\r\n", "Content-Length is given more"),
        (
            b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
            "Content-Length and Transfer-Encoding are both given",
        ),
        (b"Content-Length: 6e0\r\n", "Content-Length is not a number of bytes"),
        (b"Content-Length: -6\r\n", "Content-Length is not a number of bytes"),
        (b"X-Trace: a\x00" + TOKEN.encode() + b"\r\nContent-Length: 6\r\n", "control character"),
        (b"".join(b"X-%d: v\r\n" % i for i in range(200)), "more header lines than"),
        (b"X-Trace: a\r\n " + TOKEN.encode() + b"\r\nContent-Length: 6\r\n", "folded header"),
        (b"Transfer-Encoding: gzip\r\n", "Transfer-Encoding may only be chunked"),
    ],
    ids=[
        "content-type-twice",
        "length-twice",
        "length-and-chunked",
        "1e0",
        "negative",
        "nul",
        "too-many",
        "folded",
        "gzip-transfer",
    ],
)
async def test_a_request_the_parser_refuses_for_a_known_cause_is_told_that_cause(
    port: int, headers: bytes, cause: str
) -> None:
    """The detail gave the general advice ("no CR or LF inside a value, no space before a
    colon"), which names none of these."""
    status, _, body = await exchange(
        port, b"POST / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n<doc/>"
    )
    assert status == 400
    problem = json.loads(body)
    assert problem["type"] == "urn:kpgw:problem:bad-request"
    assert cause in problem["detail"]
    assert TOKEN.encode() not in body and b"X-Trace" not in body


async def test_a_body_longer_than_its_content_length_is_named_as_the_likely_cause(
    port: int,
) -> None:
    """The rest of the body was read as a request line, and the answer advised checking
    the header lines."""
    body = b"<doc>" + b"x" * 500 + b"</doc>"
    status, _, answer = await exchange(
        port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n" + body
    )
    assert status == 400
    detail = json.loads(answer)["detail"]
    assert "body was longer than its Content-Length" in detail
    assert "xxxx" not in detail


@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "this is HTTP/2"),
        (b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", "the request line is not METHOD PATH HTTP/1.1"),
    ],
    ids=["http2-preface", "http3"],
)
async def test_a_request_line_of_another_protocol_is_named(
    port: int, raw: bytes, cause: str
) -> None:
    status, _, body = await exchange(port, raw)
    assert status == 400
    assert cause in json.loads(body)["detail"]


async def test_the_rest_of_a_body_answered_early_is_no_head(deadline_port: int) -> None:
    """An answer given before the body was read (a 401, a 415): aiohttp drains the rest of
    the body for a while, and those bytes started the next head's deadline, which closed
    the connection with a 408 written after the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", deadline_port)
    try:
        writer.write(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"early"), 5)
        for byte in b"the body":
            await asyncio.sleep(HEAD_DEADLINE_S / 3)
            writer.write(bytes([byte]))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        rest = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    assert first.startswith(b"HTTP/1.1 200 ")
    assert b" 408 " not in rest and rest.endswith(b"hello")
