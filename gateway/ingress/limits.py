"""Protection before any work: per-participant rate limit (429), content type (415), body
size checked from ``Content-Length`` before reading and enforced while reading (413).

The rate limiter is a token bucket per participant with an injected clock (pure, unit
tested): ``rate_limit_per_minute`` tokens are added per minute and the bucket holds at most
one minute's worth, so a participant may send its whole minute at once and then
``rate/60`` requests per second. It is per ingress instance: behind a load balancer with N
instances a participant may reach N times the limit.
"""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from adapters.xmlsafe import compressed, own_encoding
from gateway.errors import Finding
from gateway.ingress.problems import Problem, retry_after

XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})
CHUNK = 64 * 1024


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by participant code."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float | None:
        """Spend one token of ``key``: None when allowed, else the seconds until one is
        available (the ``Retry-After``)."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.per_second)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.per_second

    def enforce(self, key: str, *, bucket: str | None = None, what: str = "requests") -> None:
        """Spend a token of ``key`` (of its ``bucket``: a separate budget of the same size
        for ``what``) or refuse with 429."""
        wait = self.take(key if bucket is None else f"{key}\x00{bucket}")
        if wait is not None:
            raise Problem(
                "rate-limited",
                f"more than {int(self.capacity)} {what} per minute from {key}; "
                f"retry in {wait:.1f} s",
                headers=retry_after(wait),
            )


def check_content_type(value: str | None) -> None:
    """``application/xml`` or ``text/xml``; parameters such as ``charset`` are allowed."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media not in XML_MEDIA_TYPES:
        shown = media or "none"
        raise Problem(
            "unsupported-media-type",
            f"content type {shown!r} is not accepted; send one XML document as "
            "application/xml (or text/xml)",
        )


_CHARSET = re.compile(r';\s*charset\s*=\s*"?([^";\s]+)"?', re.IGNORECASE)


def check_charset(content_type: str | None, body: bytes) -> None:
    """A ``charset`` parameter must agree with what the document says of itself (its
    byte-order mark, else its XML declaration, else UTF-8). The gateway stores the bytes as
    sent and reads them later without the HTTP headers, so a charset only the header gave
    cannot be honoured; a windows-1251 document without a declaration was refused as "not
    matching the declared encoding" when nothing in it declared one (an integrator's
    review)."""
    found = _CHARSET.search(content_type or "")
    if found is None:
        return
    # aiohttp reads a header's non-UTF-8 bytes as lone surrogates, which neither the codec
    # lookup nor the problem document can take: shown as \xff escapes instead.
    given = found.group(1).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    own, how = own_encoding(body)
    if _codec_name(given) == _codec_name(own):
        return
    advice = (
        f'declare the encoding in it (<?xml version="1.0" encoding="{given}"?>) if the '
        "bytes are that, or leave the charset parameter out"
        if how.startswith("declares no")
        else f"send charset={own} or leave the charset parameter out"
    )
    raise Problem(
        "unsupported-media-type",
        f"Content-Type says charset={given}, but the document {how}: the gateway reads a "
        f"document only by what it says of itself, so {advice}",
    )


def _codec_name(label: str) -> str:
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return label.lower()
    if name == "ascii":  # US-ASCII is read as its UTF-8 subset
        return "utf-8"
    # utf-16-le and the like name the byte order a mark gives anyway
    return name.removesuffix("-le").removesuffix("-be")


def check_content_encoding(value: str | None) -> None:
    """No content coding: a compressed body is inflated before its size can be judged (a
    2 MB gzip of 2 GB of spaces cost seconds of the event loop per request, before the
    token was even checked; a security review), and a certificate is a few kilobytes. The
    server does not decompress at all (``auto_decompress=False``)."""
    codings = [coding.strip().lower() for coding in (value or "").split(",") if coding.strip()]
    if any(coding != "identity" for coding in codings):
        raise Problem(
            "unsupported-media-type",
            f"content encoding {value!r} is not accepted; send the XML document uncompressed",
        )


def check_not_compressed(raw: bytes) -> None:
    """A body of compressed or archived data without a ``Content-Encoding`` (a client that
    gzips the document itself) is not XML: refused as the parser refuses it (400,
    ``NOT_XML``), whether or not synchronous validation is on, with advice for HTTP. The
    parser's advice is for a Kafka-native sender (the producer's ``compression.type``),
    which means nothing to an HTTP client."""
    packed = compressed(raw)
    if packed:
        message = (
            f"the body is {packed} data, not XML; send the XML document itself, "
            "uncompressed (the ingress takes no Content-Encoding either: a certificate is "
            "a few kilobytes)"
        )
        raise Problem("not-xml", message, findings=(Finding("NOT_XML", message, line=1),))


def _too_large(size: str, limit: int) -> Problem:
    message = f"the body is {size} bytes; the limit is {limit}"
    return Problem("body-too-large", message, findings=(Finding("BODY_TOO_LARGE", message),))


def check_declared_length(content_length: int | None, limit: int) -> None:
    """Refuse from the header alone, before a byte of the body is read."""
    if content_length is not None and content_length > limit:
        raise _too_large(str(content_length), limit)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refusing as soon as more than ``limit`` bytes arrive (chunked uploads and
    a lying ``Content-Length`` included)."""
    check_declared_length(request.content_length, limit)
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await request.content.read(CHUNK)
        except (ConnectionResetError, HttpProcessingError) as exc:
            # The client went away mid-body, or sent a broken chunked encoding: its fault,
            # not an internal error (nobody may read this answer, but logs and metrics do).
            raise Problem("bad-request", "the request body was incomplete or malformed") from exc
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise _too_large(f"more than {limit}", limit)
        parts.append(chunk)
    return b"".join(parts)
