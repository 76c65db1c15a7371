"""Canonical payload -> KP-profile UN/CEFACT XML, elements in the official schemas' sequence
order, so every document is valid under both the profile and the official D17A schemas."""

from __future__ import annotations

from datetime import date

from lxml import etree

from adapters.uncefact.common import (
    carats_text,
    class_code_of,
    origin_of_lines,
    usd_text,
    writable_country,
)
from adapters.uncefact.profile import (
    HS_DESCRIPTIONS,
    HS_SYSTEM,
    KP_DOCUMENT_NAME,
    KP_TYPE_CODE,
    NOTE_CANCELLATION_REASON,
    NOTE_EXPIRY,
    NOTE_LINE_VALUE,
    NOTE_ORIGIN,
    NOTE_PROVENANCE,
    NOTE_TOTAL_CARATS,
    NOTE_TOTAL_VALUE,
    PACKAGE_LEVEL,
    PACKAGE_TYPE,
    RAM,
    RSM_CERTIFICATE,
    STATUS_CANCELLED,
    STATUS_ISSUED,
    UDT,
    UNIT_CARAT,
    ram,
    rsm_certificate,
    udt,
)
from gateway.events import CertificateIssued, CertificateVoided, HsLine, Party
from gateway.registry import ParticipantRegistry

NSMAP = {"rsm": RSM_CERTIFICATE, "ram": RAM, "udt": UDT}


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def calendar_day(parent: etree._Element, tag: str, day: date) -> None:
    """A date as an ISO 8601 date: the canonical events carry days, and a time of day
    written with ``Z`` would claim an instant the gateway holds to its clock."""
    sub(sub(parent, tag), udt("DateTimeString"), day.isoformat())


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _note(parent: etree._Element, tag: str, code: str, content: str) -> None:
    note = sub(parent, tag)
    sub(note, ram("Content"), content)
    sub(note, ram("SubjectCode"), code)


def _party(parent: etree._Element, tag: str, party: Party | None) -> None:
    """A party (an empty element for None: D17A requires consignor and consignee)."""
    element = sub(parent, tag)
    if party is None:
        return
    sub(element, ram("Name"), party.name)
    if party.address is not None or party.country is not None:
        address = sub(element, ram("SpecifiedSPSAddress"))
        if party.address is not None:
            sub(address, ram("LineOne"), party.address)
        if party.country is not None:
            sub(address, ram("CountryID"), party.country)


def _country(parent: etree._Element, tag: str, code: str) -> None:
    sub(sub(parent, tag), ram("ID"), code)


def _header(code: str, status: str, issued: date) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(rsm_certificate("SPSCertificate"), nsmap=NSMAP)
    document = sub(root, rsm_certificate("SPSExchangedDocument"))
    sub(document, ram("Name"), KP_DOCUMENT_NAME)
    sub(document, ram("ID"), code)
    sub(document, ram("TypeCode"), KP_TYPE_CODE)
    sub(document, ram("StatusCode"), status)
    calendar_day(document, ram("IssueDateTime"), issued)
    return root, document


def _issuer(document: etree._Element, authority: str | None, country: str) -> None:
    issuer = sub(document, ram("IssuerSPSParty"))
    if authority is not None:
        sub(issuer, ram("Name"), authority)
    sub(sub(issuer, ram("SpecifiedSPSAddress")), ram("CountryID"), country)


def _signatory(document: etree._Element, when: date, place: str) -> None:
    signatory = sub(document, ram("SignatorySPSAuthentication"))
    calendar_day(signatory, ram("ActualDateTime"), when)
    sub(sub(signatory, ram("IssueSPSLocation")), ram("Name"), place)


def _examination(consignment: etree._Element, place: str) -> None:
    event = sub(consignment, ram("ExaminationSPSEvent"))
    sub(sub(event, ram("OccurrenceSPSLocation")), ram("Name"), place)


def render_certificate(cert: CertificateIssued) -> bytes:
    issued = cert.issue_date
    root, document = _header(cert.certificate_number, STATUS_ISSUED, issued)
    exporting_country = cert.exporting_member_state or cert.exporting_participant
    issuing_country = (
        exporting_country
        if cert.issuing_participant == cert.exporting_participant
        else cert.issuing_participant
    )
    _issuer(document, cert.authority, issuing_country)
    line_origins = _line_origins(cert)
    _note(document, ram("IncludedSPSNote"), NOTE_EXPIRY, cert.expiry_date.isoformat())
    if origin_of_lines(line_origins) != cert.origin:
        _note(document, ram("IncludedSPSNote"), NOTE_ORIGIN, cert.origin)
    if cert.provenance is not None:
        _note(document, ram("IncludedSPSNote"), NOTE_PROVENANCE, cert.provenance)
    _note(document, ram("IncludedSPSNote"), NOTE_TOTAL_CARATS, carats_text(cert.total_carats))
    _note(document, ram("IncludedSPSNote"), NOTE_TOTAL_VALUE, usd_text(cert.total_value_usd))
    _signatory(document, issued, cert.authority)

    consignment = sub(root, rsm_certificate("SPSConsignment"))
    _party(consignment, ram("ConsignorSPSParty"), cert.exporter)
    _party(consignment, ram("ConsigneeSPSParty"), cert.importer)
    _country(consignment, ram("ExportSPSCountry"), exporting_country)
    _country(
        consignment,
        ram("ImportSPSCountry"),
        cert.importing_member_state or cert.importing_participant,
    )
    _examination(consignment, cert.authority)
    item = sub(consignment, ram("IncludedSPSConsignmentItem"))
    for number, (line, origin) in enumerate(zip(cert.lines, line_origins, strict=True), start=1):
        _trade_line(item, number, line, origin, cert.parcels if number == 1 else None)
    return serialise(root)


def _line_origins(cert: CertificateIssued) -> list[str | None]:
    """What each trade line's OriginSPSCountry says: its own origin, else the certificate's
    (never MIXED or the EU: those are not ISO countries)."""
    origins: list[str | None] = []
    for line in cert.lines:
        origin = line.origin or cert.origin
        origins.append(origin if writable_country(origin) else None)
    return origins


def _trade_line(
    item: etree._Element, number: int, line: HsLine, origin: str | None, parcels: int | None
) -> None:
    element = sub(item, ram("IncludedSPSTradeLineItem"))
    sub(element, ram("SequenceNumeric"), str(number))
    description = HS_DESCRIPTIONS.get(line.hs_code, "Goods")
    sub(element, ram("Description"), f"{description} (HS {line.hs_code})")
    weight = sub(element, ram("NetWeightMeasure"), carats_text(line.carats))
    weight.set("unitCode", UNIT_CARAT)
    _note(element, ram("AdditionalInformationSPSNote"), NOTE_LINE_VALUE, usd_text(line.value_usd))
    classification = sub(element, ram("ApplicableSPSClassification"))
    sub(classification, ram("SystemName"), HS_SYSTEM)
    sub(classification, ram("ClassCode"), class_code_of(line.hs_code))
    if parcels is not None:
        package = sub(element, ram("PhysicalSPSPackage"))
        sub(package, ram("LevelCode"), PACKAGE_LEVEL)
        sub(package, ram("TypeCode"), PACKAGE_TYPE)
        sub(package, ram("ItemQuantity"), str(parcels))
    if origin is not None:
        _country(element, ram("OriginSPSCountry"), origin)


def render_void(void: CertificateVoided, registry: ParticipantRegistry) -> bytes:
    """A cancellation. The canonical void keeps only number, participant, date and reason;
    the official schema also wants parties, countries and a trade line, so those are
    written as neutral placeholders that the reader ignores for StatusCode 40."""
    when = void.voided_on
    participant = registry.get(void.voiding_participant)
    authority = participant.authorities[0] if participant and participant.authorities else None
    place = authority or (participant.name if participant else void.voiding_participant)
    root, document = _header(void.certificate_number, STATUS_CANCELLED, when)
    _issuer(document, authority, void.voiding_participant)
    _note(document, ram("IncludedSPSNote"), NOTE_CANCELLATION_REASON, void.reason)
    _signatory(document, when, place)
    consignment = sub(root, rsm_certificate("SPSConsignment"))
    _party(consignment, ram("ConsignorSPSParty"), None)
    _party(consignment, ram("ConsigneeSPSParty"), None)
    country = _placeholder_country(void.voiding_participant, registry)
    _country(consignment, ram("ExportSPSCountry"), country)
    _country(consignment, ram("ImportSPSCountry"), country)
    _examination(consignment, place)
    line = sub(sub(consignment, ram("IncludedSPSConsignmentItem")), ram("IncludedSPSTradeLineItem"))
    sub(line, ram("SequenceNumeric"), "1")
    sub(
        line,
        ram("Description"),
        f"Cancellation of Kimberley Process certificate {void.certificate_number}",
    )
    return serialise(root)


def _placeholder_country(participant: str, registry: ParticipantRegistry) -> str:
    """An ISO country for a participant: itself, or its first member state (the EU)."""
    if writable_country(participant):
        return participant
    found = registry.get(participant)
    if found is not None and found.member_states:
        return found.member_states[0]
    return participant
