"""FTS document -> canonical payload. The document is already schema-valid; what can still be
wrong here is what a schema cannot say (a missing country code that names a participant, a
missing organisation name), each a finding with line and path."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from lxml import etree

from adapters.bounds import excesses
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
_ZERO = Decimal(0)


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


Index = dict[object, etree._Element]


def _index(element: etree._Element) -> Index:
    """The children of ``element`` by tag, in one pass (not for repeated elements: a repeated
    tag keeps its last occurrence)."""
    return {child.tag: child for child in element}


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _count(text: str) -> int:
    """A schema-valid count (``Count6Type``: a non-negative integer of six significant
    digits, so with any number of leading zeros and a ``+``): ``int()`` refuses a text of
    more than 4,300 digits with a ValueError (found by fuzzing)."""
    return int(text.lstrip("+").lstrip("0") or "0")


class _Reader:
    """Reads one document, collecting findings so the sender hears about all of them."""

    def __init__(
        self, document: etree._Element, kind: DocumentKind, registry: ParticipantRegistry
    ) -> None:
        self.document = document
        self.kind = kind
        self.names = kind.names
        self.registry = registry
        self.findings = Findings()
        # The top-level children by tag (the last of each, as ``_index``) and the lines, in
        # one pass: the bounds look at the lines before the mapping reads them.
        self.top: Index = {}
        self.infos: list[etree._Element] = []
        info_tag = self.names["DiamondsInfo"]
        for child in document:
            tag = child.tag
            if tag == info_tag:
                self.infos.append(child)
            self.top[tag] = child

    # --- the three documents ------------------------------------------------------------

    def adapted(self) -> Adapted:
        self.characteristics_bounded()
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
            org = self.child("CertificateOrg")
            authority = self.organisation_name(org, _index(org), required=True)
        self.notes_bounded()
        self.raise_if_any()
        return Adapted(
            format=FORMAT,
            adapter_version=VERSION,
            payload=payload,
            message_id=_text(self.top.get(profile.DOCUMENT_ID)) or "",
            occurred_at=datetime.combine(day, time(0), tzinfo=UTC),
            authority=authority,
        )

    def certificate(self) -> CertificateIssued:
        exporter_el = self.child("Exporter")
        importer_el = self.child("Importer")
        org = self.child("CertificateOrg")
        org_index = _index(org)
        exporter, importer = self.party(exporter_el), self.party(importer_el)
        exporting, exporting_state = self.participant(exporter.country, exporter_el, "exporter")
        importing, importing_state = self.participant(importer.country, importer_el, "importer")
        issuing, _ = self.participant(self.org_country(org_index), org, "certificate authority")
        origin = self.required_text("ExtractingCountry")
        lines = self.lines()
        total_carats = total_value = _ZERO  # sum(..., Decimal(0)), added in the same order
        for line in lines:
            total_carats += line.carats
            total_value += line.value_usd
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
            provenance=self.optional_text("ProvenanceCountry"),
            issue_date=self.date("IssueDate"),
            expiry_date=self.date("ValidityDateEnd"),
            parcels=_count(self.required_text("PackageNumber")),
            lines=lines,
            total_carats=total_carats,
            total_value_usd=total_value,
            authority=self.organisation_name(org, org_index, required=True) or "",
        )

    def confirmation(self) -> ImportConfirmed:
        names = self.names
        org = self.child("ConfirmationOrg")
        org_index = _index(org)
        confirming, state = self.participant(
            self.org_country(org_index), org, "confirming authority"
        )
        parcels = self.optional_text("PackageNumber")
        exporter_el = self.top.get(names["Exporter"])
        weight = self.optional_text("TotalWeight")
        cost = self.optional_text("TotalCost")
        note_tag = names["Note"]
        notes = [_text(note) for note in self.document if note.tag == note_tag]
        remarks = "\n".join(note for note in notes if note)
        return ImportConfirmed(
            certificate_number=self.number(),
            confirming_participant=confirming,
            confirming_member_state=state,
            date_of_receipt=self.date("ReceiptDate"),
            importer=self.party(self.child("Importer")),
            exporter=None if exporter_el is None else self.party(exporter_el),
            parcels=None if parcels is None else _count(parcels),
            lines=self.lines(),
            total_carats=None if weight is None else carats(weight),
            total_value_usd=None if cost is None else usd(cost),
            remarks=remarks or None,
            authority=self.organisation_name(org, org_index),
        )

    def cancellation(self) -> CertificateVoided:
        org = self.child("CertificateOrg")
        voiding, _ = self.participant(self.org_country(_index(org)), org, "certificate authority")
        return CertificateVoided(
            certificate_number=self.number(),
            voiding_participant=voiding,
            voided_on=self.date("CancelDate"),
            reason=self.required_text("CancelReason", blank_is_missing=True),
        )

    # --- parts ----------------------------------------------------------------------------

    def number(self) -> str:
        number = self.child("CertificateNumber")
        index = _index(number)
        return profile.join_number(
            self.required_in(number, index, "CountryCode"),
            self.required_in(number, index, "Number"),
        )

    def lines(self) -> tuple[HsLine, ...]:
        infos = self.infos
        if len(infos) > profile.MAX_LINES:
            self.found(
                profile.TOO_MANY_LINES,
                f"{len(infos):,} DiamondsInfo elements (HS lines) where at most "
                f"{profile.MAX_LINES} are accepted: a KP {self.kind.label} gives one line per "
                "HS code, and rough diamonds have three (7102100000, 7102210000, 7102310000)",
                infos[profile.MAX_LINES],
            )
        lines: list[HsLine] = []
        for info in infos[: profile.MAX_LINES]:  # only the first ones are read
            index = _index(info)
            lines.append(
                HsLine(
                    hs_code=profile.tnved_to_hs(self.required_in(info, index, "HarmonizedCode")),
                    carats=carats(self.required_in(info, index, "TotalWeight")),
                    value_usd=usd(self.required_in(info, index, "TotalCost")),
                )
            )
        return tuple(lines)

    def party(self, element: etree._Element) -> Party:
        index = _index(element)
        name = self.organisation_name(element, index, required=True) or ""
        short = _text(index.get(profile.SHORT_NAME))
        short_name = None if short == name else short  # the name itself when it is the only one
        addresses = _addresses(index)
        if not addresses:
            return Party(name=name, short_name=short_name)
        texts = {child.tag: child.text for child in addresses[0]}  # last occurrence, as find()
        parts = ((texts.get(tag) or "").strip() for tag in profile.ADDRESS_PARTS)
        line = ", ".join(part for part in parts if part)
        country = (_country(addresses) or "").upper() or None
        return Party(
            name=name,
            address=line or None,
            country="GR" if country == "EL" else country,  # the EU's code for Greece: ISO's
            short_name=short_name,
        )

    @staticmethod
    def org_country(index: Index) -> str | None:
        return _country(_addresses(index))

    def participant(
        self, country: str | None, element: etree._Element, role: str
    ) -> tuple[str, str | None]:
        """(participant, member state) of a country code; an unknown code stays as it is so
        that the KP rules can say it is not a participant."""
        if country is None:
            self.found(
                profile.COUNTRY_CODE_MISSING,
                f"the {role} has no address CountryCode; kpgw needs it to know the participant "
                "(add catSert_ru:LegalAddress/RUScat_ru:CountryCode)",
                element,
            )
            return "", None
        return _look_up(self.registry, country)

    def organisation_name(
        self, element: etree._Element, index: Index, *, required: bool = False
    ) -> str | None:
        """The organisation's name: ``cat_ru:OrganizationName``, else its ``cat_ru:ShortName``
        (the FTS base type makes both optional; an organisation named by its short name alone
        is named, and refusing it told the sender the name was missing)."""
        name = _text(index.get(profile.ORGANIZATION_NAME)) or _text(index.get(profile.SHORT_NAME))
        if name is None and required:
            local = etree.QName(element).localname
            self.found(
                profile.ORGANIZATION_NAME_MISSING,
                f"{local} has neither cat_ru:OrganizationName nor cat_ru:ShortName; a KP "
                f"{self.kind.label} names it",
                element,
            )
        return name

    def date(self, local: str) -> date:
        text = self.required_text(local)
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.found(
                profile.INVALID_DATE,
                f"{local} {text!r} is not a calendar date (YYYY-MM-DD)",
                self.child(local),
            )
            return date.min

    def notes_bounded(self) -> None:
        note_tag = self.names["Note"]
        notes = [child for child in self.document if child.tag == note_tag]
        if len(notes) > profile.MAX_NOTES:
            self.found(
                profile.TOO_MANY_NOTES,
                f"{len(notes):,} Note elements where at most {profile.MAX_NOTES} are accepted: "
                "give remarks in a few notes (a confirmation's become its remarks, of at most "
                "2,000 characters; a certificate's are not carried to the importing "
                "participant)",
                notes[profile.MAX_NOTES],
            )

    def characteristics_bounded(self) -> None:
        """Refuse lines repeating Characteristics beyond the bound before mapping anything
        (``adapters.bounds``), as a schema violation would. The schemas put Characteristics
        only in a DiamondsInfo, a child of the root (test_repeat_bounds checks it), and no
        line holds more copies than it has children: the walk of the tree only when a
        line could be over."""
        limit = profile.CHARACTERISTICS.limit
        for info in self.infos:
            if len(info) > limit:
                break
        else:
            return
        bounds = {self.names["Characteristics"]: profile.CHARACTERISTICS}
        for excess in excesses(self.document, bounds):
            self.found(profile.TOO_MANY_ELEMENTS, excess.message(), excess.first_too_many)
        self.raise_if_any()

    def raise_if_any(self) -> None:
        if self.findings:
            items = self.findings.as_tuple()
            raise MappingFailed(
                f"{len(items)} problem(s) mapping the {self.kind.root}; first: {items[0].message}",
                findings=items,
            )

    def found(self, code: str, message: str, element: etree._Element) -> None:
        self.findings.add(
            code, message, line=profile.line_of(element), path=profile.path_of(element)
        )

    # --- text access (the schema guarantees required elements; these stay total) --------

    def child(self, local: str) -> etree._Element:
        """A child of the document root the schema requires."""
        element = self.top.get(self.names[local])
        if element is None:  # pragma: no cover - the schema requires it
            raise MappingFailed(f"{local} is missing from {profile.path_of(self.document)}")
        return element

    def required_text(self, local: str, *, blank_is_missing: bool = False) -> str:
        """A required child's text. ``blank_is_missing``: only spaces (which the schema's
        minLength lets through) is a finding, for a text the partner must read (the
        cancellation's reason went out empty, an integrator's review)."""
        element = self.child(local)
        text = _text(element) or ""
        if not text and blank_is_missing:
            self.found(profile.TEXT_MISSING, f"{local} is blank; state it in words", element)
        return text

    def required_in(self, parent: etree._Element, index: Index, local: str) -> str:
        element = index.get(self.names[local])
        if element is None:  # pragma: no cover - the schema requires it
            raise MappingFailed(f"{local} is missing from {profile.path_of(parent)}")
        return _text(element) or ""

    def optional_text(self, local: str) -> str | None:
        return _text(self.top.get(self.names[local]))


#: (participant, member state) by country code for the registry in use (one registry at a
#: time: a new registry replaces the memo, which never grows past _MEMO_LIMIT entries).
_MEMO: list[tuple[ParticipantRegistry, dict[str, tuple[str, str | None]]]] = []
_MEMO_LIMIT = 1024


def _look_up(registry: ParticipantRegistry, country: str) -> tuple[str, str | None]:
    current = _MEMO[0] if _MEMO else None
    if current is None or current[0] is not registry:
        current = (registry, {})
        _MEMO[:] = [current]
    memo = current[1]
    found = memo.get(country)
    if found is None:
        found = (registry.participant_of(country) or country, registry.member_state_of(country))
        if len(memo) < _MEMO_LIMIT:
            memo[country] = found
    return found


def _addresses(index: Index) -> list[etree._Element]:
    """The organisation's addresses, the legal one first: the address line is the first's."""
    found = (index.get(profile.LEGAL_ADDRESS), index.get(profile.FACT_ADDRESS))
    return [address for address in found if address is not None]


def _country(addresses: list[etree._Element]) -> str | None:
    """The first CountryCode of the addresses, the legal one's first: a LegalAddress without
    one beside a FactAddress with one names the participant by the latter (it was
    COUNTRY_CODE_MISSING, asking for a code the document gave)."""
    for address in addresses:
        country = _text(_index(address).get(profile.ADDRESS_COUNTRY))
        if country is not None:
            return country
    return None
