"""rsm:SPSAcknowledgement (KP profile) -> ImportConfirmed.

The official acknowledgement has no parties, goods or quantities: only a date, a status,
free-text ReasonInformation and the referenced certificate. The KP profile carries the
confirmation's content as one ``KP-<KEY>: <value>`` statement per ReasonInformation; any
other ReasonInformation is a remark."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from lxml import etree

from adapters.contract import Adapted
from adapters.uncefact.common import (
    DISGUISED_PREFIX,
    canonical_number,
    disguised_kp_prefix,
    hs_from_class_code,
)
from adapters.uncefact.profile import (
    ACKNOWLEDGEMENT_BOUNDS,
    CARATS_PER_UNIT,
    KP_TYPE_CODE,
    MAX_LINES,
    MIXED,
    NAME,
    REPEATABLE_STATEMENTS,
    SAY_AUTHORITY,
    SAY_COUNTRY,
    SAY_EXPORTER_ADDRESS,
    SAY_EXPORTER_COUNTRY,
    SAY_EXPORTER_NAME,
    SAY_IMPORTER_ADDRESS,
    SAY_IMPORTER_COUNTRY,
    SAY_IMPORTER_NAME,
    SAY_LINE,
    SAY_PARCELS,
    SAY_RECEIVED_ON,
    SAY_TOTAL_CARATS,
    SAY_TOTAL_VALUE,
    STATEMENTS,
    STATUS_CONFIRMED,
    TOO_MANY_LINES,
    UNSUPPORTED_STATUS,
    UNSUPPORTED_UNIT,
    VERSION,
    ram,
    rsm_acknowledgement,
)
from adapters.uncefact.reader import (
    DocumentReader,
    kid_text,
    need_error,
    offset_written,
    text_of,
)
from gateway.events import HsLine, ImportConfirmed, Party, utc

ACK_DOCUMENT = rsm_acknowledgement("SPSAcknowledgementDocument")
ISSUE_DATE_TIME = ram("IssueDateTime")
STATUS_CODE = ram("StatusCode")
REASON = ram("ReasonInformation")
REFERENCE = ram("ReferenceSPSReferencedDocument")
TYPE_CODE = ram("TypeCode")
ID = ram("ID")

_KEY = re.compile(r"KP-[A-Z0-9-]+")
_LINE_FORM = "'<HS code> <weight> <CTM|GRM> <value> USD [<origin>]'"


# Every known statement key is a well-formed key, so a known key needs no pattern match.
if not all(_KEY.fullmatch(key) for key in STATEMENTS):  # pragma: no cover - profile constants
    raise AssertionError("a KP statement key does not match the statement key pattern")


class _Said:
    """What the ReasonInformation elements said."""

    __slots__ = ("lines", "remarks", "values")

    def __init__(self) -> None:
        self.values: dict[str, tuple[str, etree._Element]] = {}
        self.lines: list[tuple[str, etree._Element]] = []
        self.remarks: list[str] = []


def kp_references(references: list[etree._Element]) -> list[etree._Element]:
    """The referenced documents that are KP certificates (TypeCode 2, or no TypeCode)."""
    return [
        reference
        for reference in references
        if (kid_text(reference, TYPE_CODE) or KP_TYPE_CODE) == KP_TYPE_CODE
    ]


def read_acknowledgement(root: etree._Element, reader: DocumentReader) -> Adapted:
    document = None
    for child in root:  # a repeated element counts with its last occurrence
        if child.tag == ACK_DOCUMENT:
            document = child
    if document is None:
        raise need_error(root, ACK_DOCUMENT)
    status_element = issued = None
    reasons: list[etree._Element] = []
    all_references: list[etree._Element] = []
    for child in document:
        tag = child.tag
        if tag == REASON:
            reasons.append(child)
        elif tag == REFERENCE:
            all_references.append(child)
        elif tag == STATUS_CODE:
            status_element = child
        elif tag == ISSUE_DATE_TIME:
            issued = child
    # Bounded before anything is mapped, from the lists gathered here anyway.
    reader.counted(reasons, ACKNOWLEDGEMENT_BOUNDS[REASON])
    reader.counted(all_references, ACKNOWLEDGEMENT_BOUNDS[REFERENCE])
    reader.raise_if_any()
    status = text_of(status_element) or ""
    if issued is None:
        raise need_error(document, ISSUE_DATE_TIME)
    confirmed_written = reader.written_instant(issued, "the confirmation date (ram:IssueDateTime)")
    confirmed_at = None if confirmed_written is None else utc(confirmed_written)
    if status != STATUS_CONFIRMED:
        if status_element is None:
            raise need_error(document, STATUS_CODE)
        reader.add(
            UNSUPPORTED_STATUS,
            f"StatusCode {status!r} is not used by the KP profile's acknowledgement: "
            f"{STATUS_CONFIRMED} (confirmed: the importing authority received the shipment)",
            status_element,
        )
    references = kp_references(all_references)
    referenced = kid_text(references[0], ID) if references else None  # stripped, or None
    number = canonical_number(referenced) if referenced else None
    if len(references) > 1:
        reader.invalid(
            "ram:ReferenceSPSReferencedDocument",
            references[1],
            f"a confirmation refers to one KP certificate; this one refers to {len(references)}",
        )
    said = _statements(reasons, reader)
    payload = _confirmation(reader, document, said, number or "", confirmed_written)
    reader.raise_if_any()
    if payload is None or confirmed_at is None:  # every None comes with a finding
        raise AssertionError("unreachable: mapping failed without a finding")
    return Adapted(
        format=NAME,
        adapter_version=VERSION,
        payload=payload,
        message_id=f"{number}:{status}:{_stamp(confirmed_at)}",
        occurred_at=confirmed_at,
        authority=payload.authority,
        occurred_at_exact=confirmed_written is not None and offset_written(confirmed_written),
    )


def _stamp(moment: datetime) -> str:
    """``f"{moment:%Y%m%dT%H%M%SZ}"`` without strftime (which does not pad years < 1000)."""
    if moment.year < 1000:
        return f"{moment:%Y%m%dT%H%M%SZ}"
    return "%d%02d%02dT%02d%02d%02dZ" % (  # noqa: UP031 - faster than an f-string here
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


def _statements(reasons: list[etree._Element], reader: DocumentReader) -> _Said:
    said = _Said()
    values = said.values
    for element in reasons:
        text = (element.text or "").strip()
        head = text.split(None, 1)[0] if text else ""
        if head[:3].upper() != "KP-":  # free text: a remark
            if disguised_kp_prefix(text, STATEMENTS):
                shown = text if len(text) <= 80 else text[:77] + "..."
                reader.invalid(f"statement {shown!r}", element, DISGUISED_PREFIX)
            elif text:
                said.remarks.append(text)
            continue
        # Anything that starts like a statement must be one: a typo must not turn the
        # confirming authority's parcels or weights into a remark (docs/formats).
        key, colon, value = text.partition(":")
        key = key.rstrip().upper()  # a statement key in the wrong case is still a statement
        if not colon or key not in STATEMENTS:
            shown = text if len(text) <= 80 else text[:77] + "..."
            detail = (
                f"{shown!r} is not a KP profile statement: write 'KP-<KEY>: <value>' with a "
                f"key of {sorted(STATEMENTS)}"
                if not colon or not _KEY.fullmatch(key)
                else f"not a KP profile statement; known: {sorted(STATEMENTS)}"
            )
            reader.invalid(f"statement {key if colon else head.upper()}", element, detail)
            continue
        value = value.strip()
        if key in REPEATABLE_STATEMENTS:
            said.lines.append((value, element))
        elif key in values:
            reader.invalid(f"statement {key}", element, "given twice; give it once")
        elif not value:
            reader.missing(f"the value of statement {key}", element)
        else:
            values[key] = (value, element)
    return said


def _confirmation(
    reader: DocumentReader,
    document: etree._Element,
    said: _Said,
    number: str,
    confirmed_written: datetime | None,
) -> ImportConfirmed | None:
    values = said.values
    importer = _party(reader, said, SAY_IMPORTER_NAME, SAY_IMPORTER_ADDRESS, SAY_IMPORTER_COUNTRY)
    exporter = _party(reader, said, SAY_EXPORTER_NAME, SAY_EXPORTER_ADDRESS, SAY_EXPORTER_COUNTRY)
    if SAY_IMPORTER_NAME not in values:
        reader.missing(f"the importer's name (statement {SAY_IMPORTER_NAME})", document)
    if SAY_EXPORTER_NAME not in values and any(k.startswith("KP-EXPORTER-") for k in values):
        reader.missing(f"the exporter's name (statement {SAY_EXPORTER_NAME})", document)
    country = None
    if SAY_COUNTRY in values:
        text, element = values[SAY_COUNTRY]
        country = reader.country_code(text, element, f"statement {SAY_COUNTRY}")
    elif importer is not None:
        country = importer.country
    if country is None and not {SAY_COUNTRY, SAY_IMPORTER_COUNTRY} & values.keys():
        # else a country was given but was not a code: a finding already
        reader.missing(f"the confirming country (statement {SAY_COUNTRY})", document)
    received_on = confirmed_written.date() if confirmed_written else None
    if SAY_RECEIVED_ON in values:
        text, element = values[SAY_RECEIVED_ON]
        received_on = reader.day(text, element, f"statement {SAY_RECEIVED_ON}")
        issued_on = confirmed_written.date() if confirmed_written else None
        if received_on is not None and issued_on is not None and received_on > issued_on:
            # The importing authority cannot confirm a receipt before it happened.
            reader.invalid(
                f"statement {SAY_RECEIVED_ON}",
                element,
                f"the shipment was received on {received_on}, after this acknowledgement "
                f"was issued ({issued_on}, ram:IssueDateTime)",
            )
    parcels = None
    if SAY_PARCELS in values:
        text, element = values[SAY_PARCELS]
        parcels = reader.integer(text, element, f"statement {SAY_PARCELS}")
    if len(said.lines) > MAX_LINES:
        reader.add(
            TOO_MANY_LINES,
            f"{len(said.lines):,} {SAY_LINE} statements where at most {MAX_LINES} are "
            "accepted: a confirmation gives one line per HS code, and rough diamonds have "
            "three (7102.10, 7102.21, 7102.31)",
            said.lines[MAX_LINES][1],
        )
        del said.lines[MAX_LINES:]  # only the first ones are read
    lines = [line for text, element in said.lines if (line := _line(reader, text, element))]
    total_carats = _amount(reader, said, SAY_TOTAL_CARATS, 3)
    total_value = _amount(reader, said, SAY_TOTAL_VALUE, 2)
    if reader.findings or importer is None or country is None or received_on is None:
        return None
    participant, member_state = reader.participant(country)
    return ImportConfirmed(
        certificate_number=number,
        confirming_participant=participant,
        confirming_member_state=member_state,
        date_of_receipt=received_on,
        importer=importer,
        parcels=parcels,
        lines=tuple(lines),
        total_carats=total_carats,
        total_value_usd=total_value,
        exporter=exporter,
        remarks="\n".join(said.remarks) or None,
        authority=values[SAY_AUTHORITY][0] if SAY_AUTHORITY in values else None,
    )


def _party(
    reader: DocumentReader, said: _Said, name_key: str, address_key: str, country_key: str
) -> Party | None:
    values = said.values
    if name_key not in values:
        return None
    country = None
    if country_key in values:
        text, element = values[country_key]
        country = reader.country_code(text, element, f"statement {country_key}")
    return Party(
        name=values[name_key][0],
        address=values[address_key][0] if address_key in values else None,
        country=country,
    )


def _amount(reader: DocumentReader, said: _Said, key: str, places: int) -> Decimal | None:
    if key not in said.values:
        return None
    text, element = said.values[key]
    return reader.decimal(text, element, f"statement {key}", places=places)


def _line(reader: DocumentReader, text: str, element: etree._Element) -> HsLine | None:
    parts = text.split()
    if len(parts) not in (5, 6) or parts[4] != "USD":
        reader.invalid(f"statement {SAY_LINE}", element, f"{text!r} is not {_LINE_FORM}")
        return None
    hs_code = hs_from_class_code(parts[0])
    if hs_code is None:
        reader.invalid(f"statement {SAY_LINE}", element, f"{parts[0]!r} is not an HS code")
    factor = CARATS_PER_UNIT.get(parts[2])
    if factor is None:
        reader.add(
            UNSUPPORTED_UNIT,
            f"weight unit {parts[2]!r} in {SAY_LINE} is not accepted; use "
            f"{', '.join(CARATS_PER_UNIT)}",
            element,
        )
    weight = reader.number(parts[1], element, f"the weight in {SAY_LINE}")
    carats = None
    if weight is not None and factor is not None:
        carats = reader.exact(weight * factor, element, f"the weight in {SAY_LINE}", places=3)
    value = reader.decimal(parts[3], element, f"the value in {SAY_LINE}", places=2)
    origin = parts[5].upper() if len(parts) == 6 else None
    if origin is not None and not (
        origin == MIXED or (len(origin) == 2 and origin.isascii() and origin.isalpha())
    ):
        reader.invalid(
            f"the origin in {SAY_LINE}",
            element,
            f"{parts[5]!r} is neither a country code nor MIXED",
        )
        return None
    if hs_code is None or carats is None or value is None:
        return None
    return HsLine(hs_code, carats, value, origin)
