"""The one hardened XML parser for untrusted bytes (DESIGN.md section 10).

Policy: no DTD of any kind (internal subsets carry entity bombs, external ones fetch), no
entity resolution, no network, no XInclude, no huge trees, a size limit checked before
parsing and libxml2's depth limit. Every refusal is a ``Finding`` with a stable code.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass

from lxml import etree

from gateway.errors import Finding, NotXml, UnsafeXml

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
XINCLUDE_NS = b"http://www.w3.org/2001/XInclude"

# Stable finding codes of this module.
EMPTY_DOCUMENT = "EMPTY_DOCUMENT"
DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
NOT_XML = "NOT_XML"
NOT_WELL_FORMED = "NOT_WELL_FORMED"
TRUNCATED_DOCUMENT = "TRUNCATED_DOCUMENT"
DTD_FORBIDDEN = "DTD_FORBIDDEN"
XINCLUDE_FORBIDDEN = "XINCLUDE_FORBIDDEN"
TOO_DEEP = "TOO_DEEP"
INVALID_ENCODING = "INVALID_ENCODING"
UNSUPPORTED_ENCODING = "UNSUPPORTED_ENCODING"
INVALID_CHARACTER = "INVALID_CHARACTER"

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def hardened_parser() -> etree.XMLParser:
    """A new parser with the gateway's options (also the benchmarks' bare-parse baseline)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        # Comments and processing instructions are dropped while parsing, so the text
        # around them joins up: "3602<!--c-->.690" is the value 3602.690, which the schema
        # validated, not "3602" (the readers take an element's text).
        remove_comments=True,
        remove_pis=True,
        # Keep lxml's default collect_ids=True: collect_ids=False sets XML_SKIP_IDS in
        # libxml2's ``loadsubset``, and any non-zero ``loadsubset`` makes libxml2 load the
        # external DTD subset (a local file read: ``<!DOCTYPE r SYSTEM "file:///...">``),
        # reachable when the DOCTYPE hides from the byte scan below (UTF-16, UTF-7).
    )


# lxml parsers are not thread-safe but are reusable within one thread; the gateway parses
# on the event loop thread or in worker processes, each of which gets its own.
_PARSER = hardened_parser()


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    root: etree._Element
    encoding: str | None


def parse(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDocument:
    """Parse untrusted bytes or raise ``NotXml`` / ``UnsafeXml`` with one precise finding."""
    if not raw or raw.isspace():  # bytes.isspace: the ASCII whitespace bytes.strip removes
        raise NotXml("the body is empty", findings=(Finding(EMPTY_DOCUMENT, "the body is empty"),))
    if len(raw) > max_bytes:
        message = f"the document is {len(raw)} bytes; the limit is {max_bytes}"
        raise UnsafeXml(message, findings=(Finding(DOCUMENT_TOO_LARGE, message),))
    _refuse_obvious_non_xml(raw)
    _refuse_lying_wide_encoding(raw)
    doctype_at = _doctype_in_prolog(raw)
    if doctype_at is not None:
        message = "DOCTYPE declarations are not accepted (entities and external DTDs are unsafe)"
        raise UnsafeXml(
            message,
            findings=(Finding(DTD_FORBIDDEN, message, line=raw.count(b"\n", 0, doctype_at) + 1),),
        )
    try:
        root = etree.fromstring(raw, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, raw) from None
    except (LookupError, ValueError) as exc:  # encodings lxml/Python cannot handle
        message = f"the declared encoding cannot be used: {exc}"
        raise NotXml(message, findings=(Finding(UNSUPPORTED_ENCODING, message, line=1),)) from None
    if root is None:
        raise NotXml("no root element", findings=(Finding(NOT_WELL_FORMED, "no root element"),))
    docinfo = root.getroottree().docinfo
    if (
        getattr(docinfo, "doctype", "") or getattr(docinfo, "internalDTD", None) is not None
    ):  # belt and braces after the byte scan (a DOCTYPE in a wide encoding gets here)
        message = "DOCTYPE declarations are not accepted (entities and external DTDs are unsafe)"
        raise UnsafeXml(
            message, findings=(Finding(DTD_FORBIDDEN, message, line=_doctype_line(raw)),)
        )
    # The parsed tree, not the bytes: a note may quote the namespace URI, and the namespace
    # may be written with character references or in a wide encoding.
    element = next(iter(root.iter(*_XINCLUDE_TAGS)), None)
    if element is not None:
        message = "XInclude is not accepted; send the whole document"
        finding = Finding(XINCLUDE_FORBIDDEN, message, line=element.sourceline)
        raise UnsafeXml(message, findings=(finding,))
    return ParsedDocument(root, docinfo.encoding)


#: Elements of both XInclude namespaces (2001, and the 2003 draft libxml2 also knows).
_XINCLUDE_TAGS = tuple(
    f"{{{namespace}}}*" for namespace in (XINCLUDE_NS.decode(), "http://www.w3.org/2003/XInclude")
)


def _doctype_in_prolog(raw: bytes) -> int | None:
    """The offset of a DOCTYPE declaration in the prolog, else None. A DOCTYPE is legal
    only before the root element, so the scan stops there: text that quotes one (a note's
    CDATA) is no declaration. A wide encoding hides it from this scan; the parsed
    document's ``docinfo`` is checked as well."""
    position = 0
    while True:
        position = raw.find(b"<", position)
        if position < 0:
            return None
        if raw.startswith(b"<!--", position):
            end = raw.find(b"-->", position + 4)
            if end < 0:
                return None
            position = end + 3
        elif raw.startswith(b"<?", position):
            end = raw.find(b"?>", position + 2)
            if end < 0:
                return None
            position = end + 2
        elif raw.startswith(b"<!", position):
            return position if raw[position + 2 : position + 9].upper() == b"DOCTYPE" else None
        else:
            return None  # the root element's start tag


#: Compressed or archived data a sender may send in place of the document (a Kafka-native
#: one that gzips the value itself): named, rather than "NUL bytes". The ingress refuses
#: such an HTTP body itself, with advice for HTTP (``gateway.ingress.limits``): the advice
#: here is for a Kafka producer.
_COMPRESSED = (
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"\x04\x22\x4d\x18", "LZ4-compressed"),
    (b"PK\x03\x04", "a ZIP archive's"),
)


def compressed(raw: bytes) -> str | None:
    """What compressed or archived data ``raw`` is (``gzip-compressed``, ``a ZIP
    archive's``), by its magic bytes; None when it is not."""
    return next((name for magic, name in _COMPRESSED if raw.startswith(magic)), None)


def _refuse_obvious_non_xml(raw: bytes) -> None:
    if raw[:2] in (b"<\x00", b"\x00<"):
        order = "little" if raw[:1] == b"<" else "big"
        message = (
            f"the body looks like UTF-16 ({order}-endian) without a byte order mark; start it "
            "with a BOM or send UTF-8"
        )
        raise NotXml(message, findings=(Finding(INVALID_ENCODING, message, line=1),))
    if raw[:1] == b"<":  # the usual case: no byte order mark, no leading blanks
        if b"\x00" in raw:
            message = "the body contains NUL bytes, which XML 1.0 forbids"
            raise NotXml(
                message,
                findings=(Finding(INVALID_CHARACTER, message, line=_line_of(raw, b"\x00")),),
            )
        return
    body = raw
    for bom in _BOMS:
        if body.startswith(bom):
            body = body[len(bom) :]
            break
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"[") and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "the body looks like JSON; send the XML document itself (application/xml)"
        raise NotXml(message, findings=(Finding(NOT_XML, message, line=1),))
    packed = compressed(raw)
    if packed:
        message = (
            f"the body is {packed} data, not XML; send the document itself (a Kafka "
            "producer compresses with its own compression.type, which consumers undo)"
        )
        raise NotXml(message, findings=(Finding(NOT_XML, message, line=1),))
    if b"\x00" in body and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "the body contains NUL bytes, which XML 1.0 forbids"
        raise NotXml(
            message, findings=(Finding(INVALID_CHARACTER, message, line=_line_of(raw, b"\x00")),)
        )
    if stripped[:1] != b"<" and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "the body is not XML (it does not start with '<')"
        raise NotXml(message, findings=(Finding(NOT_XML, message, line=1),))


def _doctype_line(raw: bytes) -> int | None:
    """The line of the DOCTYPE in a document the byte scan could not read (UTF-16)."""
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"
    text = raw.decode(encoding, errors="replace")
    at = text.find("<!DOCTYPE")
    return None if at < 0 else text.count("\n", 0, at) + 1


def _line_of(raw: bytes, needle: bytes) -> int | None:
    index = raw.find(needle)
    return None if index < 0 else raw.count(b"\n", 0, index) + 1


def _error_at_end(exc: etree.XMLSyntaxError, raw: bytes) -> bool:
    """True when libxml2 stopped at the very end of the input: the document was cut short."""
    lines = raw.rstrip().split(b"\n")
    column = exc.position[1] if exc.position else 0
    if exc.lineno is None:
        return False
    # Past the last non-blank line counts too: a prolog followed only by a newline.
    return exc.lineno > len(lines) or (exc.lineno == len(lines) and column >= len(lines[-1]))


_PLAIN_UTF8_PROLOGS = (
    b"<?xml version='1.0' encoding='UTF-8'?>",
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b"<?xml version='1.0' encoding='utf-8'?>",
    b'<?xml version="1.0" encoding="utf-8"?>',
)
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def own_encoding(raw: bytes) -> tuple[str, str]:
    """What a document says of its own encoding, as the parser reads it: (the encoding,
    how it says so). A byte-order mark first, then the XML declaration's ``encoding``,
    else UTF-8 (the XML default). The ingress compares a ``charset`` parameter with it."""
    for mark, name in _MARKS:
        if raw.startswith(mark):
            return name, f"starts with a {name.upper()} byte-order mark"
    if raw[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a mark: its declaration is wide
        return "utf-16", "is UTF-16 without a byte-order mark"
    declared = _DECLARED_ENCODING.match(raw)
    if declared is not None:
        name = declared.group(1).decode("ascii")
        return name, f"declares encoding {name}"
    return "utf-8", "declares no encoding, so it is read as UTF-8"


def _refuse_lying_wide_encoding(raw: bytes) -> None:
    """A prolog that claims UTF-16/32 in 8-bit bytes: libxml2's own message is cryptic. A
    UTF-8 byte order mark contradicting the declaration is a lie too (libxml2 silently
    trusts the mark)."""
    if raw.startswith(_PLAIN_UTF8_PROLOGS):  # the usual prologs: nothing to refuse
        return
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        _refuse_lying_utf16_mark(raw)
        return
    utf8_bom = raw.startswith(_BOMS[0])
    match = _DECLARED_ENCODING.match(raw[len(_BOMS[0]) :] if utf8_bom else raw)
    if match is None:
        return
    declared = match.group(1).decode()
    if declared.lower().replace("_", "-") in _REFUSED_ENCODINGS:
        message = (
            f"the document declares {declared}, which the gateway does not accept: it writes "
            "markup such as '<!' in disguise ('<+ACE-'), past every check; send UTF-8"
        )
        raise NotXml(message, findings=(Finding(UNSUPPORTED_ENCODING, message, line=1),))
    if declared.lower().startswith(("utf-16", "utf-32", "ucs")):
        message = (
            f"the document declares {declared} but its bytes are 8-bit text; "
            "declare the encoding the bytes are really in"
        )
        raise NotXml(message, findings=(Finding(INVALID_ENCODING, message, line=1),))
    if utf8_bom and declared.lower() not in ("utf-8", "utf8"):
        message = (
            f"the document starts with a UTF-8 byte order mark but declares {declared}; "
            "declare UTF-8 or drop the byte order mark"
        )
        raise NotXml(message, findings=(Finding(INVALID_ENCODING, message, line=1),))
    _refuse_mislabelled_utf8(raw, declared)


def _refuse_lying_utf16_mark(raw: bytes) -> None:
    """A UTF-16 byte order mark under a declaration of another encoding: libxml2 trusts
    the mark, as it does a UTF-8 one, so a document that says windows-1251 is read as
    UTF-16 without a word."""
    head = raw[:512].decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    match = _DECLARED_ENCODING.match(head)
    if match is None:
        return
    declared = match.group(1).decode()
    label = declared.lower().replace("_", "").replace("-", "")
    if not label.startswith(("utf16", "ucs2", "unicode", "iso10646ucs2")):
        message = (
            f"the document starts with a UTF-16 byte order mark but declares {declared}; "
            "declare UTF-16, or send it in the declared encoding without the byte order mark"
        )
        raise NotXml(message, findings=(Finding(INVALID_ENCODING, message, line=1),))


#: UTF-7 (RFC 2152) and its aliases: no XML processor is required to read it, no customs
#: system writes it, and it is the classic way to smuggle markup past byte-level filters.
#: libxml2 would read it through iconv, so the parsed tree is checked again (docinfo).
_REFUSED_ENCODINGS = frozenset(
    ("utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-utf-7", "unicode-2-0-utf-7")
)

_NOT_SINGLE_BYTE = ("utf-8", "utf8", "ascii", "us-ascii", "utf-16", "utf-32", "ucs")


def _refuse_mislabelled_utf8(raw: bytes, declared: str) -> None:
    """UTF-8 bytes under a single-byte declaration (windows-1251, ISO-8859-1, ...) decode
    without an error into garbled text (mojibake) that would travel on as names and
    addresses. Real text in those code pages is practically never valid UTF-8 (a Cyrillic
    or accented letter followed by a plain one breaks it), so non-ASCII bytes that are
    mostly valid UTF-8 mean the declaration is wrong; a few stray bytes (one character
    pasted from another encoding) do not make it right. An encoding Python does not know
    is left to libxml2 (UNSUPPORTED_ENCODING)."""
    if declared.lower().startswith(_NOT_SINGLE_BYTE) or raw.isascii():
        return
    if not _libxml2_reads(declared):
        return  # libxml2 refuses it as UNSUPPORTED_ENCODING, the precise finding
    utf8 = _utf8_share(raw)
    if not utf8.mostly_utf8:
        return  # not UTF-8: the declared code page may well be right
    first = next(index for index, byte in enumerate(raw) if byte > 0x7F)
    message = (
        f"the document declares {declared}, but its bytes are UTF-8 (read as {declared} they "
        "would become garbled text); declare UTF-8"
    )
    if utf8.invalid:
        message += (
            f" and fix the {utf8.invalid} byte(s) that are not UTF-8 (first at line "
            f"{utf8.first_invalid_line}: a character pasted from another encoding)"
        )
    line = raw.count(b"\n", 0, first) + 1
    raise NotXml(message, findings=(Finding(INVALID_ENCODING, message, line=line),))


@dataclass(frozen=True, slots=True)
class _Utf8Share:
    valid: int  # non-ASCII characters that are valid UTF-8 sequences
    invalid: int  # bytes that are not
    first_invalid_line: int | None
    #: The first bad sequence is UTF-8 no encoder should write (an overlong form, an
    #: encoded surrogate as in CESU-8, a code point beyond U+10FFFF), not another code page.
    broken_encoder: bool = False

    @property
    def mostly_utf8(self) -> bool:
        """UTF-8 with at most a few stray bytes: text in a single-byte code page forms a
        valid multi-byte sequence only by accident, so it never gets this far."""
        return self.valid > 0 and (
            self.invalid == 0 or (self.valid >= 8 and self.valid >= 4 * self.invalid)
        )


@functools.lru_cache(maxsize=64)
def _libxml2_reads(encoding: str) -> bool:
    """libxml2 (through iconv) knows encodings Python does not (``MS-CYRL``): ask it."""
    probe = f"<?xml version='1.0' encoding='{encoding}'?><a/>".encode("ascii", "replace")
    try:
        etree.fromstring(probe, parser=_PARSER)
    except etree.XMLSyntaxError:
        return False
    return True


def _utf8_share(raw: bytes) -> _Utf8Share:
    # surrogateescape: one lone surrogate per undecodable byte, so the bytes are counted
    # (a replacement character stood for a whole bad sequence); "ignore" drops them. All
    # of it in C and without a list: documents are megabytes.
    text = raw.decode("utf-8", errors="surrogateescape")
    invalid = len(text) - len(raw.decode("utf-8", errors="ignore"))
    valid = len(text) - len(text.encode("ascii", "ignore")) - invalid
    line, broken = None, False
    if invalid:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            broken = _BROKEN_UTF8.match(raw, exc.start) is not None
    return _Utf8Share(valid, invalid, line, broken)


#: Lead bytes (and second bytes) of sequences only a broken UTF-8 encoder writes: overlong
#: forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF: CESU-8, or UTF-16 halves
#: encoded one by one), and code points beyond U+10FFFF (F4 90-BF, F5-FF).
_BROKEN_UTF8 = re.compile(
    rb"[\xc0\xc1\xf5-\xff]|\xe0[\x80-\x9f]|\xed[\xa0-\xbf]|\xf0[\x80-\x8f]|\xf4[\x90-\xbf]"
)


_CYRILLIC = re.compile("[\u0410-\u044f\u0401\u0451]{3}")


def _code_page_hint(raw: bytes) -> str:
    """Russian text saved in windows-1251 but declared (or defaulted to) UTF-8 is the usual
    cause of invalid UTF-8 from FTS-style systems: say so when the bytes read as Cyrillic."""
    match = _DECLARED_ENCODING.match(raw[len(_BOMS[0]) :] if raw.startswith(_BOMS[0]) else raw)
    declared = match.group(1).decode().lower() if match else "utf-8"
    if declared.replace("_", "-") not in ("utf-8", "utf8"):
        return ""
    utf8 = _utf8_share(raw)
    if utf8.mostly_utf8 and utf8.broken_encoder:
        return (
            f"; the rest of the document is UTF-8: the {utf8.invalid} byte(s) that are not "
            "(first at the line given) are a malformed UTF-8 sequence (an overlong form, an "
            "encoded surrogate as CESU-8 writes, or a code point beyond U+10FFFF): the "
            "producing system's UTF-8 encoder is at fault"
        )
    if utf8.mostly_utf8:
        return (
            f"; the rest of the document is UTF-8: the {utf8.invalid} byte(s) that are not "
            "(first at the line given) are a character pasted from another encoding "
            "(windows-1251's '№' is the byte B9) or a character cut short; replace them"
        )
    if _CYRILLIC.search(raw.decode("cp1251", errors="replace")) is None:
        return ""
    return (
        "; the bytes read as Russian text in windows-1251: declare "
        'encoding="windows-1251" or convert the document to UTF-8'
    )


def _undecodable_line(raw: bytes) -> int | None:
    """The line of the first byte the declared encoding cannot decode (libxml2 reports
    encoding errors at the line where it switched encodings, often line 1)."""
    match = _DECLARED_ENCODING.match(raw[len(_BOMS[0]) :] if raw.startswith(_BOMS[0]) else raw)
    encoding = match.group(1).decode() if match else "utf-8"
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        return raw.count(b"\n", 0, exc.start) + 1
    except LookupError:
        return None
    return None


#: libxml2 names the line an element began on right after its name, and lxml adds where
#: the parser stopped: "in tag b line 1, line 3, column 7" gave two lines, neither named.
_OPENED_ON = (
    (re.compile(r"\bin tag (\S+) line (\d+)"), r"in tag <\1> opened on line \2"),
    (re.compile(r"\bStart Tag (\S+) line (\d+)"), r"Start Tag <\1> begun on line \2"),
    (
        re.compile(r"tag mismatch: (\S+) line (\d+) and ([^\s,]+)"),
        r"tag mismatch: <\1> opened on line \2, closed by </\3>",
    ),
)
_STOPPED_AT = re.compile(r", line (\d+), column (\d+)$")


def _say_which_line_is_which(text: str) -> str:
    for pattern, replacement in _OPENED_ON:
        text = pattern.sub(replacement, text, count=1)
    return _STOPPED_AT.sub(r" (at line \1, column \2)", text)


def _syntax_error(exc: etree.XMLSyntaxError, raw: bytes) -> NotXml | UnsafeXml:
    text = _say_which_line_is_which(str(exc.msg or exc))
    lowered = text.lower()
    line = exc.lineno or None
    if "excessive depth" in lowered or "maximum depth" in lowered:
        # libxml2's own advice ("use XML_PARSE_HUGE option") is for the parser's
        # programmer, not the sender; the depth it reached is what the sender can act on.
        depth = re.search(r"depth in document: (\d+)", text)
        message = (
            f"the document nests elements more than {depth.group(1) if depth else 256} "
            "levels deep, which is refused as an attack on parsers; a KP document nests "
            "fewer than 20"
        )
        return UnsafeXml(message, findings=(Finding(TOO_DEEP, message, line=line),))
    if "unsupported encoding" in lowered or "unknown encoding" in lowered:
        message = f"the declared encoding is not supported: {text}"
        return NotXml(message, findings=(Finding(UNSUPPORTED_ENCODING, message, line=line),))
    if (
        "not proper utf-8" in lowered
        or "invalid utf-8" in lowered
        or "encoding error" in lowered
        or "input conversion failed" in lowered
        or "document labelled utf-16 but has no bom" in lowered
        or "switching encoding" in lowered
        or "char 0x0 out of allowed range" in lowered
        or "invalid bytes in character encoding" in lowered
    ):
        stripped = raw[len(_BOMS[0]) :] if raw.startswith(_BOMS[0]) else raw
        declared = raw[:2] in (b"\xff\xfe", b"\xfe\xff") or _DECLARED_ENCODING.match(stripped)
        what = (
            "the bytes do not match the declared encoding"
            if declared
            else "the document declares no encoding, so it is read as UTF-8, which its bytes "
            "are not"
        )
        message = f"{what}: {text}{_code_page_hint(raw)}"
        line = _undecodable_line(raw) or line
        return NotXml(message, findings=(Finding(INVALID_ENCODING, message, line=line),))
    if "xmlparseentityref: no name" in lowered or "entityref: expecting ';'" in lowered:
        message = f"an '&' that starts no entity reference: write it as &amp; ({text})"
        return NotXml(message, findings=(Finding(NOT_WELL_FORMED, message, line=line),))
    if "entity '" in lowered and "not defined" in lowered:
        message = (
            "an entity XML does not define; XML knows only &amp; &lt; &gt; &quot; &apos; and "
            f"character references such as &#160; ({text})"
        )
        return NotXml(message, findings=(Finding(NOT_WELL_FORMED, message, line=line),))
    if "entity" in lowered or "dtd" in lowered:
        message = f"entities and DTDs are not accepted: {text}"
        return UnsafeXml(message, findings=(Finding(DTD_FORBIDDEN, message, line=line),))
    if "premature end of data" in lowered or (
        "mismatch" not in lowered and _error_at_end(exc, raw)
    ):
        message = f"the document ends before its root element is closed (truncated?): {text}"
        return NotXml(message, findings=(Finding(TRUNCATED_DOCUMENT, message, line=line),))
    if ("char" in lowered and "out of allowed range" in lowered) or (
        "invalid char value" in lowered or "invalid xmlchar value" in lowered
    ):
        message = f"the document contains a character XML forbids: {text}"
        if "charref" in lowered:  # &#x1B; and the like: the reference is as forbidden
            message += " (as a character reference too: XML 1.0 forbids the character itself)"
        return NotXml(message, findings=(Finding(INVALID_CHARACTER, message, line=line),))
    message = f"the document is not well-formed XML: {text}"
    if "xml declaration allowed only at the start" in lowered:
        # Usually a document pasted into an envelope's Content with its own declaration.
        message += "; a document placed inside another goes in without its <?xml ...?> line"
    return NotXml(message, findings=(Finding(NOT_WELL_FORMED, message, line=line),))
