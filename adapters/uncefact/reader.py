"""Per-document reading helpers: typed values out of elements, and every problem collected as
a finding with the element's line and a readable path, so a document fails once with all of
them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from lxml import etree

from adapters import paths
from adapters.bounds import TOO_MANY_ELEMENTS, Bound, Excess, descendants, excesses
from adapters.uncefact.profile import (
    DOCS,
    KP_FIELD_INVALID,
    KP_FIELD_MISSING,
    PREFIXES,
    SIGNATURE,
    SIGNATURE_ELEMENTS,
    ram,
    udt,
)
from gateway.errors import Finding, MappingFailed
from gateway.events import Party, utc
from gateway.registry import ParticipantRegistry

#: ASCII digits only (``re.ASCII``): ``\d`` and ``Decimal()`` accept any script's digits,
#: so Arabic-Indic or full-width "12" in a free-text statement read as 12 while a person sees other
#: signs (a review found Bengali 4, which looks like 8, read as 4).
_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$", re.ASCII)

#: UNTDID 2379 date/time format codes: the number of digits each is written with, and what
#: they are, for the message. Any of them may carry a UTC offset (the profile schema's
#: pattern allows one after each form); 205 must. Digits are sliced at fixed widths, never
#: read with strptime, which takes "20261120" for format 203 as 2026-01-01 02:00 (its
#: fields accept one digit).
_DIGIT_FORMATS = {
    "102": (8, "CCYYMMDD: 8 digits, then optionally a UTC offset such as +0100"),
    "203": (12, "CCYYMMDDHHMM: 12 digits, then optionally a UTC offset such as +0100"),
    "204": (14, "CCYYMMDDHHMMSS: 14 digits, then optionally a UTC offset such as +0100"),
    "205": (12, "CCYYMMDDHHMM+HHMM: 12 digits and a UTC offset"),
}
_FORMAT_BY_LENGTH = {8: "102", 12: "203", 14: "204"}
#: Digits with an optional UTC offset: read explicitly, since Python's ISO reader would
#: take the "+" for the date-time separator and the offset for a time of day.
_DIGITS = re.compile(r"^(\d+)(?:([+-])([01]\d|2[0-3])([0-5]\d))?$", re.ASCII)
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_OUT_OF_RANGE = "{text!r} in UTC falls outside the calendar (years 1 to 9999)"
#: The widest UTC offsets of any time zone (xs:dateTime's bound too): a date-time string
#: written with +23:59 is a typing error, not a place, and would stretch the future-date
#: tolerance by a day.
MAX_OFFSET = timedelta(hours=14)
#: The zone of a date-time written without an offset: read as UTC (the profile's rule),
#: but told apart from one written with ``Z`` or ``+00:00``, since only a written offset
#: makes the instant exact (``gateway.rules``' clock-skew check needs to know).
NO_OFFSET_WRITTEN = timezone(timedelta(0), "UTC (no offset written)")
_ZERO = timedelta(0)
_MIDNIGHT = time(0)
#: xs:dateTime's end of a day, ``24:00:00``: the next day's midnight, which Python's ISO
#: reader refuses.
_END_OF_DAY = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T24:00(?::00(?:\.0+)?)?(Z|[+-]\d{2}:\d{2})?$", re.ASCII
)
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(4)}
#: The digits the decimal context holds (28): a count written with more is no count.
_INTEGER_DIGITS = 28

DATE_TIME_STRING = udt("DateTimeString")
DATE_TIME = udt("DateTime")
NAME = ram("Name")
ADDRESS = ram("SpecifiedSPSAddress")
ADDRESS_LINES = tuple(ram(f"Line{n}") for n in ("One", "Two", "Three", "Four", "Five"))
POSTCODE = ram("PostcodeCode")
CITY = ram("CityName")
COUNTRY_ID = ram("CountryID")


def line_of(element: etree._Element) -> int | None:
    """The element's source line (lxml-stubs mistype ``sourceline``)."""
    line = getattr(element, "sourceline", None)
    return line if isinstance(line, int) else None


def kid(element: etree._Element, tag: str) -> etree._Element | None:
    """The first ``tag`` child: for small containers, cheaper than indexing them."""
    for found in element:
        if found.tag == tag:
            return found
    return None


def kid_text(element: etree._Element | None, tag: str) -> str | None:
    """The stripped text of the first ``tag`` child; None when absent or empty."""
    if element is None:
        return None
    for found in element:
        if found.tag == tag:
            value = (found.text or "").strip()
            return value or None
    return None


def text_of(element: etree._Element | None) -> str | None:
    """The stripped text of ``element``; None when it is absent or empty."""
    if element is None:
        return None
    return (element.text or "").strip() or None


def need_error(parent: etree._Element, tag: str) -> MappingFailed:
    """The error for a child the profile schema makes mandatory (never missing after
    validation)."""
    message = f"{path_of(parent)} has no {etree.QName(tag).localname}"
    return MappingFailed(
        message,
        findings=(Finding(KP_FIELD_MISSING, message, line_of(parent), path_of(parent)),),
    )


def path_of(element: etree._Element) -> str:
    """``/rsm:SPSCertificate/rsm:SPSConsignment/.../ram:IncludedSPSTradeLineItem[2]/...``: the
    sender's own prefixes, as the schema step's findings give them, and the conventional
    ``rsm``/``ram``/``udt`` where the sender wrote none (a default namespace)."""
    return paths.path_of(element, PREFIXES)


# The registry scans every participant for a member state; remember the answers for the
# registry in use (one registry at a time: a new registry replaces the memo).
_MEMO: list[tuple[ParticipantRegistry, dict[str, tuple[str, str | None]]]] = []


def _participants(registry: ParticipantRegistry) -> dict[str, tuple[str, str | None]]:
    current = _MEMO[0] if _MEMO else None
    if current is None or current[0] is not registry:
        current = (registry, {})
        _MEMO[:] = [current]
    return current[1]


def _look_up(registry: ParticipantRegistry, country: str) -> tuple[str, str | None]:
    answer = (registry.participant_of(country) or country, registry.member_state_of(country))
    memo = _participants(registry)
    if len(memo) < 1024:
        memo[country] = answer
    return answer


def first_children(
    element: etree._Element, first_tag: str, second_tag: str
) -> tuple[etree._Element | None, etree._Element | None]:
    """The first child with ``first_tag`` and the first with ``second_tag``, in one pass
    (the mapping's hot path reads two children of many elements)."""
    first = second = None
    for child in element:
        tag = child.tag
        if tag == first_tag:
            if first is None:
                first = child
        elif tag == second_tag and second is None:
            second = child
    return first, second


#: Findings reported per document, as for schema violations: a document with thousands of
#: broken statements gets the first ones quickly, not all of them after minutes (each
#: finding's path walks its siblings).
MAX_FINDINGS = 50


def index_children(
    element: etree._Element, repeated: str
) -> tuple[list[etree._Element], dict[object, etree._Element]]:
    """``element``'s ``repeated`` children in order, and its other children by tag, in one
    pass (a repeated single element counts with its last occurrence). Indexing by tag is
    one comparison per child instead of a chain of them."""
    many: list[etree._Element] = []
    by_tag: dict[object, etree._Element] = {}
    for child in element:
        tag = child.tag
        if tag == repeated:
            many.append(child)
        else:
            by_tag[tag] = child
    return many, by_tag


class DocumentReader:
    """Reads one document; collects findings instead of stopping at the first."""

    __slots__ = ("findings", "omitted", "registry")

    def __init__(self, registry: ParticipantRegistry) -> None:
        self.registry = registry
        # A plain list (not ``gateway.errors.Findings``): it is tested for emptiness several
        # times per document, and a list answers without a Python-level ``__bool__`` call.
        self.findings: list[Finding] = []
        self.omitted = 0  # findings beyond MAX_FINDINGS, counted only

    # --- findings ---------------------------------------------------------------------------
    def missing(self, what: str, where: etree._Element) -> None:
        self.add(KP_FIELD_MISSING, f"{what} is missing (KP profile, {DOCS})", where)

    def invalid(self, what: str, where: etree._Element, detail: str) -> None:
        self.add(KP_FIELD_INVALID, f"{what}: {detail}", where)

    def add(self, code: str, message: str, where: etree._Element) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            self.omitted += 1
            return
        self.findings.append(Finding(code, message, line_of(where), path_of(where)))

    def bounded(self, root: etree._Element, bounds: Mapping[str, Bound]) -> None:
        """Refuse a document in which a parent holds more copies of an element than the
        profile accepts (``adapters.bounds``), or whose XML signature holds more elements
        than any real one: TOO_MANY_ELEMENTS at the first one too many, before the mapping
        reads anything, as a schema violation would."""
        found = excesses(root, bounds)
        signature = kid(root, SIGNATURE)
        if signature is not None:  # the schema's xsd:any: whatever it holds, skipped
            inside = descendants(signature, SIGNATURE_ELEMENTS)
            found += [] if inside is None else [inside]
        for excess in found:
            self.add(TOO_MANY_ELEMENTS, excess.message(PREFIXES), excess.first_too_many)
        self.raise_if_any()

    def counted(self, elements: list[etree._Element], bound: Bound) -> None:
        """TOO_MANY_ELEMENTS when ``elements``, the copies of one element under one parent
        that the mapping gathers anyway, are more than ``bound`` accepts."""
        if len(elements) > bound.limit:
            excess = Excess(elements[bound.limit], len(elements), bound)
            self.add(TOO_MANY_ELEMENTS, excess.message(PREFIXES), excess.first_too_many)

    def raise_if_any(self) -> None:
        if self.findings:
            items = tuple(self.findings)
            first = items[0].message
            more = f" ({self.omitted} more not listed)" if self.omitted else ""
            raise MappingFailed(
                f"{len(items) + self.omitted} problem(s) in the UN/CEFACT document{more}; "
                f"first: {first}",
                findings=items,
            )

    # --- values -----------------------------------------------------------------------------
    def instant(self, holder: etree._Element, what: str) -> datetime | None:
        """A udt:DateTimeType element -> aware UTC datetime (naive times are taken as UTC)."""
        written = self.written_instant(holder, what)
        return None if written is None else utc(written)

    def written_instant(self, holder: etree._Element, what: str) -> datetime | None:
        """A udt:DateTimeType element as written: in its own UTC offset, whose calendar day
        is the document's date (09:30+02:00 on 1 March is 1 March, not 28 February in UTC);
        naive times are taken as UTC."""
        string, typed = first_children(holder, DATE_TIME_STRING, DATE_TIME)
        if typed is not None and typed.text:
            return self._iso(typed.text.strip(), typed, what)
        text = (string.text or "").strip() if string is not None else ""
        if string is None or not text:
            self.missing(what, holder)
            return None
        code = (string.get("format") or "").strip()
        digits = _DIGITS.match(text)
        if code and code not in _DIGIT_FORMATS:
            self.invalid(
                what,
                string,
                f"format code {code!r} is not one the KP profile reads: use 102, 203, 204 or "
                "205, or no format attribute with an ISO 8601 date",
            )
            return None
        if code not in _DIGIT_FORMATS:
            if digits is None or len(digits.group(1)) not in _FORMAT_BY_LENGTH:
                return self._iso(text, string, what)
            code = _FORMAT_BY_LENGTH[len(digits.group(1))]
        width, form = _DIGIT_FORMATS[code]
        if (
            digits is None
            or len(digits.group(1)) != width
            or (code == "205" and digits.group(2) is None)
        ):
            self.invalid(what, string, f"{text!r} does not match format code {code} ({form})")
            return None
        try:
            return self._zoned(_valid(_from_digits(*digits.groups())), text, string, what)
        except ValueError:
            self.invalid(
                what,
                string,
                f"{text!r} is not a date and time (format code {code}, {form.partition(':')[0]})",
            )
        except OverflowError:
            self.invalid(what, string, _OUT_OF_RANGE.format(text=text))
        return None

    def _iso(self, text: str, where: etree._Element, what: str) -> datetime | None:
        try:
            return self._zoned(_valid(_from_iso(text)), text, where, what)
        except ValueError:
            self.invalid(what, where, f"{text!r} is not an ISO 8601 date or date-time")
        except OverflowError:  # year 1 or 9999 moved past the calendar by its offset
            self.invalid(what, where, _OUT_OF_RANGE.format(text=text))
        return None

    def _zoned(
        self, moment: datetime, text: str, where: etree._Element, what: str
    ) -> datetime | None:
        """``moment``, or None with a finding when its UTC offset is no time zone's."""
        offset = moment.utcoffset()
        if offset is not None and abs(offset) > MAX_OFFSET:
            self.invalid(
                what,
                where,
                f"{text!r} has the UTC offset {moment:%z}; time zones lie between -12:00 and "
                "+14:00 (xs:dateTime allows at most 14 hours either way)",
            )
            return None
        return moment

    def day(self, text: str, where: etree._Element, what: str) -> date | None:
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.invalid(what, where, f"{text!r} is not a date (YYYY-MM-DD)")
            return None

    def number(self, text: str, where: etree._Element, what: str) -> Decimal | None:
        """A plain decimal: digits, an optional point and decimals (no exponent, no NaN)."""
        if not _DECIMAL.match(text):
            self.invalid(what, where, f"{text!r} is not a decimal number such as 1234.50")
            return None
        return Decimal(text)

    def decimal(
        self, text: str, where: etree._Element, what: str, *, places: int
    ) -> Decimal | None:
        """A plain decimal with at most ``places`` decimals (``number`` then ``exact``)."""
        if not _DECIMAL.match(text):
            self.invalid(what, where, f"{text!r} is not a decimal number such as 1234.50")
            return None
        return self.exact(Decimal(text), where, what, places=places, written=text)

    def exact(
        self,
        value: Decimal,
        where: etree._Element,
        what: str,
        *,
        places: int,
        written: str | None = None,
    ) -> Decimal | None:
        """``value`` with ``places`` decimals, or a finding; ``written``: the sender's text,
        quoted in the finding (``value`` may already be rounded by the decimal context)."""
        try:
            rounded = value.quantize(_QUANTA[places])
        except InvalidOperation:  # more digits than the decimal context holds (28)
            shown = written if written is not None else str(value)
            self.invalid(what, where, f"{shown} has more digits than any weight or amount")
            return None
        if rounded != value:
            self.invalid(what, where, f"{value} has more than {places} decimal places")
            return None
        return rounded

    def integer(self, text: str, where: etree._Element, what: str) -> int | None:
        # The usual case, what ``decimal`` would say. A longer text goes the decimal way,
        # which calls it more digits than any amount: ``int()`` refuses more than 4,300
        # digits with a ValueError that escaped as an internal error (found by fuzzing).
        if text.isascii() and text.isdigit() and len(text) <= _INTEGER_DIGITS:
            return int(text)
        if _DECIMAL.match(text) and text.partition(".")[2].strip("0"):
            # "0.5 has more than 0 decimal places" said it of a count the sender can fix
            # only by reading it twice.
            self.invalid(what, where, f"{text} is not a whole number (a count such as 3)")
            return None
        if not _DECIMAL.match(text):
            self.invalid(what, where, f"{text!r} is not a whole number (a count such as 3)")
            return None
        value = self.decimal(text, where, what, places=0)
        return None if value is None else int(value)

    # --- reference data -----------------------------------------------------------------
    def participant(self, country: str) -> tuple[str, str | None]:
        """A country -> (participant, member state). A country that belongs to no participant
        stays itself, so the KP rules name it (NON_PARTICIPANT)."""
        return _participants(self.registry).get(country) or _look_up(self.registry, country)

    def party(self, element: etree._Element | None, what: str, *, required: bool) -> Party | None:
        """ram:SPSPartyType -> Party(name, address lines joined, CountryID)."""
        if element is None:
            return None
        name_element, address_element = first_children(element, NAME, ADDRESS)
        name = text_of(name_element)
        if name is None:
            if required:
                self.missing(f"the {what}'s ram:Name", element)
            return None
        if address_element is None:
            return Party(name=name)
        # A repeated address element counts with its last occurrence.
        texts = {child.tag: child.text for child in address_element}
        parts = [value for tag in ADDRESS_LINES if (value := (texts.get(tag) or "").strip())]
        place = " ".join(
            value for tag in (POSTCODE, CITY) if (value := (texts.get(tag) or "").strip())
        )
        if place:
            parts.append(place)
        country = (texts.get(COUNTRY_ID) or "").strip() or None
        if country is not None and _COUNTRY.match(country):
            country = country.upper()  # as country_code, without finding the element first
        elif country is not None:
            where = next(child for child in address_element if child.tag == COUNTRY_ID)
            country = self.country_code(country, where, f"the {what}'s ram:CountryID")
        return Party(name=name, address=", ".join(parts) or None, country=country)

    def country_code(self, text: str, where: etree._Element, what: str) -> str | None:
        """An ISO 3166-1 alpha-2 code in either case -> upper case; anything else (a
        country's name, three letters) is a finding and None."""
        if _COUNTRY.match(text):
            return text.upper()
        self.invalid(what, where, f"{text!r} is not an ISO 3166-1 alpha-2 country code such as BE")
        return None


def _from_digits(digits: str, sign: str | None, hours: str | None, minutes: str | None) -> datetime:
    """CCYYMMDD[HHMM[SS]] and an optional offset -> datetime; ValueError for a field out of
    range (month 13, 30 February, hour 24, an offset of a day or more)."""
    year, month, day, hour, minute, second = (
        int(digits[start : start + 2 + 2 * (start == 0)] or 0) for start in (0, 4, 6, 8, 10, 12)
    )
    zone = None
    if sign is not None and hours is not None and minutes is not None:
        shift = timedelta(hours=int(hours), minutes=int(minutes))
        zone = timezone(shift if sign == "+" else -shift)
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


def _from_iso(text: str) -> datetime:
    """ISO 8601 as xs:dateTime reads it: ``T24:00:00`` is the next day's midnight."""
    end_of_day = _END_OF_DAY.match(text) if "T24" in text else None
    if end_of_day is None:
        return datetime.fromisoformat(text)
    day, zone = end_of_day.groups()
    return datetime.fromisoformat(f"{day}T00:00:00{zone or ''}") + timedelta(days=1)


def _valid(moment: datetime) -> datetime:
    """``moment`` with its offset (naive: UTC, as ``NO_OFFSET_WRITTEN``); OverflowError when
    it has no UTC instant (year 1 or 9999 moved past the calendar by its offset)."""
    utc(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=NO_OFFSET_WRITTEN)


def offset_written(moment: datetime) -> bool:
    """Whether the document gave ``moment``'s UTC offset (``Z`` counts), i.e. it is exact.
    Midnight UTC is not: it is how systems (this gateway's writer too, before) write a bare
    date, ``2026-02-28T00:00:00Z``, and a sender a day ahead of UTC would be refused for
    hours each day (a code review)."""
    if moment.tzinfo is NO_OFFSET_WRITTEN:
        return False
    return not (moment.utcoffset() == _ZERO and moment.time() == _MIDNIGHT)
