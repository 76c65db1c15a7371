"""rsm:SPSCertificate (KP profile) -> CertificateIssued (StatusCode 70) or CertificateVoided
(StatusCode 40). The document has passed the profile schema, so the structure is known; this
module maps values and reports what the schema cannot judge (notes, units, codes)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from lxml import etree

from adapters.contract import Adapted
from adapters.uncefact.common import canonical_number, origin_of_lines
from adapters.uncefact.profile import (
    CERTIFICATE_BOUNDS,
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
    SIGNATURE,
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
from adapters.uncefact.trade import (
    CLASSIFICATION,
    ORIGIN_COUNTRY,
    Line,
    Notes,
    read_lines,
    read_notes,
    trade_lines,
)
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
EXAMINATION = ram("ExaminationSPSEvent")
OCCURRENCE_LOCATION = ram("OccurrenceSPSLocation")
ISSUE_LOCATION = ram("IssueSPSLocation")

_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(4)}


class _Document:
    """The children of rsm:SPSExchangedDocument the mapping reads, found in one pass (a
    repeated single element counts with its last occurrence, SignatorySPSAuthentication
    with its first)."""

    __slots__ = ("element", "id", "issue_date_time", "issuer", "notes", "signatories", "status")

    def __init__(self, element: etree._Element) -> None:
        self.element = element
        self.notes: list[etree._Element] = []
        self.signatories: list[etree._Element] = []  # for the bounds; a cancellation's date
        found: dict[object, etree._Element] = {}
        for child in element:
            tag = child.tag
            if tag == INCLUDED_NOTE:
                self.notes.append(child)
            elif tag == SIGNATORY:
                self.signatories.append(child)
            else:
                found[tag] = child
        self.id = found.get(ID)
        self.status = found.get(STATUS_CODE)
        self.issue_date_time = found.get(ISSUE_DATE_TIME)
        self.issuer = found.get(ISSUER)

    @property
    def signatory(self) -> etree._Element | None:
        return self.signatories[0] if self.signatories else None

    def need(self, found: etree._Element | None, tag: str) -> etree._Element:
        if found is None:
            raise need_error(self.element, tag)
        return found


class _Consignment:
    """The children of rsm:SPSConsignment the mapping reads, found in one pass, and its trade
    lines (``trade_lines``)."""

    __slots__ = (
        "consignee",
        "consignor",
        "element",
        "examination",
        "export",
        "import_",
        "items",
        "line_elements",
        "lines",
    )

    def __init__(self, element: etree._Element) -> None:
        self.element = element
        self.items, found = index_children(element, CONSIGNMENT_ITEM)
        self.consignor = found.get(CONSIGNOR)
        self.consignee = found.get(CONSIGNEE)
        self.export = found.get(EXPORT_COUNTRY)
        self.import_ = found.get(IMPORT_COUNTRY)
        self.examination = found.get(EXAMINATION)
        self.line_elements, self.lines = trade_lines(self.items)


def read_certificate(root: etree._Element, reader: DocumentReader) -> Adapted:
    """The mapped certificate; TOO_MANY_ELEMENTS (``CERTIFICATE_BOUNDS``), alone, before
    anything is mapped."""
    exchanged = consignment_element = None
    signed = False
    for child in root:
        tag = child.tag
        if tag == EXCHANGED_DOCUMENT:
            exchanged = child
        elif tag == CONSIGNMENT:
            consignment_element = child
        elif tag == SIGNATURE:
            signed = True
    if exchanged is None:
        raise need_error(root, EXCHANGED_DOCUMENT)
    document = _Document(exchanged)
    if consignment_element is None:
        raise need_error(root, CONSIGNMENT)
    consignment = _Consignment(consignment_element)
    if signed or _may_exceed_bounds(document, consignment):
        reader.bounded(root, CERTIFICATE_BOUNDS)  # the findings, exactly, or nothing
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


#: Where a valid certificate may repeat an element of ``CERTIFICATE_BOUNDS`` (the profile
#: schema's maxOccurs="unbounded"), as (parent, element): the only places
#: ``_may_exceed_bounds`` looks. test_repeat_bounds derives the same set from the schema.
REPEATING_PARENTS: Final = frozenset(
    {
        (EXCHANGED_DOCUMENT, SIGNATORY),
        (INCLUDED_NOTE, ram("Content")),
        (ram("AdditionalInformationSPSNote"), ram("Content")),
        (ISSUE_LOCATION, RAM_NAME),
        (OCCURRENCE_LOCATION, RAM_NAME),
        (EXPORT_COUNTRY, RAM_NAME),
        (IMPORT_COUNTRY, RAM_NAME),
        (ORIGIN_COUNTRY, RAM_NAME),
        (ram("IncludedSPSTradeLineItem"), ram("Description")),
        (CLASSIFICATION, ram("ClassName")),
    }
)
_SIGNATORIES = CERTIFICATE_BOUNDS[SIGNATORY].limit
_CONTENTS = CERTIFICATE_BOUNDS[ram("Content")].limit
_NAMES = CERTIFICATE_BOUNDS[RAM_NAME].limit
_DESCRIPTIONS = CERTIFICATE_BOUNDS[ram("Description")].limit
_CLASS_NAMES = CERTIFICATE_BOUNDS[ram("ClassName")].limit


def _may_exceed_bounds(document: _Document, consignment: _Consignment) -> bool:
    """False when no parent of ``REPEATING_PARENTS`` can hold more copies than its bound:
    none has more children (``len``, counted by libxml2) than the bound, on the elements the
    mapping gathers anyway. A valid unsigned certificate repeats those elements nowhere
    else, so a real one costs a few ``len`` calls, not a walk of its tree (9 us); when
    this says True, ``adapters.bounds`` looks for the copies. Over ``MAX_LINES`` lines, the
    lines past it are not indexed: True."""
    if len(document.signatories) > _SIGNATORIES:
        return True
    for signatory in document.signatories:
        for child in signatory:  # its ram:IssueSPSLocation, without looking for it
            if len(child) > _NAMES:
                return True
    for note in document.notes:
        if len(note) > _CONTENTS:
            return True
    for country in (consignment.export, consignment.import_):
        if country is not None and len(country) > _NAMES:
            return True
    for child in () if consignment.examination is None else consignment.examination:
        if len(child) > _NAMES:  # its ram:OccurrenceSPSLocation (its only child)
            return True
    if len(consignment.line_elements) > len(consignment.lines):
        return True
    for line, notes, found in consignment.lines:
        if len(line) - len(notes) > _DESCRIPTIONS:
            return True
        for note in notes:
            if len(note) > _CONTENTS:
                return True
        classification = found.get(CLASSIFICATION)
        if classification is not None and len(classification) > _CLASS_NAMES:
            return True
        origin = found.get(ORIGIN_COUNTRY)
        if origin is not None and len(origin) > _NAMES:
            return True
    return False


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
    lines, parcels = read_lines(
        reader, consignment.line_elements, consignment.lines, consignment.element
    )
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
