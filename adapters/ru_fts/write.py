"""Canonical payload -> FTS document (UTF-8). Used by the generator, the property tests and the
envelope. What the format cannot carry is documented in docs/formats/ru-fts.md (per-line
origin, a party country that disagrees with its participant)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from adapters.ru_fts import profile
from adapters.ru_fts.profile import DocumentKind
from gateway.events import (
    CertificateIssued,
    CertificateVoided,
    HsLine,
    ImportConfirmed,
    Party,
    Payload,
    carats,
    usd,
)
from gateway.registry import ParticipantRegistry


def render(payload: Payload, *, message_id: str, registry: ParticipantRegistry) -> bytes:
    if isinstance(payload, CertificateIssued):
        root = _certificate(payload, message_id, registry)
    elif isinstance(payload, ImportConfirmed):
        root = _confirmation(payload, message_id)
    else:
        root = _cancellation(payload, message_id, registry)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _certificate(
    cert: CertificateIssued, message_id: str, registry: ParticipantRegistry
) -> etree._Element:
    kind = profile.CERTIFICATE
    root = _start(kind, message_id, cert.certificate_number)
    _leaf(root, kind.q("IssueDate"), _day(cert.issue_date))
    _leaf(root, kind.q("ValidityDateEnd"), _day(cert.expiry_date))
    origin = profile.MIXED_MARK if cert.origin == "MIXED" else cert.origin
    _leaf(root, kind.q("ExtractingCountry"), origin)
    if cert.provenance:
        _leaf(root, kind.q("ProvenanceCountry"), cert.provenance)
    _leaf(root, kind.q("PackageNumber"), str(cert.parcels))
    exporter_country = _country(
        cert.exporter, cert.exporting_participant, cert.exporting_member_state, registry
    )
    importer_country = _country(
        cert.importer, cert.importing_participant, cert.importing_member_state, registry
    )
    _party(root, kind.q("Exporter"), cert.exporter, exporter_country)
    _party(root, kind.q("Importer"), cert.importer, importer_country)
    _lines(root, kind, cert.lines)
    issuer_country = (
        cert.exporting_member_state or cert.issuing_participant
        if cert.issuing_participant == cert.exporting_participant
        else cert.issuing_participant
    )
    _organisation(root, kind.q("CertificateOrg"), cert.authority, None, issuer_country)
    return root


def _confirmation(conf: ImportConfirmed, message_id: str) -> etree._Element:
    kind = profile.CONFIRMATION
    root = _start(kind, message_id, conf.certificate_number)
    _leaf(root, kind.q("ReceiptDate"), _day(conf.date_of_receipt))
    if conf.parcels is not None:
        _leaf(root, kind.q("PackageNumber"), str(conf.parcels))
    _party(root, kind.q("Importer"), conf.importer)
    if conf.exporter is not None:
        _party(root, kind.q("Exporter"), conf.exporter)
    _lines(root, kind, conf.lines)
    if conf.total_carats is not None:
        _leaf(root, kind.q("TotalWeight"), _decimal(carats(conf.total_carats)))
    if conf.total_value_usd is not None:
        _leaf(root, kind.q("TotalCost"), _decimal(usd(conf.total_value_usd)))
    country = conf.confirming_member_state or conf.confirming_participant
    _organisation(root, kind.q("ConfirmationOrg"), conf.authority, None, country)
    if conf.remarks:
        _leaf(root, kind.q("Note"), conf.remarks)
    return root


def _cancellation(
    void: CertificateVoided, message_id: str, registry: ParticipantRegistry
) -> etree._Element:
    kind = profile.CANCELLATION
    root = _start(kind, message_id, void.certificate_number)
    _leaf(root, kind.q("CancelDate"), _day(void.voided_on))
    _leaf(root, kind.q("CancelReason"), void.reason)
    authority = _authority_of(void.voiding_participant, registry)
    _organisation(root, kind.q("CertificateOrg"), authority, None, void.voiding_participant)
    return root


# --- parts --------------------------------------------------------------------------------


def _start(kind: DocumentKind, message_id: str, certificate_number: str) -> etree._Element:
    root = etree.Element(kind.tag, nsmap=kind.nsmap)
    root.set("DocumentModeID", kind.mode_id)
    _leaf(root, profile.DOCUMENT_ID, profile.document_id(message_id))
    number = etree.SubElement(root, kind.q("CertificateNumber"))
    country, digits = profile.split_number(certificate_number)
    _leaf(number, kind.q("CountryCode"), country)
    _leaf(number, kind.q("Number"), digits)
    return root


def _lines(root: etree._Element, kind: DocumentKind, lines: tuple[HsLine, ...]) -> None:
    for line in lines:
        info = etree.SubElement(root, kind.q("DiamondsInfo"))
        _leaf(info, kind.q("HarmonizedCode"), profile.hs_to_tnved(line.hs_code))
        _leaf(info, kind.q("TotalWeight"), _decimal(carats(line.carats)))
        _leaf(info, kind.q("TotalCost"), _decimal(usd(line.value_usd)))


def _party(root: etree._Element, tag: str, party: Party, country: str | None = None) -> None:
    """An exporter or importer; ``country``: its address CountryCode, else the party's."""
    _organisation(
        root,
        tag,
        party.name,
        party.address,
        party.country if country is None else country,
        short_name=party.short_name,
    )


#: What the FTS schema holds: cat_ru:OrganizationName (Text150Type), cat_ru:ShortName
#: (Text120Type) and RUScat_ru:StreetHouse (Text250Type), where the whole canonical address
#: is written.
MAX_NAME_CHARS = 150
MAX_SHORT_NAME_CHARS = 120
MAX_ADDRESS_CHARS = 250


class DoesNotFit(ValueError):
    """A canonical value longer than the FTS format can hold: rendering it would write a
    document the format's own schema refuses (or lose part of it)."""


def _organisation(
    root: etree._Element,
    tag: str,
    name: str | None,
    address: str | None,
    country: str | None,
    *,
    short_name: str | None = None,
) -> None:
    local = etree.QName(tag).localname
    if name is not None and len(name) > MAX_NAME_CHARS:
        raise DoesNotFit(
            f"the {local} name has {len(name)} characters; the FTS format holds at most "
            f"{MAX_NAME_CHARS} (cat_ru:OrganizationName)"
        )
    if short_name is not None and len(short_name) > MAX_SHORT_NAME_CHARS:
        raise DoesNotFit(
            f"the {local} short name has {len(short_name)} characters; the FTS format holds "
            f"at most {MAX_SHORT_NAME_CHARS} (cat_ru:ShortName)"
        )
    if address is not None and len(address) > MAX_ADDRESS_CHARS:
        raise DoesNotFit(
            f"the {local} address has {len(address)} characters; the FTS format holds at most "
            f"{MAX_ADDRESS_CHARS} in RUScat_ru:StreetHouse"
        )
    element = etree.SubElement(root, tag)
    if name:
        _leaf(element, profile.ORGANIZATION_NAME, name)
    if short_name:
        _leaf(element, profile.SHORT_NAME, short_name)
    if address is None and country is None:
        return
    legal = etree.SubElement(element, profile.LEGAL_ADDRESS)
    if country is not None:
        _leaf(legal, profile.ADDRESS_COUNTRY, country)
    if address is not None:
        _leaf(legal, profile.STREET_HOUSE, address)


def _country(
    party: Party, participant: str, member_state: str | None, registry: ParticipantRegistry
) -> str:
    """The address CountryCode of a certificate's exporter or importer. It names the
    participant, so the participant and member state win over a disagreeing party country."""
    if member_state:
        return member_state
    if party.country and registry.participant_of(party.country) == participant:
        return party.country
    return participant


def _authority_of(participant: str, registry: ParticipantRegistry) -> str:
    known = registry.get(participant)
    if known is None:
        return participant
    return known.authorities[0] if known.authorities else known.name


def _leaf(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def _day(day: date) -> str:
    return day.isoformat()


def _decimal(value: Decimal) -> str:
    return f"{value:f}"
