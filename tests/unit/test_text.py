from __future__ import annotations

import pytest

from gateway.text import printable, printable_line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2Jclear", "\\x1b[2Jclear"),
        ("title\x1b]0;pwned\x07", "title\\x1b]0;pwned\\x07"),
        ("c1\x9b31m", "c1\\x9b31m"),
        ("abc\u202edcba", "abc\\u202edcba"),
        ("isolate\u2066x\u2069", "isolate\\u2066x\\u2069"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("Сертификат № RU 0042 — ok\ttab\nline", "Сертификат № RU 0042 — ok\ttab\nline"),
    ],
)
def test_control_characters_are_shown_not_obeyed(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_a_line_escapes_newlines_and_tabs_too() -> None:
    assert printable_line("a\nb\tc\rd") == "a\\x0ab\\x09c\\x0dd"
