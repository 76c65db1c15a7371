"""rsm:SPSCertificate (KP profile) -> CertificateIssued (StatusCode 70) or CertificateVoided
(StatusCode 40). The document has passed the profile schema, so the structure is known; this
module maps values and reports what the schema cannot judge (notes, units, codes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lxml import etree

from adapters.contract import Adapted
from adapters.uncefact.common import hs_from_class_code, origin_of_lines
from adapters.uncefact.profile import (
    CARATS_PER_UNIT,
    DOCUMENT_NOTES,
    LINE_NOTES,
    MIXED,
    NAME,
    NOT_STATED,
    NOTE_CANCELLATION_REASON,
    NOTE_EXPIRY,
    NOTE_LINE_VALUE,
    NOTE_ORIGIN,
    NOTE_PROVENANCE,
    NOTE_TOTAL_CARATS,
    NOTE_TOTAL_VALUE,
    STATUS_CANCELLED,
    STATUS_ISSUED,
    UNIT_CARAT,
    UNSUPPORTED_STATUS,
    UNSUPPORTED_UNIT,
    VERSION,
    ram,
    rsm_certificate,
)
from adapters.uncefact.reader import ADDRESS, COUNTRY_ID, DocumentReader, Kids, kid, kid_text
from adapters.uncefact.reader import NAME as RAM_NAME
from gateway.events import CertificateIssued, CertificateVoided, HsLine, Payload

EXCHANGED_DOCUMENT = rsm_certificate("SPSExchangedDocument")
CONSIGNMENT = rsm_certificate("SPSConsignment")
ID = ram("ID")
STATUS_CODE = ram("StatusCode")
ISSUE_DATE_TIME = ram("IssueDateTime")
ISSUER = ram("IssuerSPSParty")
INCLUDED_NOTE = ram("IncludedSPSNote")
SIGNATORY = ram("SignatorySPSAuthentication")
ACTUAL_DATE_TIME = ram("ActualDateTime")
CONSIGNOR = ram("ConsignorSPSParty")
CONSIGNEE = ram("ConsigneeSPSParty")
EXPORT_COUNTRY = ram("ExportSPSCountry")
IMPORT_COUNTRY = ram("ImportSPSCountry")
CONSIGNMENT_ITEM = ram("IncludedSPSConsignmentItem")
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

Notes = dict[str, tuple[str, etree._Element]]


@dataclass(frozen=True, slots=True)
class _Line:
    hs_code: str
    carats: Decimal
    value_usd: Decimal
    origin: str | None


def read_notes(reader: DocumentReader, notes: list[etree._Element], known: frozenset[str]) -> Notes:
    """KP notes by SubjectCode. Notes without a ``KP-`` subject code are free text and ignored.
    A KP note with empty content is reported here and kept with content "" so that callers
    do not report it missing a second time."""
    found: Notes = {}
    for note in notes:
        subject = kid(note, SUBJECT_CODE)
        code = (subject.text or "").strip() if subject is not None else ""
        if subject is None or not code.startswith("KP-"):
            continue
        content = kid_text(note, CONTENT)
        if code not in known:
            reader.invalid(
                f"note subject code {code}", subject, f"not used here; expected {sorted(known)}"
            )
        elif code in found:
            reader.invalid(f"note {code}", subject, "given twice; give it once")
        else:
            if content is None:
                reader.missing(f"the content of note {code}", note)
            found[code] = (content or "", note)
    return found


def read_certificate(root: etree._Element, reader: DocumentReader) -> Adapted:
    top = Kids(root)
    document = Kids(top.need(EXCHANGED_DOCUMENT))
    consignment = Kids(top.need(CONSIGNMENT))
    number = document.text(ID) or ""
    status = document.text(STATUS_CODE) or ""
    issued_at = reader.instant(document.need(ISSUE_DATE_TIME), "the issue date (ram:IssueDateTime)")
    notes = read_notes(reader, document.all(INCLUDED_NOTE), DOCUMENT_NOTES)
    issuer = document.need(ISSUER)
    authority = kid_text(issuer, RAM_NAME)
    issuer_country = kid_text(kid(issuer, ADDRESS), COUNTRY_ID)
    payload: Payload | None = None
    occurred_at = issued_at
    if status == STATUS_ISSUED:
        payload = _issued(
            reader,
            number=number,
            document=document,
            consignment=consignment,
            notes=notes,
            issued_at=issued_at,
            authority=authority,
            issuer_country=issuer_country,
        )
    elif status == STATUS_CANCELLED:
        occurred_at = _cancelled_at(reader, document) or issued_at
        voiding = issuer_country or _country(consignment, EXPORT_COUNTRY)
        reason = notes.get(NOTE_CANCELLATION_REASON, ("", None))[0]
        if occurred_at is not None:
            payload = CertificateVoided(
                certificate_number=number,
                voiding_participant=reader.participant(voiding)[0],
                voided_on=occurred_at.date(),
                reason=reason or NOT_STATED,
            )
    else:
        reader.add(
            UNSUPPORTED_STATUS,
            f"StatusCode {status!r} is not used by the KP profile: {STATUS_ISSUED} (issued) or "
            f"{STATUS_CANCELLED} (withdrawn, i.e. cancelled)",
            document.need(STATUS_CODE),
        )
    reader.raise_if_any()
    if payload is None or occurred_at is None:  # every None comes with a finding
        raise AssertionError("unreachable: mapping failed without a finding")
    return Adapted(
        format=NAME,
        adapter_version=VERSION,
        payload=payload,
        message_id=f"{number}:{status}",
        occurred_at=occurred_at,
        authority=authority,
    )


def _country(consignment: Kids, tag: str) -> str:
    return kid_text(consignment.first(tag), ID) or ""


def _issued(
    reader: DocumentReader,
    *,
    number: str,
    document: Kids,
    consignment: Kids,
    notes: Notes,
    issued_at: datetime | None,
    authority: str | None,
    issuer_country: str | None,
) -> CertificateIssued | None:
    exporting, exporting_ms = reader.participant(_country(consignment, EXPORT_COUNTRY))
    importing, importing_ms = reader.participant(_country(consignment, IMPORT_COUNTRY))
    issuing = reader.participant(issuer_country)[0] if issuer_country else exporting
    exporter = reader.party(consignment.first(CONSIGNOR), "exporter", required=True)
    importer = reader.party(consignment.first(CONSIGNEE), "importer", required=True)
    if authority is None:
        reader.missing("the issuing authority (ram:IssuerSPSParty/ram:Name)", document.need(ISSUER))
    expiry = None
    if NOTE_EXPIRY in notes:
        text, note = notes[NOTE_EXPIRY]
        expiry = reader.day(text, note, f"the expiry date (note {NOTE_EXPIRY})") if text else None
    else:
        reader.missing(
            f"the expiry date (an ram:IncludedSPSNote with ram:SubjectCode {NOTE_EXPIRY})",
            document.element,
        )
    lines, parcels = _lines(reader, consignment)
    origin = _origin(reader, notes, lines, consignment.element)
    provenance = notes.get(NOTE_PROVENANCE, ("", None))[0] or None
    total_carats = _total(reader, notes, NOTE_TOTAL_CARATS, 3, [line.carats for line in lines])
    total_value = _total(reader, notes, NOTE_TOTAL_VALUE, 2, [line.value_usd for line in lines])
    if (
        reader.findings
        or exporter is None
        or importer is None
        or authority is None
        or issued_at is None
        or expiry is None
        or parcels is None
        or origin is None
        or total_carats is None
        or total_value is None
    ):
        return None
    return CertificateIssued(
        certificate_number=number,
        issuing_participant=issuing,
        exporting_participant=exporting,
        exporting_member_state=exporting_ms,
        importing_participant=importing,
        importing_member_state=importing_ms,
        exporter=exporter,
        importer=importer,
        origin=origin,
        provenance=provenance,
        issue_date=issued_at.date(),
        expiry_date=expiry,
        parcels=parcels,
        lines=tuple(
            HsLine(line.hs_code, line.carats, line.value_usd, _line_origin(line.origin, origin))
            for line in lines
        ),
        total_carats=total_carats,
        total_value_usd=total_value,
        authority=authority,
    )


def _line_origin(line_origin: str | None, origin: str) -> str | None:
    """A line keeps its own origin only where it differs from the certificate's."""
    return None if line_origin == origin else line_origin


def _origin(
    reader: DocumentReader, notes: Notes, lines: list[_Line], consignment: etree._Element
) -> str | None:
    if NOTE_ORIGIN in notes:
        text, note = notes[NOTE_ORIGIN]
        if not text:
            return None
        if text == MIXED or (len(text) == 2 and text.isalpha() and text.isupper()):
            return text
        reader.invalid(f"note {NOTE_ORIGIN}", note, f"{text!r} is neither a country code nor MIXED")
        return None
    origin = origin_of_lines(line.origin for line in lines)
    if origin is None and lines:
        reader.missing(
            "the country of origin (ram:OriginSPSCountry on the trade lines, or an "
            f"ram:IncludedSPSNote {NOTE_ORIGIN})",
            consignment,
        )
    return origin


def _total(
    reader: DocumentReader, notes: Notes, code: str, places: int, values: list[Decimal]
) -> Decimal | None:
    if code in notes:
        text, note = notes[code]
        return reader.decimal(text, note, f"note {code}", places=places) if text else None
    return sum(values, Decimal(0)).quantize(Decimal(1).scaleb(-places))


def _lines(reader: DocumentReader, consignment: Kids) -> tuple[list[_Line], int | None]:
    lines: list[_Line] = []
    parcels: int | None = None
    for item in consignment.all(CONSIGNMENT_ITEM):
        for element in item.iterchildren(TRADE_LINE):
            kids = Kids(element)
            line = _line(reader, kids)
            if line is not None:
                lines.append(line)
            package = kids.first(PACKAGE)
            quantity = None if package is None else kid(package, ITEM_QUANTITY)
            if quantity is not None:
                count = reader.integer(
                    (quantity.text or "").strip(),
                    quantity,
                    "the number of parcels (ram:ItemQuantity)",
                )
                if count is not None:
                    parcels = (parcels or 0) + count
    if parcels is None:
        reader.missing(
            "the number of parcels (ram:PhysicalSPSPackage/ram:ItemQuantity on a trade line)",
            consignment.element,
        )
    return lines, parcels


def _line(reader: DocumentReader, kids: Kids) -> _Line | None:
    classification = kids.first(CLASSIFICATION)
    class_code = None if classification is None else kid(classification, CLASS_CODE)
    hs_code = None
    if class_code is None:
        reader.missing("the HS code (ram:ApplicableSPSClassification)", kids.element)
    else:
        code = (class_code.text or "").strip()
        hs_code = hs_from_class_code(code)
        if hs_code is None:
            reader.invalid("the HS code (ram:ClassCode)", class_code, f"{code!r} is not an HS code")
    carats = _carats(reader, kids)
    value = None
    notes = read_notes(reader, kids.all(LINE_NOTE), LINE_NOTES)
    if NOTE_LINE_VALUE in notes:
        text, note = notes[NOTE_LINE_VALUE]
        what = f"the value in US dollars ({NOTE_LINE_VALUE})"
        value = reader.decimal(text, note, what, places=2) if text else None
    else:
        reader.missing(
            "the value in US dollars (an ram:AdditionalInformationSPSNote with "
            f"ram:SubjectCode {NOTE_LINE_VALUE})",
            kids.element,
        )
    origin = kid_text(kids.first(ORIGIN_COUNTRY), ID)
    if hs_code is None or carats is None or value is None:
        return None
    return _Line(hs_code, carats, value, origin)


def _carats(reader: DocumentReader, kids: Kids) -> Decimal | None:
    weight = kids.first(NET_WEIGHT)
    if weight is None:
        reader.missing(f"the weight (ram:NetWeightMeasure, unitCode {UNIT_CARAT})", kids.element)
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
    return reader.exact(
        Decimal((weight.text or "").strip()) * factor,  # xsd:decimal after validation
        weight,
        f"the weight in carats ({unit} converted)" if unit != UNIT_CARAT else "the weight",
        places=3,
    )


def _cancelled_at(reader: DocumentReader, document: Kids) -> datetime | None:
    """A cancellation is dated by its signature (the authority's act) when it has one: the
    document may repeat the certificate's original IssueDateTime."""
    signatory = kid(document.element, SIGNATORY)
    holder = None if signatory is None else kid(signatory, ACTUAL_DATE_TIME)
    if holder is None:
        return None
    return reader.instant(holder, "the cancellation date (ram:ActualDateTime)")
