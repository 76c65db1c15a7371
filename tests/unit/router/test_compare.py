"""Name normalisation and the tolerance rule on their own."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from gateway.events import Party
from gateway.router.compare import (
    compare,
    document_differences,
    normalise_name,
    plain_text,
    same_document,
    same_party,
    within,
)
from tests.unit.router.factories import certificate, confirmation


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Antwerp Rough Trading BV", "ANTWERP ROUGH TRADING B.V."),
        ("Diamond Land NV", "Diamond Land, N.V."),
        ("ALROSA PJSC", "PJSC  Alrosa"),
        ("Gokhran of Russia", "gokhran of russia"),
        ("Okavango Diamond Company (Pty) Ltd", "Okavango Diamond Company"),
        ("Surat Rough Imports Pvt Ltd", "Surat Rough Imports Pvt. Ltd."),
        ("Dubai Rough DMCC", "Dubai-Rough"),
        ("Emirates Diamond Trading FZE", "Emirates Diamond Trading"),
        ("Kaufmann Diamanten GmbH", "Kaufmann Diamanten"),
        ("Petra Diamonds SA (Pty) Ltd", "Petra Diamonds"),
        ("New York Rough LLC", "New York Rough, L.L.C."),
        ("Société Générale de Diamants SA", "Societe Generale de Diamants"),
        (
            "\u0410\u041e \u0410\u043b\u0440\u043e\u0441\u0430",
            "\u0430\u043b\u0440\u043e\u0441\u0430",
        ),
        # Legal forms written out, as official names often are on one side.
        ("ALROSA PJSC", "Public Joint Stock Company ALROSA"),
        ("Almazy Anabara JSC", "Joint Stock Company Almazy Anabara"),
        ("Dubai Rough Trading LLC", "Dubai Rough Trading Limited Liability Company"),
        (
            "De Beers Consolidated Mines (Pty) Ltd",
            "De Beers Consolidated Mines (Proprietary) Limited",
        ),
        ("Antwerp Rough Trading BV", "Antwerp Rough Trading Besloten Vennootschap"),
        # Letters NFKD does not decompose.
        ("\u0141ukasz Diament", "Lukasz Diament"),
        ("\u00d8rsted Rough ApS", "Orsted Rough ApS"),
    ],
)
def test_the_same_company_written_differently(left: str, right: str) -> None:
    assert normalise_name(left) == normalise_name(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Antwerp Rough Trading BV", "Antwerp Polished Trading BV"),
        ("Diamond Land NV", "Diamond Lands NV"),
        ("Mumbai Gems Pvt Ltd", "Surat Rough Imports Pvt Ltd"),
        # A legal-form phrase inside a name is part of the name.
        ("Joint Stock Company Almazy", "Almazy Stock"),
    ],
)
def test_different_companies_stay_different(left: str, right: str) -> None:
    assert normalise_name(left) != normalise_name(right)


def test_a_name_made_only_of_a_legal_form_is_kept() -> None:
    assert normalise_name("L.L.C.") == "llc"


@pytest.mark.parametrize(
    ("observed", "pct", "inside"),
    [
        ("1005.000", "0.5", True),  # exactly at the tolerance
        ("995.000", "0.5", True),
        ("1005.001", "0.5", False),
        ("1000.000", "0", True),
        ("1000.001", "0", False),
    ],
)
def test_tolerance_is_inclusive(observed: str, pct: str, inside: bool) -> None:
    assert within(Decimal("1000.000"), Decimal(observed), Decimal(pct)) is inside


@pytest.mark.parametrize(
    ("full", "short"),
    [
        ("Акционерная компания «АЛРОСА» (публичное акционерное общество)", "АК «АЛРОСА» (ПАО)"),
        ("Общество с ограниченной ответственностью «Смарт Даймонд»", "ООО «Смарт Даймонд»"),
        ("Закрытое акционерное общество «Якутские алмазы»", "ЗАО «Якутские алмазы»"),
    ],
)
def test_russian_legal_forms_spelled_out_are_the_abbreviation(full: str, short: str) -> None:
    """An FTS integrator's review: the certificate's full OrganizationName and the
    confirmation's short name of the same company made a MATCHED_WITH_DISCREPANCIES."""
    assert normalise_name(full) == normalise_name(short)


# --- a Unicode review ------------------------------------------------------------------------

SAME_DESPITE_UNICODE = [
    ("Dia\u200bmond Land NV", "Diamond Land NV"),  # zero-width space inside a word
    ("Antwerp Rough Tra\u00adding BV", "Antwerp Rough Trading BV"),  # soft hyphen
    ("Diamond\u2060 Land \u200eNV\u200f", "Diamond Land NV"),  # word joiner, direction marks
    ("O\u2018Neill Diamonds", "O'Neill Diamonds"),
    ("O\u02bcNeill Diamonds", "O\u2019Neill Diamonds"),
    ("\u0421rystal Diamonds \u0412V", "Crystal Diamonds BV"),  # Cyrillic look-alikes
    ("Antwer\u0440 Rough Trading", "Antwerp Rough Trading"),
    ("\u0408\u0443\u0432\u0435\u043b\u0438\u0440", "Juvelir"),  # Serbian JE (ICAO 9303)
    ("\u0409\u0443\u0431\u0438\u0446\u0430", "Ljubitsa"),  # ICAO: LJE is LJ, TSE is TS
    ("M\u00fcller Diamanten GmbH", "Mueller Diamanten"),
    ("M\u00fcller Diamanten GmbH", "Muller Diamanten"),
    ("Mueller Diamanten", "Muller Diamanten"),  # all three: one canonical form
    ("Mu\u0308ller Diamanten", "Mueller Diamanten"),  # decomposed
    ("\u00d8rsted Stones AS", "Oersted Stones"),
    ("\u00d8rsted Stones AS", "Orsted Stones"),
    (
        "\u0421\u0430\u0445\u0430\u0442\u0440\u0430\u043d\u0441",
        "C\u0430\u0445\u0430\u0442\u0440\u0430\u043d\u0441",
    ),  # a Latin C in Cyrillic
    ("\u0410\u041b\u0420\u041e\u0421\u0410", "\u0410\u041b\u0420\u041e\u0421A"),
    ("\u041dotel Diamonds", "\u043dotel Diamonds"),  # the case of a look-alike
    ("Antw\u034ferp Trading", "Antwerp Trading"),  # combining grapheme joiner
    ("Antwerp\u3164 Trading", "Antwerp Trading"),  # Hangul filler
    ("Diamonds \u0661\u0662 Ltd", "Diamonds 12 Ltd"),  # Arabic-Indic digits
    ("Ste\u0301phane Gems", "St\u00e9phane Gems"),  # decomposed and composed
]
DIFFERENT_DESPITE_LOOKS = [
    ("\u30c0\u30a4\u30e4\u682a\u5f0f\u4f1a\u793e", "\u30bf\u30a4\u30e4\u682a\u5f0f\u4f1a\u793e"),
    (
        "\u091c\u0947\u0935\u0930 \u091f\u094d\u0930\u0947\u0921\u093f\u0902\u0917",
        "\u091c\u093e\u0935\u0930 \u091f\u094d\u0930\u0947\u0921\u093f\u0902\u0917",
    ),
    ("\u0e01\u0e38\u0e25", "\u0e01\u0e39\u0e25"),  # Thai vowel signs
    ("***", "\u2014"),  # no letter at all: compared as written
    ("\u0412est Diamonds", "Vest Diamonds"),  # Cyrillic VE looks like B: "Best"
    ("A.K. Gems Pvt Ltd", "S.A. Gems Pvt Ltd"),  # initials are no legal form at the start
]


@pytest.mark.parametrize(("left", "right"), SAME_DESPITE_UNICODE)
def test_invisible_characters_look_alikes_and_spellings_are_one_company(
    left: str, right: str
) -> None:
    assert same_party(Party(left), Party(right)), (normalise_name(left), normalise_name(right))


@pytest.mark.parametrize(("left", "right"), DIFFERENT_DESPITE_LOOKS)
def test_marks_of_other_scripts_and_empty_names_still_tell_companies_apart(
    left: str, right: str
) -> None:
    """Dropping every combining mark made Japanese voicing marks and Indic vowel signs
    vanish ('daiya' was 'taiya'), and names of symbols only all normalised to ''."""
    assert not same_party(Party(left), Party(right))


@pytest.mark.parametrize(
    "variant",
    [
        "Socie\u0301te\u0301 Ge\u0301ne\u0301rale des Diamants SA",  # decomposed
        "Soci\u00e9t\u00e9\u00a0G\u00e9n\u00e9rale des Diamants SA",  # no-break space
        "Soci\u00e9t\u00e9 G\u00e9n\u00e9rale des Diamants SA\u200b",  # trailing ZWSP
        "Soci\u00e9t\u00e9  G\u00e9n\u00e9rale des Diamants SA ",
    ],
)
def test_a_resend_in_another_unicode_form_is_the_same_document(variant: str) -> None:
    """It was a CONFLICTING_REISSUE whose two columns looked identical."""
    cert = certificate()
    original = replace(cert, importer=replace(cert.importer, name=SOCIETE))
    resent = replace(cert, importer=replace(cert.importer, name=variant))
    assert same_document(original, resent)
    assert document_differences(original, resent) == ()


SOCIETE = "Soci\u00e9t\u00e9 G\u00e9n\u00e9rale des Diamants SA"


def test_name_sameness_is_transitive_across_spellings() -> None:
    """A property-based review: Müller ~ Mueller and Müller ~ Muller, but not Mueller ~
    Muller, made three confirmations' outcome depend on their order."""
    names = ["M\u00fcller Diamonds GmbH", "Mueller Diamonds", "Muller Diamonds", "Mu\u0308ller"]
    forms = {normalise_name(name) for name in names[:3]}
    assert len(forms) == 1
    assert normalise_name(normalise_name(names[0])) == normalise_name(names[0])


@pytest.mark.parametrize(
    "variant",
    [
        "Antwerp A\u200b\u0301pex Trading",
        "Antwerp A\u00ad\u0301pex Trading",
        "Antw\u034ferp \u00c1pex Trading",
    ],
)
def test_plain_text_removes_invisibles_before_composing(variant: str) -> None:
    """An invisible character between a letter and its accent blocked composition, so the
    'same' document was a CONFLICTING_REISSUE and plain_text was not idempotent."""
    assert plain_text(variant) == plain_text(plain_text(variant))
    assert plain_text(variant).replace("Antwerp ", "").startswith("\u00c1pex")


def test_alrosas_full_fts_name_is_alrosa_pjsc() -> None:
    """A code review: leading legal forms narrowed to the Russian ones left the Cyrillic
    AK in front, so the FTS name was 'ak alrosa' and the Antwerp confirmation's
    'ALROSA PJSC' a discrepancy; Latin initials "A.K." stay a name."""
    full = (
        "\u0410\u043a\u0446\u0438\u043e\u043d\u0435\u0440\u043d\u0430\u044f "
        "\u043a\u043e\u043c\u043f\u0430\u043d\u0438\u044f \u00ab\u0410\u041b\u0420"
        "\u041e\u0421\u0410\u00bb (\u043f\u0443\u0431\u043b\u0438\u0447\u043d\u043e"
        "\u0435 \u0430\u043a\u0446\u0438\u043e\u043d\u0435\u0440\u043d\u043e\u0435 "
        "\u043e\u0431\u0449\u0435\u0441\u0442\u0432\u043e)"
    )
    short = "\u0410\u041a \u00ab\u0410\u041b\u0420\u041e\u0421\u0410\u00bb (\u041f\u0410\u041e)"
    assert normalise_name(full) == normalise_name(short) == normalise_name("ALROSA PJSC")
    assert normalise_name("A.K. Gems Pvt Ltd") == "ak gems"


# --- a property-based review: the normal form is a fixed point --------------------------------


@pytest.mark.parametrize(
    ("name", "form"),
    [
        # A legal form written out twice: the second one was left written out.
        ("Proprietary Proprietary", "pty pty"),
        ("Gems Proprietary Proprietary Limited", "gems"),
        # The Cyrillic AK kept as the name (nothing else) or inside one: its internal token
        # "ak_ru" leaked out, and normalised again it was "ak ru".
        ("\u0410\u041a", "ak"),
        ("Diamond \u0410\u041a Trading", "diamond ak trading"),
    ],
)
def test_the_normal_form_of_a_normal_form_is_itself(name: str, form: str) -> None:
    assert normalise_name(name) == form
    assert normalise_name(form) == form


def test_a_name_of_legal_forms_only_is_kept_whole() -> None:
    """Stripping would leave nothing, and two companies named only by legal forms would
    both be "": the words stay, written-out forms abbreviated."""
    assert normalise_name("Proprietary Limited") == normalise_name("(Pty) Ltd") == "pty ltd"
    assert normalise_name("Pty Ltd") != normalise_name("LLC")


@pytest.mark.parametrize(
    ("name", "form"),
    [
        # Compatibility characters that decompose into capitals: folded after decomposing.
        ("\u210c Diamonds", "h diamonds"),
        ("\u3392 Gems", "mhz gems"),
    ],
)
def test_case_is_folded_after_compatibility_decomposition(name: str, form: str) -> None:
    assert normalise_name(name) == form
    assert normalise_name(form) == form


def test_an_acute_accent_as_an_apostrophe_joins_like_any_other() -> None:
    """Decomposed first, the acute accent (U+00B4) became a space and a mark: "o neill"."""
    assert normalise_name("O\u00b4Neill Diamonds") == normalise_name("O'Neill Diamonds")


@pytest.mark.parametrize(
    "name",
    [
        "\u03b1\u03b2\u0436 Gems",  # Greek and Cyrillic in one word: Greek "ab" + "zh", then "abzh"
        "Gems \u0463\u0463\u0463c",  # a Cyrillic letter never transliterated (yat): "s", then "dz"
        "y-s\u0442\u03bc\u0443",  # Cyrillic and Greek: "dzt" Greek "m" "u", then "dztmu"
    ],
)
def test_a_word_mixing_scripts_is_read_once_for_good(name: str) -> None:
    assert normalise_name(normalise_name(name)) == normalise_name(name)


def test_greek_is_transliterated_as_greek_passports_write_it() -> None:
    """ELOT 743, letter by letter (omicron upsilon is ou): the normal form holds no Greek letter, so a
    Greek letter left in a Latin word cannot be read as a look-alike the second time."""
    assert normalise_name("\u039a\u03bf\u03c5\u03c1\u03ae\u03c2 Diamonds") == "kouris diamonds"
    assert normalise_name("\u03a8\u03b1\u03c7\u03bd\u03ae Gems") == "psachni gems"


# --- look-alikes read in the script of the name ----------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "\u0422\u041e\u0420 Diamonds",  # Cyrillic TE, O, ER: all look Latin ("tor" by sound)
        "\u0422\u041ep Diamonds",  # mostly Cyrillic in the word, Latin in the name
        "\u03a4\u039f\u03a1 Diamonds",  # Greek TAU, OMICRON, RHO
        "\u0422\u041e\u0420 Diamonds \u041e\u041e\u041e",  # OOO looks Latin too, and is stripped
    ],
)
def test_a_word_of_look_alikes_in_a_latin_name_is_latin(name: str) -> None:
    assert normalise_name(name) == normalise_name("TOP Diamonds") == "top diamonds"


@pytest.mark.parametrize(
    ("russian", "latin"),
    [
        ("\u0410\u041b\u0420\u041e\u0421\u0410", "ALROSA"),
        (
            "\u0410\u043b\u043c\u0430\u0437\u044b \u0410\u043d\u0430\u0431\u0430\u0440\u0430",
            "Almazy Anabara",
        ),
        ("\u0421\u0410\u0425\u0410", "Sakha"),  # all look-alikes, but a Cyrillic name: by sound
        # A letter only Cyrillic has (here in the written-out OOO) makes the name's Cyrillic
        # Russian, even in a name mostly Latin: its preposition ES ("with") is no Latin c.
        (
            "Smart Diamond International Trading Company \u041e\u0431\u0449\u0435\u0441\u0442\u0432"
            "\u043e \u0441 \u043e\u0433\u0440\u0430\u043d\u0438\u0447\u0435\u043d\u043d\u043e\u0439"
            " \u043e\u0442\u0432\u0435\u0442\u0441\u0442\u0432\u0435\u043d\u043d\u043e\u0441\u0442"
            "\u044c\u044e",
            "Smart Diamond International Trading OOO",
        ),
    ],
)
def test_russian_keeps_its_reading_by_sound(russian: str, latin: str) -> None:
    assert normalise_name(russian) == normalise_name(latin)


KRISTALL = Party(
    "Акционерное общество «Смоленское производственное объединение «Кристалл»",
    "Смоленск",
    "RU",
    short_name="АО «ПО «Кристалл»",
)


@pytest.mark.parametrize(
    "named",
    [
        Party("PO Kristall JSC"),  # the short name, as the importing authority writes it
        Party("АО «Смоленское производственное объединение «Кристалл»"),  # the full one
        Party("Kristall Smolensk", short_name="ПО «Кристалл»"),  # its own short name
    ],
)
def test_a_confirmation_may_name_the_party_by_its_short_name(named: Party) -> None:
    """An FTS certificate gives a full and a short name; the short one was dropped, so a
    confirmation naming the company by it was a MATCHED_WITH_DISCREPANCIES."""
    cert = certificate(exporter=KRISTALL)
    assert compare(cert, confirmation(cert, exporter=named)) == ()


def test_a_short_name_is_no_licence_for_another_company() -> None:
    cert = certificate(exporter=KRISTALL)
    other = Party("Kristall Trading DMCC", short_name="Smolensk Gems")
    (difference,) = compare(cert, confirmation(cert, exporter=other))
    assert (difference.field, difference.certificate, difference.confirmation) == (
        "exporter",
        KRISTALL.name,
        other.name,
    )


def test_between_confirmations_a_short_name_is_not_an_alias() -> None:
    """Two confirmations' names stay an equivalence (their outcome must not depend on the
    order they arrive in): aliases would chain, A ~ B by B's short name, B ~ C by A's."""
    assert not same_party(KRISTALL, Party("PO Kristall JSC"))


def test_a_changed_short_name_shows_in_a_reissues_differences() -> None:
    cert = certificate(exporter=KRISTALL)
    renamed = replace(cert, exporter=replace(KRISTALL, short_name="АО «Кристалл»"))
    ((field, before, after),) = [
        (d.field, d.certificate, d.confirmation) for d in document_differences(cert, renamed)
    ]
    assert field == "exporter"
    assert before is not None and after is not None
    assert "[АО «ПО «Кристалл»]" in before
    assert "[АО «Кристалл»]" in after


def test_a_short_name_only_one_format_carries_is_no_reissue() -> None:
    """A certificate sent in the FTS format (with a short name) and re-sent through a
    system speaking UN/CEFACT, which has no place for one, is the same document: it was a
    CONFLICTING_REISSUE (a code review)."""
    cert = certificate(exporter=KRISTALL)
    without = replace(cert, exporter=replace(KRISTALL, short_name=None))
    assert document_differences(cert, without) == ()
    assert document_differences(without, cert) == ()
    moved = replace(without, exporter=replace(without.exporter, address="Москва"))
    ((field, before, _),) = [
        (d.field, d.certificate, d.confirmation) for d in document_differences(cert, moved)
    ]
    assert field == "exporter" and before is not None and "Смоленск" in before
