"""rsm:SPSCertificate (KP profile) -> CertificateIssued (StatusCode 70) or CertificateVoided
(StatusCode 40). The document has passed the profile schema, so the structure is known; this
module maps values and reports what the schema cannot judge (notes, units, codes)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from adapters.contract import Adapted
from adapters.uncefact.common import canonical_number, origin_of_lines
from adapters.uncefact.profile import (
    DOCUMENT_NOTES,
    MAX_DOCUMENT_NOTES,
    MIXED,
    NAME,
    NOT_STATED,
    NOTE_CANCELLATION_REASON,
    NOTE_EXPIRY,
    NOTE_ORIGIN,
    NOTE_PROVENANCE,
    NOTE_TOTAL_CARATS,
    NOTE_TOTAL_VALUE,
    STATUS_CANCELLED,
    STATUS_ISSUED,
    UNSUPPORTED_STATUS,
    VERSION,
    ram,
    rsm_certificate,
)
from adapters.uncefact.reader import (
    ADDRESS,
    COUNTRY_ID,
    DocumentReader,
    index_children,
    kid,
    kid_text,
    need_error,
    offset_written,
    text_of,
)
from adapters.uncefact.reader import NAME as RAM_NAME
from adapters.uncefact.trade import Line, Notes, read_lines, read_notes
from gateway.events import CertificateIssued, CertificateVoided, HsLine, Payload, utc

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

_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(4)}


class _Document:
    """The children of rsm:SPSExchangedDocument the mapping reads, found in one pass (a
    repeated single element counts with its last occurrence, SignatorySPSAuthentication
    with its first)."""

    __slots__ = ("element", "id", "issue_date_time", "issuer", "notes", "status")

    def __init__(self, element: etree._Element) -> None:
        self.element = element
        self.notes, found = index_children(element, INCLUDED_NOTE)
        self.id = found.get(ID)
        self.status = found.get(STATUS_CODE)
        self.issue_date_time = found.get(ISSUE_DATE_TIME)
        self.issuer = found.get(ISSUER)

    @property
    def signatory(self) -> etree._Element | None:
        """Read only for cancellations, so looked up only then."""
        return kid(self.element, SIGNATORY)

    def need(self, found: etree._Element | None, tag: str) -> etree._Element:
        if found is None:
            raise need_error(self.element, tag)
        return found


class _Consignment:
    """The children of rsm:SPSConsignment the mapping reads, found in one pass."""

    __slots__ = ("consignee", "consignor", "element", "export", "import_", "items")

    def __init__(self, element: etree._Element) -> None:
        self.element = element
        self.items, found = index_children(element, CONSIGNMENT_ITEM)
        self.consignor = found.get(CONSIGNOR)
        self.consignee = found.get(CONSIGNEE)
        self.export = found.get(EXPORT_COUNTRY)
        self.import_ = found.get(IMPORT_COUNTRY)


def read_certificate(root: etree._Element, reader: DocumentReader) -> Adapted:
    exchanged = consignment_element = None
    for child in root:
        tag = child.tag
        if tag == EXCHANGED_DOCUMENT:
            exchanged = child
        elif tag == CONSIGNMENT:
            consignment_element = child
    if exchanged is None:
        raise need_error(root, EXCHANGED_DOCUMENT)
    document = _Document(exchanged)
    if consignment_element is None:
        raise need_error(root, CONSIGNMENT)
    consignment = _Consignment(consignment_element)
    number = canonical_number(text_of(document.id) or "")
    status = text_of(document.status) or ""
    # Dates are the document's calendar days in its own offset; instants are UTC.
    issued_written = reader.written_instant(
        document.need(document.issue_date_time, ISSUE_DATE_TIME),
        "the issue date (ram:IssueDateTime)",
    )
    issued_at = None if issued_written is None else utc(issued_written)
    notes = (
        read_notes(reader, document.notes, DOCUMENT_NOTES, MAX_DOCUMENT_NOTES)
        if document.notes
        else {}
    )
    issuer = document.need(document.issuer, ISSUER)
    authority = kid_text(issuer, RAM_NAME)
    issuer_country = kid_text(kid(issuer, ADDRESS), COUNTRY_ID)
    payload: Payload | None = None
    occurred_at, exact = issued_at, issued_written is not None and offset_written(issued_written)
    if status == STATUS_ISSUED:
        payload = _issued(
            reader,
            number=number,
            document=document,
            consignment=consignment,
            notes=notes,
            issued_written=issued_written,
            authority=authority,
            issuer_country=issuer_country,
        )
    elif status == STATUS_CANCELLED:
        cancelled_written = _cancelled_at(reader, document) or issued_written
        occurred_at = None if cancelled_written is None else utc(cancelled_written)
        exact = cancelled_written is not None and offset_written(cancelled_written)
        voiding = issuer_country or _country(consignment.export)
        reason = notes.get(NOTE_CANCELLATION_REASON, ("", None))[0]
        if cancelled_written is not None:
            payload = CertificateVoided(
                certificate_number=number,
                voiding_participant=reader.participant(voiding)[0],
                voided_on=cancelled_written.date(),
                reason=reason or NOT_STATED,
            )
    else:
        reader.add(
            UNSUPPORTED_STATUS,
            f"StatusCode {status!r} is not used by the KP profile: {STATUS_ISSUED} (issued) or "
            f"{STATUS_CANCELLED} (withdrawn, i.e. cancelled)",
            document.need(document.status, STATUS_CODE),
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
        occurred_at_exact=exact,
    )


def _country(country: etree._Element | None) -> str:
    return kid_text(country, ID) or ""


def _issued(
    reader: DocumentReader,
    *,
    number: str,
    document: _Document,
    consignment: _Consignment,
    notes: Notes,
    issued_written: datetime | None,
    authority: str | None,
    issuer_country: str | None,
) -> CertificateIssued | None:
    exporting, exporting_ms = reader.participant(_country(consignment.export))
    importing, importing_ms = reader.participant(_country(consignment.import_))
    issuing = reader.participant(issuer_country)[0] if issuer_country else exporting
    exporter = reader.party(consignment.consignor, "exporter", required=True)
    importer = reader.party(consignment.consignee, "importer", required=True)
    if authority is None:
        reader.missing(
            "the issuing authority (ram:IssuerSPSParty/ram:Name)",
            document.need(document.issuer, ISSUER),
        )
    expiry = None
    if NOTE_EXPIRY in notes:
        text, note = notes[NOTE_EXPIRY]
        expiry = reader.day(text, note, f"the expiry date (note {NOTE_EXPIRY})") if text else None
    else:
        reader.missing(
            f"the expiry date (an ram:IncludedSPSNote with ram:SubjectCode {NOTE_EXPIRY})",
            document.element,
        )
    lines, parcels = read_lines(reader, consignment.items, consignment.element)
    origin = _origin(reader, notes, lines, consignment.element)
    provenance = _provenance(reader, notes)
    total_carats = _total(reader, notes, NOTE_TOTAL_CARATS, 3, (line[1] for line in lines))
    total_value = _total(reader, notes, NOTE_TOTAL_VALUE, 2, (line[2] for line in lines))
    if (
        reader.findings
        or exporter is None
        or importer is None
        or authority is None
        or issued_written is None
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
        issue_date=issued_written.date(),
        expiry_date=expiry,
        parcels=parcels,
        lines=tuple(
            HsLine(hs_code, carats, value, None if line_origin == origin else line_origin)
            for hs_code, carats, value, line_origin in lines
        ),
        total_carats=total_carats,
        total_value_usd=total_value,
        authority=authority,
    )


def _origin(
    reader: DocumentReader, notes: Notes, lines: list[Line], consignment: etree._Element
) -> str | None:
    if NOTE_ORIGIN in notes:
        text, note = notes[NOTE_ORIGIN]
        if not text:
            return None
        if text.upper() == MIXED or (len(text) == 2 and text.isascii() and text.isalpha()):
            return text.upper()
        reader.invalid(f"note {NOTE_ORIGIN}", note, f"{text!r} is neither a country code nor MIXED")
        return None
    origin = origin_of_lines(line[3] for line in lines)
    if origin is None and lines:
        reader.missing(
            "the country of origin (ram:OriginSPSCountry on the trade lines, or an "
            f"ram:IncludedSPSNote {NOTE_ORIGIN})",
            consignment,
        )
    return origin


def _provenance(reader: DocumentReader, notes: Notes) -> str | None:
    """The last exporting country: an ISO 3166-1 alpha-2 code, like the origin."""
    text, note = notes.get(NOTE_PROVENANCE, ("", None))
    if not text or note is None:
        return None
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    reader.invalid(f"note {NOTE_PROVENANCE}", note, f"{text!r} is not a country code such as BE")
    return None


def _total(
    reader: DocumentReader, notes: Notes, code: str, places: int, values: Iterable[Decimal]
) -> Decimal | None:
    """The note ``code``, else the sum of ``values`` (iterated only then)."""
    if code in notes:
        text, note = notes[code]
        return reader.decimal(text, note, _NOTE_WHAT[code], places=places) if text else None
    total = sum(values, Decimal(0))
    try:
        return total.quantize(_QUANTA[places])
    except InvalidOperation:  # lines too large to add up within the decimal context
        return total  # unquantized: the KP rules refuse it (VALUE_OUT_OF_RANGE)


_NOTE_WHAT = {code: f"note {code}" for code in DOCUMENT_NOTES}


def _cancelled_at(reader: DocumentReader, document: _Document) -> datetime | None:
    """A cancellation is dated by its signature (the authority's act) when it has one: the
    document may repeat the certificate's original IssueDateTime."""
    signatory = document.signatory
    holder = None if signatory is None else kid(signatory, ACTUAL_DATE_TIME)
    if holder is None:
        return None
    return reader.written_instant(holder, "the cancellation date (ram:ActualDateTime)")
