"""The hub envelope: the contract, unwrapping to the inner adapter, the header checked against
the content, unknown content, encodings (docs/formats/envelope.md)."""

from __future__ import annotations

import codecs
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.contract import EnvelopeInfo
from adapters.envelope import ADAPTER, profile, write
from adapters.pipeline import adapt
from gateway.errors import MessageRejected
from gateway.events import CertificateIssued, CertificateVoided, ImportConfirmed, Party
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta, translate
from gateway.translator.inbound import Inbound
from gateway.translator.worker import translate_record
from tests.unit.adapters import contract
from tests.unit.adapters.contract import AdapterContract

registry = contract.registry  # the contract suite's fixture, visible to this module

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / "envelope" / name).read_bytes()


CERTIFICATE = fixture("certificate_ru_fts.xml")
CONFIRMATION = fixture("confirmation_ru_fts.xml")
CANCELLATION = fixture("cancellation_ru_fts.xml")
UNKNOWN_CONTENT = fixture("unknown_content.xml")


def edit(document: bytes, old: str, new: str) -> bytes:
    text = document.decode("utf-8")
    assert old in text, old
    return text.replace(old, new, 1).encode("utf-8")


def rejected(document: bytes, registry: ParticipantRegistry) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        adapt(document, registry)
    return caught.value


class TestEnvelope(AdapterContract):
    adapter_name = "envelope"

    def valid_documents(self) -> list[bytes]:
        return [
            CERTIFICATE,
            CONFIRMATION,
            CANCELLATION,
            codecs.BOM_UTF8 + CERTIFICATE,
            CERTIFICATE.decode("utf-8")
            .replace('encoding="UTF-8"', 'encoding="windows-1251"', 1)
            .encode("cp1251"),
        ]

    def invalid_documents(self) -> list[tuple[str, bytes, str]]:
        return [
            (
                "From is not the issuer",
                edit(CERTIFICATE, ">RU</env:From>", ">AE</env:From>"),
                profile.FROM_MISMATCH,
            ),
            (
                "To is not the importer",
                edit(CERTIFICATE, ">BE</env:To>", ">IN</env:To>"),
                profile.TO_MISMATCH,
            ),
            (
                "confirmation addressed to someone other than the issuer",
                edit(CONFIRMATION, ">RU</env:To>", ">AE</env:To>"),
                profile.TO_MISMATCH,
            ),
            (
                "confirmation sent as if from the exporter",
                edit(CONFIRMATION, ">BY</env:From>", ">RU</env:From>"),
                profile.FROM_MISMATCH,
            ),
            (
                "another certificate's number",
                edit(CERTIFICATE, ">RU0123456</env:NPPO", ">RU0999999</env:NPPO"),
                profile.NUMBER_MISMATCH,
            ),
            (
                "certificate announced as a confirmation",
                edit(CERTIFICATE, ">KP-CERTIFICATE<", ">KP-IMPORT-CONFIRMATION<"),
                profile.TYPE_MISMATCH,
            ),
            (
                "cancellation announced as issued",
                edit(CANCELLATION, ">40</env:CertificateStatus>", ">70</env:CertificateStatus>"),
                profile.STATUS_MISMATCH,
            ),
            ("To not ISO-2", edit(CERTIFICATE, ">BE</env:To>", ">BEL</env:To>"), "XSD_VIOLATION"),
            (
                "header out of order",
                edit(
                    CERTIFICATE,
                    "<env:From>RU</env:From>\n  <env:To>BE</env:To>",
                    "<env:To>BE</env:To>\n  <env:From>RU</env:From>",
                ),
                "XSD_VIOLATION",
            ),
            (
                "unknown tracking state",
                edit(CERTIFICATE, ">PendingDelivery<", ">Lost<"),
                "XSD_VIOLATION",
            ),
            (
                "empty Content",
                CERTIFICATE.split(b"<env:Content>")[0] + b"<env:Content/></env:Envelope>",
                "XSD_VIOLATION",
            ),
            (
                "an envelope inside an envelope",
                CERTIFICATE.split(b"<env:Content>")[0]
                + b"<env:Content>"
                + CERTIFICATE.split(b"?>", 1)[1].split(b"-->", 1)[1]
                + b"</env:Content></env:Envelope>",
                "XSD_VIOLATION",
            ),
            (
                "content that breaks its own schema",
                edit(CERTIFICATE, "<kpc:HarmonizedCode>7102310000", "<kpc:HarmonizedCode>71023"),
                "XSD_VIOLATION",
            ),
            (
                "content that its adapter cannot map",
                edit(CERTIFICATE, "<RUScat_ru:CountryCode>BE</RUScat_ru:CountryCode>", ""),
                "COUNTRY_CODE_MISSING",
            ),
            ("content no adapter understands", UNKNOWN_CONTENT, "UNKNOWN_FORMAT"),
            ("truncated", CERTIFICATE[:400], "TRUNCATED_DOCUMENT"),
        ]

    # --- unwrapping ---------------------------------------------------------------------------

    def test_unwraps_to_the_inner_payload(self, example_registry: ParticipantRegistry) -> None:
        adapted = adapt(CERTIFICATE, example_registry)
        inner = adapt(
            (FIXTURES / "ru_fts" / "certificate_ru_be.xml").read_bytes(), example_registry
        )
        assert adapted.payload == inner.payload
        assert adapted.format == "envelope"
        assert adapted.adapter_version == "envelope/1+ru_fts/1"
        assert adapted.message_id == "HUB-2026-0004170"
        assert adapted.occurred_at == inner.occurred_at
        assert adapted.authority == inner.authority
        assert adapted.envelope == EnvelopeInfo(
            sender="RU",
            recipient="EU",
            certificate_number="RU0123456",
            delivery_number="HUB-2026-0004170",
        )

    def test_message_id_falls_back_to_the_inner_document(
        self, example_registry: ParticipantRegistry
    ) -> None:
        adapted = adapt(CONFIRMATION, example_registry)
        assert adapted.message_id == "c3e1a7f4-2d5b-4f8e-9a61-7b0d2c4e6f18"
        assert adapted.envelope is not None
        assert adapted.envelope.delivery_number is None
        assert isinstance(adapted.payload, ImportConfirmed)

    def test_passes_the_kp_rules(self, example_registry: ParticipantRegistry) -> None:
        meta = InboundMeta(sender="RU", received_at=datetime(2026, 3, 2, tzinfo=UTC))
        event = translate(CERTIFICATE, meta, example_registry)
        assert event.source.adapter == "envelope"
        assert event.source.message_id == "HUB-2026-0004170"

    @pytest.mark.parametrize(("to", "recipient"), [("BE", "EU"), ("EU", "EU")])
    def test_member_state_or_participant_both_address_the_eu(
        self, to: str, recipient: str, example_registry: ParticipantRegistry
    ) -> None:
        adapted = adapt(edit(CERTIFICATE, ">BE</env:To>", f">{to}</env:To>"), example_registry)
        assert adapted.envelope is not None
        assert adapted.envelope.recipient == recipient

    def test_a_cancellation_does_not_name_its_recipient(
        self, example_registry: ParticipantRegistry
    ) -> None:
        adapted = adapt(edit(CANCELLATION, ">BE</env:To>", ">IN</env:To>"), example_registry)
        assert isinstance(adapted.payload, CertificateVoided)

    def test_number_compares_without_spaces_and_case(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(CERTIFICATE, ">RU0123456</env:NPPO", ">ru 0123456</env:NPPO")
        adapted = adapt(document, example_registry)
        assert adapted.envelope is not None
        assert adapted.envelope.certificate_number == "RU0123456"

    # --- findings -------------------------------------------------------------------------------

    def test_mismatches_are_all_reported_with_line_and_path(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(
            edit(CERTIFICATE, ">RU</env:From>", ">AE</env:From>"), ">BE</env:To>", ">IN</env:To>"
        )
        findings = rejected(document, example_registry).findings
        assert [(f.code, f.line, f.path) for f in findings] == [
            (profile.FROM_MISMATCH, 4, "/env:Envelope/env:From"),
            (profile.TO_MISMATCH, 5, "/env:Envelope/env:To"),
        ]
        assert "AE" in findings[0].message
        assert "RU" in findings[0].message

    def test_unknown_content_points_at_the_content(
        self, example_registry: ParticipantRegistry
    ) -> None:
        finding = rejected(UNKNOWN_CONTENT, example_registry).findings[0]
        assert finding.code == "UNKNOWN_FORMAT"
        assert finding.line == 12  # libxml2 gives the line where the start tag ends
        assert finding.path == "/env:Envelope/env:Content/inv:Invoice"
        assert "Invoice-2" in finding.message

    def test_inner_findings_carry_lines_of_the_whole_document(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(CERTIFICATE, "<kpc:HarmonizedCode>7102310000", "<kpc:HarmonizedCode>71023")
        finding = rejected(document, example_registry).findings[0]
        assert (
            finding.line
            == CERTIFICATE.decode()
            .splitlines()
            .index("        <kpc:HarmonizedCode>7102310000</kpc:HarmonizedCode>")
            + 1
        )
        # and paths from the envelope's root, as the sender wrote it
        assert finding.path == (
            "/env:Envelope/env:Content/kpc:KimberleyProcessCertificate/kpc:DiamondsInfo[1]"
            "/kpc:HarmonizedCode"
        )

    def test_inner_mapping_findings_have_paths_from_the_envelope_root(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(
            CERTIFICATE,
            "<cat_ru:OrganizationName>Antwerp Rough Trading BV</cat_ru:OrganizationName>",
            "",
        )
        finding = rejected(document, example_registry).findings[0]
        assert finding.code == "ORGANIZATION_NAME_MISSING"
        assert (
            finding.path == "/env:Envelope/env:Content/kpc:KimberleyProcessCertificate/kpc:Importer"
        )

    def test_a_rejection_names_the_adapter_that_judged_it(
        self, example_registry: ParticipantRegistry
    ) -> None:
        inner = edit(CERTIFICATE, "<kpc:HarmonizedCode>7102310000", "<kpc:HarmonizedCode>71023")
        assert rejected(inner, example_registry).adapter == "ru_fts"  # the inner document's
        header = edit(CERTIFICATE, ">BE</env:To>", ">BEL</env:To>")
        assert rejected(header, example_registry).adapter == "envelope"
        assert rejected(b"{}", example_registry).adapter is None  # no format was found

    def test_the_dead_letter_names_the_detected_adapter_not_only_the_hint(
        self, example_registry: ParticipantRegistry
    ) -> None:
        inner = edit(CERTIFICATE, "<kpc:HarmonizedCode>7102310000", "<kpc:HarmonizedCode>71023")
        inbound = Inbound(None, "RU", "m-1", "t-1", datetime(2026, 1, 5, tzinfo=UTC), None)
        failure = translate_record(inner, inbound, example_registry).failure
        assert failure is not None
        assert (failure.reason, failure.adapter) == ("XSD_VIOLATION", "ru_fts")

    # --- rendering ------------------------------------------------------------------------------

    def test_default_inner_format_is_uncefact(self) -> None:
        assert write.default_inner_format() == "uncefact"

    @pytest.mark.parametrize("inner_format", ["uncefact", "ru_fts"])
    @pytest.mark.parametrize(
        "name", ["certificate_ru_be.xml", "confirmation_by.xml", "cancellation_ru.xml"]
    )
    def test_wraps_either_inner_format(
        self, inner_format: str, name: str, example_registry: ParticipantRegistry
    ) -> None:
        payload = adapt((FIXTURES / "ru_fts" / name).read_bytes(), example_registry).payload
        rendered = ADAPTER.render(
            payload, message_id="HUB-1", registry=example_registry, inner_format=inner_format
        )
        adapted = adapt(rendered, example_registry)
        assert adapted.payload == payload
        assert adapted.adapter_version.startswith(f"envelope/1+{inner_format}/")
        assert adapted.message_id == "HUB-1"

    def test_member_states_are_written_for_the_eu(
        self, example_registry: ParticipantRegistry
    ) -> None:
        russian = adapt(CERTIFICATE, example_registry).payload
        assert isinstance(russian, CertificateIssued)
        eu = replace(
            russian,
            certificate_number="EU0123456",
            issuing_participant="EU",
            exporting_participant="EU",
            exporting_member_state="BE",
            exporter=replace(russian.importer),
            importing_participant="IN",
            importing_member_state=None,
            importer=Party("Mumbai Gems Pvt Ltd", "Bharat Diamond Bourse, Mumbai", "IN"),
        )
        rendered = ADAPTER.render(eu, message_id="HUB-2", registry=example_registry)
        assert b"<env:From>BE</env:From>" in rendered
        assert b"<env:To>IN</env:To>" in rendered
        adapted = adapt(rendered, example_registry)
        assert adapted.payload == eu
        assert adapted.envelope is not None
        assert (adapted.envelope.sender, adapted.envelope.recipient) == ("EU", "IN")

    def test_cancellation_recipient_can_be_named(
        self, example_registry: ParticipantRegistry
    ) -> None:
        payload = adapt(CANCELLATION, example_registry).payload
        named = ADAPTER.render(
            payload,
            message_id="H",
            registry=example_registry,
            inner_format="ru_fts",
            recipient="BE",
        )
        unnamed = ADAPTER.render(
            payload, message_id="H", registry=example_registry, inner_format="ru_fts"
        )
        assert b"<env:To>BE</env:To>" in named
        assert b"<env:To>ZZ</env:To>" in unnamed
        assert adapt(named, example_registry).payload == payload

    def test_header_schema_is_compiled_once(self) -> None:
        assert profile.schema() is profile.schema()


# --- a hub integrator's review (session 10) ---------------------------------------------------


def test_a_status_written_with_a_leading_zero_is_its_value(
    example_registry: ParticipantRegistry,
) -> None:
    """The schema types CertificateStatus xs:int, so "070" passed it and then the mapping
    refused "070, but a certificate travels with status 70"."""
    document = edit(
        fixture("certificate_ru_fts.xml"),
        "<env:CertificateStatus>70<",
        "<env:CertificateStatus>070<",
    )
    assert (
        adapt(document, example_registry).payload
        == adapt(fixture("certificate_ru_fts.xml"), example_registry).payload
    )


def _content_replaced(new_content: str) -> bytes:
    source = fixture("certificate_ru_fts.xml").decode()
    start = source.index("<env:Content>") + len("<env:Content>")
    end = source.index("</env:Content>")
    return (source[:start] + new_content + source[end:]).encode()


def test_escaped_content_is_explained(example_registry: ParticipantRegistry) -> None:
    source = fixture("certificate_ru_fts.xml").decode()
    inner = source[source.index("<env:Content>") + 13 : source.index("</env:Content>")]
    escaped = inner.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    finding = rejected(_content_replaced(escaped), example_registry).findings[0]
    assert finding.message.startswith("env:Content holds elements only, not text.")
    assert "not escaped" in finding.message


def test_content_in_no_namespace_is_explained(example_registry: ParticipantRegistry) -> None:
    finding = rejected(_content_replaced("<Foo/>"), example_registry).findings[0]
    assert finding.message.startswith("Foo has no namespace;")


def test_an_inner_xml_declaration_is_explained(example_registry: ParticipantRegistry) -> None:
    document = _content_replaced('\n<?xml version="1.0"?>\n<Foo xmlns="urn:x"/>')
    (finding,) = rejected(document, example_registry).findings
    assert "goes in without its <?xml ...?> line" in finding.message


def test_validate_reports_the_files_own_format_when_its_inner_document_fails(
    example_registry: ParticipantRegistry,
) -> None:
    """`kpgw validate --json` said "ru_fts" for an envelope whose inner document failed,
    and "envelope" for the envelope's own failures."""
    from gateway.cli.adapters_cmd import judge

    source = fixture("certificate_ru_fts.xml").decode()
    start = source.index("<kpc:TotalWeight>") + len("<kpc:TotalWeight>")
    broken = (source[:start] + "1,5" + source[source.index("<", start) :]).encode()
    result = judge("envelope.xml", broken, example_registry)
    assert result.format == "envelope" and result.findings


def test_a_header_mismatch_names_the_participant_once(
    example_registry: ParticipantRegistry,
) -> None:
    """A new-user review saw "To is IN (IN)": the code read from the header is added only
    when it differs from what the header says."""
    to_india = rejected(edit(CERTIFICATE, ">BE</env:To>", ">IN</env:To>"), example_registry)
    assert to_india.findings[0].code == profile.TO_MISMATCH
    assert to_india.findings[0].message.startswith("To is IN, but the certificate inside")
    from_france = rejected(edit(CERTIFICATE, ">RU</env:From>", ">FR</env:From>"), example_registry)
    assert from_france.findings[0].code == profile.FROM_MISMATCH
    assert from_france.findings[0].message.startswith("From is FR (EU), but")
