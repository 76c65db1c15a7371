"""Value conventions shared by the reader and the writer, so that what one writes the other
reads back unchanged: HS codes, decimals, instants and the certificate's origin."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from adapters.uncefact.profile import MIXED
from gateway.events import carats, usd
from gateway.text import without_invisible

#: ASCII digits only (``re.ASCII``): Python's ``\d`` takes Arabic-Indic or full-width ones,
#: which no HS code is written in.
_HS_DIGITS = re.compile(r"^\d{6}(\d{2}){0,2}$", re.ASCII)


def hs_from_class_code(code: str) -> str | None:
    """``710231`` (or ``7102.31``, or an 8/10-digit national code) -> ``7102.31``; None when
    the code is not an HS code at all. Any HS code maps, so the KP rule NOT_KP_GOODS judges
    ``710229`` and ``080810`` instead of the adapter."""
    found = _HS_MEMO.get(code, _UNSEEN)
    if found is not _UNSEEN:
        return found
    digits = code.replace(".", "").replace(" ", "")
    found = f"{digits[:4]}.{digits[4:6]}" if _HS_DIGITS.match(digits) else None
    if len(_HS_MEMO) < _HS_MEMO_LIMIT:  # the few codes in use; never grows without bound
        _HS_MEMO[code] = found
    return found


_HS_MEMO: dict[str, str | None] = {}
_HS_MEMO_LIMIT = 4096
_UNSEEN = ""  # never a memoised answer: an HS code is "dddd.dd"


def class_code_of(hs_code: str) -> str:
    """``7102.31`` -> ``710231`` (the HS subheading as ClassCode writes it)."""
    return hs_code.replace(".", "")


def carats_text(value: Decimal) -> str:
    return f"{carats(value):f}"


def usd_text(value: Decimal) -> str:
    return f"{usd(value):f}"


def writable_country(code: str | None) -> bool:
    """True when ``code`` can stand in an ISO 3166-1 alpha-2 country element (the EU and
    MIXED cannot)."""
    return code is not None and len(code) == 2 and code.isalpha() and code != "EU"


def origin_of_lines(origins: Iterable[str | None]) -> str | None:
    """The certificate's origin as the lines tell it when no KP-ORIGIN note does: the one
    country all lines that state an origin share, MIXED when they differ, None when no line
    states one."""
    found = {origin for origin in origins if origin is not None}
    if not found:
        return None
    if len(found) == 1:
        return next(iter(found))
    return MIXED


def canonical_number(text: str) -> str:
    """A certificate number as every adapter writes it: upper case, no whitespace (the
    FTS and envelope adapters read ``ru 0123456`` as ``RU0123456`` too)."""
    return "".join(text.split()).upper()


#: Letters of other scripts that look like Latin capitals (Cyrillic, Greek, Coptic,
#: Cherokee, small capitals), and dashes outside the dash category: undone before asking
#: whether a text is a ``KP-`` code in disguise. A Russian keyboard layout writes
#: Cyrillic "KP-" unseen.
_LOOK_ALIKES = str.maketrans(
    {
        **dict.fromkeys("\u0410\u0430\u0391\u03b1", "A"),
        **dict.fromkeys("\u0412\u0432\u0392\u03b2", "B"),
        **dict.fromkeys("\u0421\u0441\u03f9\u03f2", "C"),
        **dict.fromkeys("\u0415\u0435\u0395\u03b5", "E"),
        **dict.fromkeys("\u041d\u043d\u0397\u03b7", "H"),
        **dict.fromkeys("\u0406\u0456\u0399\u03b9", "I"),
        **dict.fromkeys("\u0408\u0458", "J"),
        **dict.fromkeys("\u041a\u043a\u039a\u03ba\u2c94\u2c95\u13e6\u1d0b", "K"),
        **dict.fromkeys("\u041c\u043c\u039c\u03bc", "M"),
        **dict.fromkeys("\u039d", "N"),
        **dict.fromkeys("\u041e\u043e\u039f\u03bf", "O"),
        **dict.fromkeys("\u0420\u0440\u03a1\u03c1\u2ca2\u2ca3\u13e2\u1d18", "P"),
        **dict.fromkeys("\u0405\u0455", "S"),
        **dict.fromkeys("\u0422\u0442\u03a4\u03c4", "T"),
        **dict.fromkeys("\u0423\u0443\u03a5\u03c5", "Y"),
        **dict.fromkeys("\u0425\u0445\u03a7\u03c7", "X"),
        **dict.fromkeys("\u2212\u02d7\u2796\u2043", "-"),
    }
)
#: What a statement (``KP-KEY: value``, its colon forgotten too) or a note's subject code
#: (``KP-KEY``) looks like once look-alikes are undone; the key must be one the profile
#: knows, so free text that merely begins with "Kr-" (Krasnoyarsk's abbreviation, "Kr-sk:
#: cargo received") or "kp-compliant" is no statement in disguise.
_DISGUISED = {
    "statement": re.compile(r"(KP-[A-Z0-9-]+)"),  # with or without its colon, as in ASCII
    "code": re.compile(r"(KP-[A-Z0-9-]+)\Z"),
}

DISGUISED_PREFIX = (
    "it is written like a KP profile code, but its 'KP-' is not in ASCII (Cyrillic or "
    "Greek letters, full-width letters, a typographic dash or an invisible character); "
    "write K, P and '-' in ASCII, or it would be read as free text and its value lost"
)


def disguised_kp_prefix(text: str, known: frozenset[str], kind: str = "statement") -> bool:
    """True when ``text`` reads as a ``KP-`` statement (``kind`` "statement") or note code
    ("code") only once look-alikes are undone (other scripts' letters, full-width letters,
    a dash of another kind, invisible characters before or inside it), but does not start
    with ASCII "KP-": it must be refused, not read as a remark or free note, or its value
    would be dropped without a word. ``known``: the keys or codes the profile reads."""
    if text.isascii() or text.lstrip()[:3].upper() == "KP-":
        return False  # ASCII holds no look-alike and no invisible character
    visible = without_invisible(text[:400]).lstrip()[:120]
    folded = unicodedata.normalize("NFKC", visible).translate(_LOOK_ALIKES)
    skeleton = "".join("-" if unicodedata.category(c) == "Pd" else c for c in folded).upper()
    found = _DISGUISED[kind].match(skeleton)
    return found is not None and found.group(1) in known
