"""The KP profile of UN/CEFACT D17A: namespaces, element names, codes and conventions.

Every decision of the profile is a constant here and is explained in
``docs/formats/uncefact-kp.md``; the reader and the writer share them, so a document the
writer produces is always one the reader maps back to the same canonical payload.
"""

from __future__ import annotations

from typing import Final

from adapters.bounds import TOO_MANY_ELEMENTS, Bound

NAME: Final = "uncefact"
VERSION: Final = "1.0"

# --- namespaces ----------------------------------------------------------------------------
RSM_CERTIFICATE: Final = "urn:un:unece:uncefact:data:standard:SPSCertificate:17"
RSM_ACKNOWLEDGEMENT: Final = "urn:un:unece:uncefact:data:standard:SPSAcknowledgement:17"
RAM: Final = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"
UDT: Final = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:21"
QDT: Final = "urn:un:unece:uncefact:data:Standard:QualifiedDataType:21"  # capital S (sic)

#: The conventional prefixes, used when writing and to make findings readable.
PREFIXES: Final = {
    RSM_CERTIFICATE: "rsm",
    RSM_ACKNOWLEDGEMENT: "rsm",
    RAM: "ram",
    UDT: "udt",
    QDT: "qdt",
}

CERTIFICATE_ROOT: Final = "SPSCertificate"
ACKNOWLEDGEMENT_ROOT: Final = "SPSAcknowledgement"


def rsm_certificate(local: str) -> str:
    return f"{{{RSM_CERTIFICATE}}}{local}"


def rsm_acknowledgement(local: str) -> str:
    return f"{{{RSM_ACKNOWLEDGEMENT}}}{local}"


def ram(local: str) -> str:
    return f"{{{RAM}}}{local}"


def udt(local: str) -> str:
    return f"{{{UDT}}}{local}"


# --- codes ---------------------------------------------------------------------------------
#: UNTDID 1001 "Certificate of conformity": the KPCS core document defines a KP certificate as
#: a document identifying a shipment of rough diamonds "as being in compliance with the
#: requirements of the Certification Scheme".
KP_TYPE_CODE: Final = "2"
KP_DOCUMENT_NAME: Final = "Kimberley Process Certificate"
#: Other UNTDID 1001 codes met on SPS documents, named in NOT_KP_DOCUMENT findings.
OTHER_TYPE_CODES: Final = {
    "851": "phytosanitary certificate",
    "657": "phytosanitary re-export certificate",
    "852": "sanitary certificate",
    "853": "veterinary certificate",
    "861": "certificate of origin",
    "811": "export licence",
    "626": "CITES certificate",
}

#: UNTDID 4405 status codes.
STATUS_ISSUED: Final = "70"  # Issued
STATUS_CANCELLED: Final = "40"  # Withdrawn
STATUS_CONFIRMED: Final = "73"  # Confirmed (officially acknowledged)

#: Weight units (UN/ECE Recommendation 20) and their factor to metric carats.
UNIT_CARAT: Final = "CTM"
UNIT_GRAM: Final = "GRM"
CARATS_PER_UNIT: Final = {UNIT_CARAT: 1, UNIT_GRAM: 5}

HS_SYSTEM: Final = "HS"  # INTERCOM ePhyto tag acronym "Customs Harmonized System"
PACKAGE_LEVEL: Final = "4"  # UNTDID 7075: no packaging hierarchy (the sealed KP parcel)
PACKAGE_TYPE: Final = "PC"  # UN/ECE Rec 21: parcel

MIXED: Final = "MIXED"

#: Descriptions written on trade lines (the reader ignores Description).
HS_DESCRIPTIONS: Final = {
    "7102.10": "Rough diamonds, unsorted",
    "7102.21": "Rough diamonds, industrial, unworked or simply sawn, cleaved or bruted",
    "7102.31": "Rough diamonds, non-industrial, unworked or simply sawn, cleaved or bruted",
}

# --- notes: SubjectCode of IncludedSPSNote (document) and AdditionalInformationSPSNote (line)
NOTE_EXPIRY: Final = "KP-EXPIRY"  # YYYY-MM-DD
NOTE_ORIGIN: Final = "KP-ORIGIN"  # ISO 3166-1 alpha-2 or MIXED
NOTE_PROVENANCE: Final = "KP-PROVENANCE"  # ISO 3166-1 alpha-2
NOTE_TOTAL_CARATS: Final = "KP-TOTAL-CARATS"  # decimal, carats
NOTE_TOTAL_VALUE: Final = "KP-TOTAL-VALUE-USD"  # decimal, US dollars
NOTE_CANCELLATION_REASON: Final = "KP-CANCELLATION-REASON"  # free text
NOTE_LINE_VALUE: Final = "KP-VALUE-USD"  # on a trade line: decimal, US dollars
DOCUMENT_NOTES: Final = frozenset(
    {
        NOTE_EXPIRY,
        NOTE_ORIGIN,
        NOTE_PROVENANCE,
        NOTE_TOTAL_CARATS,
        NOTE_TOTAL_VALUE,
        NOTE_CANCELLATION_REASON,
    }
)
LINE_NOTES: Final = frozenset({NOTE_LINE_VALUE})
#: Every note code of the profile, wherever it goes (a code in disguise is one of these).
NOTE_CODES: Final = DOCUMENT_NOTES | LINE_NOTES
NOT_STATED: Final = "not stated"

# --- acknowledgement statements: ReasonInformation "KP-<KEY>: <value>" -----------------------
SAY_COUNTRY: Final = "KP-CONFIRMING-COUNTRY"
SAY_AUTHORITY: Final = "KP-AUTHORITY"
SAY_RECEIVED_ON: Final = "KP-RECEIVED-ON"
SAY_IMPORTER_NAME: Final = "KP-IMPORTER-NAME"
SAY_IMPORTER_ADDRESS: Final = "KP-IMPORTER-ADDRESS"
SAY_IMPORTER_COUNTRY: Final = "KP-IMPORTER-COUNTRY"
SAY_EXPORTER_NAME: Final = "KP-EXPORTER-NAME"
SAY_EXPORTER_ADDRESS: Final = "KP-EXPORTER-ADDRESS"
SAY_EXPORTER_COUNTRY: Final = "KP-EXPORTER-COUNTRY"
SAY_PARCELS: Final = "KP-PARCELS"
SAY_LINE: Final = "KP-LINE"  # "<HS> <weight> <unit> <value> USD [<origin>]"
SAY_TOTAL_CARATS: Final = "KP-TOTAL-CARATS"
SAY_TOTAL_VALUE: Final = "KP-TOTAL-VALUE-USD"
STATEMENTS: Final = frozenset(
    {
        SAY_COUNTRY,
        SAY_AUTHORITY,
        SAY_RECEIVED_ON,
        SAY_IMPORTER_NAME,
        SAY_IMPORTER_ADDRESS,
        SAY_IMPORTER_COUNTRY,
        SAY_EXPORTER_NAME,
        SAY_EXPORTER_ADDRESS,
        SAY_EXPORTER_COUNTRY,
        SAY_PARCELS,
        SAY_LINE,
        SAY_TOTAL_CARATS,
        SAY_TOTAL_VALUE,
    }
)
REPEATABLE_STATEMENTS: Final = frozenset({SAY_LINE})

# --- finding codes of this adapter (the KP rules' codes live in gateway.rules) -------------
NOT_KP_DOCUMENT: Final = "NOT_KP_DOCUMENT"
UNSUPPORTED_STATUS: Final = "UNSUPPORTED_STATUS"
UNSUPPORTED_UNIT: Final = "UNSUPPORTED_UNIT"
KP_FIELD_MISSING: Final = "KP_FIELD_MISSING"
KP_FIELD_INVALID: Final = "KP_FIELD_INVALID"
TOO_MANY_NOTES: Final = "TOO_MANY_NOTES"
NOTE_TOO_LONG: Final = "NOTE_TOO_LONG"
TOO_MANY_LINES: Final = "TOO_MANY_LINES"
FINDING_CODES: Final = (
    NOT_KP_DOCUMENT,
    UNSUPPORTED_STATUS,
    UNSUPPORTED_UNIT,
    KP_FIELD_MISSING,
    KP_FIELD_INVALID,
    TOO_MANY_NOTES,
    NOTE_TOO_LONG,
    TOO_MANY_LINES,
    TOO_MANY_ELEMENTS,
)

# --- bounds on notes (free text is not mapped, but a document may not carry it unbounded) --
#: ram:IncludedSPSNote per document: the profile's own are at most six.
MAX_DOCUMENT_NOTES: Final = 30
#: ram:AdditionalInformationSPSNote per trade line: the profile's own is one.
MAX_LINE_NOTES: Final = 10
#: Characters of one note's content (all its ram:Content), as the canonical free texts.
MAX_NOTE_CHARS: Final = 2000

# --- bounds on other repeated elements (the official schema leaves them unbounded) ------------
#: HS lines per document: ram:IncludedSPSTradeLineItem on a certificate (over all its
#: consignment items, each of which holds at least one), KP-LINE statements on an
#: acknowledgement. A real one has one line per HS code, so at most three.
MAX_LINES: Final = 30
_ONCE_PER_LANGUAGE = "give it once (or once per language)"
#: Per parent, by Clark name (``adapters.bounds``, TOO_MANY_ELEMENTS): each is given once in
#: a real document, or once per language.
CERTIFICATE_BOUNDS: Final = {
    ram("SignatorySPSAuthentication"): Bound(
        10, "a KP certificate is signed by its issuing authority; give one signatory"
    ),
    ram("Content"): Bound(10, f"a note's text; {_ONCE_PER_LANGUAGE}"),
    ram("Name"): Bound(
        10, f"a place's or country's name is not carried (its code is); {_ONCE_PER_LANGUAGE}"
    ),
    ram("Description"): Bound(
        10, f"a trade line's description is not carried (its HS code is); {_ONCE_PER_LANGUAGE}"
    ),
    ram("ClassName"): Bound(
        10, f"the HS heading's name is not carried (its ClassCode is); {_ONCE_PER_LANGUAGE}"
    ),
}
#: The XML signature that may close a certificate (its content is not validated, nor mapped).
XMLDSIG: Final = "http://www.w3.org/2000/09/xmldsig#"
SIGNATURE: Final = f"{{{XMLDSIG}}}Signature"
#: Elements inside it: an enveloped signature has about 15, a XAdES one a few dozen more.
SIGNATURE_ELEMENTS: Final = Bound(
    500,
    "an XML signature, XAdES included, has a few dozen; it is not read by the gateway",
)
#: Per rsm:SPSAcknowledgementDocument (checked where the reader gathers them).
ACKNOWLEDGEMENT_BOUNDS: Final = {
    ram("ReasonInformation"): Bound(
        100,
        "the profile's statements are at most 15 (12 single ones and a KP-LINE per HS code) "
        "and remarks are joined into one text of at most 2,000 characters; give remarks in a "
        "few",
    ),
    ram("ReferenceSPSReferencedDocument"): Bound(
        10, "a confirmation refers to the one KP certificate it confirms"
    ),
}

DOCS: Final = "docs/formats/uncefact-kp.md"
