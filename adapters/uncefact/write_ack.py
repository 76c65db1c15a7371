"""ImportConfirmed -> KP-profile rsm:SPSAcknowledgement (StatusCode 73), the confirmation's
content as ``KP-<KEY>: <value>`` statements in ReasonInformation."""

from __future__ import annotations

from lxml import etree

from adapters.uncefact.common import carats_text, class_code_of, usd_text
from adapters.uncefact.profile import (
    KP_TYPE_CODE,
    RAM,
    RSM_ACKNOWLEDGEMENT,
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
    SAY_TOTAL_CARATS,
    SAY_TOTAL_VALUE,
    STATUS_CONFIRMED,
    UDT,
    UNIT_CARAT,
    ram,
    rsm_acknowledgement,
)
from adapters.uncefact.write import calendar_day, serialise, sub
from gateway.events import HsLine, ImportConfirmed, Party

NSMAP = {"rsm": RSM_ACKNOWLEDGEMENT, "ram": RAM, "udt": UDT}


def _party_statements(
    party: Party | None, name_key: str, address_key: str, country_key: str
) -> list[tuple[str, str]]:
    if party is None:
        return []
    said = [(name_key, party.name)]
    if party.address is not None:
        said.append((address_key, party.address))
    if party.country is not None:
        said.append((country_key, party.country))
    return said


def line_statement(line: HsLine) -> str:
    text = f"{class_code_of(line.hs_code)} {carats_text(line.carats)} {UNIT_CARAT} "
    text += f"{usd_text(line.value_usd)} USD"
    return f"{text} {line.origin}" if line.origin else text


def statements(conf: ImportConfirmed) -> list[tuple[str, str]]:
    said = [(SAY_COUNTRY, conf.confirming_member_state or conf.confirming_participant)]
    if conf.authority is not None:
        said.append((SAY_AUTHORITY, conf.authority))
    said += _party_statements(
        conf.importer, SAY_IMPORTER_NAME, SAY_IMPORTER_ADDRESS, SAY_IMPORTER_COUNTRY
    )
    said += _party_statements(
        conf.exporter, SAY_EXPORTER_NAME, SAY_EXPORTER_ADDRESS, SAY_EXPORTER_COUNTRY
    )
    if conf.parcels is not None:
        said.append((SAY_PARCELS, str(conf.parcels)))
    said += [(SAY_LINE, line_statement(line)) for line in conf.lines]
    if conf.total_carats is not None:
        said.append((SAY_TOTAL_CARATS, carats_text(conf.total_carats)))
    if conf.total_value_usd is not None:
        said.append((SAY_TOTAL_VALUE, usd_text(conf.total_value_usd)))
    return said


def render_acknowledgement(conf: ImportConfirmed) -> bytes:
    root = etree.Element(rsm_acknowledgement("SPSAcknowledgement"), nsmap=NSMAP)
    document = sub(root, rsm_acknowledgement("SPSAcknowledgementDocument"))
    calendar_day(document, ram("IssueDateTime"), conf.date_of_receipt)
    sub(document, ram("StatusCode"), STATUS_CONFIRMED)
    for key, value in statements(conf):
        sub(document, ram("ReasonInformation"), f"{key}: {value}")
    if conf.remarks:
        sub(document, ram("ReasonInformation"), conf.remarks)
    reference = sub(document, ram("ReferenceSPSReferencedDocument"))
    sub(reference, ram("TypeCode"), KP_TYPE_CODE)
    sub(reference, ram("ID"), conf.certificate_number)
    return serialise(root)
