"""Field-by-field comparison: a certificate against its confirmation, two versions of a
document against each other, names after normalisation, USD per carat against a band."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import fields, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from gateway.events import CertificateIssued, HsLine, ImportConfirmed, Party, carats, usd
from gateway.router.records import Difference
from gateway.text import without_invisible

MIXED = "MIXED"

#: Legal-form words stripped from either end of a company name before comparing (after
#: case folding and punctuation removal, so "B.V." is "bv" and "(Pty) Ltd" is "pty ltd").
LEGAL_FORMS = frozenset(
    {
        # English / international
        "ltd", "limited", "llc", "llp", "lp", "plc", "inc", "incorporated", "corp",
        "corporation", "co", "company", "pty", "pvt", "private", "pte",
        # Russian and CIS, transliterated and Cyrillic
        "ao", "oao", "zao", "pao", "ooo", "jsc", "pjsc", "ojsc", "cjsc",
        "ak", "ak_ru",  # aktsionernaya kompaniya; ak_ru: written in Cyrillic or spelled out
        # Continental Europe
        "bv", "nv", "bvba", "sprl", "sa", "sas", "sarl", "srl", "spa", "ag", "gmbh", "as",
        # UAE free zones
        "dmcc", "fze", "fzco", "fzc", "fz",
    }
)  # fmt: skip
#: Legal forms that also stand before the name ("PAO Alrosa", AO Gokhran): the Russian
#: and CIS ones. The others are stripped from the end only, so initials at the start of
#: a name are kept ("S.A. Gems" and "A.S. Gems" are not both "Gems": a property review).
LEADING_LEGAL_FORMS = frozenset(
    {"ao", "oao", "zao", "pao", "ooo", "jsc", "pjsc", "ojsc", "cjsc", "ak_ru"}
)
#: The Cyrillic abbreviation AK is a legal form before a name; Latin "A.K." is initials.
_CYRILLIC_AK = "\u0430\u043a"
#: Legal forms written out, reduced to the abbreviation before stripping (their inner words,
#: "joint", "stock", "liability", are not legal-form words on their own). Longest first.
SPELLED_OUT_FORMS = (
    ("public joint stock company", "pjsc"),
    ("closed joint stock company", "cjsc"),
    ("open joint stock company", "ojsc"),
    ("joint stock company", "jsc"),
    ("limited liability company", "llc"),
    ("limited liability partnership", "llp"),
    ("public limited company", "plc"),
    ("proprietary limited", "pty ltd"),
    ("private limited", "pvt ltd"),
    ("free zone establishment", "fze"),
    ("free zone company", "fzco"),
    ("societe anonyme", "sa"),
    ("naamloze vennootschap", "nv"),
    ("besloten vennootschap", "bv"),
    ("gesellschaft mit beschrankter haftung", "gmbh"),
    ("aktiengesellschaft", "ag"),
    ("proprietary", "pty"),
    ("a s", "as"),  # A/S (Denmark, Norway) after the slash became a space
    # Russian legal forms spelled out, as transliterated above: an FTS certificate's full
    # OrganizationName is "Акционерная компания «АЛРОСА» (публичное акционерное
    # общество)", its ShortName and the confirmation the abbreviation (AK, PAO).
    ("publichnoe aktsionernoe obshchestvo", "pao"),
    ("nepublichnoe aktsionernoe obshchestvo", "ao"),
    ("otkrytoe aktsionernoe obshchestvo", "oao"),
    ("zakrytoe aktsionernoe obshchestvo", "zao"),
    ("aktsionernoe obshchestvo", "ao"),
    ("obshchestvo s ogranichennoi otvetstvennostiu", "ooo"),
    ("aktsionernaia kompaniia", "ak_ru"),
)
#: Letters Unicode does not decompose into a base letter and a mark (NFKD keeps them), and
#: Cyrillic in the ICAO Doc 9303 transliteration that Russian and CIS passports and
#: customs documents use: an FTS certificate names "«АЛРОСА» (ПАО)", the Antwerp office's
#: confirmation "ALROSA PJSC", and both are the company "alrosa". Serbian and Macedonian
#: letters as ICAO writes them, and Kazakh ones (which ICAO leaves out) by their base.
#: Greek as Greek passports write it (ELOT 743, letter by letter; omicron upsilon is ou).
_TRANSLITERATED = str.maketrans(
    {
        "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe",
        "\u0131": "i",
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",  # noqa: RUF001
        "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",  # noqa: RUF001
        "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",  # noqa: RUF001
        "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y", "ь": "", "э": "e",
        "ю": "iu", "я": "ia", "є": "ie", "і": "i", "ї": "i", "ґ": "g", "ў": "u",  # noqa: RUF001
        "ђ": "d", "ѓ": "g", "ѕ": "dz", "ј": "j", "љ": "lj", "њ": "nj", "ћ": "c", "ќ": "k",  # noqa: RUF001
        "џ": "dz",
        "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h",  # noqa: RUF001
        "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th",  # noqa: RUF001
        "ι": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p",  # noqa: RUF001
        "ρ": "r", "σ": "s", "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps",  # noqa: RUF001
        "ω": "o",
    }
)  # fmt: skip
#: The Cyrillic and Greek letters transliterated above: only they count as letters of
#: their script when a word's script is decided. A normal form holds none of them, so
#: reading it again finds a word of one script and changes nothing (a property-based
#: review: Greek alpha beta and Cyrillic zhe in one word were "\u03b1\u03b2zh", read again
#: "abzh"). Others (yat, palochka, Coptic) are kept as written and count as no script.
_CYRILLIC_LETTERS = frozenset(chr(code) for code in _TRANSLITERATED if 0x0400 <= code < 0x0530)
_GREEK_LETTERS = frozenset(chr(code) for code in _TRANSLITERATED if 0x0370 <= code < 0x0400)
#: Look-alike letters, case-folded: a word that mixes Latin with Cyrillic (or Greek)
#: letters is a typing slip, read in the script most of its letters are in. "Crystal"
#: with a Cyrillic ES for its C is Crystal; "АЛРОСА" with a Latin A at the end is
#: АЛРОСА (a Unicode review; read after case folding, so the case does not matter). In a
#: name mostly Latin whose every Cyrillic and Greek letter is a look-alike, they are all
#: Latin, whole words too (:func:`_looks_latin`).
_CYRILLIC_SHAPES = "авекмнорстхуѕіј"
_LATIN_FOR_CYRILLIC = "abekmhopctxysij"
_GREEK_SHAPES = "αβεζηικμνορτυχ"
_LATIN_FOR_GREEK = "abezhikmnoptyx"
_TO_LATIN = str.maketrans(_CYRILLIC_SHAPES + _GREEK_SHAPES, _LATIN_FOR_CYRILLIC + _LATIN_FOR_GREEK)
_LATIN_SHAPES = frozenset(_CYRILLIC_SHAPES + _GREEK_SHAPES)
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TO_CYRILLIC = str.maketrans(_LATIN_FOR_CYRILLIC, _CYRILLIC_SHAPES)
_TO_GREEK = str.maketrans(_LATIN_FOR_GREEK, _GREEK_SHAPES)
#: German and Nordic letters are written three ways (Müller, Mueller, Muller; Ørsted,
#: Oersted, Orsted; Åsa, Aasa, Asa): the marks go, and so does the e or a that writes
#: them out. One canonical form for all three, so the comparison stays transitive (two
#: forms compared pairwise made the result depend on the order documents arrive in, as
#: a property-based review showed). Names that differ only there are one company.
_WRITTEN_OUT = re.compile(r"(?<=[aou])e|(?<=a)a")
#: Apostrophes of any kind (straight, typographic, modifier letter, acute, prime) and full
#: stops join what they stand in: every "O'Neill" is one name, "B.V." is "bv".
_DROPPED = frozenset(".'`\u2018\u2019\u02bc\u00b4\u2032")
_UNDROPPED = re.compile("[" + "".join(sorted(_DROPPED)) + "]")
#: What :func:`_words` reads with three regular expressions, once the marks for Latin,
#: Greek and Cyrillic letters are gone: ASCII, Greek and Cyrillic but its combining marks.
_EUROPEAN_MARKS = re.compile("[\u0300-\u036f]+")
_NOT_SIMPLE = re.compile("[^\x00-\x7f\u0370-\u0482\u048a-\u052f]")
_NOT_WORD = re.compile(r"[\W_]+")
#: An ASCII name's words in one call: letters lower case, digits, the dropped signs gone,
#: anything else a space (what the general path gives for ASCII, much faster).
_ASCII_WORDS = str.maketrans(
    {
        char: None if char in _DROPPED else char.lower() if char.isalnum() else " "
        for char in map(chr, range(128))
    }
)


def _script(char: str) -> str:
    if char in _CYRILLIC_LETTERS:
        return "cyrillic"
    if char in _GREEK_LETTERS:
        return "greek"
    return "latin" if char.isascii() else "other"


def _european(char: str) -> bool:
    """A letter of the Latin, Greek or Cyrillic scripts: their accents do not make another
    name. Marks on other scripts' letters do (Japanese voicing: ダイヤ is not タイヤ)."""
    code = ord(char)
    return code < 0x0530 or 0x1E00 <= code < 0x2000


def _folded(name: str) -> str:
    """``name`` decomposed (NFKD), case-folded, then decomposed again: "\u210c" (a
    compatibility H) and "\u3392" (MHz) decompose into capitals, which a fold before
    would leave. Invisible characters and apostrophes go first (the acute accent U+00B4
    decomposes into a space and a mark)."""
    visible = without_invisible(unicodedata.normalize("NFKD", _UNDROPPED.sub("", name)))
    return unicodedata.normalize("NFKD", visible.casefold()).replace("\u0131", "i")


def _words(name: str) -> str:
    """Letters, digits and the marks of non-European scripts of a :func:`_folded` name;
    anything else a space."""
    plain = _EUROPEAN_MARKS.sub("", name)
    if not _NOT_SIMPLE.search(plain):  # every mark was on a European letter: all go
        return _NOT_WORD.sub(" ", _UNDROPPED.sub("", plain))
    out: list[str] = []
    base = ""
    for char in name:
        category = unicodedata.category(char)
        if char in _DROPPED:
            continue
        if category[0] == "M":
            if base and not _european(base):
                out.append(char)  # a vowel sign or voicing mark is part of the letter
            continue
        if category == "Nd":
            kept = str(unicodedata.decimal(char))  # Arabic-Indic 12 is 12
        else:
            kept = char if category[0] in "LN" else " "
        base = kept
        out.append(kept)
    return "".join(out)


def _by_shape(word: str) -> str:
    """A word mixing Latin with Cyrillic or Greek letters, in its majority script."""
    if word.isascii() or (
        _GREEK_LETTERS.isdisjoint(word)
        and (_CYRILLIC_LETTERS.isdisjoint(word) or _ASCII_ALNUM.isdisjoint(word))
    ):
        return word
    counts = {"latin": 0, "cyrillic": 0, "greek": 0}
    for char in word:
        script = _script(char)
        if script in counts:
            counts[script] += 1
    mixed = sum(1 for count in counts.values() if count) > 1
    if not mixed:
        return word
    if counts["cyrillic"] > counts["latin"] and counts["cyrillic"] >= counts["greek"]:
        return word.translate(_TO_CYRILLIC)
    if counts["greek"] > counts["latin"]:
        return word.translate(_TO_GREEK)
    return word.translate(_TO_LATIN)


def _looks_latin(words: list[str]) -> bool:
    """A name mostly in Latin letters whose Cyrillic and Greek letters all look Latin: its
    look-alikes are Latin, whole words of them too ("TOP Diamonds" with a Cyrillic TE, O
    and ER is TOP Diamonds, not "tor"). One letter only Cyrillic or Greek has makes the
    name's Cyrillic or Greek writing in that script, read by sound (a Russian ES, "with",
    in a mostly Latin name is no c), and so does a name not mostly Latin (a Cyrillic
    SAKHA is Sakha)."""
    latin = shapes = 0
    for word in words:
        for char in word:
            if char in _LATIN_SHAPES:
                shapes += 1
            elif char in _CYRILLIC_LETTERS or char in _GREEK_LETTERS:
                return False
            elif "a" <= char <= "z":
                latin += 1
    return 0 < shapes < latin


def _unwritten(text: str) -> str:
    while True:  # "aae" is "ae" after one pass
        shorter = _WRITTEN_OUT.sub("", text)
        if shorter == text:
            return text
        text = shorter


@cache
def _spelled_out_forms() -> tuple[tuple[str, str], ...]:
    """SPELLED_OUT_FORMS as names read after ``_unwritten`` ("naamloze" is "namloze"), each
    between spaces."""
    return tuple(
        (f" {_unwritten(spelled)} ", f" {abbreviation} ")
        for spelled, abbreviation in SPELLED_OUT_FORMS
    )


@lru_cache(maxsize=8192)
def normalise_name(name: str) -> str:
    """Case, accents, spacing, punctuation and legal-form words do not make a different
    company: ``"ALROSA, PJSC"``, ``"Alrosa"`` and ``"PJSC  Alrosa."`` all give ``"alrosa"``.
    A name made only of legal-form words is kept whole (``"LLC"`` stays ``"llc"``,
    ``"Proprietary Limited"`` is ``"pty ltd"``), so two companies named by legal forms
    only are not both ``""``; one with no letter or digit at all is compared as written.
    The result is its own normal form (``normalise_name(normalise_name(x)) ==
    normalise_name(x)``, a property test): equal normal forms are an equivalence however
    often a name was normalised."""
    if name.isascii():
        words = name.translate(_ASCII_WORDS)
    else:
        words = _words(_folded(name))
        if not (_CYRILLIC_LETTERS.isdisjoint(words) and _GREEK_LETTERS.isdisjoint(words)):
            read = words.split()
            by_shape = (lambda word: word.translate(_TO_LATIN)) if _looks_latin(read) else _by_shape
            words = " ".join("ak_ru" if word == _CYRILLIC_AK else by_shape(word) for word in read)
        if "\u03bf\u03c5" in words:  # Greek omicron upsilon
            words = words.replace("\u03bf\u03c5", "ou")
        words = words.translate(_TRANSLITERATED)
    text = " " + " ".join(_unwritten(words).split()) + " "
    for spelled, abbreviation in _spelled_out_forms():
        while spelled in text:  # " pty pty ": matches that share a space, one at a time
            text = text.replace(spelled, abbreviation)
    tokens = text.split()
    if not tokens:
        return " ".join(name.casefold().split())  # "***" and "---" are not one company
    start, end = 0, len(tokens)
    while end > start and tokens[end - 1] in LEGAL_FORMS:
        end -= 1
    while start < end and tokens[start] in LEADING_LEGAL_FORMS:
        start += 1
    # The Cyrillic AK kept (a name of legal forms only, or inside a name) is written "ak".
    return " ".join("ak" if word == "ak_ru" else word for word in tokens[start:end] or tokens)


def same_party(left: Party, right: Party) -> bool:
    return normalise_name(left.name) == normalise_name(right.name)


def _names(party: Party) -> set[str]:
    names = {normalise_name(party.name)}
    if party.short_name is not None:
        names.add(normalise_name(party.short_name))
    return names


def named_alike(cert_party: Party, conf_party: Party) -> bool:
    """The confirmation names the certificate's party by its name or its short name (an FTS
    certificate gives both, and an importing authority writes the one it knows: the full
    "Aktsionernoe obshchestvo Smolenskoe proizvodstvennoe obieedinenie Kristall" or the
    short "AO PO Kristall"), or the confirmation's short name is one of those. Only for
    a certificate against its confirmation: the certificate is the one reference, so two
    aliases never chain (between confirmations, :func:`same_party` keeps names an
    equivalence)."""
    if same_party(cert_party, conf_party):
        return True
    if cert_party.short_name is None and conf_party.short_name is None:
        return False
    return not _names(cert_party).isdisjoint(_names(conf_party))


def within(reference: Decimal, observed: Decimal, tolerance_pct: Decimal) -> bool:
    """``observed`` is within ``tolerance_pct`` percent of ``reference``; exactly at the
    tolerance counts as within (exact Decimal arithmetic, no rounding)."""
    return abs(observed - reference) * 100 <= abs(reference) * tolerance_pct


#: How far two authorities' calendar days may differ at one instant: each writes its own
#: local date, and a receipt 15 minutes after the issue can be dated the day before
#: (issued 1 March 00:30 at UTC+2, received 28 February 23:45 at UTC+1).
CALENDARS_APART = timedelta(days=1)


def compare(
    cert: CertificateIssued,
    conf: ImportConfirmed,
    carats_tolerance_pct: Decimal = Decimal(0),
    value_tolerance_pct: Decimal = Decimal(0),
) -> tuple[Difference, ...]:
    """Every difference between a certificate and a confirmation of it.

    Compared: parcels (when the confirmation gives them), HS lines present and carats and
    value per line (when it gives lines), else the totals it gives (carats are mandatory on
    a confirmation: none at all is a difference; the value is optional), the importer's
    and (when given) the exporter's names after :func:`normalise_name` (by name or short
    name, :func:`named_alike`), and a date of receipt more than a day before the
    certificate was issued (goods cannot travel under a certificate that did not exist
    yet; the day is for the two authorities' calendars).
    The confirming participant, the expiry and a void are judged by their own outcomes,
    not here.
    """
    differences: list[Difference] = []
    if conf.date_of_receipt < cert.issue_date - CALENDARS_APART:
        differences.append(
            Difference(
                "date_of_receipt",
                f"on or after {cert.issue_date.isoformat()} (issued)",
                conf.date_of_receipt.isoformat(),
            )
        )
    if conf.parcels is not None and conf.parcels != cert.parcels:
        differences.append(Difference("parcels", str(cert.parcels), str(conf.parcels)))
    if conf.lines:
        differences.extend(_compare_lines(cert, conf, carats_tolerance_pct, value_tolerance_pct))
    else:
        if conf.total_carats is None:
            differences.append(Difference("total_carats", _ct(cert.total_carats), None))
        elif not within(cert.total_carats, conf.total_carats, carats_tolerance_pct):
            differences.append(
                Difference("total_carats", _ct(cert.total_carats), _ct(conf.total_carats))
            )
        if conf.total_value_usd is not None and not within(
            cert.total_value_usd, conf.total_value_usd, value_tolerance_pct
        ):
            differences.append(
                Difference(
                    "total_value_usd", _usd(cert.total_value_usd), _usd(conf.total_value_usd)
                )
            )
    if not named_alike(cert.importer, conf.importer):
        differences.append(Difference("importer", cert.importer.name, conf.importer.name))
    if conf.exporter is not None and not named_alike(cert.exporter, conf.exporter):
        differences.append(Difference("exporter", cert.exporter.name, conf.exporter.name))
    return tuple(differences)


def _compare_lines(
    cert: CertificateIssued,
    conf: ImportConfirmed,
    carats_tolerance_pct: Decimal,
    value_tolerance_pct: Decimal,
) -> list[Difference]:
    ours = {line.hs_code: line for line in cert.lines}
    theirs = {line.hs_code: line for line in conf.lines}
    differences: list[Difference] = []
    for code in sorted(ours.keys() | theirs.keys()):
        mine, other = ours.get(code), theirs.get(code)
        if mine is None or other is None:
            differences.append(
                Difference(f"lines[{code}]", code if mine else None, code if other else None)
            )
            continue
        if not within(mine.carats, other.carats, carats_tolerance_pct):
            differences.append(
                Difference(f"lines[{code}].carats", _ct(mine.carats), _ct(other.carats))
            )
        if not within(mine.value_usd, other.value_usd, value_tolerance_pct):
            differences.append(
                Difference(f"lines[{code}].value_usd", _usd(mine.value_usd), _usd(other.value_usd))
            )
    return differences


Document = CertificateIssued | ImportConfirmed


def canonical(document: Document) -> Document:
    """``document`` with its HS lines in code order and its texts in one Unicode form: the
    order of a certificate's lines means nothing (one line per HS code), and neither do
    composed or decomposed accents, a no-break space or an invisible character (a
    re-send through another system must not read as a CONFLICTING_REISSUE whose two
    columns look identical: a Unicode review)."""
    lines = document.lines
    if not all(lines[i].hs_code <= lines[i + 1].hs_code for i in range(len(lines) - 1)):
        document = replace(document, lines=tuple(sorted(lines, key=lambda line: line.hs_code)))
    return _plain(document)


def _plain(document: Document) -> Document:
    changes: dict[str, Any] = {}
    for item in fields(document):
        value = getattr(document, item.name)
        if isinstance(value, str):
            plain: Any = plain_text(value)
        elif isinstance(value, Party):
            address = None if value.address is None else plain_text(value.address)
            short = None if value.short_name is None else plain_text(value.short_name)
            plain = replace(value, name=plain_text(value.name), address=address, short_name=short)
        else:
            continue
        if plain != value:
            changes[item.name] = plain
    return replace(document, **changes) if changes else document


@lru_cache(maxsize=8192)
def plain_text(text: str) -> str:
    """``text`` composed (NFC), without invisible characters (``gateway.text.invisible``),
    every run of any whitespace (no-break spaces, line separators) one space, trimmed."""
    if text.isascii() and " ".join(text.split()) == text:
        return text
    # Invisible characters first: one between a letter and its accent blocks composing.
    visible = without_invisible(unicodedata.normalize("NFD", text))
    return " ".join(unicodedata.normalize("NFC", visible).split())


def same_document(left: Document, right: Document) -> bool:
    """The same content, whatever the order of the HS lines (an identical re-send)."""
    return left == right or canonical(left) == canonical(right)


def same_receiver_and_day(left: ImportConfirmed, right: ImportConfirmed) -> bool:
    """The same confirming participant, date of receipt and importer: what makes two
    confirmations candidates for one receipt (``same_receipt`` adds that nothing else
    contradicts)."""
    return (
        left.confirming_participant == right.confirming_participant
        and left.date_of_receipt == right.date_of_receipt
        and same_party(left.importer, right.importer)
    )


def same_receipt(left: ImportConfirmed, right: ImportConfirmed) -> bool:
    """Two confirmations of the same receipt: the same confirming participant, date,
    importer, and nothing that contradicts (parcels, exporter, goods per HS line or in
    total, where both give them). Remarks, the office's name and whether the goods are
    written per HS line or as totals do not make another receipt: the same confirmation
    sent again through another channel or format, perhaps fuller, is not the certificate
    presented for a second shipment (DUPLICATE_CONFIRMATION)."""
    if same_document(left, right):
        return True
    if (
        not same_receiver_and_day(left, right)
        or (
            left.parcels is not None and right.parcels is not None and left.parcels != right.parcels
        )
        or (
            left.exporter is not None
            and right.exporter is not None
            and not same_party(left.exporter, right.exporter)
        )
    ):
        return False
    if left.lines and right.lines:
        return _goods_lines(left) == _goods_lines(right)
    (left_carats, left_usd), (right_carats, right_usd) = _totals(left), _totals(right)
    return (left_carats is None or right_carats is None or left_carats == right_carats) and (
        left_usd is None or right_usd is None or left_usd == right_usd
    )


def is_copy_of(new: ImportConfirmed, kept: ImportConfirmed) -> bool:
    """``new`` is :func:`same_receipt` as ``kept`` and says nothing that :func:`compare`
    judges which ``kept`` did not say (parcels, an exporter, a value, HS lines): a copy,
    taken in without judging. A fuller one is judged for what it adds, so a later statement
    that parcels are short is never swallowed, whichever came first (a property-based
    review)."""
    if same_document(kept, new):
        return True
    if (
        not same_receipt(kept, new)
        or (new.parcels is not None and kept.parcels is None)
        or (new.exporter is not None and kept.exporter is None)
        or (bool(new.lines) and not kept.lines)
    ):
        return False
    (new_carats, new_usd), (kept_carats, kept_usd) = _totals(new), _totals(kept)
    return (new_carats is None or kept_carats is not None) and (
        new_usd is None or kept_usd is not None
    )


def _goods_lines(conf: ImportConfirmed) -> list[tuple[str, Decimal, Decimal]]:
    return sorted((line.hs_code, line.carats, line.value_usd) for line in conf.lines)


def _totals(conf: ImportConfirmed) -> tuple[Decimal | None, Decimal | None]:
    if conf.lines:
        return (
            sum((line.carats for line in conf.lines), Decimal(0)),
            sum((line.value_usd for line in conf.lines), Decimal(0)),
        )
    return conf.total_carats, conf.total_value_usd


def document_differences(earlier: Document, later: Document) -> tuple[Difference, ...]:
    """Exact field-by-field differences between two documents of the same kind (a re-issue
    against the original, a second confirmation against the first); the lines compare in
    code order."""
    earlier, later = canonical(earlier), canonical(later)
    differences = []
    for item in fields(earlier):
        left, right = getattr(earlier, item.name), getattr(later, item.name)
        if isinstance(left, Party) and isinstance(right, Party):
            left, right = _short_names_where_both(left, right)
        if left != right:
            differences.append(Difference(item.name, _text(left), _text(right)))
    return tuple(differences)


def _short_names_where_both(left: Party, right: Party) -> tuple[Party, Party]:
    """The two parties, each short name kept only when both give one: a format without
    short names (UN/CEFACT) re-sending an FTS document drops it, and that is no
    CONFLICTING_REISSUE (a code review); a short name that changed still differs."""
    if left.short_name is None or right.short_name is None:
        return replace(left, short_name=None), replace(right, short_name=None)
    return left, right


def value_per_carat(cert: CertificateIssued) -> Decimal | None:
    """Total USD / total carats, to the cent; None when the certificate weighs nothing."""
    if cert.total_carats <= 0:
        return None
    return usd(cert.total_value_usd / cert.total_carats)


def _ct(value: Decimal) -> str:
    return str(carats(value))


def _usd(value: Decimal) -> str:
    return str(usd(value))


def _line_text(line: HsLine) -> str:
    """All of a line, its origin too: two re-issues that differ only in a line's origin
    must not read alike (a re-sent re-issue is recognised by its differences' text)."""
    text = f"{line.hs_code} {_ct(line.carats)} ct {_usd(line.value_usd)} USD"
    return f"{text} {line.origin}" if line.origin else text


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Party):  # all of it: a changed address is the difference to see
        name = f"{value.name} [{value.short_name}]" if value.short_name else value.name
        where = ", ".join(part for part in (value.address, value.country) if part)
        return f"{name} ({where})" if where else name
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        if not value:
            return None
        return "; ".join(
            _line_text(item) if isinstance(item, HsLine) else str(item) for item in value
        )
    return str(value)
