"""Text from senders: what a canonical text may not carry, and how to show any text
safely. A dead letter's document, a name or a finding's quote is whatever a sender wrote,
and an escape sequence in it must not move an operator's cursor, rewrite the screen or
reverse the text around it (Trojan Source)."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

#: What a display must escape: C0 controls but tab and newline, DEL, C1 controls, the
#: bidirectional marks, embeddings, overrides and isolates, the line and paragraph
#: separators (a line break a terminal does not show as one) and the interlinear
#: annotation characters.
_DISPLAY = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufff9-\ufffb"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f{_DISPLAY}]")
_UNSAFE_LINE = re.compile(f"[\x00-\x1f{_DISPLAY}]")
#: In JSON, C0 controls are escaped already and the others only occur inside strings.
_UNSAFE_IN_JSON = re.compile(f"[{_DISPLAY}]")
#: What a canonical text (a name, an address, a remark, a message id) may not carry at all:
#: controls but tab, newline and carriage return; the bidirectional embeddings, overrides
#: and isolates (the marks LRM, RLM and ALM are kept: right-to-left names need them);
#: noncharacters; the interlinear annotation characters.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef"
    "\ufff9-\ufffb\ufffe\uffff"
    + "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(1, 17))
    + "]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character but tab and newline shown as an escape."""
    return _UNSAFE.sub(_escaped, text)


def printable_line(text: str) -> str:
    """One line of ``text``: newlines and tabs are escaped as well (table cells, headers)."""
    return _UNSAFE_LINE.sub(_escaped, text)


#: The longest document-derived text a log or audit line quotes (README, "Security model").
AUDIT_TEXT_CHARS = 160


def audit_text(text: object) -> str:
    """Document-derived text (a field's value, a finding, an error quoting the document) as
    a log or audit line may quote it: cut to ``AUDIT_TEXT_CHARS`` and escaped (newlines, ANSI
    escapes, bidirectional overrides and other controls as ``\\n``, ``\\x1b``, ``\\u202e``),
    so a sender can neither flood nor forge log lines, nor have a secret it put in a
    document copied whole into the logs."""
    value = str(text)
    cut = value if len(value) <= AUDIT_TEXT_CHARS else value[:AUDIT_TEXT_CHARS] + "..."
    return repr(cut)[1:-1]


def _json_escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(value: Any, *, indent: int | None = None) -> str:
    """``json.dumps`` for a terminal: non-ASCII text stays readable, and what a display
    would obey (C1 controls, bidirectional overrides) is written as a JSON escape, which
    decodes to the same string."""
    return _UNSAFE_IN_JSON.sub(_json_escaped, json.dumps(value, ensure_ascii=False, indent=indent))


def forbidden_character(text: str) -> tuple[int, str] | None:
    """The first character a canonical text may not carry, with its index, or None."""
    if text.isprintable():  # every forbidden character is a Cc, Cf or Cn: not printable
        return None
    found = _FORBIDDEN.search(text)
    return None if found is None else (found.start(), found.group())


def off_one_line(text: str) -> tuple[int, str] | None:
    """The first character an id (one line of text: it becomes a header) may not carry,
    with its index: a forbidden one (``forbidden_character``) first, else a tab or a line
    break; None when there is none."""
    if text.isprintable():  # the usual case
        return None
    return forbidden_character(text) or next(
        ((index, c) for index, c in enumerate(text) if c in "\t\n\r"), None
    )


def describe(character: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``."""
    name = unicodedata.name(character, "") or unicodedata.category(character)
    return f"U+{ord(character):04X} ({name})"


#: Characters no reader sees, beside the format characters (Cf): the combining grapheme
#: joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors and the
#: variation selectors. Format characters that are displayed (the Arabic number signs,
#: the Syriac abbreviation mark, the Kaithi number sign) are not invisible.
_INVISIBLE_BEYOND_CF = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0"
    + "".join(chr(code) for code in range(0xFE00, 0xFE10))
    + "".join(chr(code) for code in range(0xE0100, 0xE01F0))
)
_DISPLAYED_CF = frozenset(
    "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u08e2\U000110bd\U000110cd"
)


def invisible(char: str) -> bool:
    """A character that changes nothing a reader sees: a zero-width space or joiner, a
    soft hyphen, a direction mark, a variation selector, a filler."""
    if char in _INVISIBLE_BEYOND_CF:
        return True
    return unicodedata.category(char) == "Cf" and char not in _DISPLAYED_CF


def without_invisible(text: str) -> str:
    """``text`` without the characters :func:`invisible` names."""
    if text.isascii():
        return text
    # Format characters (Cf) are not printable: most texts are done in two C-speed scans.
    if text.isprintable() and _INVISIBLE_BEYOND_CF.isdisjoint(text):
        return text
    return "".join(char for char in text if not invisible(char))
