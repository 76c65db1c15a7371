"""RFC 9457 problem details: every error the ingress returns is ``application/problem+json``
with ``type``, ``title``, ``status``, ``detail``, ``instance`` and the list of ``findings``
({code, message, line, path}) that say precisely what to fix.

A ``Problem`` is raised anywhere in a handler and rendered once by the middleware in
``gateway.ingress.app``. Details never carry secrets (tokens) or document content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.errors import Finding

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:kpgw:problem:"

#: The status endpoint's 404 detail. A client tells "no such message" from "no such route"
#: (aiohttp's 404, type not-found: a wrong base URL) by the type ``UNKNOWN_MESSAGE_TYPE``;
#: servers before that type said it with not-found and this wording, which ``kpgw status``
#: still recognises by its beginning.
UNKNOWN_MESSAGE = "no message {tracking_id} of {participant} is known"

#: slug -> (status, title). The slug is the stable, documented ``type`` suffix.
KINDS: dict[str, tuple[int, str]] = {
    "not-xml": (400, "The body is not an XML document"),
    "bad-request": (400, "The request is malformed"),
    "unauthenticated": (401, "Authentication required"),
    "forbidden-sender": (403, "This participant may not send this document"),
    "participant-suspended": (403, "The participant is suspended"),
    "not-found": (404, "Not found"),
    # The status endpoint's own 404: no message of this participant has the tracking id.
    # Its title stays the generic 404's, as before it had a type of its own.
    "unknown-message": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    # Written by the connection's handler (gateway.ingress.protocol), before any route.
    "request-timeout": (408, "The request head did not arrive in time"),
    "idempotency-conflict": (409, "Idempotency-Key reused with a different body"),
    "body-too-large": (413, "The body is too large"),
    "unsupported-media-type": (415, "Unsupported content type"),
    "invalid-document": (422, "The document is invalid"),
    "rate-limited": (429, "Too many requests"),
    "internal": (500, "Internal error"),
    "broker-unavailable": (503, "The message broker is unavailable; nothing was accepted"),
    "deadline-exceeded": (503, "The request deadline passed; nothing was accepted"),
    "not-ready": (503, "The ingress is not ready yet"),
}
UNKNOWN_MESSAGE_TYPE = TYPE_BASE + "unknown-message"


@dataclass(eq=False, slots=True)
class Problem(Exception):
    """An HTTP error with its problem document; raise it from a handler."""

    slug: str
    detail: str
    findings: tuple[Finding, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.slug not in KINDS:
            raise ValueError(f"unknown problem kind {self.slug!r}")
        Exception.__init__(self, self.detail)

    @property
    def status(self) -> int:
        return KINDS[self.slug][0]

    @property
    def title(self) -> str:
        return KINDS[self.slug][1]

    def document(self, instance: str) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": _cut(self.detail, MAX_DETAIL_CHARS),
            "instance": instance,
            "findings": [
                {
                    **finding.as_dict(),
                    "message": _cut(finding.message, MAX_MESSAGE_CHARS),
                    "path": None if finding.path is None else _cut(finding.path, MAX_PATH_CHARS),
                }
                for finding in self.findings
            ],
        }

    def response(self, instance: str) -> web.Response:
        return web.Response(
            status=self.status,
            body=json.dumps(self.document(instance), ensure_ascii=False).encode(),
            content_type=PROBLEM_JSON,
            charset="utf-8",
            headers=dict(self.headers),
        )


#: A finding may quote what the document holds (an attribute's value, say): a document
#: built for it made a 2 MB attribute a 4 MB answer (a security review).
MAX_MESSAGE_CHARS = 1000
MAX_DETAIL_CHARS = 2000
MAX_PATH_CHARS = 500


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit:,} more)"


def retry_after(seconds: float) -> dict[str, str]:
    """A ``Retry-After`` header in whole seconds, at least 1."""
    return {"Retry-After": str(max(1, int(-(-seconds // 1))))}


#: A path quoted back in a 404 or 405 is the caller's own, but cut: a URL can be long.
MAX_QUOTED_PATH_CHARS = 200


def from_http_exception(
    exc: web.HTTPException, method: str, path: str, served: Sequence[str] = ()
) -> Problem:
    """aiohttp's own errors (unknown route, wrong method) as problem documents. ``path``
    is the request's, still percent-encoded (so it holds no control characters);
    ``served``, the paths of the server that answers (the ingress's, or a worker's
    operations endpoints)."""
    slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
        exc.status, "bad-request" if exc.status < 500 else "internal"
    )
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
    quoted = _cut(path, MAX_QUOTED_PATH_CHARS)
    if slug == "not-found":
        # aiohttp says only "Not Found": the usual cause is a base URL with a path of its
        # own, which the caller fixes once told what it asked for and where the API is.
        detail = f"no such path: {method} {quoted}; check the base URL" + (
            f": this server's paths are {', '.join(served)}" if served else ""
        )
        if "/v1/openapi.yaml" in served:
            detail += " (the API's operations: GET /v1/openapi.yaml)"
    elif slug == "method-not-allowed" and headers:
        detail = f"{method} is not allowed on {quoted}; it takes {headers['Allow']}"
    else:
        detail = exc.reason or KINDS[slug][1]
    return Problem(slug, detail, headers=headers)
