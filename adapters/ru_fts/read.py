"""FTS document -> canonical payload. The document is already schema-valid; what can still be
wrong here is what a schema cannot say (a missing country code that names a participant, a
missing organisation name), each a finding with line and path."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from lxml import etree

from adapters.contract import Adapted, RootName
from adapters.ru_fts import profile
from adapters.ru_fts.profile import DocumentKind
from gateway.errors import Finding, Findings, MappingFailed
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

FORMAT = "ru_fts"
VERSION = "1"


def translate(document: etree._Element, registry: ParticipantRegistry) -> Adapted:
    """Map one schema-valid FTS document; raise ``MappingFailed`` with every finding."""
    root = RootName.of(document)
    kind = profile.kind_of(root)
    if kind is None:  # the registry only hands us documents we detected
        raise MappingFailed(f"{root} is not an FTS Kimberley Process document")
    if root.namespace != kind.namespace:
        message = (
            f"{kind.root} in namespace {root.namespace} is not supported; kpgw reads album "
            f"version {profile.ALBUM_VERSION} ({kind.namespace})"
        )
        finding = Finding(
            profile.UNSUPPORTED_ALBUM_VERSION,
            message,
            profile.line_of(document),
            profile.path_of(document),
        )
        raise MappingFailed(message, findings=(finding,))
    return _Reader(document, kind, registry).adapted()


class _Reader:
    """Reads one document, collecting findings so the sender hears about all of them."""

    def __init__(
        self, document: etree._Element, kind: DocumentKind, registry: ParticipantRegistry
    ) -> None:
        self.document = document
        self.kind = kind
        self.registry = registry
        self.findings = Findings()
        self._indexes: dict[etree._Element, dict[str, etree._Element]] = {}

    # --- the three documents ------------------------------------------------------------

    def adapted(self) -> Adapted:
        payload: Payload
        authority: str | None
        if self.kind is profile.CERTIFICATE:
            certificate = self.certificate()
            payload, day, authority = certificate, certificate.issue_date, certificate.authority
        elif self.kind is profile.CONFIRMATION:
            confirmation = self.confirmation()
            payload, day = confirmation, confirmation.date_of_receipt
            authority = confirmation.authority
        else:
            void = self.cancellation()
            payload, day = void, void.voided_on
            authority = self.organisation_name(self.child(self.document, "CertificateOrg"))
        if self.findings:
            items = self.findings.as_tuple()
            raise MappingFailed(
                f"{len(items)} problem(s) mapping the {self.kind.root}; first: {items[0].message}",
                findings=items,
            )
        return Adapted(
            format=FORMAT,
            adapter_version=VERSION,
            payload=payload,
            message_id=self.text(self.find(self.document, profile.DOCUMENT_ID)) or "",
            occurred_at=datetime.combine(day, time(0), tzinfo=UTC),
            authority=authority,
        )

    def certificate(self) -> CertificateIssued:
        doc = self.document
        exporter_el = self.child(doc, "Exporter")
        importer_el = self.child(doc, "Importer")
        org = self.child(doc, "CertificateOrg")
        exporter, importer = self.party(exporter_el), self.party(importer_el)
        exporting, exporting_state = self.participant(exporter.country, exporter_el, "exporter")
        importing, importing_state = self.participant(importer.country, importer_el, "importer")
        issuing, _ = self.participant(self.org_country(org), org, "certificate authority")
        origin = self.required_text(doc, "ExtractingCountry")
        lines = self.lines()
        return CertificateIssued(
            certificate_number=self.number(),
            issuing_participant=issuing,
            exporting_participant=exporting,
            exporting_member_state=exporting_state,
            importing_participant=importing,
            importing_member_state=importing_state,
            exporter=exporter,
            importer=importer,
            origin="MIXED" if origin in profile.MIXED_MARKS else origin,
            provenance=self.optional_text(doc, "ProvenanceCountry"),
            issue_date=self.date(doc, "IssueDate"),
            expiry_date=self.date(doc, "ValidityDateEnd"),
            parcels=int(self.required_text(doc, "PackageNumber")),
            lines=lines,
            total_carats=sum((line.carats for line in lines), Decimal(0)),
            total_value_usd=sum((line.value_usd for line in lines), Decimal(0)),
            authority=self.organisation_name(org, required=True) or "",
        )

    def confirmation(self) -> ImportConfirmed:
        doc = self.document
        org = self.child(doc, "ConfirmationOrg")
        confirming, state = self.participant(self.org_country(org), org, "confirming authority")
        parcels = self.optional_text(doc, "PackageNumber")
        exporter_el = self.find(doc, self.kind.q("Exporter"))
        weight = self.optional_text(doc, "TotalWeight")
        cost = self.optional_text(doc, "TotalCost")
        notes = [self.text(note) for note in doc.iterchildren(self.kind.q("Note"))]
        remarks = "\n".join(note for note in notes if note)
        return ImportConfirmed(
            certificate_number=self.number(),
            confirming_participant=confirming,
            confirming_member_state=state,
            date_of_receipt=self.date(doc, "ReceiptDate"),
            importer=self.party(self.child(doc, "Importer")),
            exporter=None if exporter_el is None else self.party(exporter_el),
            parcels=None if parcels is None else int(parcels),
            lines=self.lines(),
            total_carats=None if weight is None else carats(weight),
            total_value_usd=None if cost is None else usd(cost),
            remarks=remarks or None,
            authority=self.organisation_name(org),
        )

    def cancellation(self) -> CertificateVoided:
        doc = self.document
        org = self.child(doc, "CertificateOrg")
        voiding, _ = self.participant(self.org_country(org), org, "certificate authority")
        return CertificateVoided(
            certificate_number=self.number(),
            voiding_participant=voiding,
            voided_on=self.date(doc, "CancelDate"),
            reason=self.required_text(doc, "CancelReason"),
        )

    # --- parts ----------------------------------------------------------------------------

    def number(self) -> str:
        number = self.child(self.document, "CertificateNumber")
        return profile.join_number(
            self.required_text(number, "CountryCode"), self.required_text(number, "Number")
        )

    def lines(self) -> tuple[HsLine, ...]:
        return tuple(
            HsLine(
                hs_code=profile.tnved_to_hs(self.required_text(info, "HarmonizedCode")),
                carats=carats(self.required_text(info, "TotalWeight")),
                value_usd=usd(self.required_text(info, "TotalCost")),
            )
            for info in self.document.iterchildren(self.kind.q("DiamondsInfo"))
        )

    def party(self, element: etree._Element) -> Party:
        name = self.organisation_name(element, required=True) or ""
        address = self.address(element)
        if address is None:
            return Party(name=name)
        parts = (self.text(self.find(address, tag)) for tag in profile.ADDRESS_PARTS)
        line = ", ".join(part for part in parts if part)
        return Party(
            name=name,
            address=line or None,
            country=self.text(self.find(address, profile.ADDRESS_COUNTRY)),
        )

    def org_country(self, element: etree._Element) -> str | None:
        address = self.address(element)
        return None if address is None else self.text(self.find(address, profile.ADDRESS_COUNTRY))

    def address(self, element: etree._Element) -> etree._Element | None:
        legal = self.find(element, profile.LEGAL_ADDRESS)
        return legal if legal is not None else self.find(element, profile.FACT_ADDRESS)

    def participant(
        self, country: str | None, element: etree._Element, role: str
    ) -> tuple[str, str | None]:
        """(participant, member state) of a country code; an unknown code stays as it is so
        that the KP rules can say it is not a participant."""
        if country is None:
            self.findings.add(
                profile.COUNTRY_CODE_MISSING,
                f"the {role} has no address CountryCode; kpgw needs it to know the participant "
                "(add catSert_ru:LegalAddress/RUScat_ru:CountryCode)",
                line=profile.line_of(element),
                path=profile.path_of(element),
            )
            return "", None
        participant = self.registry.participant_of(country) or country
        return participant, self.registry.member_state_of(country)

    def organisation_name(self, element: etree._Element, *, required: bool = False) -> str | None:
        name = self.text(self.find(element, profile.ORGANIZATION_NAME))
        if name is None and required:
            local = etree.QName(element).localname
            self.findings.add(
                profile.ORGANIZATION_NAME_MISSING,
                f"{local} has no cat_ru:OrganizationName; a KP certificate names every party",
                line=profile.line_of(element),
                path=profile.path_of(element),
            )
        return name

    def date(self, parent: etree._Element, local: str) -> date:
        text = self.required_text(parent, local)
        try:
            return date.fromisoformat(text)
        except ValueError:
            element = self.find(parent, self.kind.q(local))
            self.findings.add(
                profile.INVALID_DATE,
                f"{local} {text!r} is not a calendar date (YYYY-MM-DD)",
                line=None if element is None else profile.line_of(element),
                path=None if element is None else profile.path_of(element),
            )
            return date.min

    # --- text access (the schema guarantees required elements; these stay total) --------

    def find(self, parent: etree._Element, tag: str) -> etree._Element | None:
        """The child ``tag`` of ``parent`` (not for repeated elements). One pass over the
        children per parent instead of one ElementPath search per look-up."""
        index = self._indexes.get(parent)
        if index is None:
            index = self._indexes[parent] = {child.tag: child for child in parent}
        return index.get(tag)

    def child(self, parent: etree._Element, local: str) -> etree._Element:
        element = self.find(parent, self.kind.q(local))
        if element is None:  # pragma: no cover - the schema requires it
            raise MappingFailed(f"{local} is missing from {profile.path_of(parent)}")
        return element

    def required_text(self, parent: etree._Element, local: str) -> str:
        return self.text(self.child(parent, local)) or ""

    def optional_text(self, parent: etree._Element, local: str) -> str | None:
        return self.text(self.find(parent, self.kind.q(local)))

    @staticmethod
    def text(element: etree._Element | None) -> str | None:
        if element is None or element.text is None:
            return None
        return element.text.strip() or None
