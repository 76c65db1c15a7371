"""Hypothesis strategies for canonical payloads with realistic values (DOMAIN.md section 7)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from gateway.events import CertificateIssued, CertificateVoided, HsLine, ImportConfirmed, Party

# Enabled pairs of the example registry: (exporter, importer, exporter member state,
# importer member state).
PAIRS = [
    ("RU", "EU", None, "BE"),
    ("RU", "AE", None, None),
    ("RU", "IN", None, None),
    ("BW", "EU", None, "BE"),
    ("BW", "AE", None, None),
    ("ZA", "EU", None, "BE"),
    ("AE", "IN", None, None),
    ("IN", "AE", None, None),
    ("EU", "IN", "BE", None),
    ("CA", "EU", None, "BE"),
    ("NA", "EU", None, "DE"),
    ("EU", "US", "BE", None),
]
AUTHORITIES = {
    "RU": "Gokhran of Russia, Ministry of Finance of the Russian Federation",
    "EU": "FPS Economy, Antwerp Diamond Office (BE)",
    "BW": "Ministry of Minerals and Energy, Diamond Hub",
    "ZA": "South African Diamond and Precious Metals Regulator",
    "AE": "Dubai Multi Commodities Centre (DMCC) Kimberley Process Office",
    "IN": "Gem and Jewellery Export Promotion Council",
    "CA": "Natural Resources Canada",
    "NA": "Ministry of Mines and Energy, Diamond Commission",
}
COMPANIES = {
    "RU": ["ALROSA PJSC", "Gokhran of Russia"],
    "EU": ["Antwerp Rough Trading BV", "Diamond Land NV", "Kaufmann Diamanten GmbH"],
    "BW": ["Okavango Diamond Company (Pty) Ltd", "De Beers Global Sightholder Sales"],
    "ZA": ["Petra Diamonds SA (Pty) Ltd"],
    "AE": ["Dubai Rough DMCC", "Emirates Diamond Trading FZE"],
    "IN": ["Surat Rough Imports Pvt Ltd", "Mumbai Gems Pvt Ltd"],
    "CA": ["Arctic Canadian Diamond Company Ltd"],
    "NA": ["Namdeb Diamond Corporation (Pty) Ltd"],
    "US": ["New York Rough LLC"],
}
CITIES = {
    "RU": ("RU", "Moscow, ul. Smolenskaya 3"),
    "EU": ("BE", "Hoveniersstraat 22, 2018 Antwerpen"),
    "BW": ("BW", "Plot 63, Gaborone"),
    "ZA": ("ZA", "1 Diamond Rd, Kimberley"),
    "AE": ("AE", "Almas Tower, JLT, Dubai"),
    "IN": ("IN", "Bharat Diamond Bourse, Mumbai"),
    "CA": ("CA", "Yellowknife, NT"),
    "NA": ("NA", "Windhoek"),
    "US": ("US", "580 Fifth Avenue, New York"),
}
HS_CODES = ["7102.31", "7102.21", "7102.10"]


def _party(participant: str, member_state: str | None) -> st.SearchStrategy[Party]:
    country, address = CITIES[participant]
    return st.sampled_from(COMPANIES[participant]).map(
        lambda name: Party(name=name, address=address, country=member_state or country)
    )


@st.composite
def hs_lines(draw: st.DrawFn, origin: str | None = None) -> tuple[HsLine, ...]:
    codes = draw(st.lists(st.sampled_from(HS_CODES), min_size=1, max_size=3, unique=True))
    lines = []
    for code in codes:
        carats = Decimal(draw(st.integers(min_value=500, max_value=500_000_000))) / 1000
        per_carat = Decimal(draw(st.integers(min_value=500, max_value=60_000))) / 100
        value = (carats * per_carat).quantize(Decimal("0.01"))
        if value <= 0:
            value = Decimal("0.01")
        lines.append(HsLine(code, carats.quantize(Decimal("0.001")), value, origin))
    return tuple(lines)


@st.composite
def certificates(draw: st.DrawFn) -> CertificateIssued:
    exporter, importer, ex_ms, im_ms = draw(st.sampled_from(PAIRS))
    number = exporter + str(draw(st.integers(min_value=100_000, max_value=999_999_999)))
    mixed = exporter in {"EU", "AE", "IN"} and draw(st.booleans())
    hub = exporter in {"EU", "AE", "IN", "US"}
    origin = "MIXED" if mixed else draw(st.sampled_from(["BW", "RU", "ZA"])) if hub else exporter
    lines = draw(hs_lines())
    issue = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
    return CertificateIssued(
        certificate_number=number,
        issuing_participant=exporter,
        exporting_participant=exporter,
        exporting_member_state=ex_ms,
        importing_participant=importer,
        importing_member_state=im_ms,
        exporter=draw(_party(exporter, ex_ms)),
        importer=draw(_party(importer, im_ms)),
        origin=origin,
        provenance=(ex_ms or exporter) if mixed else None,
        issue_date=issue,
        expiry_date=issue + timedelta(days=60),
        parcels=draw(st.integers(min_value=1, max_value=20)),
        lines=lines,
        total_carats=sum((line.carats for line in lines), Decimal(0)),
        total_value_usd=sum((line.value_usd for line in lines), Decimal(0)),
        authority=AUTHORITIES.get(exporter, "Customs"),
    )


@st.composite
def confirmations(draw: st.DrawFn) -> ImportConfirmed:
    cert = draw(certificates())
    with_lines = draw(st.booleans())
    return ImportConfirmed(
        certificate_number=cert.certificate_number,
        confirming_participant=cert.importing_participant,
        confirming_member_state=cert.importing_member_state,
        date_of_receipt=cert.issue_date + timedelta(days=draw(st.integers(0, 59))),
        parcels=cert.parcels,
        lines=cert.lines if with_lines else (),
        total_carats=cert.total_carats,
        total_value_usd=cert.total_value_usd,
        importer=cert.importer,
        exporter=cert.exporter,
        remarks=draw(st.sampled_from([None, "Seals intact", "Received in good order"])),
        authority=AUTHORITIES.get(cert.importing_participant, "Customs"),
    )


@st.composite
def voids(draw: st.DrawFn) -> CertificateVoided:
    cert = draw(certificates())
    return CertificateVoided(
        certificate_number=cert.certificate_number,
        voiding_participant=cert.issuing_participant,
        voided_on=cert.issue_date + timedelta(days=draw(st.integers(0, 30))),
        reason=draw(st.sampled_from(["Shipment cancelled by exporter", "Issued in error"])),
    )
