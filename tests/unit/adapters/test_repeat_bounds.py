"""Repeated elements are bounded: a document repeating an element more often than any real
one (an HS line, an FTS line's Characteristics, an envelope's Forwarding, a place's name,
the elements of an XML signature, ...) gets one precise finding (``TOO_MANY_LINES``, ``TOO_MANY_ELEMENTS``) at the first copy
too many, instead of being carried through (a 2 MB document of 47,000 Characteristics was
accepted). For each bound, exactly the limit passes and one more is refused. The generator
stays within the bounds."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from adapters.envelope import profile as envelope_profile
from adapters.pipeline import adapt
from adapters.ru_fts import profile as ru_fts_profile
from adapters.uncefact import profile as uncefact_profile
from adapters.uncefact.profile import CERTIFICATE_BOUNDS
from adapters.uncefact.read import REPEATING_PARENTS
from adapters.uncefact.schemas import CERTIFICATE_XSD
from gateway.errors import MappingFailed, MessageRejected
from gateway.generate.corpus import GenerateOptions, generate
from gateway.registry import ParticipantRegistry
from gateway.resources import xsd_dir
from tests.kafka.helpers import certificate, confirmation, render

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NS = {
    "ram": uncefact_profile.RAM,
    "env": envelope_profile.NAMESPACE,
    "ds": uncefact_profile.XMLDSIG,
}
TOO_MANY_LINES = "TOO_MANY_LINES"
TOO_MANY_ELEMENTS = "TOO_MANY_ELEMENTS"
#: What a 2 MB document of repeated elements may take, far above the ~0.1 s it does.
BOUND_S = 2.0

CERT = render(certificate("RU0140001"))
ACK = render(
    confirmation(certificate("BE0140003", exporter="EU", importer="RU", importer_state=None))
)
RU_CERT = render(certificate("RU0140002"), "ru_fts")
RU_CONF = render(
    confirmation(certificate("BE0140004", exporter="EU", importer="RU", importer_state=None)),
    "ru_fts",
)
ENVELOPE = (FIXTURES / "envelope" / "certificate_ru_fts.xml").read_bytes()

Prepare = Callable[[etree._Element], None]


def append(parent_xpath: str, local: str, text: str) -> Prepare:
    """Add a ``local`` element holding ``text``, in its parent's namespace (and prefix), as
    the last child of every element at ``parent_xpath``."""

    def prepare(root: etree._Element) -> None:
        for parent in root.xpath(parent_xpath, namespaces=NS):
            namespace = etree.QName(parent).namespace
            etree.SubElement(parent, f"{{{namespace}}}{local}").text = text

    return prepare


def after(sibling_xpath: str, xml: str) -> Prepare:
    """Insert ``xml`` (a ram: element) right after the first element at ``sibling_xpath``."""

    def prepare(root: etree._Element) -> None:
        sibling = root.xpath(sibling_xpath, namespaces=NS)[0]
        element = etree.fromstring(f'<wrap xmlns:ram="{uncefact_profile.RAM}">{xml}</wrap>')[0]
        sibling.addnext(element)

    return prepare


def signed(root: etree._Element) -> None:
    """Close a certificate with an XML signature holding one element."""
    signature = etree.SubElement(root, uncefact_profile.SIGNATURE, nsmap={"ds": NS["ds"]})
    etree.SubElement(signature, f"{{{NS['ds']}}}Object")


@dataclass(frozen=True)
class Case:
    """A bound: the elements that count towards it (``counted``), the element copied to add
    more of them (``copied``; the first match), and what the document needs first."""

    id: str
    document: bytes
    counted: str
    limit: int
    code: str
    copied: str = ""
    prepare: Prepare | None = None

    def build(self, count: int) -> tuple[bytes, etree._Element]:
        """The document holding ``count`` counted elements, and the last of them."""
        root = etree.fromstring(self.document)
        if self.prepare is not None:
            self.prepare(root)
        target = root.xpath(self.copied or self.counted, namespaces=NS)[0]
        while len(root.xpath(self.counted, namespaces=NS)) < count:
            target.addnext(copy.deepcopy(target))
        document = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        counted = etree.fromstring(document).xpath(self.counted, namespaces=NS)  # as sent
        assert len(counted) == count
        return document, counted[-1]


def expected_path(element: etree._Element) -> str:
    """The path a finding gives (written here independently of ``adapters.paths``)."""
    steps = []
    node: etree._Element | None = element
    while node is not None:
        local = etree.QName(node).localname
        step = f"{node.prefix}:{local}" if node.prefix else local
        parent = node.getparent()
        if parent is not None:
            same = [child for child in parent if child.tag == node.tag]
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))


def both(*steps: Prepare) -> Prepare:
    def prepare(root: etree._Element) -> None:
        for step in steps:
            step(root)

    return prepare


def ram_in_signature(root: etree._Element) -> None:
    """A ram:Name inside the XML signature (content the schema skips)."""
    [signature] = root.xpath("//ds:Signature", namespaces=NS)
    etree.SubElement(signature, uncefact_profile.ram("Name")).text = "signed"


FREE_NOTE = "<ram:IncludedSPSNote><ram:Content>seals checked</ram:Content></ram:IncludedSPSNote>"
FREE_LINE_NOTE = (
    "<ram:AdditionalInformationSPSNote><ram:Content>sealed</ram:Content>"
    "</ram:AdditionalInformationSPSNote>"
)
CASES = [
    Case(
        "uncefact trade lines",
        CERT,
        "//ram:IncludedSPSTradeLineItem",
        uncefact_profile.MAX_LINES,
        TOO_MANY_LINES,
    ),
    Case(
        "uncefact trade lines over several consignment items",
        CERT,
        "//ram:IncludedSPSTradeLineItem",
        uncefact_profile.MAX_LINES,
        TOO_MANY_LINES,
        copied="//ram:IncludedSPSConsignmentItem",
    ),
    Case(
        "uncefact signatories",
        CERT,
        "//ram:SignatorySPSAuthentication",
        10,
        TOO_MANY_ELEMENTS,
    ),
    Case(
        "uncefact contents of a free-text note",
        CERT,
        "//ram:IncludedSPSNote[not(ram:SubjectCode)]/ram:Content",
        10,
        TOO_MANY_ELEMENTS,
        prepare=after("//ram:IncludedSPSNote[last()]", FREE_NOTE),
    ),
    Case(
        "uncefact names of a place",
        CERT,
        "//ram:OccurrenceSPSLocation/ram:Name",
        10,
        TOO_MANY_ELEMENTS,
    ),
    Case(
        "uncefact names of a country",
        CERT,
        "//ram:ExportSPSCountry/ram:Name",
        10,
        TOO_MANY_ELEMENTS,
        prepare=append("//ram:ExportSPSCountry", "Name", "Russia"),
    ),
    # Every other parent the profile schema lets repeat a bounded element (read.py's
    # REPEATING_PARENTS), and a signed certificate, whose signature may hold anything.
    Case(
        "uncefact names of the importing country",
        CERT,
        "//ram:ImportSPSCountry/ram:Name",
        10,
        TOO_MANY_ELEMENTS,
        prepare=append("//ram:ImportSPSCountry", "Name", "Belgium"),
    ),
    Case(
        "uncefact names of a line's country of origin",
        CERT,
        "(//ram:OriginSPSCountry)[1]/ram:Name",
        10,
        TOO_MANY_ELEMENTS,
        prepare=append("//ram:OriginSPSCountry", "Name", "Russia"),
    ),
    Case(
        "uncefact names of the signatory's place",
        CERT,
        "//ram:IssueSPSLocation/ram:Name",
        10,
        TOO_MANY_ELEMENTS,
        prepare=append("//ram:IssueSPSLocation[not(ram:Name)]", "Name", "Moscow"),
    ),
    Case(
        "uncefact contents of a free-text line note",
        CERT,
        "(//ram:AdditionalInformationSPSNote[not(ram:SubjectCode)])[1]/ram:Content",
        10,
        TOO_MANY_ELEMENTS,
        prepare=after("//ram:AdditionalInformationSPSNote[last()]", FREE_LINE_NOTE),
    ),
    Case(
        "uncefact descriptions of a trade line",
        CERT,
        "//ram:IncludedSPSTradeLineItem/ram:Description",
        10,
        TOO_MANY_ELEMENTS,
    ),
    Case(
        "uncefact class names",
        CERT,
        "//ram:ClassName",
        10,
        TOO_MANY_ELEMENTS,
        prepare=append("//ram:ApplicableSPSClassification", "ClassName", "Rough"),
    ),
    Case(
        "uncefact elements inside the XML signature",
        CERT,
        "//ds:Signature//*",
        uncefact_profile.SIGNATURE_ELEMENTS.limit,
        TOO_MANY_ELEMENTS,
        copied="//ds:Object",
        prepare=signed,
    ),
    Case(
        "uncefact names of a place in a signed certificate",
        CERT,
        "//ram:OccurrenceSPSLocation/ram:Name",
        10,
        TOO_MANY_ELEMENTS,
        prepare=signed,
    ),
    Case(
        "uncefact names inside the XML signature",
        CERT,
        "//ds:Signature/ram:Name",
        10,
        TOO_MANY_ELEMENTS,
        prepare=both(signed, ram_in_signature),
    ),
    Case(
        "acknowledgement KP-LINE statements",
        ACK,
        "//ram:ReasonInformation[starts-with(., 'KP-LINE')]",
        uncefact_profile.MAX_LINES,
        TOO_MANY_LINES,
    ),
    Case(
        "acknowledgement statements and remarks",
        ACK,
        "//ram:ReasonInformation",
        100,
        TOO_MANY_ELEMENTS,
        copied="//ram:ReasonInformation[. = 'Seals intact']",
        prepare=after(
            "//ram:ReasonInformation[last()]",
            "<ram:ReasonInformation>Seals intact</ram:ReasonInformation>",
        ),
    ),
    Case(
        "acknowledgement references",
        ACK,
        "//ram:ReferenceSPSReferencedDocument",
        10,
        TOO_MANY_ELEMENTS,
        copied="//ram:ReferenceSPSReferencedDocument[ram:TypeCode = '851']",
        prepare=after(
            "//ram:ReferenceSPSReferencedDocument",
            "<ram:ReferenceSPSReferencedDocument><ram:TypeCode>851</ram:TypeCode>"
            "<ram:ID>NZ2026-1</ram:ID></ram:ReferenceSPSReferencedDocument>",
        ),
    ),
    Case(
        "ru_fts certificate lines",
        RU_CERT,
        "//*[local-name() = 'DiamondsInfo']",
        ru_fts_profile.MAX_LINES,
        TOO_MANY_LINES,
    ),
    Case(
        "ru_fts confirmation lines",
        RU_CONF,
        "//*[local-name() = 'DiamondsInfo']",
        ru_fts_profile.MAX_LINES,
        TOO_MANY_LINES,
    ),
    Case(
        "ru_fts characteristics of a line",
        RU_CERT,
        "//*[local-name() = 'Characteristics']",
        ru_fts_profile.CHARACTERISTICS.limit,
        TOO_MANY_ELEMENTS,
        prepare=append("//*[local-name() = 'DiamondsInfo']", "Characteristics", "алмазы"),
    ),
    Case(
        "envelope forwardings",
        ENVELOPE,
        "//env:Forwarding",
        envelope_profile.FORWARDINGS.limit,
        TOO_MANY_ELEMENTS,
    ),
    Case(
        "characteristics inside an envelope's content",
        ENVELOPE,
        "(//*[local-name() = 'DiamondsInfo'])[1]/*[local-name() = 'Characteristics']",
        ru_fts_profile.CHARACTERISTICS.limit,
        TOO_MANY_ELEMENTS,
        prepare=append("//*[local-name() = 'DiamondsInfo']", "Characteristics", "алмазы"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_exactly_the_bound_passes_and_one_more_is_refused(
    case: Case, example_registry: ParticipantRegistry
) -> None:
    at_bound, _ = case.build(case.limit)
    adapt(at_bound, example_registry)  # anything but a refusal fails
    over, first_too_many = case.build(case.limit + 1)
    with pytest.raises(MappingFailed) as caught:
        adapt(over, example_registry)
    [finding] = caught.value.findings
    assert (finding.code, finding.path) == (case.code, expected_path(first_too_many))
    assert finding.line == first_too_many.sourceline
    assert f"{case.limit + 1} " in finding.message
    assert f"at most {case.limit} are accepted" in finding.message


def test_the_findings_name_the_element_and_its_parent(
    example_registry: ParticipantRegistry,
) -> None:
    characteristics = next(case for case in CASES if case.id == "ru_fts characteristics of a line")
    document, _ = characteristics.build(21)
    with pytest.raises(MappingFailed, match=r"^1 problem") as caught:
        adapt(document, example_registry)
    assert caught.value.findings[0].message.startswith(
        "21 kpc:Characteristics in one kpc:DiamondsInfo where at most 20 are accepted: a "
        "line's characteristics are not carried"
    )
    names = next(case for case in CASES if case.id == "uncefact names of a place")
    document, _ = names.build(11)
    with pytest.raises(MappingFailed) as caught:
        adapt(document, example_registry)
    assert caught.value.findings[0].message.startswith(
        "11 ram:Name in one ram:OccurrenceSPSLocation where at most 10 are accepted"
    )
    signature = next(case for case in CASES if "signature" in case.id)
    document, _ = signature.build(501)
    with pytest.raises(MappingFailed) as caught:
        adapt(document, example_registry)
    assert caught.value.findings[0].message.startswith(
        "501 elements inside ds:Signature where at most 500 are accepted: an XML signature"
    )


def _filled(document: bytes, anchor: bytes, unit: bytes) -> bytes:
    """``document`` with ``unit`` repeated before ``anchor`` up to 2 MB (the size limit)."""
    assert anchor in document
    copies = (2 * 1024 * 1024 - len(document) - 64) // len(unit)
    return document.replace(anchor, unit * copies + anchor, 1)


@pytest.mark.parametrize(
    ("document", "anchor", "unit", "message"),
    [
        pytest.param(
            ENVELOPE,
            b"</env:Forwardings>",
            b"<env:Forwarding><env:To>BE</env:To></env:Forwarding>",
            r"^40,\d{3} env:Forwarding in one env:Forwardings where at most 20",
            id="envelope forwardings",
        ),
        pytest.param(
            RU_CERT,
            b"</kpc:DiamondsInfo>",
            b"<kpc:Characteristics>x</kpc:Characteristics>",
            r"^4\d,\d{3} kpc:Characteristics in one kpc:DiamondsInfo where at most 20",
            id="ru_fts characteristics",
        ),
        pytest.param(
            CERT.replace(
                b"</rsm:SPSCertificate>",
                b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"></ds:Signature>'
                b"</rsm:SPSCertificate>",
            ),
            b"</ds:Signature>",
            b"<ds:Object/>",
            r"^1\d\d,\d{3} elements inside ds:Signature where at most 500",
            id="uncefact signature",
        ),
        pytest.param(
            CERT,
            b"</ram:ExaminationSPSEvent>",
            b"",  # filled below: a whole trade line
            r"^[\d,]+ trade lines \(ram:IncludedSPSTradeLineItem\) where at most 30",
            id="uncefact trade lines",
        ),
    ],
)
def test_a_2_mb_document_of_copies_is_refused_quickly(
    example_registry: ParticipantRegistry,
    document: bytes,
    anchor: bytes,
    unit: bytes,
    message: str,
) -> None:
    """Before, the first three were accepted (their copies ignored) and the last refused only
    by the KP rules, after mapping 2,000 lines into the payload."""
    if not unit:
        start = document.index(b"<ram:IncludedSPSTradeLineItem>")
        end = document.index(b"</ram:IncludedSPSTradeLineItem>") + len(
            b"</ram:IncludedSPSTradeLineItem>"
        )
        anchor, unit = document[start:end], document[start:end]
    huge = _filled(document, anchor, unit)
    assert len(huge) > 2_000_000
    start = time.perf_counter()
    with pytest.raises(MappingFailed) as caught:
        adapt(huge, example_registry)
    assert time.perf_counter() - start < BOUND_S
    [finding] = caught.value.findings
    assert re.match(message, finding.message), finding.message


def test_the_fast_bound_check_looks_at_every_parent_the_schema_lets_repeat_a_bounded_element() -> (
    None
):
    """read.py's ``_may_exceed_bounds`` spares a real certificate the walk of its tree by
    looking only at ``REPEATING_PARENTS``: derived here from the profile schema, so that a
    schema repeating a bounded element somewhere else fails this test, not silently the
    bound. The only content the schema skips is the XML signature, which gets the walk."""
    xsd = "{http://www.w3.org/2001/XMLSchema}"
    users: dict[str, set[str]] = {}  # complex type -> the elements declared with it
    repeating: dict[str, set[str]] = {}  # complex type -> its bounded elements repeated
    skipped: list[str] = []
    for name in (CERTIFICATE_XSD, "ReusableAggregateBusinessInformationEntity_21p0_KP.xsd"):
        tree = etree.parse(xsd_dir() / "uncefact" / name)
        namespace = tree.getroot().get("targetNamespace")
        for element in tree.iter(f"{xsd}element"):
            declared = f"{{{namespace}}}{element.get('name')}"
            if element.get("type"):
                users.setdefault(element.get("type", "").split(":")[1], set()).add(declared)
            owner = next(element.iterancestors(f"{xsd}complexType"), None)
            repeated = element.get("maxOccurs", "1") != "1"
            if owner is not None and repeated and declared in CERTIFICATE_BOUNDS:
                repeating.setdefault(owner.get("name", ""), set()).add(declared)
        skipped += [str(any_.get("namespace")) for any_ in tree.iter(f"{xsd}any")]
    derived = {
        (parent, element)
        for owner, elements in repeating.items()
        for parent in users[owner]
        for element in elements
    }
    assert derived == REPEATING_PARENTS
    assert skipped == [uncefact_profile.XMLDSIG]


def test_fts_characteristics_are_only_in_a_line_which_is_a_child_of_the_root() -> None:
    """ru_fts' ``characteristics_bounded`` looks only at the root's DiamondsInfo children:
    the schemas must put Characteristics nowhere else, and skip no content."""
    xsd = "{http://www.w3.org/2001/XMLSchema}"
    owners: dict[str, set[str]] = {}  # element name -> the complex types declaring it
    for path in sorted((xsd_dir() / "ru_fts").glob("*.xsd")):
        tree = etree.parse(path)
        assert next(tree.iter(f"{xsd}any"), None) is None, path.name
        for element in tree.iter(f"{xsd}element"):
            owner = next(element.iterancestors(f"{xsd}complexType"), None)
            if owner is None:
                if element.get("name") in ru_fts_profile.KINDS:  # a root, of type <root>Type
                    assert element.get("type", "").endswith(f":{element.get('name')}Type")
            elif element.get("name") in {"Characteristics", "DiamondsInfo"}:
                owners.setdefault(element.get("name", ""), set()).add(owner.get("name", ""))
    roots = (ru_fts_profile.CERTIFICATE.root, ru_fts_profile.CONFIRMATION.root)
    assert owners == {
        "Characteristics": {"DiamondsInfoType"},
        "DiamondsInfo": {f"{root}Type" for root in roots},
    }


@pytest.mark.parametrize("faults", [0.0, 1.0])
def test_the_generator_writes_no_document_over_the_bounds(
    example_registry: ParticipantRegistry, faults: float
) -> None:
    options = GenerateOptions(pairs=150, seed=11, faults=faults, base_date=date(2026, 3, 2))
    checked = 0
    for story in generate(options, example_registry):
        for file in story.files:
            assert not _codes(file.content, example_registry) & {TOO_MANY_LINES, TOO_MANY_ELEMENTS}
            checked += 1
    assert checked >= 150


def _codes(document: bytes, registry: ParticipantRegistry) -> set[str]:
    """The finding codes of a refused document (none when it is adapted)."""
    try:
        adapt(document, registry)
    except MessageRejected as refused:
        return {finding.code for finding in refused.findings}
    return set()
