"""The ``uncefact`` adapter: the KP profile of UN/CEFACT D17A (docs/formats/uncefact-kp.md).

Besides the contract suite: exact mappings of realistic documents, grams, mixed origin,
cancellations and confirmations, precise findings (phytosanitary certificates included),
readable XSD messages, and conformance of everything ``render`` writes with the official
D17A schemas (``KPGW_UNCEFACT_XSD_DIR``, else ``../shared/uncefact``; mandatory in CI).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.pipeline import adapt
from adapters.uncefact import ADAPTER
from adapters.uncefact.profile import (
    KP_FIELD_INVALID,
    KP_FIELD_MISSING,
    NOT_KP_DOCUMENT,
    UNSUPPORTED_STATUS,
    UNSUPPORTED_UNIT,
)
from adapters.uncefact.schemas import acknowledgement_schema, certificate_schema
from adapters.xsd import XSD_VIOLATION, compile_schema
from gateway import rules
from gateway.errors import BusinessRuleViolation, MessageRejected
from gateway.events import (
    CertificateIssued,
    CertificateVoided,
    HsLine,
    ImportConfirmed,
    Party,
    Payload,
)
from gateway.registry import ParticipantRegistry
from tests.strategies import certificates, confirmations, voids
from tests.unit.adapters import contract
from tests.unit.adapters.contract import AdapterContract

registry = contract.registry  # the contract's session fixture, visible to pytest here

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "uncefact"
VALID = (
    "certificate_bw_eu_be.xml",
    "certificate_mixed_eu_in.xml",
    "certificate_grams_ca_eu_be.xml",
    "cancellation_bw.xml",
    "acknowledgement_eu_be.xml",
)
PHYTOSANITARY = "phytosanitary_nz_apples.xml"
OFFICIAL = {
    "SPSCertificate": "SPSCertificate_17p0.xsd",
    "SPSAcknowledgement": "SPSAcknowledgement_17p0.xsd",
}


def text(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def edited(name: str, old: str, new: str) -> bytes:
    """A fixture with exactly one edit (fails loudly if the edit does not apply once)."""
    source = text(name)
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in {name}"
    return source.replace(old, new).encode()


def rejected(document: bytes, participants: ParticipantRegistry) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        adapt(document, participants)
    return caught.value


CERT = "certificate_bw_eu_be.xml"
ACK = "acknowledgement_eu_be.xml"
STATUS = '<ram:StatusCode listID="4405" listAgencyID="6">70</ram:StatusCode>\n'
TYPE = (
    '<ram:TypeCode listID="1001" listAgencyID="6" name="Certificate of conformity">2</ram:TypeCode>'
)


# --- the official schemas (conformance) ------------------------------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def official_dir() -> Path:
    configured = os.environ.get("KPGW_UNCEFACT_XSD_DIR")
    return Path(configured) if configured else REPO_ROOT / ".." / "shared" / "uncefact"


@pytest.fixture(scope="session")
def official() -> dict[str, etree.XMLSchema]:
    """The official D17A schemas, compiled once per session (they are big)."""
    directory = official_dir()
    standard = directory / "data" / "standard"
    missing = [name for name in OFFICIAL.values() if not (standard / name).is_file()]
    if missing:
        message = (
            f"official UN/CEFACT schemas not found under {directory} (missing {missing}); "
            "set KPGW_UNCEFACT_XSD_DIR to the folder holding data/, codelist/, identifierlist/"
        )
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return {root: compile_schema(standard / name) for root, name in OFFICIAL.items()}


def assert_official(schemas: dict[str, etree.XMLSchema], document: bytes) -> None:
    root = etree.fromstring(document)
    schema = schemas[etree.QName(root).localname]
    assert schema.validate(root), f"{schema.error_log}\n{document.decode()}"


@st.composite
def certificates_with_line_origins(draw: st.DrawFn) -> CertificateIssued:
    """Certificates whose lines really differ in origin from the certificate."""
    cert = draw(certificates())
    others = [code for code in ("BW", "RU", "ZA", "CA", "AO") if code != cert.origin]
    lines = tuple(
        replace(line, origin=draw(st.sampled_from([None, *others]))) for line in cert.lines
    )
    return replace(cert, lines=lines)


# --- the contract ----------------------------------------------------------------------------


class TestUncefact(AdapterContract):
    adapter_name = "uncefact"

    def valid_documents(self) -> list[bytes]:
        return [fixture(name) for name in VALID]

    def invalid_documents(self) -> list[tuple[str, bytes, str]]:
        return [
            (
                "schema violation: a weight that is not a decimal",
                edited(CERT, ">1250.400<", ">1,250.4<"),
                XSD_VIOLATION,
            ),
            (
                "wrong element order: StatusCode before TypeCode",
                edited(CERT, f"{TYPE}\n    {STATUS}", f"{STATUS}    {TYPE}\n"),
                XSD_VIOLATION,
            ),
            (
                "missing certificate number (ram:ID)",
                edited(CERT, "<ram:ID>BW0123456</ram:ID>", ""),
                XSD_VIOLATION,
            ),
            (
                "empty certificate number",
                edited(CERT, "<ram:ID>BW0123456</ram:ID>", "<ram:ID> </ram:ID>"),
                XSD_VIOLATION,
            ),
            (
                "an SPS element outside the KP subset",
                edited(
                    CERT,
                    "<ram:SequenceNumeric>2</ram:SequenceNumeric>",
                    "<ram:SequenceNumeric>2</ram:SequenceNumeric>"
                    "<ram:CommonName>Diamond</ram:CommonName>",
                ),
                XSD_VIOLATION,
            ),
            ("phytosanitary certificate (TypeCode 851)", fixture(PHYTOSANITARY), NOT_KP_DOCUMENT),
            (
                "acknowledgement of a phytosanitary certificate",
                edited(ACK, "<ram:TypeCode>2</ram:TypeCode>", "<ram:TypeCode>851</ram:TypeCode>"),
                NOT_KP_DOCUMENT,
            ),
            (
                "weight in kilograms",
                edited(CERT, 'unitCode="CTM">340.000', 'unitCode="KGM">0.068'),
                UNSUPPORTED_UNIT,
            ),
            (
                "weight in grams finer than 0.001 ct",
                edited(CERT, 'unitCode="CTM">340.000', 'unitCode="GRM">68.0001'),
                KP_FIELD_INVALID,
            ),
            (
                "no expiry note",
                edited(CERT, "<ram:SubjectCode>KP-EXPIRY</ram:SubjectCode>", ""),
                KP_FIELD_MISSING,
            ),
            (
                "no US dollar value on a line",
                edited(CERT, "<ram:Content>28900.00</ram:Content>", "<ram:Content> </ram:Content>"),
                KP_FIELD_MISSING,
            ),
            (
                "a US dollar value with a thousands separator",
                edited(CERT, "<ram:Content>28900.00<", "<ram:Content>28,900.00<"),
                KP_FIELD_INVALID,
            ),
            (
                "status 39 (approved) on a certificate",
                edited(CERT, STATUS, STATUS.replace(">70<", ">39<")),
                UNSUPPORTED_STATUS,
            ),
            (
                "acknowledgement with status 41 (rejected)",
                edited(ACK, ">73<", ">41<"),
                UNSUPPORTED_STATUS,
            ),
            (
                "acknowledgement with a malformed KP-LINE",
                edited(ACK, "28900.00 USD", "28900.00"),
                KP_FIELD_INVALID,
            ),
            (
                "acknowledgement with an unknown KP statement",
                edited(ACK, "KP-PARCELS: 4", "KP-PARCEL: 4"),
                KP_FIELD_INVALID,
            ),
            (
                "acknowledgement without the importer",
                edited(ACK, "KP-IMPORTER-NAME: Diamond Land NV", "Diamond Land NV"),
                KP_FIELD_MISSING,
            ),
        ]

    # --- exact mappings ----------------------------------------------------------------------

    def test_certificate_maps_every_field(self, registry: ParticipantRegistry) -> None:
        adapted = adapt(fixture(CERT), registry)
        assert adapted.payload == CertificateIssued(
            certificate_number="BW0123456",
            issuing_participant="BW",
            exporting_participant="BW",
            importing_participant="EU",
            importing_member_state="BE",
            exporter=Party("Okavango Diamond Company (Pty) Ltd", "Plot 63, Gaborone", "BW"),
            importer=Party("Diamond Land NV", "Hoveniersstraat 22, 2018 Antwerpen", "BE"),
            origin="BW",
            issue_date=date(2026, 2, 27),
            expiry_date=date(2026, 4, 28),
            parcels=4,
            lines=(
                HsLine("7102.31", Decimal("1250.400"), Decimal("164302.56")),
                HsLine("7102.10", Decimal("340.000"), Decimal("28900.00")),
            ),
            total_carats=Decimal("1590.400"),
            total_value_usd=Decimal("193202.56"),
            authority="Ministry of Minerals and Energy, Diamond Hub",
        )
        assert adapted.message_id == "BW0123456:70"
        assert adapted.occurred_at == datetime(2026, 2, 27, 7, 30, tzinfo=UTC)
        assert adapted.authority == "Ministry of Minerals and Energy, Diamond Hub"
        assert adapted.format == "uncefact"

    def test_grams_are_converted_to_carats(self, registry: ParticipantRegistry) -> None:
        payload = adapt(fixture("certificate_grams_ca_eu_be.xml"), registry).payload
        assert isinstance(payload, CertificateIssued)
        # 100.5 g x 5 = 502.5 ct; the 10-digit national code maps to its HS subheading.
        assert payload.lines == (HsLine("7102.31", Decimal("502.500"), Decimal("48742.50")),)
        assert payload.total_carats == Decimal("502.500")
        assert payload.issue_date == date(2026, 1, 15)  # DateTimeString format 102
        assert payload.importer == Party("Antwerp Rough Trading BV")

    def test_mixed_origin_keeps_the_provenance(self, registry: ParticipantRegistry) -> None:
        payload = adapt(fixture("certificate_mixed_eu_in.xml"), registry).payload
        assert isinstance(payload, CertificateIssued)
        assert (payload.origin, payload.provenance) == ("MIXED", "BE")
        assert (payload.exporting_participant, payload.exporting_member_state) == ("EU", "BE")
        assert payload.issuing_participant == "EU"
        assert all(line.origin is None for line in payload.lines)

    def test_lines_of_different_origins_without_a_note_are_mixed(
        self, registry: ParticipantRegistry
    ) -> None:
        head, _, tail = text(CERT).rpartition("<ram:ID>BW</ram:ID>")  # the second line's
        document = f"{head}<ram:ID>RU</ram:ID>{tail}".encode()
        payload = adapt(document, registry).payload
        assert isinstance(payload, CertificateIssued)
        assert payload.origin == "MIXED"
        assert [line.origin for line in payload.lines] == ["BW", "RU"]
        with pytest.raises(BusinessRuleViolation) as caught:
            rules.check(payload, registry)  # mixed, but no provenance was given
        assert [f.code for f in caught.value.findings] == [rules.MIXED_WITHOUT_PROVENANCE]

    def test_cancellation_is_dated_by_its_signature(self, registry: ParticipantRegistry) -> None:
        adapted = adapt(fixture("cancellation_bw.xml"), registry)
        assert adapted.payload == CertificateVoided(
            certificate_number="BW0123456",
            voiding_participant="BW",
            voided_on=date(2026, 3, 2),
            reason="Shipment cancelled by the exporter before departure",
        )
        assert adapted.message_id == "BW0123456:40"
        assert adapted.occurred_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

    def test_dates_are_the_documents_own_calendar_days(self, registry: ParticipantRegistry) -> None:
        """Found by an integrator's review: 01:30 on 1 March in Gaborone (+02:00) is still
        28 February in UTC, and the certificate's issue date was cut to the UTC day. The
        date is the document's day; the instant stays UTC."""
        certificate = adapt(
            text(CERT).replace("2026-02-27T09:30:00+02:00", "2026-03-01T01:30:00+02:00").encode(),
            registry,
        )
        assert isinstance(certificate.payload, CertificateIssued)
        assert certificate.payload.issue_date == date(2026, 3, 1)
        assert certificate.occurred_at == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
        voided = adapt(
            edited("cancellation_bw.xml", "2026-03-02T11:15:00+02:00", "2026-03-03T00:15:00+02:00"),
            registry,
        )
        assert isinstance(voided.payload, CertificateVoided)
        assert voided.payload.voided_on == date(2026, 3, 3)
        assert voided.occurred_at == datetime(2026, 3, 2, 22, 15, tzinfo=UTC)
        source = text(ACK).replace(
            "    <ram:ReasonInformation>KP-RECEIVED-ON: 2026-03-03</ram:ReasonInformation>\n", ""
        )
        source = source.replace("2026-03-04T10:12:00+01:00", "2026-03-04T00:12:00+01:00")
        confirmed = adapt(source.encode(), registry)
        assert isinstance(confirmed.payload, ImportConfirmed)
        assert confirmed.payload.date_of_receipt == date(2026, 3, 4)  # not 3 March (UTC)
        assert confirmed.occurred_at == datetime(2026, 3, 3, 23, 12, tzinfo=UTC)

    def test_a_receipt_after_the_acknowledgement_is_a_finding(
        self, registry: ParticipantRegistry
    ) -> None:
        document = edited(ACK, "KP-RECEIVED-ON: 2026-03-03", "KP-RECEIVED-ON: 2026-03-05")
        finding = rejected(document, registry).findings[0]
        assert (finding.code, finding.line) == (KP_FIELD_INVALID, 16)
        assert "received on 2026-03-05, after this acknowledgement was issued (2026-03-04" in (
            finding.message
        )
        same_day = edited(ACK, "KP-RECEIVED-ON: 2026-03-03", "KP-RECEIVED-ON: 2026-03-04")
        assert isinstance(adapt(same_day, registry).payload, ImportConfirmed)

    def test_acknowledgement_maps_every_statement(self, registry: ParticipantRegistry) -> None:
        adapted = adapt(fixture(ACK), registry)
        assert adapted.payload == ImportConfirmed(
            certificate_number="BW0123456",
            confirming_participant="EU",
            confirming_member_state="BE",
            date_of_receipt=date(2026, 3, 3),
            importer=Party("Diamond Land NV", "Hoveniersstraat 22, 2018 Antwerpen", "BE"),
            exporter=Party("Okavango Diamond Company (Pty) Ltd", None, "BW"),
            parcels=4,
            lines=(
                HsLine("7102.31", Decimal("1250.400"), Decimal("164302.56")),
                HsLine("7102.10", Decimal("340.000"), Decimal("28900.00")),
            ),
            total_carats=Decimal("1590.400"),
            total_value_usd=Decimal("193202.56"),
            remarks="Seals intact; parcels re-weighed on arrival.",
            authority="FPS Economy, Antwerp Diamond Office (BE)",
        )
        assert adapted.message_id == "BW0123456:73:20260304T091200Z"
        assert adapted.occurred_at == datetime(2026, 3, 4, 9, 12, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("written", "expected"),
        [
            ("<udt:DateTimeString>2026-02-27</udt:DateTimeString>", datetime(2026, 2, 27)),
            ("<udt:DateTimeString>2026-02-27T23:30:00-05:00</udt:DateTimeString>",
             datetime(2026, 2, 28, 4, 30)),
            ("<udt:DateTimeString>2026-02-27T09:30:00</udt:DateTimeString>",
             datetime(2026, 2, 27, 9, 30)),
            ('<udt:DateTimeString format="203">202602270930</udt:DateTimeString>',
             datetime(2026, 2, 27, 9, 30)),
            ('<udt:DateTimeString format="204">20260227093015</udt:DateTimeString>',
             datetime(2026, 2, 27, 9, 30, 15)),
            ('<udt:DateTimeString format="205">202602270930+0100</udt:DateTimeString>',
             datetime(2026, 2, 27, 8, 30)),
            ("<udt:DateTime>2026-02-27T09:30:00Z</udt:DateTime>", datetime(2026, 2, 27, 9, 30)),
        ],
    )  # fmt: skip
    def test_instants_become_utc(
        self, registry: ParticipantRegistry, written: str, expected: datetime
    ) -> None:
        issue = "<ram:IssueDateTime>\n      <udt:DateTimeString>2026-02-27T09:30:00+02:00"
        issue += "</udt:DateTimeString>"
        document = edited(CERT, issue, f"<ram:IssueDateTime>\n      {written}")
        adapted = adapt(document, registry)
        assert adapted.occurred_at == expected.replace(tzinfo=UTC)

    # --- KP rules run after the adapter ------------------------------------------------------

    def test_valid_fixtures_obey_the_kp_rules(self, registry: ParticipantRegistry) -> None:
        for name in VALID:
            rules.check(adapt(fixture(name), registry).payload, registry)

    @pytest.mark.parametrize(
        ("class_code", "hs_code"), [("710229", "7102.29"), ("080810", "0808.10")]
    )
    def test_other_hs_codes_map_so_the_kp_rule_judges_them(
        self, registry: ParticipantRegistry, class_code: str, hs_code: str
    ) -> None:
        document = edited(
            CERT,
            "<ram:ClassCode>710210</ram:ClassCode>",
            f"<ram:ClassCode>{class_code}</ram:ClassCode>",
        )
        payload = adapt(document, registry).payload
        assert isinstance(payload, CertificateIssued)
        assert payload.lines[1].hs_code == hs_code
        with pytest.raises(BusinessRuleViolation) as caught:
            rules.check(payload, registry)
        assert [f.code for f in caught.value.findings] == [rules.NOT_KP_GOODS]

    # --- precise findings ----------------------------------------------------------------------

    def test_phytosanitary_certificate_gets_one_precise_finding(
        self, registry: ParticipantRegistry
    ) -> None:
        error = rejected(fixture(PHYTOSANITARY), registry)
        assert len(error.findings) == 1
        finding = error.findings[0]
        assert finding.code == NOT_KP_DOCUMENT
        assert "851" in finding.message
        assert "phytosanitary" in finding.message
        assert finding.line == 13
        assert finding.path == "/rsm:SPSCertificate/rsm:SPSExchangedDocument/ram:TypeCode"

    def test_xsd_findings_are_readable(self, registry: ParticipantRegistry) -> None:
        document = edited(CERT, f"{TYPE}\n    {STATUS}", f"{STATUS}    {TYPE}\n")
        finding = rejected(document, registry).findings[0]
        assert finding.code == XSD_VIOLATION
        assert "{urn:" not in finding.message
        assert finding.message == (
            "ram:StatusCode is out of order: one of ram:Description, ram:TypeCode must come "
            "before it (the schema fixes the order)."
        )
        assert finding.line == 11
        assert finding.path == "/rsm:SPSCertificate/rsm:SPSExchangedDocument/ram:StatusCode"

    def test_an_element_of_another_library_version_names_the_namespace(
        self, registry: ParticipantRegistry
    ) -> None:
        """A sender that binds ram: to D16B's version 20 gets told so, not "ram:Name expected"."""
        document = edited(
            CERT,
            "ReusableAggregateBusinessInformationEntity:21",
            "ReusableAggregateBusinessInformationEntity:20",
        )
        finding = rejected(document, registry).findings[0]
        assert finding.code == XSD_VIOLATION
        assert "Name is in namespace urn:un:unece:uncefact:data:standard:Reusable" in (
            finding.message
        )
        assert "Entity:20, but the profile expects it in" in finding.message
        assert "Entity:21: check the namespace declaration" in finding.message

    def test_an_element_outside_the_profile_is_named_as_such(
        self, registry: ParticipantRegistry
    ) -> None:
        """GrossWeightMeasure is D17A but not KP: "remove it", not "something is missing"."""
        weight = '<ram:NetWeightMeasure unitCode="CTM">340.000</ram:NetWeightMeasure>'
        document = edited(
            CERT,
            weight,
            f'{weight}<ram:GrossWeightMeasure unitCode="KGM">1</ram:GrossWeightMeasure>',
        )
        finding = rejected(document, registry).findings[0]
        assert finding.message.startswith(
            "ram:GrossWeightMeasure is not part of the KP profile (its schema has no such "
            "element); remove it."
        )

    def test_a_missing_element_is_named_before_the_one_that_follows(
        self, registry: ParticipantRegistry
    ) -> None:
        finding = rejected(edited(CERT, f"    {TYPE}\n", ""), registry).findings[0]
        assert finding.message == (
            "ram:StatusCode is not expected here: one of ram:Description, ram:TypeCode must "
            "come before it (a required element is missing, or ram:StatusCode is misplaced)."
        )

    @pytest.mark.parametrize(
        ("old", "new", "hint"),
        [
            (
                "2026-02-27T09:30:00+02:00</udt:DateTimeString>\n    </ram:IssueDateTime>",
                "27/02/2026</udt:DateTimeString>\n    </ram:IssueDateTime>",
                "the value '27/02/2026' is not in the expected form: an ISO 8601 date",
            ),
            (
                ">1250.400<",
                ">1,250.400<",
                "'1,250.400' is not a valid value of the type 'decimal'. Write a decimal with a "
                "dot and no thousands separator",
            ),
        ],
    )
    def test_a_value_in_the_wrong_form_says_what_to_write(
        self, registry: ParticipantRegistry, old: str, new: str, hint: str
    ) -> None:
        finding = rejected(edited(CERT, old, new), registry).findings[0]
        assert hint in finding.message, finding.message
        assert "\\d" not in finding.message  # no regular expression for the sender to decode

    @pytest.mark.parametrize(
        "value", ["{" + ":" * 200_000, "{:" * 100_000, "[facet 'pattern'] The value '" * 5_000]
    )
    def test_a_hostile_value_in_a_schema_finding_costs_no_time(
        self, registry: ParticipantRegistry, value: str
    ) -> None:
        """Found by a security review: a quadratic regex over libxml2's message, which
        quotes the value in full, let 45 KB block the ingress for 20 s. The message is cut
        and every pattern on it is linear; the bound is generous, the bug took hours."""
        old = "2026-02-27T09:30:00+02:00</udt:DateTimeString>\n    </ram:IssueDateTime>"
        document = edited(CERT, old, f"{value}</udt:DateTimeString>\n    </ram:IssueDateTime>")
        started = time.perf_counter()
        finding = rejected(document, registry).findings[0]
        assert time.perf_counter() - started < 2.0
        assert finding.code == XSD_VIOLATION
        assert len(finding.message) < 1_200 and finding.message.endswith("... (cut)")

    def test_xsd_findings_speak_the_senders_prefixes(self, registry: ParticipantRegistry) -> None:
        source = text(CERT).replace("ram:", "r:").replace("xmlns:ram=", "xmlns:r=")
        source = source.replace("<r:ID>BW0123456</r:ID>", "")
        finding = rejected(source.encode(), registry).findings[0]
        assert finding.code == XSD_VIOLATION
        assert finding.message == (
            "r:ID is missing before r:TypeCode (or r:TypeCode is not allowed here)."
        )

    def test_mapping_findings_carry_line_and_path(self, registry: ParticipantRegistry) -> None:
        document = edited(CERT, 'unitCode="CTM">340.000', 'unitCode="LBR">0.15')
        finding = rejected(document, registry).findings[0]
        assert finding.code == UNSUPPORTED_UNIT
        assert finding.line == 104
        assert finding.path == (
            "/rsm:SPSCertificate/rsm:SPSConsignment/ram:IncludedSPSConsignmentItem"
            "/ram:IncludedSPSTradeLineItem[2]/ram:NetWeightMeasure"
        )

    def test_a_weight_with_more_digits_than_decimals_hold_is_a_finding(
        self, registry: ParticipantRegistry
    ) -> None:
        huge = "9" * 40
        document = edited(CERT, 'unitCode="CTM">340.000', f'unitCode="CTM">{huge}.000')
        finding = rejected(document, registry).findings[0]
        assert finding.code == KP_FIELD_INVALID
        assert f"{huge}.000 has more digits than any weight or amount" in finding.message
        assert finding.line == 104

    @pytest.mark.parametrize(
        ("name", "old", "new"),
        [
            (CERT, "<ram:ItemQuantity>3<", "<ram:ItemQuantity>{digits}<"),
            (ACK, "KP-PARCELS: 4<", "KP-PARCELS: {digits}<"),
        ],
        ids=["item-quantity", "parcels-statement"],
    )
    def test_a_count_of_thousands_of_digits_is_a_finding(
        self, registry: ParticipantRegistry, name: str, old: str, new: str
    ) -> None:
        """Found by fuzzing: Python refuses to convert a text of more than 4,300 digits to
        an int (ValueError), which escaped as an internal error (a poison pill)."""
        document = edited(name, old, new.format(digits="9" * 5000))
        finding = rejected(document, registry).findings[0]
        assert finding.code == KP_FIELD_INVALID
        assert "has more digits than any" in finding.message
        assert finding.line is not None and finding.path is not None

    @pytest.mark.parametrize(
        ("name", "old", "new"),
        [
            (CERT, "<ram:ItemQuantity>3<", "<ram:ItemQuantity>{count}<"),
            (ACK, "KP-PARCELS: 4<", "KP-PARCELS: {count}<"),
        ],
        ids=["item-quantity", "parcels-statement"],
    )
    @pytest.mark.parametrize("count", ["0.5", ".5", "5.", "9" * 60 + ".5"])
    def test_a_count_that_is_not_whole_is_said_so(
        self, registry: ParticipantRegistry, name: str, old: str, new: str, count: str
    ) -> None:
        """A count of parcels was "0.5 has more than 0 decimal places", and ".5" was "not a
        decimal number", which it is (xs:decimal)."""
        document = edited(name, old, new.format(count=count))
        finding = rejected(document, registry).findings[0]
        assert finding.code == KP_FIELD_INVALID
        assert "is not a whole number (a count such as 3)" in finding.message
        assert finding.line is not None and finding.path is not None

    def test_weights_beyond_the_canonical_range_break_a_rule(
        self, registry: ParticipantRegistry
    ) -> None:
        document = edited(
            CERT,
            "<ram:Content>1590.400</ram:Content>",
            "<ram:Content>1234567890123.000</ram:Content>",
        )
        findings = rules.findings_for(adapt(document, registry).payload, registry)
        assert [f.path for f in findings if f.code == rules.VALUE_OUT_OF_RANGE] == ["total_carats"]

    def test_comments_inside_values_change_nothing(self, registry: ParticipantRegistry) -> None:
        document = edited(CERT, 'unitCode="CTM">340.000', 'unitCode="CTM">340<!-- c -->.000')
        document = document.replace(b"<ram:ID>BW0123456", b"<ram:ID><!-- n -->BW0123456")
        assert adapt(document, registry).payload == adapt(fixture(CERT), registry).payload

    def test_findings_stop_at_fifty_and_count_the_rest(self, registry: ParticipantRegistry) -> None:
        """A document with dozens of broken statements (within the bound on
        ram:ReasonInformation; thousands are TOO_MANY_ELEMENTS): the first 50 are listed."""
        bad = "<ram:ReasonInformation>KP-X: 1</ram:ReasonInformation>\n" * 80
        first = "    <ram:ReasonInformation>KP-CONFIRMING-COUNTRY: BE</ram:ReasonInformation>"
        document = edited(ACK, first, bad + first)
        caught = rejected(document, registry)
        assert len(caught.findings) == 50
        assert caught.message.startswith("80 problem(s)")
        assert "(30 more not listed)" in caught.message

    def test_schema_findings_stop_at_fifty_and_count_the_rest(
        self, registry: ParticipantRegistry
    ) -> None:
        """As the mapping's: the message says how many were left out (an integrator
        review found the XSD stage silent about them)."""
        source = text(CERT)
        start = source.index("<ram:IncludedSPSTradeLineItem>")
        end = source.index("</ram:IncludedSPSTradeLineItem>") + len(
            "</ram:IncludedSPSTradeLineItem>"
        )
        line = source[start:end].replace(
            "<ram:SequenceNumeric>1</ram:SequenceNumeric>",
            "<ram:SequenceNumeric>x</ram:SequenceNumeric>",
        )
        document = (source[:start] + "\n".join([line] * 71) + source[end:]).encode()
        caught = rejected(document, registry)
        assert caught.code == XSD_VIOLATION and len(caught.findings) == 50
        assert caught.message.startswith("50 schema violation(s) (21 more not listed); first:")

    def test_an_instant_outside_the_calendar_in_utc_is_a_finding(
        self, registry: ParticipantRegistry
    ) -> None:
        source = text(CERT).replace("2026-02-27T09:30:00+02:00", "0001-01-01T00:00:00+01:00", 1)
        finding = rejected(source.encode(), registry).findings[0]
        assert finding.code == KP_FIELD_INVALID
        assert "falls outside the calendar" in finding.message

    def test_code_205_digits_read_alike_with_or_without_the_format(
        self, registry: ParticipantRegistry
    ) -> None:
        def issued(value: str) -> object:
            source = text(CERT).replace("<udt:DateTimeString>2026-02-27T09:30:00+02:00", value, 1)
            return adapt(source.encode(), registry).occurred_at

        with_format = issued('<udt:DateTimeString format="205">202602270930+0200')
        assert issued("<udt:DateTimeString>202602270930+0200") == with_format
        assert with_format == issued("<udt:DateTimeString>2026-02-27T09:30:00+02:00")

    @pytest.mark.parametrize(
        ("written", "expected"),
        [
            ('format="102">20260227+0900', datetime(2026, 2, 26, 15, 0)),
            ('format="203">202602270930-0500', datetime(2026, 2, 27, 14, 30)),
            ('format="204">20260227093015+0100', datetime(2026, 2, 27, 8, 30, 15)),
        ],
    )
    def test_every_digit_format_code_may_carry_an_offset(
        self, registry: ParticipantRegistry, written: str, expected: datetime
    ) -> None:
        """An integrator's review: format="102" with an offset was refused although the
        profile allows it (only digits without a format attribute were read with one)."""
        source = text(CERT).replace(
            "<udt:DateTimeString>2026-02-27T09:30:00+02:00", f"<udt:DateTimeString {written}", 1
        )
        assert adapt(source.encode(), registry).occurred_at == expected.replace(tzinfo=UTC)

    @pytest.mark.parametrize(
        ("written", "message"),
        [
            ('format="203">20261120', "does not match format code 203 (CCYYMMDDHHMM: 12 digits"),
            ('format="205">20261120+0100', "does not match format code 205"),
            ('format="204">202611201230', "does not match format code 204"),
            ('format="205">202611201230', "does not match format code 205"),
            ('format="102">20261301', "is not a date and time (format code 102, CCYYMMDD)"),
            ('format="999">20260227', "format code '999' is not one the KP profile reads"),
            ('format="203">202602271260', "is not a date and time"),
            ('format="102">20260227+2400', "does not match format code 102"),
            ('format="203">202602270930+0175', "does not match format code 203"),
        ],
    )
    def test_digits_that_do_not_fit_their_format_code_are_refused(
        self, registry: ParticipantRegistry, written: str, message: str
    ) -> None:
        """An integrator's review: strptime accepts one-digit fields, so "20261120" under
        format 203 was read as 1 January 02:00 and the document passed with a wrong date."""
        source = text(CERT).replace(
            "<udt:DateTimeString>2026-02-27T09:30:00+02:00", f"<udt:DateTimeString {written}", 1
        )
        (finding,) = rejected(source.encode(), registry).findings
        assert finding.code == KP_FIELD_INVALID
        assert message in finding.message

    @pytest.mark.parametrize(
        "written",
        [
            ">2026-02-27T09:30:00+14:01",
            ">2026-02-27T09:30:00-23:59",
            ' format="205">202602270930+2359',
            ' format="102">20260227-1430',
        ],
    )
    def test_an_offset_no_time_zone_has_is_refused(
        self, registry: ParticipantRegistry, written: str
    ) -> None:
        """A time review: +23:59 passed the string form (udt:DateTime's xs:dateTime refused
        it) and stretched the future-date tolerance by a day."""
        source = text(CERT).replace(
            "<udt:DateTimeString>2026-02-27T09:30:00+02:00", f"<udt:DateTimeString{written}", 1
        )
        (finding,) = rejected(source.encode(), registry).findings
        assert finding.code == KP_FIELD_INVALID
        assert "time zones lie between -12:00 and +14:00" in finding.message

    @pytest.mark.parametrize("zone", ["+14:00", "-12:00"])
    def test_the_widest_real_offsets_are_read(
        self, registry: ParticipantRegistry, zone: str
    ) -> None:
        source = text(CERT).replace("2026-02-27T09:30:00+02:00", f"2026-02-27T09:30:00{zone}", 1)
        assert adapt(source.encode(), registry).payload.issue_date == date(2026, 2, 27)  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        "written", ["2026-02-26T24:00:00Z", "2026-02-26T24:00Z", "2026-02-26T24:00:00.000Z"]
    )
    def test_end_of_day_24_00_is_the_next_midnight(
        self, registry: ParticipantRegistry, written: str
    ) -> None:
        """xs:dateTime's 24:00:00 passed the schema, then was refused by Python's reader."""
        source = text(CERT).replace("2026-02-27T09:30:00+02:00", written, 1)
        assert adapt(source.encode(), registry).occurred_at == datetime(2026, 2, 27, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("written", "exact"),
        [
            (">2026-02-27T09:30:00+02:00", True),
            (">2026-02-27T09:30:00Z", True),
            (' format="205">202602270930+0100', True),
            (">2026-02-27T09:30:00", False),
            (">2026-02-27T00:00:00Z", False),  # midnight UTC: how a bare date is often written
            (">2026-02-27T00:00:00+02:00", True),
            (">2026-02-27", False),
            (' format="102">20260227', False),
            (' format="203">202602270930', False),
        ],
    )
    def test_only_a_time_written_with_its_offset_is_exact(
        self, registry: ParticipantRegistry, written: str, exact: bool
    ) -> None:
        source = text(CERT).replace(
            "<udt:DateTimeString>2026-02-27T09:30:00+02:00", f"<udt:DateTimeString{written}", 1
        )
        assert adapt(source.encode(), registry).occurred_at_exact is exact

    def test_the_writer_writes_dates_as_dates(self, registry: ParticipantRegistry) -> None:
        """The canonical events carry days: a rendered T00:00:00Z claimed an exact instant,
        which the clock check would hold against the reception time."""
        adapted = adapt(fixture(CERT), registry)
        rendered = ADAPTER.render(adapted.payload, message_id="m", registry=registry)
        assert b"<udt:DateTimeString>2026-02-27</udt:DateTimeString>" in rendered
        again = adapt(rendered, registry)
        assert again.payload == adapted.payload and not again.occurred_at_exact

    def test_acknowledgement_countries_are_codes_read_in_either_case(
        self, registry: ParticipantRegistry
    ) -> None:
        """An integrator's review: an acknowledgement's party countries were copied as
        written ("de", even "Germany"), unlike a certificate's."""
        document = edited(ACK, "KP-IMPORTER-COUNTRY: BE", "KP-IMPORTER-COUNTRY: be")
        document = document.replace(b"KP-EXPORTER-COUNTRY: BW", b"KP-EXPORTER-COUNTRY: bw")
        document = document.replace(b"KP-CONFIRMING-COUNTRY: BE", b"KP-CONFIRMING-COUNTRY: be")
        assert adapt(document, registry).payload == adapt(fixture(ACK), registry).payload

    @pytest.mark.parametrize(
        "statement",
        ["KP-IMPORTER-COUNTRY: Belgium", "KP-EXPORTER-COUNTRY: BWA", "KP-CONFIRMING-COUNTRY: B"],
    )
    def test_acknowledgement_countries_that_are_not_codes_are_refused(
        self, registry: ParticipantRegistry, statement: str
    ) -> None:
        key = statement.partition(":")[0]  # one finding for one mistake (a code review)
        original = (
            next(line for line in text(ACK).splitlines() if f">{key}:" in line)
            .split(">")[1]
            .split("<")[0]
        )
        (finding,) = rejected(edited(ACK, original, statement), registry).findings
        assert finding.code == KP_FIELD_INVALID
        assert f"statement {key}" in finding.message and "alpha-2" in finding.message
        assert finding.line is not None

    def test_a_confirming_country_that_is_no_code_is_one_finding(
        self, registry: ParticipantRegistry
    ) -> None:
        """A code review: without KP-IMPORTER-COUNTRY, a KP-CONFIRMING-COUNTRY of
        'Belgium' also reported the confirming country as missing."""
        document = edited(ACK, "KP-CONFIRMING-COUNTRY: BE", "KP-CONFIRMING-COUNTRY: Belgium")
        document = document.replace(
            b"<ram:ReasonInformation>KP-IMPORTER-COUNTRY: BE</ram:ReasonInformation>", b""
        )
        (finding,) = rejected(document, registry).findings
        assert "'Belgium' is not an ISO 3166-1 alpha-2" in finding.message

    def test_an_origin_note_in_lower_case_is_a_code(self, registry: ParticipantRegistry) -> None:
        """An integrator's review: KP-ORIGIN "bw" was refused while KP-PROVENANCE "ae" and
        party countries in lower case were read."""
        note = "<ram:SubjectCode>KP-EXPIRY</ram:SubjectCode>\n    </ram:IncludedSPSNote>"
        written = (
            note + "\n    <ram:IncludedSPSNote>\n      <ram:Content>{}</ram:Content>\n"
            "      <ram:SubjectCode>KP-ORIGIN</ram:SubjectCode>\n    </ram:IncludedSPSNote>"
        )
        lower = adapt(edited(CERT, note, written.format("bw")), registry).payload
        upper = adapt(edited(CERT, note, written.format("BW")), registry).payload
        assert lower == upper
        assert isinstance(lower, CertificateIssued) and lower.origin == "BW"

    def test_certificate_numbers_are_read_as_the_other_formats_read_them(
        self, registry: ParticipantRegistry
    ) -> None:
        document = edited(CERT, "<ram:ID>BW0123456</ram:ID>", "<ram:ID> bw 0123456 </ram:ID>")
        assert adapt(document, registry).payload == adapt(fixture(CERT), registry).payload

    def test_a_statement_key_in_another_case_is_still_the_statement(
        self, registry: ParticipantRegistry
    ) -> None:
        document = edited(ACK, "KP-CONFIRMING-COUNTRY: BE", "kp-Confirming-Country: BE")
        assert adapt(document, registry).payload == adapt(fixture(ACK), registry).payload

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            ("KP-PARCELS: 4", "KP-PARCELS 4"),
            ("KP-TOTAL-CARATS: 1590.400", "KP-TOTAL-CARATS = 1590.400"),
            (
                "KP-LINE: 710210 340.000 CTM 28900.00 USD",
                "KP-LINE 2: 710210 340.000 CTM 28900.00 USD",
            ),
            ("KP-TOTAL-VALUE-USD: 193202.56", "kp-total-value-usd 193202.56"),
        ],
    )
    def test_a_malformed_statement_is_a_finding_not_a_remark(
        self, old: str, new: str, registry: ParticipantRegistry
    ) -> None:
        """A typo must not turn the confirming authority's quantities into a remark."""
        finding = rejected(edited(ACK, old, new), registry).findings[0]
        assert finding.code == KP_FIELD_INVALID
        assert repr(new) in finding.message
        assert "KP-<KEY>: <value>" in finding.message
        assert (
            finding.line
            == text(ACK)
            .split("\n")
            .index(f"    <ram:ReasonInformation>{old}</ram:ReasonInformation>")
            + 1
        )

    def test_a_negative_parcel_count_on_a_line_is_a_finding(
        self, registry: ParticipantRegistry
    ) -> None:
        document = edited(
            CERT,
            "<ram:ItemQuantity>1</ram:ItemQuantity>",
            "<ram:ItemQuantity>-2</ram:ItemQuantity>",
        )
        finding = rejected(document, registry).findings[0]
        assert (finding.code, finding.line) == (KP_FIELD_INVALID, 116)
        assert "cannot be negative" in finding.message

    def test_parcel_counts_that_are_all_invalid_are_not_also_missing(
        self, registry: ParticipantRegistry
    ) -> None:
        """From the integrator review: a false "number of parcels is missing" followed the
        real finding when no count was usable."""
        source = text(CERT)
        for count in ("3", "1"):
            source = source.replace(
                f"<ram:ItemQuantity>{count}</ram:ItemQuantity>",
                "<ram:ItemQuantity>-1</ram:ItemQuantity>",
            )
        findings = rejected(source.encode(), registry).findings
        assert [(f.code, f.line) for f in findings] == [
            (KP_FIELD_INVALID, 95),
            (KP_FIELD_INVALID, 116),
        ]

    def test_a_kp_note_code_in_another_case_is_still_that_note(
        self, registry: ParticipantRegistry
    ) -> None:
        """A stated total in lower case is read, so it is checked against the lines."""
        lower = edited(
            CERT,
            "<ram:SubjectCode>KP-TOTAL-CARATS</ram:SubjectCode>",
            "<ram:SubjectCode>kp-total-carats</ram:SubjectCode>",
        )
        assert adapt(lower, registry).payload == adapt(fixture(CERT), registry).payload
        wrong = lower.replace(
            b"<ram:Content>1590.400</ram:Content>", b"<ram:Content>1600.000</ram:Content>"
        )
        assert adapt(wrong, registry).payload.total_carats == Decimal("1600.000")

    @pytest.mark.parametrize(
        ("written", "expected"),
        [
            ("20260227+0900", "2026-02-26T15:00:00+00:00"),
            ("20260227093000+0100", "2026-02-27T08:30:00+00:00"),
            ("202602270930-0230", "2026-02-27T12:00:00+00:00"),
        ],
    )
    def test_digits_with_an_offset_are_read_with_the_offset(
        self, written: str, expected: str, registry: ParticipantRegistry
    ) -> None:
        source = text(CERT).replace(
            "<udt:DateTimeString>2026-02-27T09:30:00+02:00", f"<udt:DateTimeString>{written}", 1
        )
        assert adapt(source.encode(), registry).occurred_at.isoformat() == expected

    def test_countries_must_be_iso_codes(self, registry: ParticipantRegistry) -> None:
        party = edited(
            CERT, "<ram:CountryID>BE</ram:CountryID>", "<ram:CountryID>Belgium</ram:CountryID>"
        )
        finding = rejected(party, registry).findings[0]
        assert (finding.code, finding.line) == (KP_FIELD_INVALID, 65)
        assert "'Belgium' is not an ISO 3166-1 alpha-2" in finding.message
        lower = edited(
            CERT, "<ram:CountryID>BE</ram:CountryID>", "<ram:CountryID>be</ram:CountryID>"
        )
        assert adapt(lower, registry).payload == adapt(fixture(CERT), registry).payload
        note = (
            "<ram:IncludedSPSNote><ram:Content>{}</ram:Content>"
            "<ram:SubjectCode>KP-PROVENANCE</ram:SubjectCode></ram:IncludedSPSNote>\n"
            "    <ram:SignatorySPSAuthentication>"
        )
        signatory = "<ram:SignatorySPSAuthentication>"
        provenance = edited(CERT, signatory, note.format("Antwerp, Belgium"))
        finding = rejected(provenance, registry).findings[0]
        assert finding.code == KP_FIELD_INVALID
        assert "'Antwerp, Belgium' is not a country code" in finding.message
        assert (
            adapt(edited(CERT, signatory, note.format("be")), registry).payload.provenance == "BE"
        )

    def test_a_kp_line_origin_must_be_a_country_code_or_mixed(
        self, registry: ParticipantRegistry
    ) -> None:
        line = "KP-LINE: 710231 1250.400 CTM 164302.56 USD"
        assert adapt(edited(ACK, line, line + " bw"), registry).payload.lines[0].origin == "BW"
        finding = rejected(edited(ACK, line, line + " Botswana"), registry).findings[0]
        assert finding.code == KP_FIELD_INVALID
        assert "neither a country code nor MIXED" in finding.message

    def test_an_xml_signature_is_accepted(self, registry: ParticipantRegistry) -> None:
        signature = (
            '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/>'
            "<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>\n</rsm:SPSCertificate>"
        )
        document = edited(CERT, "</rsm:SPSCertificate>", signature)
        assert adapt(document, registry).payload == adapt(fixture(CERT), registry).payload

    def test_a_document_of_another_format_is_refused_under_the_hint(
        self, registry: ParticipantRegistry
    ) -> None:
        with pytest.raises(MessageRejected) as caught:
            adapt(b"<Other/>", registry, format_hint="uncefact")
        assert caught.value.findings[0].code == "UNKNOWN_FORMAT"

    # --- rendering ----------------------------------------------------------------------------

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cert=certificates_with_line_origins())
    def test_lines_of_their_own_origin_round_trip(
        self, registry: ParticipantRegistry, cert: CertificateIssued
    ) -> None:
        rendered = ADAPTER.render(cert, message_id="kpgw-test-0002", registry=registry)
        assert adapt(rendered, registry).payload == cert

    def test_profile_schemas_compile_once(self) -> None:
        assert certificate_schema() is certificate_schema()
        assert acknowledgement_schema() is acknowledgement_schema()

    # --- conformance with the official D17A schemas -------------------------------------------

    def test_fixtures_conform_to_the_official_schemas(
        self, official: dict[str, etree.XMLSchema]
    ) -> None:
        for name in (*VALID, PHYTOSANITARY):
            assert_official(official, fixture(name))

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        payload=st.one_of(
            certificates(), certificates_with_line_origins(), confirmations(), voids()
        )
    )
    def test_rendered_documents_conform_to_the_official_schemas(
        self,
        official: dict[str, etree.XMLSchema],
        registry: ParticipantRegistry,
        payload: Payload,
    ) -> None:
        assert_official(official, ADAPTER.render(payload, message_id="kpgw-c", registry=registry))
