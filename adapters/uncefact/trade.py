"""The trade lines of an rsm:SPSCertificate (KP profile) and the KP notes both the document
and its lines carry: one mapped line per ram:IncludedSPSTradeLineItem, every problem a finding
(see ``read`` for the document around them)."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from adapters.uncefact.common import DISGUISED_PREFIX, disguised_kp_prefix, hs_from_class_code
from adapters.uncefact.profile import (
    CARATS_PER_UNIT,
    LINE_NOTES,
    MAX_LINE_NOTES,
    MAX_LINES,
    MAX_NOTE_CHARS,
    NOTE_CODES,
    NOTE_LINE_VALUE,
    NOTE_TOO_LONG,
    TOO_MANY_LINES,
    TOO_MANY_NOTES,
    UNIT_CARAT,
    UNSUPPORTED_UNIT,
    ram,
)
from adapters.uncefact.reader import (
    DocumentReader,
    index_children,
    kid,
    kid_text,
    path_of,
)

ID = ram("ID")
TRADE_LINE = ram("IncludedSPSTradeLineItem")
NET_WEIGHT = ram("NetWeightMeasure")
LINE_NOTE = ram("AdditionalInformationSPSNote")
CLASSIFICATION = ram("ApplicableSPSClassification")
CLASS_CODE = ram("ClassCode")
PACKAGE = ram("PhysicalSPSPackage")
ITEM_QUANTITY = ram("ItemQuantity")
ORIGIN_COUNTRY = ram("OriginSPSCountry")
SUBJECT_CODE = ram("SubjectCode")
CONTENT = ram("Content")

_LINE_VALUE_WHAT = f"the value in US dollars ({NOTE_LINE_VALUE})"

Notes = dict[str, tuple[str, etree._Element]]
#: One mapped trade line: (HS code, carats, value in USD, origin or None).
Line = tuple[str, Decimal, Decimal, str | None]


def read_notes(
    reader: DocumentReader, notes: list[etree._Element], known: frozenset[str], most: int
) -> Notes:
    """KP notes by SubjectCode. Notes without a ``KP-`` subject code are free text and ignored,
    within bounds: at most ``most`` notes, each of at most ``MAX_NOTE_CHARS`` characters
    (``TOO_MANY_NOTES``, ``NOTE_TOO_LONG``). A KP note with empty content is reported here
    and kept with content "" so that callers do not report it missing a second time; one
    with its value in several ram:Content elements is refused (only one would be read)."""
    found: Notes = {}
    if len(notes) > most:
        reader.add(
            TOO_MANY_NOTES,
            f"{len(notes):,} notes ({_name(notes[0])}) where at most {most} are accepted: "
            f"the KP profile's own notes are at most {len(known)} and free-text notes are not "
            "carried to the importing participant; give remarks in one note",
            notes[most],
        )
    for note in notes:
        subject = content_element = None
        contents = chars = 0
        for child in note:
            tag = child.tag
            if tag == CONTENT:
                contents += 1
                chars += len(child.text or "")
                if content_element is None:
                    content_element = child
            elif tag == SUBJECT_CODE and subject is None:
                subject = child
        if chars > MAX_NOTE_CHARS:
            reader.add(
                NOTE_TOO_LONG,
                f"a note ({_name(note)}) of {chars:,} characters where at most "
                f"{MAX_NOTE_CHARS:,} are accepted (free-text notes are not carried to the "
                "importing participant; shorten it)",
                note,
            )
        code = (subject.text or "").strip() if subject is not None else ""
        if subject is None or code[:3].upper() != "KP-":
            if subject is not None and disguised_kp_prefix(code, NOTE_CODES, "code"):
                reader.invalid(f"note subject code {code!r}", subject, DISGUISED_PREFIX)
            continue
        code = code.upper()  # a KP code in the wrong case is still that code, not free text
        content = None if content_element is None else (content_element.text or "").strip() or None
        if code not in known:
            reader.invalid(
                f"note subject code {code}", subject, f"not used here; expected {sorted(known)}"
            )
        elif code in found:
            reader.invalid(f"note {code}", subject, "given twice; give it once")
        else:
            if content is None:
                reader.missing(f"the content of note {code}", note)
            elif contents > 1:
                reader.invalid(
                    f"note {code}",
                    note,
                    f"its value is given in {contents} ram:Content elements; give it in one",
                )
            found[code] = (content or "", note)
    return found


def _name(element: etree._Element) -> str:
    """``ram:IncludedSPSNote``: the element's name as findings write it."""
    return path_of(element).rsplit("/", 1)[-1].split("[", 1)[0]


#: A trade line, its line notes and its other children by tag (``index_children``).
TradeLine = tuple[etree._Element, list[etree._Element], dict[object, etree._Element]]


def trade_lines(items: list[etree._Element]) -> tuple[list[etree._Element], list[TradeLine]]:
    """Every trade line of the consignment's items, and the first ``MAX_LINES`` of them
    indexed (only those are read): gathered once, for the bounds and then the mapping."""
    elements = [element for item in items for element in item if element.tag == TRADE_LINE]
    return elements, [
        (element, *index_children(element, LINE_NOTE)) for element in elements[:MAX_LINES]
    ]


def read_lines(
    reader: DocumentReader,
    elements: list[etree._Element],
    indexed: list[TradeLine],
    consignment: etree._Element,
) -> tuple[list[Line], int | None]:
    """The mapped lines (``trade_lines``), and the parcels they add up to. Over
    ``MAX_LINES`` trade lines is TOO_MANY_LINES, and only the first ones are read."""
    lines: list[Line] = []
    parcels: int | None = None
    counted = False  # an ItemQuantity was there, even one already reported as invalid
    if len(elements) > MAX_LINES:
        reader.add(
            TOO_MANY_LINES,
            f"{len(elements):,} trade lines ({_name(elements[0])}) where at most {MAX_LINES} "
            "are accepted: a KP certificate has one line per HS code, and rough diamonds have "
            "three (7102.10, 7102.21, 7102.31)",
            elements[MAX_LINES],
        )
    for element, notes, found in indexed:
        package = found.get(PACKAGE)
        line = _line(
            reader,
            element,
            weight=found.get(NET_WEIGHT),
            notes=notes,
            classification=found.get(CLASSIFICATION),
            origin=found.get(ORIGIN_COUNTRY),
        )
        if line is not None:
            lines.append(line)
        quantity = None if package is None else kid(package, ITEM_QUANTITY)
        if quantity is not None:
            counted = True
            count = reader.integer(
                (quantity.text or "").strip(),
                quantity,
                "the number of parcels (ram:ItemQuantity)",
            )
            if count is not None and count < 0:
                reader.invalid(
                    "the number of parcels (ram:ItemQuantity)",
                    quantity,
                    f"{count} parcels: a count cannot be negative",
                )
            elif count is not None:
                parcels = (parcels or 0) + count
    if not counted:
        reader.missing(
            "the number of parcels (ram:PhysicalSPSPackage/ram:ItemQuantity on a trade line)",
            consignment,
        )
    return lines, parcels


def _line(
    reader: DocumentReader,
    element: etree._Element,
    *,
    weight: etree._Element | None,
    notes: list[etree._Element],
    classification: etree._Element | None,
    origin: etree._Element | None,
) -> Line | None:
    class_code = None if classification is None else kid(classification, CLASS_CODE)
    hs_code = None
    if class_code is None:
        reader.missing("the HS code (ram:ApplicableSPSClassification)", element)
    else:
        code = (class_code.text or "").strip()
        hs_code = hs_from_class_code(code)
        if hs_code is None:
            reader.invalid("the HS code (ram:ClassCode)", class_code, f"{code!r} is not an HS code")
    carats = _carats(reader, element, weight)
    value = None
    found = read_notes(reader, notes, LINE_NOTES, MAX_LINE_NOTES) if notes else {}
    if NOTE_LINE_VALUE in found:
        text, note = found[NOTE_LINE_VALUE]
        value = reader.decimal(text, note, _LINE_VALUE_WHAT, places=2) if text else None
    else:
        reader.missing(
            "the value in US dollars (an ram:AdditionalInformationSPSNote with "
            f"ram:SubjectCode {NOTE_LINE_VALUE})",
            element,
        )
    if hs_code is None or carats is None or value is None:
        return None
    return (hs_code, carats, value, kid_text(origin, ID))


def _carats(
    reader: DocumentReader, element: etree._Element, weight: etree._Element | None
) -> Decimal | None:
    if weight is None:
        reader.missing(f"the weight (ram:NetWeightMeasure, unitCode {UNIT_CARAT})", element)
        return None
    unit = (weight.get("unitCode") or "").strip()
    factor = CARATS_PER_UNIT.get(unit)
    if factor is None:
        known = ", ".join(CARATS_PER_UNIT)
        reader.add(
            UNSUPPORTED_UNIT,
            f"weight unit {unit!r} is not accepted; use {known} (UN/ECE Rec 20: CTM metric "
            "carat, GRM gram, converted at 1 g = 5 ct)",
            weight,
        )
        return None
    written = (weight.text or "").strip()
    return reader.exact(
        Decimal(written) * factor,  # xsd:decimal after validation
        weight,
        f"the weight in carats ({unit} converted)" if unit != UNIT_CARAT else "the weight",
        places=3,
        written=written,
    )
