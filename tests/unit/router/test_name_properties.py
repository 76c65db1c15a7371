"""Properties of name normalisation over generated names: the normal form is a fixed
point (normalising it again changes nothing, so equal normal forms are an equivalence
whichever form is compared), case and spacing never make another company, and no name
with a letter or digit normalises to nothing. A property-based review found a written-out
legal form left once it came twice, the internal "ak_ru" of the Cyrillic AK, capitals
from compatibility characters, and scripts mixed in one word read differently again."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.router.compare import normalise_name

LATIN_WORDS = ["Antwerp", "Rough", "Trading", "Diamonds", "TOP", "Crystal", "Müller", "Øst"]
CYRILLIC_WORDS = ["АЛРОСА", "Алмазы", "Анабара", "ТОР", "САХА", "Смарт", "Даймонд", "с"]
GREEK_WORDS = ["ΤΟΡ", "Αλφα", "Κουρής", "ΗΟΤΕΛ"]
#: Legal forms as written, at either end or alone: abbreviations, dotted, bracketed,
#: spelled out (in part, too), and in Cyrillic.
LEGAL_FORMS = [
    "Ltd", "Limited", "LLC", "L.L.C.", "(Pty)", "Pty", "Proprietary", "Pvt", "Private",
    "PJSC", "JSC", "Joint Stock Company", "Public", "Company", "Co.", "B.V.", "NV", "SA",
    "S.A.", "A/S", "GmbH", "DMCC", "FZE", "Free Zone", "AO", "ПАО", "АО", "ООО", "АК",
    "Aktsionernaia Kompaniia", "акционерное общество", "Besloten Vennootschap",
]  # fmt: skip
#: Letters and signs a name may carry by accident or design: Latin, Cyrillic and Greek
#: letters and their look-alikes, letters without a decomposition, compatibility
#: characters, marks, digits of other scripts, other scripts with their marks.
ODD = (
    "abcehiopsxyABCEHIOPSXY"
    "авекмнорстхуАВЕКМНОРСТХУѕіјѢѣӀԁжщЖЩёЁьъ"
    "αβεηικμνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧςσλΣΛ"
    "ßẞłŁøØıİæœŉǅℌ㎒ﬀKΩ\u0345"
    "\u0301\u0308\u0307\u0327"
    "\u0661\u0662\u00b2\u2167"
    "ダタイヤ\u091c\u0947\u093e"
)
PUNCTUATION = ".,'’´ʼ`-–—/&()«»\"*"
INVISIBLE = "\u200b\u200c\u200d\u00ad\u2060\u200e\u200f\ufe0f\u034f\u3164"
SPACES = [" ", "  ", "\u00a0", "\t", "\u3000", " \u2009 ", "\n"]

words = st.one_of(
    st.sampled_from(LATIN_WORDS + CYRILLIC_WORDS + GREEK_WORDS + LEGAL_FORMS),
    st.text(alphabet=ODD + PUNCTUATION + INVISIBLE, min_size=1, max_size=6),
)


@st.composite
def names(draw: st.DrawFn) -> str:
    """Words (a legal form quite often at the start or the end), each with some
    punctuation or an invisible character, joined by any whitespace."""
    parts = draw(st.lists(words, min_size=1, max_size=5))
    if draw(st.booleans()):
        parts.insert(0, draw(st.sampled_from(LEGAL_FORMS)))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(LEGAL_FORMS)))
    extra = st.text(alphabet=PUNCTUATION + INVISIBLE, max_size=2)
    parts = [draw(extra) + part + draw(extra) for part in parts]
    spaces = [draw(st.sampled_from(SPACES)) for _ in parts]
    return "".join(space + part for space, part in zip(spaces, parts, strict=True)).lstrip(" ")


def _respaced(name: str, space: str) -> str:
    return space.join(name.split())


@settings(max_examples=1500, deadline=None)
@given(names())
@example("Proprietary Proprietary")
@example("\u0410\u041a")  # the Cyrillic legal form AK alone
@example("\u210c Diamonds")  # a compatibility letter that decomposes into a capital
def test_the_normal_form_is_a_fixed_point(name: str) -> None:
    once = normalise_name(name)
    assert normalise_name(once) == once


@settings(max_examples=800, deadline=None)
@given(names(), st.sampled_from(SPACES))
def test_case_and_spacing_make_no_other_company(name: str, space: str) -> None:
    once = normalise_name(name)
    assert normalise_name(name.casefold()) == once
    assert normalise_name(name.upper()) == once
    assert normalise_name(name.lower()) == once
    assert normalise_name(_respaced(name, space)) == once
    assert normalise_name(f" {_respaced(name, space)}\u00a0") == once


@settings(max_examples=300, deadline=None)
@given(names())
def test_a_name_with_a_letter_or_digit_never_normalises_to_nothing(name: str) -> None:
    if any(char.isalnum() for char in name):
        assert normalise_name(name)
