"""Rate limit, content type, size: the ingress's protection before any work."""

from __future__ import annotations

import codecs
import gzip
import io
import zipfile
from types import SimpleNamespace

import pytest
from aiohttp.http_exceptions import ContentLengthError, TransferEncodingError

from gateway.ingress.limits import (
    RateLimiter,
    check_charset,
    check_content_type,
    check_declared_length,
    check_not_compressed,
    read_body,
)
from gateway.ingress.problems import Problem, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_minute_of_burst_then_the_steady_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)
    assert all(limiter.take("RU") is None for _ in range(60))
    wait = limiter.take("RU")
    assert wait == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.take("RU") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("RU") is None
    assert limiter.take("BW") is None  # buckets are per participant


def test_refill_never_exceeds_one_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    for _ in range(3):
        limiter.take("RU")
    clock.now += 3600
    assert [limiter.take("RU") is None for _ in range(4)] == [True, True, True, False]


def test_enforce_raises_429_with_retry_after() -> None:
    limiter = RateLimiter(1, clock=Clock())
    limiter.enforce("RU")
    with pytest.raises(Problem) as caught:
        limiter.enforce("RU")
    assert caught.value.status == 429
    assert caught.value.headers == {"Retry-After": "60"}


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0)


@pytest.mark.parametrize(
    "value",
    [
        "application/xml",
        "text/xml",
        "application/xml; charset=utf-8",
        "TEXT/XML;charset=ISO-8859-1",
    ],
)
def test_xml_content_types_pass(value: str) -> None:
    check_content_type(value)


@pytest.mark.parametrize(
    "value", [None, "", "text/plain", "application/json", "application/soap+xml", "xml"]
)
def test_other_content_types_are_415(value: str | None) -> None:
    with pytest.raises(Problem) as caught:
        check_content_type(value)
    assert caught.value.status == 415


def test_declared_length_is_checked_before_reading() -> None:
    check_declared_length(None, 10)
    check_declared_length(10, 10)
    with pytest.raises(Problem) as caught:
        check_declared_length(11, 10)
    assert caught.value.status == 413
    assert caught.value.findings[0].code == "BODY_TOO_LARGE"


@pytest.mark.parametrize(
    ("seconds", "header"), [(0, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60")]
)
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    assert retry_after(seconds) == {"Retry-After": header}


class _BrokenBody:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def read(self, size: int) -> bytes:
        del size
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError("Connection lost"),
        ContentLengthError("Not enough data to satisfy content length header."),
        TransferEncodingError("Not enough data to satisfy transfer length header."),
    ],
)
async def test_a_body_cut_short_or_malformed_is_400_not_500(error: BaseException) -> None:
    request = SimpleNamespace(content_length=None, content=_BrokenBody(error))
    with pytest.raises(Problem) as caught:
        await read_body(request, 1024)  # type: ignore[arg-type]
    assert caught.value.status == 400
    assert caught.value.slug == "bad-request"


CYRILLIC_1251 = "<doc>Алмазы</doc>".encode("cp1251")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", CYRILLIC_1251),  # no parameter: the document speaks for itself
        ("application/xml; charset=utf-8", b"<doc/>"),
        ("application/xml; charset=US-ASCII", b"<doc/>"),
        ("application/xml; charset=utf8", b'<?xml version="1.0" encoding="UTF-8"?><doc/>'),
        (
            'text/xml; charset="windows-1251"',
            b'<?xml version="1.0" encoding="cp1251"?>' + CYRILLIC_1251,
        ),
        ("application/xml; charset=utf-16", "<doc/>".encode("utf-16")),
        ("application/xml; charset=UTF-16LE", codecs.BOM_UTF16_LE + "<doc/>".encode("utf-16-le")),
        ("application/xml; charset=utf-8", codecs.BOM_UTF8 + b"<doc/>"),
        ("application/xml; charset=latin1", b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>'),
    ],
)
def test_a_charset_that_agrees_with_the_document_passes(content_type: str, body: bytes) -> None:
    check_charset(content_type, body)


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("application/xml; charset=windows-1251", CYRILLIC_1251, "declares no encoding"),
        (
            "application/xml; charset=utf-8",
            b'<?xml version="1.0" encoding="windows-1251"?>' + CYRILLIC_1251,
            "declares encoding windows-1251",
        ),
        ("application/xml; charset=koi8-r", "<doc/>".encode("utf-16"), "UTF-16 byte-order"),
        ("application/xml; charset=no-such-charset", b"<doc/>", "declares no encoding"),
    ],
)
def test_a_charset_only_the_header_gives_is_refused(
    content_type: str, body: bytes, says: str
) -> None:
    """An integrator's review: a windows-1251 document without a declaration, sent with
    charset=windows-1251, was refused as not matching "the declared encoding", although
    only the header declared one. The gateway stores the bytes and reads them without
    the headers, so it says so instead."""
    with pytest.raises(Problem) as caught:
        check_charset(content_type, body)
    assert caught.value.status == 415
    assert says in caught.value.detail
    # Advice that fits: declare it only when the document declares nothing; else fix the
    # header (a review: "declare utf-8" for a windows-1251 document would break it).
    declared_nothing = "declares no encoding" in says
    assert ("declare the encoding in it" in caught.value.detail) == declared_nothing
    assert ("send charset=" in caught.value.detail) != declared_nothing


def test_a_charset_of_bytes_that_are_not_utf8_is_415_not_500() -> None:
    """Found by fuzzing the headers: aiohttp reads a header's non-UTF-8 bytes as lone
    surrogates, which failed the charset lookup (an internal error, 500) and could not be
    written into the problem document either."""
    content_type = b"application/xml; charset=x-bogus-\xff".decode("utf-8", "surrogateescape")
    with pytest.raises(Problem) as caught:
        check_charset(content_type, b"<doc/>")
    assert caught.value.status == 415
    assert "charset=x-bogus-\\xff" in caught.value.detail
    assert caught.value.response("urn:uuid:0").status == 415  # it renders


def _zip(document: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("certificate.xml", document)
    return archive.getvalue()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (gzip.compress(b"<a/>"), "gzip-compressed"),
        (b"\x28\xb5\x2f\xfd" + b"\x00" * 8, "zstd-compressed"),
        (_zip(b"<a/>"), "a ZIP archive's"),
    ],
    # Named: ids made of the bytes would hold the archives' time stamps, and the two
    # processes of `make test` must collect the same tests.
    ids=["gzip", "zstd", "zip"],
)
def test_a_compressed_body_is_400_not_xml_with_advice_for_http(body: bytes, named: str) -> None:
    """The parser's advice is for a Kafka producer (compression.type): it was given to
    HTTP clients, for whom it means nothing."""
    with pytest.raises(Problem) as caught:
        check_not_compressed(body)
    assert (caught.value.status, caught.value.slug) == (400, "not-xml")
    (finding,) = caught.value.findings
    assert (finding.code, finding.line) == ("NOT_XML", 1)
    assert finding.message == caught.value.detail
    assert finding.message.startswith(f"the body is {named} data, not XML; ")
    assert "send the XML document itself, uncompressed" in finding.message
    assert "Content-Encoding" in finding.message and "compression.type" not in finding.message


@pytest.mark.parametrize("body", [b"<a/>", b"\xef\xbb\xbf<a/>", b"not XML", b"", b"\x1f"])
def test_a_body_that_is_not_compressed_passes_to_the_next_checks(body: bytes) -> None:
    check_not_compressed(body)
