"""The kpgw profile of the Russian customs (FTS) Kimberley Process documents: namespaces,
document kinds, compiled schemas and the code conversions both directions share.

Conventions (docs/formats/ru-fts.md): three roots in the FTS ``SertifDocuments`` group, each
in its own namespace ``urn:customs.ru:Information:SertifDocuments:<Root>:5.13.3``:

- ``KimberleyProcessCertificate`` (the FTS document, EAEU kind ``01241``) -> CertificateIssued
- ``KimberleyProcessImportConfirmation`` (kpgw's, kind ``KPGW1``) -> ImportConfirmed
- ``KimberleyProcessCertificateCancel`` (kpgw's, kind ``KPGW2``) -> CertificateVoided
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from adapters import bounds, paths
from adapters.contract import RootName
from adapters.xsd import compile_schema
from gateway.resources import xsd_dir

ALBUM_VERSION = "5.13.3"
GROUP = "urn:customs.ru:Information:SertifDocuments:"
CAT_RU = "urn:customs.ru:CommonAggregateTypes:5.10.0"
RUSCAT_RU = "urn:customs.ru:RUSCommonAggregateTypes:5.13.3"
CATSERT_RU = "urn:customs.ru:Information:SertifDocuments:SertifCommonAggregateTypesCust:5.13.3"

#: ExtractingCountry values that mean "mixed origin" (the paper certificate's asterisks).
MIXED_MARKS = frozenset({"*", "**", "***", "MIXED"})
MIXED_MARK = "***"
#: Namespace of DocumentIDs derived from a message id that is not itself a UUID.
DOCUMENT_ID_NAMESPACE = uuid.UUID("6f1c1f0e-5a43-4c1e-9d55-4b5057000f75")

# Stable finding codes of this adapter (KP rules live in gateway.rules, not here).
UNSUPPORTED_ALBUM_VERSION = "UNSUPPORTED_ALBUM_VERSION"
COUNTRY_CODE_MISSING = "COUNTRY_CODE_MISSING"
ORGANIZATION_NAME_MISSING = "ORGANIZATION_NAME_MISSING"
INVALID_DATE = "INVALID_DATE"
TEXT_MISSING = "TEXT_MISSING"
TOO_MANY_NOTES = "TOO_MANY_NOTES"
TOO_MANY_LINES = "TOO_MANY_LINES"
TOO_MANY_ELEMENTS = bounds.TOO_MANY_ELEMENTS

#: Note elements per document (each at most 1000 characters by the schema): a confirmation's
#: become its remarks, a certificate's and a cancellation's are not mapped.
MAX_NOTES = 30
#: DiamondsInfo elements (HS lines) per document: a real one has one per HS code, so at most
#: three.
MAX_LINES = 30
#: Characteristics per DiamondsInfo (each at most 250 characters by the schema; not mapped):
#: a real line describes its goods in one or two.
CHARACTERISTICS = bounds.Bound(
    20,
    "a line's characteristics are not carried to the importing participant; describe the "
    "goods in a few",
)

_LOCALS = (
    "CertificateNumber",
    "CountryCode",
    "Number",
    "IssueDate",
    "ValidityDateEnd",
    "ExtractingCountry",
    "ProvenanceCountry",
    "PackageNumber",
    "Exporter",
    "Importer",
    "Recipient",
    "DiamondsInfo",
    "HarmonizedCode",
    "Characteristics",
    "TotalWeight",
    "TotalCost",
    "CertificateOrg",
    "AuthenticateOrg",
    "ConfirmationOrg",
    "ReceiptDate",
    "CancelDate",
    "CancelReason",
    "Note",
)


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """One root element of the profile, with its qualified names computed once."""

    root: str
    mode_id: str
    prefix: str
    #: what the document is, in a finding's words
    label: str = "certificate"
    namespace: str = field(init=False)
    names: Mapping[str, str] = field(init=False, repr=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        namespace = f"{GROUP}{self.root}:{ALBUM_VERSION}"
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "names", {local: f"{{{namespace}}}{local}" for local in _LOCALS})

    def q(self, local: str) -> str:
        """The Clark name of a child element of this document kind."""
        return self.names[local]

    @property
    def tag(self) -> str:
        return f"{{{self.namespace}}}{self.root}"

    @property
    def nsmap(self) -> dict[str, str]:
        return {
            self.prefix: self.namespace,
            "cat_ru": CAT_RU,
            "catSert_ru": CATSERT_RU,
            "RUScat_ru": RUSCAT_RU,
        }


CERTIFICATE = DocumentKind("KimberleyProcessCertificate", "01241", "kpc")
CONFIRMATION = DocumentKind(
    "KimberleyProcessImportConfirmation", "KPGW1", "kpic", "import confirmation"
)
CANCELLATION = DocumentKind("KimberleyProcessCertificateCancel", "KPGW2", "kpcc", "cancellation")
KINDS: Mapping[str, DocumentKind] = {
    kind.root: kind for kind in (CERTIFICATE, CONFIRMATION, CANCELLATION)
}

# Shared-library names, precomputed.
DOCUMENT_ID = f"{{{CAT_RU}}}DocumentID"
REF_DOCUMENT_ID = f"{{{CAT_RU}}}RefDocumentID"
ORGANIZATION_NAME = f"{{{CAT_RU}}}OrganizationName"
SHORT_NAME = f"{{{CAT_RU}}}ShortName"
LEGAL_ADDRESS = f"{{{CATSERT_RU}}}LegalAddress"
FACT_ADDRESS = f"{{{CATSERT_RU}}}FactAddress"
ADDRESS_COUNTRY = f"{{{RUSCAT_RU}}}CountryCode"
STREET_HOUSE = f"{{{RUSCAT_RU}}}StreetHouse"
#: Address parts joined, in the FTS print order, into the canonical one-line address.
ADDRESS_PARTS = tuple(
    f"{{{RUSCAT_RU}}}{local}"
    for local in ("PostalCode", "Region", "District", "Town", "City", "StreetHouse", "House")
)


def kind_of(root: RootName) -> DocumentKind | None:
    """The document kind of a root element, in any album version (so that an unsupported
    version gets a precise finding rather than 'unknown format')."""
    kind = KINDS.get(root.local)
    if kind is None or root.namespace is None:
        return None
    return kind if root.namespace.startswith(f"{GROUP}{kind.root}:") else None


def schema_path(kind: DocumentKind) -> Path:
    return xsd_dir() / "ru_fts" / f"{kind.root}.xsd"


@cache
def schema(kind: DocumentKind) -> etree.XMLSchema:
    """The compiled profile schema of one document kind (compiled once per process)."""
    return compile_schema(schema_path(kind))


def tnved_to_hs(code: str) -> str:
    """A 10-digit TN VED code to the canonical 6-digit HS subheading: 7102310000 -> 7102.31.
    The schema has already checked the 10 digits; whether the subheading is KP goods is the
    KP rules' business (7102290000 -> 7102.29 -> NOT_KP_GOODS)."""
    return f"{code[:4]}.{code[4:6]}"


def hs_to_tnved(hs_code: str) -> str:
    """The canonical HS subheading to the 10-digit TN VED code: 7102.31 -> 7102310000."""
    digits = hs_code.replace(".", "")
    if len(digits) != 6 or not digits.isdigit():
        raise ValueError(f"HS code {hs_code!r} is not a 6-digit subheading like 7102.31")
    return digits + "0000"


def join_number(country: str, number: str) -> str:
    """CertificateNumber{CountryCode, Number} -> the canonical id ``RU0123456``. Whitespace
    is dropped; a Number that already repeats the country code is not prefixed twice, also
    when a separator follows it (``RU-0123456`` stays as written for the KP rules to judge,
    not ``RURU-0123456``)."""
    country = country.strip().upper()
    number = "".join(number.split()).upper()
    rest = number[len(country) :]
    if number.startswith(country) and rest and not rest[0].isalpha():
        return number
    return country + number


def split_number(certificate_number: str) -> tuple[str, str]:
    """The canonical id -> (CountryCode, Number)."""
    if len(certificate_number) < 3:
        raise ValueError(f"certificate number {certificate_number!r} is too short to render")
    return certificate_number[:2], certificate_number[2:]


def document_id(message_id: str) -> str:
    """The DocumentID for a message id: the id itself when it is a UUID, else a UUID derived
    from it deterministically (the same message id always gives the same DocumentID)."""
    try:
        return str(uuid.UUID(message_id))
    except ValueError:
        return str(uuid.uuid5(DOCUMENT_ID_NAMESPACE, message_id))


def line_of(element: etree._Element) -> int | None:
    """The element's line in the received document (lxml's stubs type it loosely)."""
    line: object = element.sourceline
    return line if isinstance(line, int) else None


def path_of(element: etree._Element) -> str:
    """A readable path in the sender's own prefixes, with positions for repeated elements:
    ``/kpc:KimberleyProcessCertificate/kpc:DiamondsInfo[2]/kpc:HarmonizedCode``."""
    return paths.path_of(element)
