"""XML safety (DESIGN.md section 10, issue 3 item 7): every hostile input ends as one precise
finding with a stable code, in bounded time; a canary file is never opened and a listening
socket is never contacted.

The canary is watched with Linux inotify (an open or a read of it is an event), so a file
that libxml2 opens and then discards is caught too, not only one whose content leaks. The
network canary is a real socket on 127.0.0.1 accepting in a thread.
"""

from __future__ import annotations

import ctypes
import gzip
import io
import os
import select
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import xmlsafe
from adapters.pipeline import adapt
from adapters.registry import adapters
from adapters.xmlsafe import parse
from gateway.errors import MessageRejected, NotXml, UnsafeXml
from gateway.generate.render import break_schema
from gateway.registry import ParticipantRegistry, load_registry
from gateway.translation import InboundMeta, translate
from tests.unit.generate.helpers import FORMATS, RECEIVED_AT, documents_in, format_under_test

#: Generous bound for any single hostile parse; a real one takes microseconds.
BOUND_S = 2.0
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SECRET = "CANARY-SECRET-7f3a"


# --- the canaries --------------------------------------------------------------------------


class FileWatch:
    """inotify on one file: was it opened or read since the last look?"""

    IN_ACCESS = 0x001
    IN_OPEN = 0x020

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if (
            self.fd < 0
            or libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN | self.IN_ACCESS) < 0
        ):
            raise OSError(ctypes.get_errno(), "inotify unavailable")

    def touched(self) -> bool:
        try:
            return bool(os.read(self.fd, 4096))
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


class Listener:
    """A TCP socket on 127.0.0.1 whose accepting thread records every connection."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, address = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(address)
            connection.close()

    def contacted(self) -> bool:
        """Any connection so far, including one still waiting in the accept queue."""
        pending, _, _ = select.select([self.server], [], [], 0.05)
        return bool(self.connections or pending)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.server.close()


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[tuple[Path, FileWatch]]:
    if not sys.platform.startswith("linux"):
        pytest.skip("the canary watch uses Linux inotify")
    path = tmp_path / "canary.dtd"
    path.write_text(f'<!ENTITY leak "{SECRET}">\n{SECRET}\n', encoding="utf-8")
    watch = FileWatch(path)
    yield path, watch
    watch.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def test_the_canaries_do_see_a_read_and_a_connection(
    canary: tuple[Path, FileWatch], listener: Listener
) -> None:
    path, watch = canary
    assert not watch.touched()
    assert path.read_text(encoding="utf-8")
    assert watch.touched()
    assert not listener.contacted()
    socket.create_connection(("127.0.0.1", listener.port), timeout=1).close()
    assert listener.contacted()


# --- helpers -------------------------------------------------------------------------------


def rejected(raw: bytes, **kwargs: int) -> MessageRejected:
    """Parse ``raw`` expecting a rejection, within the time bound."""
    start = time.perf_counter()
    with pytest.raises(MessageRejected) as caught:
        parse(raw, **kwargs)
    assert time.perf_counter() - start < BOUND_S
    error = caught.value
    assert len(error.findings) == 1
    assert error.findings[0].message
    return error


def code_of(raw: bytes, **kwargs: int) -> str:
    return rejected(raw, **kwargs).findings[0].code


def utf16(text: str) -> bytes:
    """UTF-16 with a BOM: the bytes no longer contain the ASCII ``<!DOCTYPE``."""
    return text.encode("utf-16")


def utf7(text: str) -> bytes:
    """A UTF-7 document: ``!`` is ``+ACE-``, so ``<!DOCTYPE`` hides from a byte scan."""
    body = text.replace(PROLOG, "")
    hidden = body.encode("utf-7").replace(b"<!", b"<+ACE-")  # Python writes "!" directly
    assert b"<!DOCTYPE" not in hidden
    return b'<?xml version="1.0" encoding="UTF-7"?>' + hidden


# --- entities, DTDs, XInclude: nothing is fetched ---------------------------------------------

PROLOG = "<?xml version='1.0'?>"
ENCODINGS: dict[str, Callable[[str], bytes]] = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-16": lambda text: utf16(text.replace(PROLOG, "<?xml version='1.0' encoding='UTF-16'?>")),
    "utf-7": utf7,
}
#: UTF-7 is refused for its encoding before anything is parsed; the others parse far
#: enough for the DOCTYPE to be seen (by the byte scan, or in the parsed tree for UTF-16).
REFUSED_AS = {
    "utf-8": xmlsafe.DTD_FORBIDDEN,
    "utf-16": xmlsafe.DTD_FORBIDDEN,
    "utf-7": xmlsafe.UNSUPPORTED_ENCODING,
}


@pytest.mark.parametrize("declared", ["UTF-7", "utf-7", "UTF7", "unicode-1-1-utf-7", "utf_7"])
def test_utf7_is_refused_as_an_encoding_even_when_harmless(declared: str) -> None:
    body = "<r>caf\u00e9</r>".encode("utf-7")
    error = rejected(f'<?xml version="1.0" encoding="{declared}"?>'.encode() + body)
    assert error.findings[0].code == xmlsafe.UNSUPPORTED_ENCODING
    assert declared in error.message and "UTF-8" in error.message


def _file_attacks(url: str) -> dict[str, str]:
    return {
        "external entity": (
            f"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM '{url}'>]><r>&x;</r>"
        ),
        "external entity in an attribute": (
            f"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM '{url}'>]><r a='&x;'/>"
        ),
        "parameter entity": (
            f"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY % p SYSTEM '{url}'> %p;]><r>&leak;</r>"
        ),
        "external DTD": f"<?xml version='1.0'?><!DOCTYPE r SYSTEM '{url}'><r>&leak;</r>",
        "public external DTD": (
            f"<?xml version='1.0'?><!DOCTYPE r PUBLIC '-//KPGW//EVIL//EN' '{url}'><r/>"
        ),
    }


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("attack", sorted(_file_attacks("x")))
def test_entities_and_dtds_never_open_a_local_file(
    canary: tuple[Path, FileWatch], attack: str, encoding: str
) -> None:
    path, watch = canary
    raw = ENCODINGS[encoding](_file_attacks(path.as_uri())[attack])
    error = rejected(raw)
    assert error.findings[0].code == REFUSED_AS[encoding]
    assert isinstance(error, UnsafeXml) or encoding == "utf-7"
    assert SECRET not in error.message
    assert not watch.touched(), f"{attack} ({encoding}) opened the canary file"


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("attack", sorted(_file_attacks("x")))
def test_entities_and_dtds_never_touch_the_network(
    listener: Listener, attack: str, encoding: str
) -> None:
    raw = ENCODINGS[encoding](_file_attacks(f"{listener.url}/evil.dtd")[attack])
    assert code_of(raw) == REFUSED_AS[encoding]
    assert not listener.contacted(), f"{attack} ({encoding}) contacted the listener"


LAUGHS = (
    "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
    + "".join(
        f"<!ENTITY lol{i} '{('&lol' + (str(i - 1) if i > 1 else '') + ';') * 10}'>"
        for i in range(1, 10)
    )
    + "]><lolz>&lol9;</lolz>"
)
QUADRATIC = f"{PROLOG}<!DOCTYPE r [<!ENTITY a '{'x' * 40_000}'>]><r>{'&a;' * 20_000}</r>"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("bomb", ["billion laughs", "quadratic blow-up"])
def test_entity_expansion_bombs_are_refused_fast(bomb: str, encoding: str) -> None:
    text = LAUGHS if bomb == "billion laughs" else QUADRATIC
    raw = ENCODINGS[encoding](text)
    assert len(raw) < xmlsafe.DEFAULT_MAX_BYTES  # refused for what it is, not for its size
    assert code_of(raw) == xmlsafe.DTD_FORBIDDEN


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("target", ["file", "network"])
def test_xinclude_is_refused_and_never_followed(
    canary: tuple[Path, FileWatch], listener: Listener, target: str, encoding: str
) -> None:
    path, watch = canary
    href = path.as_uri() if target == "file" else f"{listener.url}/include.xml"
    text = (
        "<?xml version='1.0'?><r xmlns:xi='http://www.w3.org/2001/XInclude'>"
        f"<xi:include href='{href}' parse='text'/></r>"
    )
    error = rejected(ENCODINGS[encoding](text))
    assert error.findings[0].code == xmlsafe.XINCLUDE_FORBIDDEN
    assert error.findings[0].line == 1
    assert not watch.touched()
    assert not listener.contacted()


def test_stylesheet_processing_instruction_is_inert(listener: Listener) -> None:
    raw = f"<?xml-stylesheet type='text/xsl' href='{listener.url}/x.xsl'?><r/>".encode()
    assert parse(raw).root.tag == "r"
    assert not listener.contacted()


# --- a remote xsi:schemaLocation is never followed -------------------------------------------


def _with_schema_location(content: bytes, url: str) -> bytes:
    root = etree.fromstring(content)
    namespace = etree.QName(root).namespace or ""
    root.set(f"{{{XSI}}}schemaLocation", f"{namespace} {url}/evil.xsd")
    root.set(f"{{{XSI}}}noNamespaceSchemaLocation", f"{url}/evil-nons.xsd")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each format: the test-only plain one always, each real adapter in this build."""
    yield from format_under_test(request, monkeypatch)


@pytest.fixture(scope="module")
def registry() -> ParticipantRegistry:
    return load_registry()


def test_remote_schema_location_is_never_followed(
    fmt: str, registry: ParticipantRegistry, listener: Listener
) -> None:
    story = documents_in(fmt, registry, pairs=1)[0]
    document = story.files[0]
    raw = _with_schema_location(document.content, listener.url)
    adapted = adapt(raw, registry)
    assert adapted.payload == story.scenario.documents[0].payload
    event = translate(raw, InboundMeta(sender=document.sender, received_at=RECEIVED_AT), registry)
    assert event.certificate_id == story.certificate_id
    assert not listener.contacted()


def test_document_with_remote_schema_location_is_judged_by_our_schema(
    fmt: str, registry: ParticipantRegistry, listener: Listener
) -> None:
    content = documents_in(fmt, registry, pairs=1)[0].files[0].content
    raw = _with_schema_location(break_schema(content, adapters().values()), listener.url)
    with pytest.raises(MessageRejected) as caught:
        adapt(raw, registry)
    assert caught.value.findings[0].code == "XSD_VIOLATION"
    assert "KpgwUnexpectedElement" in caught.value.findings[0].message
    assert not listener.contacted()


def test_a_doctype_in_utf16_is_named_with_its_line() -> None:
    """As in UTF-8 (an integrator review found the line missing in UTF-16)."""
    finding = rejected(
        utf16('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE r>\n<r/>')
    ).findings[0]
    assert (finding.code, finding.line) == (xmlsafe.DTD_FORBIDDEN, 2)


# --- size and depth ----------------------------------------------------------------------------


def test_deep_nesting_is_refused() -> None:
    error = rejected(b"<a>" * 10_000 + b"</a>" * 10_000)
    assert error.findings[0].code == xmlsafe.TOO_DEEP
    assert "XML_PARSE_HUGE" not in error.message  # libxml2's advice is for programmers


def test_oversized_input_is_refused_before_parsing() -> None:
    raw = b"<r>" + b"x" * xmlsafe.DEFAULT_MAX_BYTES + b"</r>"
    start = time.perf_counter()
    assert code_of(raw) == xmlsafe.DOCUMENT_TOO_LARGE
    assert time.perf_counter() - start < 0.1
    assert code_of(b"<r>0123456789</r>", max_bytes=8) == xmlsafe.DOCUMENT_TOO_LARGE


# --- encodings and byte order marks ------------------------------------------------------------

CYRILLIC = "Алмазы"


def _declared(encoding: str, body: str = "<r/>", codec: str = "utf-8") -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?>{body}'.encode(codec)


UTF8_BOM = b"\xef\xbb\xbf"
WRONG_ENCODINGS = [
    ("invalid UTF-8", _declared("UTF-8", "") + b"<r>\xff\xfe</r>", "INVALID_ENCODING"),
    ("invalid UTF-8, no declaration", b"<r>\xc3\x28</r>", "INVALID_ENCODING"),
    ("overlong UTF-8", b"<r>\xc0\xaf</r>", "INVALID_ENCODING"),
    ("unknown encoding", _declared("x-klingon"), "UNSUPPORTED_ENCODING"),
    (
        "UTF-8 is windows-1251",
        _declared("UTF-8", f"<r>{CYRILLIC}</r>", "cp1251"),
        "INVALID_ENCODING",
    ),
    ("US-ASCII is UTF-8", _declared("US-ASCII", f"<r>{CYRILLIC}</r>"), "INVALID_ENCODING"),
    ("UTF-16 is 8-bit", _declared("UTF-16"), "INVALID_ENCODING"),
    ("UTF-8 BOM, declares UTF-16", UTF8_BOM + _declared("UTF-16"), "INVALID_ENCODING"),
    ("UTF-8 BOM, declares cp1251", UTF8_BOM + _declared("windows-1251"), "INVALID_ENCODING"),
    (
        "UTF-8 declared windows-1251",
        _declared("windows-1251", f"<r>{CYRILLIC.lower()}</r>"),
        "INVALID_ENCODING",
    ),
    (
        "UTF-8 declared ISO-8859-1",
        _declared("ISO-8859-1", "<r>Kapu Gems é</r>"),
        "INVALID_ENCODING",
    ),
    ("UTF-16 without BOM", "<r>x</r>".encode("utf-16-be"), "INVALID_ENCODING"),
    ("UTF-16LE without BOM", "<r>x</r>".encode("utf-16-le"), "INVALID_ENCODING"),
    ("EBCDIC", _declared("cp037", codec="cp037"), "NOT_XML"),
    # Found by an integrator review: a UTF-16 byte order mark was trusted over any
    # declaration, an unknown label over UTF-8 text got the mislabelling code, and one
    # stray byte in UTF-8 text made it pass as windows-1251 (garbled names accepted).
    (
        "UTF-16 BOM, declares UTF-8",
        b"\xff\xfe" + _declared("UTF-8", f"<r>{CYRILLIC}</r>", "utf-16-le"),
        "INVALID_ENCODING",
    ),
    (
        "UTF-16 BOM, declares cp1251",
        b"\xfe\xff" + _declared("windows-1251", "<r>x</r>", "utf-16-be"),
        "INVALID_ENCODING",
    ),
    (
        "unknown encoding, UTF-8 text",
        _declared("x-klingon", f"<r>{CYRILLIC}</r>"),
        "UNSUPPORTED_ENCODING",
    ),
    # A code review: libxml2 reads labels Python does not know; UTF-8 under one is still
    # mislabelled, not accepted as garbled text.
    ("UTF-8 declared MS-CYRL", _declared("MS-CYRL", f"<r>{CYRILLIC}</r>"), "INVALID_ENCODING"),
    (
        "UTF-8 with one stray byte, declared windows-1251",
        _declared("windows-1251", f"<r>{CYRILLIC} {CYRILLIC}</r>").replace(b" ", b" \xb9", 1),
        "INVALID_ENCODING",
    ),
]


@pytest.mark.parametrize(("label", "raw", "code"), WRONG_ENCODINGS)
def test_wrong_unknown_and_lying_encodings(label: str, raw: bytes, code: str) -> None:
    error = rejected(raw)
    assert isinstance(error, NotXml), label
    assert error.findings[0].code == code, label
    assert error.findings[0].line in (None, 1), label


def test_a_wide_encoding_without_bom_and_a_russian_code_page_are_named() -> None:
    """What the sender did, not libxml2's words: UTF-16 saved without a BOM, and windows-1251
    bytes under a UTF-8 declaration (or none), the usual mistake of FTS-style systems."""
    wide = rejected("<r>x</r>".encode("utf-16-le")).findings[0]
    assert "UTF-16 (little-endian) without a byte order mark" in wide.message
    for prolog in ('<?xml version="1.0" encoding="UTF-8"?>\n', ""):
        raw = f"{prolog}<r>\n<a>{CYRILLIC}</a>\n</r>".encode("cp1251")
        finding = rejected(raw).findings[0]
        assert finding.code == "INVALID_ENCODING"
        assert 'Russian text in windows-1251: declare encoding="windows-1251"' in finding.message
    latin = rejected('<?xml version="1.0"?><r>caf\xe9 cr\xe8me</r>'.encode("latin-1"))
    assert "windows-1251" not in latin.findings[0].message


def test_utf8_with_a_stray_byte_is_not_taken_for_a_russian_code_page() -> None:
    """UTF-8 Cyrillic reads as Cyrillic in windows-1251 too, so the code-page advice was
    given for one pasted byte, and following it garbled every name."""
    text = f"{CYRILLIC} {CYRILLIC}"
    raw = _declared("UTF-8", f"<r>\n<a>{text}</a>\n<b>\xb9 1</b>\n</r>".replace("\xb9", "§"))
    raw = raw.replace("§".encode(), b"\xb9")
    finding = rejected(raw).findings[0]
    assert finding.code == "INVALID_ENCODING" and finding.line == 3
    assert "a character pasted from another encoding" in finding.message
    assert 'declare encoding="windows-1251"' not in finding.message


@pytest.mark.parametrize(
    ("bad", "count", "cause"),
    [
        (b"\xe2\x82", 2, "pasted from another encoding"),  # a character cut short
        (b"\xc0\x80", 2, "malformed UTF-8 sequence"),  # overlong
        (b"\xed\xa0\x80\xed\xb0\x80", 6, "malformed UTF-8 sequence"),  # CESU-8 surrogates
        (b"\xf4\x90\x80\x80", 4, "malformed UTF-8 sequence"),  # beyond U+10FFFF
    ],
)
def test_stray_utf8_bytes_are_counted_and_their_cause_named(
    bad: bytes, count: int, cause: str
) -> None:
    """A Unicode review: the hint counted replacement characters, not bytes, and blamed
    every bad sequence on another code page, also a broken encoder's."""
    text = " ".join([CYRILLIC] * 4)
    raw = _declared("UTF-8", f"<r>\n<a>{text}</a>\n<b>§</b>\n</r>").replace("§".encode(), bad)
    finding = rejected(raw).findings[0]
    assert finding.code == "INVALID_ENCODING" and finding.line == 3
    assert f"the {count} byte(s) that are not" in finding.message
    assert cause in finding.message


def test_encoding_findings_point_at_the_offending_line() -> None:
    """Not libxml2's line 1: the line of the first byte that gives the encoding away."""
    mislabelled = _declared("windows-1251", f"\n<r>\n<a>plain</a>\n<b>{CYRILLIC}</b>\n</r>")
    assert rejected(mislabelled).findings[0].line == 4
    undefined = _declared("windows-1251", f"\n<r>\n<a>{CYRILLIC}</a>\n<b>x</b>\n</r>", "cp1251")
    undefined = undefined.replace(b"<b>x</b>", b"<b>\x98</b>")  # no character in cp1251
    finding = rejected(undefined).findings[0]
    assert (finding.code, finding.line) == ("INVALID_ENCODING", 4)


HONEST_ENCODINGS = [
    ("UTF-8 BOM", UTF8_BOM + _declared("UTF-8", f"<r>{CYRILLIC}</r>")),
    ("UTF-8 BOM, no declaration", UTF8_BOM + f"<r>{CYRILLIC}</r>".encode()),
    ("UTF-16 LE BOM", b"\xff\xfe" + _declared("UTF-16", f"<r>{CYRILLIC}</r>", "utf-16-le")),
    ("UTF-16 BE BOM", b"\xfe\xff" + _declared("UTF-16", f"<r>{CYRILLIC}</r>", "utf-16-be")),
    (
        "UTF-16 BOM, declared UTF16",
        b"\xff\xfe" + _declared("UTF16", f"<r>{CYRILLIC}</r>", "utf-16-le"),
    ),
    ("windows-1251", _declared("windows-1251", f"<r>{CYRILLIC}</r>", "cp1251")),
    ("ISO-8859-1", _declared("ISO-8859-1", "<r>Kapu Gems é</r>", "latin-1")),
]


@pytest.mark.parametrize(("label", "raw"), HONEST_ENCODINGS)
def test_honest_encodings_and_byte_order_marks_are_read(label: str, raw: bytes) -> None:
    text = parse(raw).root.text
    assert text in (CYRILLIC, "Kapu Gems é"), label


# --- bytes that are not an XML document ----------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "raw", "code", "line"),
    [
        ("empty body", b"", "EMPTY_DOCUMENT", None),
        ("whitespace only", b" \r\n\t ", "EMPTY_DOCUMENT", None),
        ("NUL byte", b"<r>a\x00b</r>", "INVALID_CHARACTER", 1),
        ("NUL byte on line 3", b"<r>\n<a/>\n\x00</r>", "INVALID_CHARACTER", 3),
        ("control character", b"<r>\x01</r>", "INVALID_CHARACTER", 1),
        # The same characters as references (a Unicode review: NOT_WELL_FORMED before).
        ("escape as a reference", b"<r>x&#x1B;</r>", "INVALID_CHARACTER", 1),
        ("noncharacter reference", b"<r>\n&#xFFFE;</r>", "INVALID_CHARACTER", 2),
        ("surrogate reference", b"<r>&#xD800;</r>", "INVALID_CHARACTER", 1),
        ("NUL reference", b"<r>&#0;</r>", "INVALID_CHARACTER", 1),
        ("JSON object", b'{"certificate_number": "RU0123456"}', "NOT_XML", 1),
        ("JSON array", b"  [1, 2, 3]", "NOT_XML", 1),
        ("JSON after a byte order mark", b'\xef\xbb\xbf{"a": 1}', "NOT_XML", 1),
        ("plain text", b"certificate RU0123456", "NOT_XML", 1),
        ("byte order mark only", b"\xef\xbb\xbf", "NOT_XML", 1),
        ("mismatched tags", b"<a><b></a></b>", "NOT_WELL_FORMED", 1),
        ("two roots", b"<a/><b/>", "NOT_WELL_FORMED", 1),
        ("truncated in a tag", b"<?xml version='1.0'?><r><a>1</a><b", "TRUNCATED_DOCUMENT", 1),
        ("truncated in text", b"<r>\n<a>1</a>\n<b>12", "TRUNCATED_DOCUMENT", 3),
    ],
)
def test_what_is_not_a_document_gets_its_own_code(
    label: str, raw: bytes, code: str, line: int | None
) -> None:
    finding = rejected(raw).findings[0]
    assert (finding.code, finding.line) == (code, line), label


def test_every_truncation_of_a_real_document_is_called_truncated(
    fmt: str, registry: ParticipantRegistry
) -> None:
    content = documents_in(fmt, registry, pairs=1)[0].files[0].content.rstrip()
    body = content.index(b"?>") + 2  # cuts inside the XML declaration are NOT_WELL_FORMED
    for cut in range(body + 1, len(content), max(1, len(content) // 97)):
        assert code_of(content[:cut]) == xmlsafe.TRUNCATED_DOCUMENT, content[:cut][-30:]


def test_the_pipeline_reports_the_parser_findings(registry: ParticipantRegistry) -> None:
    for raw, code in [
        (b"", "EMPTY_DOCUMENT"),
        (b'{"a": 1}', "NOT_XML"),
        (LAUGHS.encode(), "DTD_FORBIDDEN"),
        (b"<a>" * 1000 + b"</a>" * 1000, "TOO_DEEP"),
    ]:
        with pytest.raises(MessageRejected) as caught:
            adapt(raw, registry)
        assert caught.value.findings[0].code == code


# --- never a crash, never a hang ---------------------------------------------------------------

_SAMPLE = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<r xmlns='urn:x' a='1'><b>t\xc3\xa9xt</b>"
    b"<!-- c --><c><![CDATA[x<y]]></c></r>\n"
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=512),
        st.tuples(
            st.integers(0, len(_SAMPLE)), st.integers(0, 40), st.binary(min_size=0, max_size=12)
        ).map(lambda t: _SAMPLE[: t[0]] + t[2] + _SAMPLE[t[0] + t[1] :]),
    )
)
def test_arbitrary_bytes_end_as_a_document_or_a_finding(data: bytes) -> None:
    start = time.perf_counter()
    findings: tuple[object, ...] = ("parsed",)
    try:
        parse(data)
    except MessageRejected as exc:  # anything else fails the test
        findings = exc.findings
    assert findings
    assert time.perf_counter() - start < BOUND_S


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"<a>3602<!-- c -->.690</a>", "3602.690"),
        (b"<a><!-- c -->12</a>", "12"),
        (b"<a>1<?pi x?>8</a>", "18"),
        (b"<?pi before?><a>x</a>", "x"),
    ],
)
def test_comments_and_processing_instructions_do_not_split_a_value(raw: bytes, text: str) -> None:
    """The schema validates an element's whole text and the readers take ``element.text``:
    a comment inside a value must not cut it short (3602<!--c-->.690 is 3602.690 ct)."""
    root = parse(raw).root
    assert root.text == text
    assert len(root) == 0


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        (b"<a>Smith & Sons</a>", "write it as &amp;"),
        (b"<a>&amp</a>", "write it as &amp;"),
        (b"<a>x&nbsp;y</a>", "XML knows only &amp;"),
    ],
)
def test_a_stray_ampersand_is_malformed_xml_not_an_attack(raw: bytes, hint: str) -> None:
    with pytest.raises(NotXml) as caught:
        parse(raw)
    (finding,) = caught.value.findings
    assert finding.code == xmlsafe.NOT_WELL_FORMED
    assert hint in finding.message


@pytest.mark.parametrize(
    "raw",
    [
        b"<a><note>see http://www.w3.org/2001/XInclude</note></a>",
        b"<a><note><![CDATA[<!DOCTYPE html> was pasted here]]></note></a>",
        b"<a><!-- <!DOCTYPE x> --></a>",
    ],
)
def test_text_that_quotes_a_doctype_or_the_xinclude_namespace_is_accepted(raw: bytes) -> None:
    assert parse(raw).root.tag == "a"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (
            b'<a xmlns:x="http://www.w3.org/2001/X&#73;nclude"><x:include href="/etc/passwd"/></a>',
            xmlsafe.XINCLUDE_FORBIDDEN,
        ),
        (
            b'<a xmlns:x="http://www.w3.org/2003/XInclude"><x:include href="/etc/passwd"/></a>',
            xmlsafe.XINCLUDE_FORBIDDEN,
        ),
        (
            b"<?xml version='1.0'?><!-- a -->\n<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            xmlsafe.DTD_FORBIDDEN,
        ),
    ],
)
def test_xinclude_and_doctype_are_refused_however_written(raw: bytes, code: str) -> None:
    with pytest.raises(UnsafeXml) as caught:
        parse(raw)
    assert caught.value.findings[0].code == code


def _gzipped(raw: bytes) -> bytes:
    return gzip.compress(raw)


def _zipped(raw: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("certificate.xml", raw)
    return archive.getvalue()


@pytest.mark.parametrize(
    ("pack", "named"), [(_gzipped, "gzip-compressed"), (_zipped, "a ZIP archive's")]
)
def test_a_compressed_body_is_named_not_taken_for_nul_bytes(
    pack: Callable[[bytes], bytes], named: str
) -> None:
    """A Kafka-native sender's review: a gzipped value was refused as INVALID_CHARACTER
    ("the body contains NUL bytes"), which sent its developers looking for NULs."""
    with pytest.raises(NotXml) as caught:
        parse(pack(b"<a>" + b"x" * 500 + b"</a>"))
    (finding,) = caught.value.findings
    assert finding.code == "NOT_XML"
    assert f"the body is {named} data, not XML" in finding.message
    # The parser judges the translator's Kafka records (an HTTP body is refused before it,
    # with advice for HTTP, by gateway.ingress.limits.check_not_compressed).
    assert "a Kafka producer compresses with its own compression.type" in finding.message


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (
            b"<r>\n<a>1</a>\n<b>12",
            "Premature end of data in tag <b> opened on line 3 (at line 3, column 6)",
        ),
        (
            b"<r>\n<a>\n</r>",
            "Opening and ending tag mismatch: <a> opened on line 2, closed by </r> "
            "(at line 3, column 5)",
        ),
        (
            b'<r>\n<Li\n x="1" ',
            "Couldn't find end of Start Tag <Li> begun on line 2 (at line 3, column 8)",
        ),
    ],
)
def test_the_parser_message_says_which_line_is_which(raw: bytes, said: str) -> None:
    """libxml2's "in tag b line 1, line 1, column 7" gave two lines without saying that
    the first is where the element opened and the second where the parser stopped."""
    finding = rejected(raw).findings[0]
    assert finding.message.endswith(said), finding.message
