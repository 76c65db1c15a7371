"""Value conventions shared by the reader and the writer, so that what one writes the other
reads back unchanged: HS codes, decimals, instants and the certificate's origin."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from adapters.uncefact.profile import MIXED
from gateway.events import carats, usd

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


#: Letters that look like K and P in other scripts (Cyrillic KA and ER, Greek KAPPA and
#: RHO) and the minus sign: a Russian keyboard layout writes Cyrillic "KP-" unseen.
_LOOK_ALIKES = str.maketrans(
    {
        "\u041a": "K",
        "\u043a": "K",
        "\u039a": "K",
        "\u03ba": "K",
        "\u0420": "P",
        "\u0440": "P",
        "\u03a1": "P",
        "\u03c1": "P",
        "\u2212": "-",
    }
)


DISGUISED_PREFIX = (
    "it starts like a KP profile code, but its 'KP-' is not written in ASCII (Cyrillic or "
    "Greek letters, full-width letters, a typographic dash or an invisible character); "
    "write K, P and '-' in ASCII, or it would be read as free text and its value lost"
)


def disguised_kp_prefix(text: str) -> bool:
    """True when ``text`` starts like a ``KP-`` code or statement only once look-alikes are
    undone (Cyrillic or Greek letters, full-width letters, a typographic dash, an invisible
    character before or inside it), but not in ASCII: such a text must be refused, not
    read as a remark or free note, or its value would be dropped without a word."""
    head = text.lstrip()[:12]
    if head[:3].upper() == "KP-":
        return False
    visible = "".join(c for c in head if unicodedata.category(c) != "Cf")
    folded = unicodedata.normalize("NFKC", visible).translate(_LOOK_ALIKES).lstrip()
    skeleton = "".join("-" if unicodedata.category(c) == "Pd" else c for c in folded[:3])
    return skeleton.upper() == "KP-"
