"""Hostile but well-formed text in UN/CEFACT documents (a Unicode review): look-alike
``KP-`` prefixes, digits of other scripts, line origins in other alphabets."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.pipeline import adapt
from adapters.uncefact.common import disguised_kp_prefix
from adapters.uncefact.profile import KP_FIELD_INVALID, STATEMENTS
from gateway.errors import MessageRejected
from gateway.registry import ParticipantRegistry, load_registry

FIXTURES = Path(__file__).parents[2] / "fixtures" / "uncefact"
ACK = (FIXTURES / "acknowledgement_eu_be.xml").read_text("utf-8")
CERT = (FIXTURES / "certificate_bw_eu_be.xml").read_text("utf-8")
CANCELLATION = (FIXTURES / "cancellation_bw.xml").read_text("utf-8")


@pytest.fixture(scope="module")
def registry() -> ParticipantRegistry:
    return load_registry()


def refused(source: str, registry: ParticipantRegistry) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        adapt(source.encode(), registry)
    return caught.value


def edited(source: str, old: str, new: str) -> str:
    assert old in source
    return source.replace(old, new, 1)


@pytest.mark.parametrize(
    "prefix",
    [
        "\u041a\u0420-",  # Cyrillic KA, ER: a Russian keyboard layout
        "\uff2b\uff30-",  # full-width
        "KP\u2011",  # non-breaking hyphen
        "KP\u2013",  # en dash
        "\u200bKP-",  # zero-width space before it
        "\ufeffKP-",
        "\u200eKP-",
        "\u039a\u03a1-",  # Greek KAPPA, RHO
    ],
)
def test_a_statement_with_a_look_alike_prefix_is_refused_not_a_remark(
    registry: ParticipantRegistry, prefix: str
) -> None:
    """It was read as a remark: the receipt date fell back to IssueDateTime's day and a
    total value was never compared, without a word to the sender."""
    source = edited(ACK, "KP-RECEIVED-ON: 2026-03-03", f"{prefix}RECEIVED-ON: 2026-03-03")
    (finding,) = refused(source, registry).findings
    assert finding.code == KP_FIELD_INVALID
    assert "its 'KP-' is not in ASCII" in finding.message
    assert finding.line == 16


def test_a_note_with_a_look_alike_subject_code_is_refused(registry: ParticipantRegistry) -> None:
    """A cancellation's reason under a Cyrillic KP- was dropped: 'not stated'."""
    source = edited(
        CANCELLATION,
        "<ram:SubjectCode>KP-CANCELLATION-REASON",
        "<ram:SubjectCode>\u041a\u0420-CANCELLATION-REASON",
    )
    codes = [(f.code, "is not in ASCII" in f.message) for f in refused(source, registry).findings]
    assert (KP_FIELD_INVALID, True) in codes


def test_free_text_that_only_resembles_nothing_stays_a_remark(
    registry: ParticipantRegistry,
) -> None:
    source = edited(
        ACK,
        "Seals intact; parcels re-weighed on arrival.",
        "\u041a\u043e\u043d\u0442\u0435\u0439\u043d\u0435\u0440 sealed; KPI met",
    )
    assert "sealed" in (adapt(source.encode(), registry).payload.remarks or "")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("KP-PARCELS: 4", "KP-PARCELS: \u0664"),  # Arabic-Indic four
        ("KP-PARCELS: 4", "KP-PARCELS: \u09ea"),  # Bengali four, which looks like 8
        ("KP-PARCELS: 4", "KP-PARCELS: \uff14"),  # full-width four
        ("KP-TOTAL-CARATS: 1590.400", "KP-TOTAL-CARATS: \u0661590.400"),
        ("KP-TOTAL-VALUE-USD: 193202.56", "KP-TOTAL-VALUE-USD: \uff11\uff19\uff13202.56"),
        ("1250.400 CTM 164302.56", "1\u096850.400 CTM 164302.56"),  # Devanagari 2
    ],
)
def test_digits_of_other_scripts_are_not_numbers(
    registry: ParticipantRegistry, old: str, new: str
) -> None:
    """Python's \\d, int() and Decimal() read them, so a value a person reads one way
    reached the router as another."""
    findings = refused(edited(ACK, old, new), registry).findings
    assert findings[0].code == KP_FIELD_INVALID, findings


def test_an_hs_code_in_other_digits_is_malformed_not_other_goods(
    registry: ParticipantRegistry,
) -> None:
    source = edited(ACK, "KP-LINE: 710231 ", "KP-LINE: \u0667\u0661\u0660\u0662\u0663\u0661 ")
    codes = {f.code for f in refused(source, registry).findings}
    assert "NOT_KP_GOODS" not in codes


def test_a_date_in_other_digits_fails_the_schema(registry: ParticipantRegistry) -> None:
    source = edited(
        CERT,
        "<udt:DateTimeString>2026-02-27T09:30:00+02:00",
        '<udt:DateTimeString format="102">\u0662\u0660\u0662\u0666\u0660\u0662\u0662\u0667',
    )
    assert refused(source, registry).findings[0].code == "XSD_VIOLATION"


def test_a_line_origin_in_another_alphabet_is_refused(registry: ParticipantRegistry) -> None:
    """'\u0412W' (Cyrillic VE) passed as an origin and reached the partner unchanged."""
    source = edited(ACK, "164302.56 USD<", "164302.56 USD \u0412W<")
    (finding,) = refused(source, registry).findings
    assert finding.code == KP_FIELD_INVALID and "origin" in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "\u200b" * 10 + "KP-PARCELS: 3",  # beyond the first characters
        "K" + "\u200b" * 10 + "P\u2013PARCELS: 3",
        "\u2c94\u2ca2-PARCELS: 3",  # Coptic
        "\u1d0b\u1d18-PARCELS: 3",  # small capitals
        "KP\u02d7PARCELS: 3",  # modifier minus
        "K\u034fP-PARCELS: 3",  # combining grapheme joiner
        "\u3164KP-PARCELS: 3",  # Hangul filler
        "\u041a\u0420-PARCELS 4",  # its colon forgotten, as KP-PARCELS 4 is refused in ASCII
    ],
)
def test_more_disguises_are_seen(text: str) -> None:
    """A property-based review: more than nine invisible characters, other scripts'
    look-alikes and dashes outside the dash category got through."""
    assert disguised_kp_prefix(text, STATEMENTS)


@pytest.mark.parametrize(
    "text",
    [
        "\u041a\u0440-\u0441\u043a, \u0441\u043a\u043b\u0430\u0434 \u21163",  # Krasnoyarsk, abbreviated
        "\u041a\u0420-2 \u043f\u043b\u043e\u043c\u0431\u0430",
        "kp\u2013compliant shipment",
        "\u039a\u03c1-\u03b1\u03c0\u03bf\u03b8\u03ae\u03ba\u03b7",
        "\u041a\u0440-\u0441\u043a: \u0433\u0440\u0443\u0437 \u043f\u0440\u0438\u043d\u044f\u0442",  # a colon
        "\u041a\u0440-2: \u0441\u043a\u043b\u0430\u0434",
    ],
)
def test_remarks_that_only_begin_alike_stay_remarks(text: str) -> None:
    """The same review: remarks beginning with an abbreviation were refused; a statement
    in disguise reads 'KP-KEY:' once its look-alikes are undone."""
    assert not disguised_kp_prefix(text, STATEMENTS)
