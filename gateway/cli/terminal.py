"""Text from senders, made safe for an operator's terminal: a dead letter's document and
headers are whatever a sender wrote, and an escape sequence in them must not move the
cursor, rewrite the screen or reverse the text around it (Trojan Source)."""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character but tab and newline shown as an escape."""
    return _UNSAFE.sub(_escaped, text)


def printable_line(text: str) -> str:
    """One line of ``text``: newlines and tabs are escaped as well (table cells, headers)."""
    return _UNSAFE_LINE.sub(_escaped, text)
