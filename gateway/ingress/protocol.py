"""Requests aiohttp cannot parse, answered as problem documents.

aiohttp answers a request its HTTP parser refuses (a malformed request or header line, a
header line over 8 KiB, a broken chunked body) itself, before any middleware runs, with a
plain-text body that quotes the offending line. The ingress promises
``application/problem+json`` for every error (DESIGN.md section 6), and a quoted
``Authorization`` line would echo a token back. ``ProblemAppRunner`` serves the application
with a request handler that renders those errors as problems naming the error's class only.

It relies on aiohttp's ``RequestHandler.handle_error`` and on how ``Server`` builds its
request handlers; ``tests/kafka/ingress`` sends malformed requests to a running server, so
an aiohttp upgrade that changes either fails there, not in production.
"""

from __future__ import annotations

import json
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


def parser_problem(status: int, exc: BaseException | None) -> Problem:
    """The problem for an error aiohttp's protocol layer met (``status``, ``exc``)."""
    slug = _SLUGS.get(status, "bad-request" if status < 500 else "internal")
    if isinstance(exc, HttpProcessingError):
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


class ProblemRequestHandler(RequestHandler):
    """aiohttp's request handler, with its own error answers as problem documents."""

    __slots__ = ()

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
    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections are served by ``ProblemRequestHandler``, every
    answer naming the server ``kpgw`` without versions."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        app.on_response_prepare.append(_name_server)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The application builds a plain Server (with its handler and request factory);
        # only the handler class changes.
        server.__class__ = ProblemServer
        return server
