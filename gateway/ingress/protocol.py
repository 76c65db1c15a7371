"""Requests aiohttp cannot parse, answered as problem documents.

aiohttp answers a request its HTTP parser refuses (a malformed request or header line, a
header line over 8 KiB, a broken chunked body) itself, before any middleware runs, with a
plain-text body that quotes the offending line. The ingress promises
``application/problem+json`` for every error (DESIGN.md section 6), and a quoted
``Authorization`` line would echo a token back. ``ProblemAppRunner`` serves the application
with a request handler that renders those errors as problems naming the error's class only.

It also bounds the time a request's head (request line and headers) may take. aiohttp
has no such limit: a connection that sent nothing, or trickled a header a byte at a time,
was held for its keep-alive timeout (3630 s under ``AppRunner``), so a few thousand such
connections (a slowloris) took every file descriptor the ingress had. The body has the
ingress's request deadline already (``gateway.ingress.limits``).

It relies on aiohttp's ``RequestHandler.handle_error``, ``data_received`` and on how
``Server`` builds its request handlers; ``tests/kafka/ingress`` sends malformed requests to
a running server, so an aiohttp upgrade that changes either fails there, not in production.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from gateway.ingress.problems import PROBLEM_JSON, Problem

_SLUGS = {413: "body-too-large", 500: "internal"}
#: The ``Server`` header of every answer. aiohttp's default, ``Python/3.11 aiohttp/3.14.5``,
#: told any caller, unauthenticated too, the exact versions to look up vulnerabilities for
#: (a customs security review); the name alone says which service answered.
SERVER_NAME = "kpgw"


async def _name_server(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: runs before aiohttp sets its default ``Server``, which it
    does only when the header is absent."""
    del request
    response.headers["Server"] = SERVER_NAME


#: aiohttp's own sentences for errors a sender can fix (the first line of the error, which
#: names no value of the request; the lines after it quote the request and are never
#: used), and what the problem says of each. Otherwise the detail gave the general advice,
#: which did not name the cause (a client that sent Content-Type twice read "no CR or LF
#: inside a value, no space before a colon").
_CAUSES = (
    (
        # aiohttp says it of the headers a request may give once only: a name, no value.
        re.compile(r"Duplicate '?([A-Za-z-]{1,40})'?(?: header found\.)?$"),
        "the header {0} is given more than once; give it once",
    ),
    (
        re.compile(r"Transfer-Encoding can't be present with Content-Length$"),
        "Content-Length and Transfer-Encoding are both given; give one of them",
    ),
    (
        re.compile(r"Invalid character in Content-Length$|Invalid HTTP header: 'Content-Length'$"),
        "Content-Length is not a number of bytes (digits only)",
    ),
    (
        re.compile(r"Invalid header value char$"),
        "a header value holds a control character (a NUL byte, say), which HTTP forbids",
    ),
    (
        # Usually the rest of a body longer than its Content-Length, read as a new request.
        re.compile(r"Invalid method encountered$"),
        "the request line does not start with an HTTP method; when it follows a request "
        "on the same connection, that request's body was longer than its Content-Length, "
        "and the bytes after it were read as a new request",
    ),
    (
        re.compile(r"Too many headers received$"),
        "the request has more header lines than the ingress reads (128)",
    ),
    (
        re.compile(r"Invalid header token$"),
        "a header name holds a character names may not (a space, say)",
    ),
    (
        re.compile(r"Unexpected whitespace after header value$"),
        "a header line starts with a space or tab (an obsolete folded header); write each "
        "header on one line",
    ),
    (
        re.compile(r"Request has invalid `Transfer-Encoding`$|Invalid `Transfer-Encoding`"),
        "Transfer-Encoding may only be chunked; send the document uncompressed, with a "
        "Content-Length or chunked",
    ),
    (
        re.compile(r"Pause on PRI/Upgrade$"),
        "this is HTTP/2; the ingress speaks HTTP/1.1 (a proxy in front may speak HTTP/2)",
    ),
    (
        re.compile(r"Bad status line$"),
        "the request line is not METHOD PATH HTTP/1.1 (another HTTP version, or lines ending "
        "in a bare LF rather than CRLF)",
    ),
    (
        re.compile(r"Invalid character in chunk size$|Invalid chunk size$"),
        "the chunked body is malformed: a chunk size is not a hexadecimal number",
    ),
)


def _cause(exc: HttpProcessingError) -> str | None:
    first = (exc.message or "").split("\n", 1)[0].strip().removesuffix(":")
    for pattern, sentence in _CAUSES:
        match = pattern.match(first)
        if match is not None:
            return sentence.format(*match.groups())
    return None


def parser_problem(status: int, exc: BaseException | None) -> Problem:
    """The problem for an error aiohttp's protocol layer met (``status``, ``exc``)."""
    slug = _SLUGS.get(status, "bad-request" if status < 500 else "internal")
    cause = _cause(exc) if isinstance(exc, HttpProcessingError) else None
    if cause is not None:
        detail = f"the HTTP request could not be parsed ({type(exc).__name__}): {cause}"
    elif isinstance(exc, HttpProcessingError):
        detail = (
            f"the HTTP request could not be parsed ({type(exc).__name__}); check the request "
            "line and the header lines: no CR or LF inside a value, no space before a "
            "colon, each line under 8 KiB"
        )
    elif slug == "internal":
        detail = "an internal error occurred; it has been logged"
    else:
        detail = f"the HTTP request was refused ({type(exc).__name__ if exc else status})"
    return Problem(slug, detail)


#: How long a request's head may take, from the connection's start or from its first byte
#: (a keep-alive connection's next request); ``ProblemAppRunner(head_deadline_s=...)``.
HEAD_DEADLINE_S = 10.0
#: How long an idle keep-alive connection is kept (aiohttp's ``run_app`` default; its
#: ``AppRunner`` keeps one 3630 s).
KEEPALIVE_S = 75.0


def head_timeout_answer(deadline_s: float) -> bytes:
    """The 408 written on a connection whose request head did not arrive in time."""
    request_id = str(uuid.uuid4())
    detail = (
        f"the request line and headers did not arrive within {deadline_s:g} s; send the "
        "whole request head at once"
    )
    document = Problem("request-timeout", detail).document(f"urn:uuid:{request_id}")
    body = json.dumps(document).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"Content-Type: {PROBLEM_JSON}; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-Id: {request_id}\r\n"
        f"Server: {SERVER_NAME}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ProblemRequestHandler(RequestHandler):
    """aiohttp's request handler, with its own error answers as problem documents and a
    deadline on each request's head."""

    __slots__ = ("_head_bytes", "_head_deadline_s", "_head_timer")

    def __init__(self, *args: Any, head_deadline_s: float = HEAD_DEADLINE_S, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._head_deadline_s = head_deadline_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # of the head under way, if any: a 408 is written only then

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()  # a connection that sends nothing at all is closed too

    def data_received(self, data: bytes) -> None:
        if not self._messages and not self._request_in_progress:
            # Waiting for the next request (not reading the rest of a body the handler
            # left unread, which aiohttp drains for a while): a keep-alive connection's
            # next head has begun.
            idle = self._waiter is not None and not self._waiter.done()
            if idle and self._head_timer is None:
                self._arm_head_timer()
            if self._head_timer is not None:
                self._head_bytes += len(data)
        super().data_received(data)
        if self._messages or self._request_in_progress:  # the head is complete
            self._disarm_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes = 0
        deadline = self._head_deadline_s
        self._head_timer = self._loop.call_later(deadline, self._head_overdue, deadline)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self, deadline_s: float) -> None:
        self._head_timer = None
        if self._messages or self._request_in_progress or self.transport is None:
            return
        if self._head_bytes:  # a head begun and not finished: say why the answer is no
            self.transport.write(head_timeout_answer(deadline_s))
        self.force_close()  # the transport sends what was written, then closes

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own logs the error (RedactMalformedRequests keeps tokens out) and
        # raises when a response was already under way; its plain-text answer is dropped.
        super().handle_error(request, status, exc, message)
        request_id = str(uuid.uuid4())
        document = parser_problem(status, exc).document(f"urn:uuid:{request_id}")
        document["status"] = status  # the parser's own (a 400 may become a 431 one day)
        response = web.Response(
            status=status,
            body=json.dumps(document).encode(),
            content_type=PROBLEM_JSON,
            charset="utf-8",
            # As on every answer (no middleware or response hook ran for this one).
            headers={"X-Request-Id": request_id, "Server": SERVER_NAME},
        )
        response.force_close()
        return response


class ProblemServer(web.Server):
    head_deadline_s = HEAD_DEADLINE_S

    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(
            self, loop=self._loop, head_deadline_s=self.head_deadline_s, **self._kwargs
        )


class ProblemAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections are served by ``ProblemRequestHandler``, every
    answer naming the server ``kpgw`` without versions: ``head_deadline_s`` for each
    request's head, ``keepalive_timeout`` (``KEEPALIVE_S`` unless given) for an idle
    connection."""

    def __init__(
        self, app: web.Application, *, head_deadline_s: float = HEAD_DEADLINE_S, **kwargs: Any
    ) -> None:
        app.on_response_prepare.append(_name_server)
        kwargs.setdefault("keepalive_timeout", KEEPALIVE_S)
        super().__init__(app, **kwargs)
        self._head_deadline_s = head_deadline_s

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The application builds a plain Server (with its handler and request factory);
        # only the handler class changes.
        server.__class__ = ProblemServer
        server.head_deadline_s = self._head_deadline_s  # type: ignore[attr-defined]
        return server
