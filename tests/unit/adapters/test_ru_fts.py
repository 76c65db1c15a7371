# Cyrillic organisation names and addresses are what these tests are about.
"""The Russian customs (FTS) KP documents: the contract, the field mapping, the conventions kpgw
decided (docs/formats/ru-fts.md) and the encodings FTS exchanges use."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.pipeline import adapt
from adapters.ru_fts import ADAPTER, profile
from adapters.ru_fts.write import DoesNotFit
from gateway.errors import MessageRejected
from gateway.events import CertificateIssued, CertificateVoided, HsLine, ImportConfirmed, Party
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta, translate
from tests.unit.adapters import contract
from tests.unit.adapters.contract import AdapterContract

registry = contract.registry  # the contract suite's fixture, visible to this module

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ru_fts"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


CERTIFICATE = fixture("certificate_ru_be.xml")
CERTIFICATE_1251 = fixture("certificate_ru_by.cp1251.xml")
CONFIRMATION = fixture("confirmation_by.xml")
CANCELLATION = fixture("cancellation_ru.xml")


def edit(document: bytes, old: str, new: str) -> bytes:
    """The UTF-8 document with one exact piece of text replaced (it must be there)."""
    text = document.decode("utf-8")
    assert old in text, old
    return text.replace(old, new, 1).encode("utf-8")


def as_windows_1251(document: bytes) -> bytes:
    text = document.decode("utf-8").replace('encoding="UTF-8"', 'encoding="windows-1251"', 1)
    return text.encode("cp1251")


def rejected(document: bytes, registry: ParticipantRegistry) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        adapt(document, registry)
    return caught.value


def kp_rule_codes(document: bytes, registry: ParticipantRegistry) -> list[str]:
    meta = InboundMeta(sender=None, received_at=datetime(2026, 3, 2, tzinfo=UTC))
    with pytest.raises(MessageRejected) as caught:
        translate(document, meta, registry)
    return [finding.code for finding in caught.value.findings]


class TestRuFts(AdapterContract):
    adapter_name = "ru_fts"

    def valid_documents(self) -> list[bytes]:
        return [
            CERTIFICATE,
            CERTIFICATE_1251,
            CONFIRMATION,
            CANCELLATION,
            codecs.BOM_UTF8 + CERTIFICATE,
            as_windows_1251(CONFIRMATION),
            with_exporter_names(  # a short name beside the full one: through the Avro codec
                CERTIFICATE,
                f"<cat_ru:OrganizationName>{ALROSA_FULL}</cat_ru:OrganizationName>"
                f"<cat_ru:ShortName>{ALROSA_SHORT}</cat_ru:ShortName>",
            ),
        ]

    def invalid_documents(self) -> list[tuple[str, bytes, str]]:
        importer_country = "<RUScat_ru:CountryCode>BE</RUScat_ru:CountryCode>"
        return [
            (
                "elements out of schema order",
                edit(
                    CERTIFICATE,
                    "<kpc:IssueDate>2026-02-27</kpc:IssueDate>\n"
                    "  <kpc:ValidityDateEnd>2026-04-28</kpc:ValidityDateEnd>",
                    "<kpc:ValidityDateEnd>2026-04-28</kpc:ValidityDateEnd>\n"
                    "  <kpc:IssueDate>2026-02-27</kpc:IssueDate>",
                ),
                "XSD_VIOLATION",
            ),
            (
                "TN VED code of 8 digits",
                edit(CERTIFICATE, "7102310000", "71023100"),
                "XSD_VIOLATION",
            ),
            (
                "TN VED code with a dot",
                edit(CERTIFICATE, "7102310000", "7102.31"),
                "XSD_VIOLATION",
            ),
            (
                "wrong DocumentModeID",
                edit(CERTIFICATE, 'DocumentModeID="01241"', 'DocumentModeID="1006107E"'),
                "XSD_VIOLATION",
            ),
            (
                "DocumentModeID missing",
                edit(CERTIFICATE, 'DocumentModeID="01241"', ""),
                "XSD_VIOLATION",
            ),
            (
                "confirmation carrying the certificate's DocumentModeID",
                edit(CONFIRMATION, 'DocumentModeID="KPGW1"', 'DocumentModeID="01241"'),
                "XSD_VIOLATION",
            ),
            (
                "DocumentID not a UUID",
                edit(CERTIFICATE, "4f5f6b0e-8c1d-4a57-9b8e-2f1c3d5e7a90", "RU-0123456"),
                "XSD_VIOLATION",
            ),
            (
                "weight with four decimals",
                edit(CERTIFICATE, "1250.500", "1250.5001"),
                "XSD_VIOLATION",
            ),
            (
                "value with a decimal comma",
                edit(CERTIFICATE, "121298.50", "121298,50"),
                "XSD_VIOLATION",
            ),
            (
                "no calendar date",
                edit(CERTIFICATE, "2026-04-28", "2026-02-30"),
                "XSD_VIOLATION",
            ),
            (
                "date with a time zone",
                edit(CERTIFICATE, "2026-04-28", "2026-04-28+03:00"),
                "XSD_VIOLATION",
            ),
            (
                "certificate without a DiamondsInfo line",
                re.sub(
                    rb"<kpc:DiamondsInfo>.*?</kpc:DiamondsInfo>\s*", b"", CERTIFICATE, flags=re.S
                ),
                "XSD_VIOLATION",
            ),
            (
                "cancellation without a reason",
                edit(
                    CANCELLATION,
                    "<kpcc:CancelReason>Поставка отменена экспортером</kpcc:CancelReason>",
                    "",
                ),
                "XSD_VIOLATION",
            ),
            (
                "unsupported album version",
                edit(
                    CERTIFICATE,
                    "KimberleyProcessCertificate:5.13.3",
                    "KimberleyProcessCertificate:5.12.0",
                ),
                profile.UNSUPPORTED_ALBUM_VERSION,
            ),
            (
                "importer without CountryCode",
                edit(CERTIFICATE, importer_country, ""),
                profile.COUNTRY_CODE_MISSING,
            ),
            (
                "confirming authority without CountryCode",
                edit(
                    CONFIRMATION,
                    "<RUScat_ru:CountryCode>BY</RUScat_ru:CountryCode>\n"
                    "      <RUScat_ru:City>г. Минск",
                    "<RUScat_ru:City>г. Минск",
                ),
                profile.COUNTRY_CODE_MISSING,
            ),
            (
                "exporter without OrganizationName",
                edit(
                    CERTIFICATE,
                    "<cat_ru:OrganizationName>«АЛРОСА» (ПАО)</cat_ru:OrganizationName>",
                    "",
                ),
                profile.ORGANIZATION_NAME_MISSING,
            ),
            (
                "UTF-8 declared, windows-1251 bytes",
                as_windows_1251(CERTIFICATE).replace(b'"windows-1251"', b'"UTF-8"', 1),
                "INVALID_ENCODING",
            ),
            ("truncated", CERTIFICATE[: len(CERTIFICATE) // 2], "TRUNCATED_DOCUMENT"),
        ]

    # --- field mapping ----------------------------------------------------------------------

    def test_certificate_maps_every_field(self, example_registry: ParticipantRegistry) -> None:
        adapted = adapt(CERTIFICATE, example_registry)
        assert adapted.message_id == "4f5f6b0e-8c1d-4a57-9b8e-2f1c3d5e7a90"
        assert adapted.occurred_at == datetime(2026, 2, 27, tzinfo=UTC)
        assert adapted.authority == "Гохран России, Министерство финансов Российской Федерации"
        assert adapted.payload == CertificateIssued(
            certificate_number="RU0123456",
            issuing_participant="RU",
            exporting_participant="RU",
            exporting_member_state=None,
            importing_participant="EU",
            importing_member_state="BE",
            exporter=Party(
                "«АЛРОСА» (ПАО)",
                "678174, Республика Саха (Якутия), г. Мирный, ул. Ленина, д. 6",
                "RU",
            ),
            importer=Party("Antwerp Rough Trading BV", "2018, Антверпен, Hoveniersstraat 22", "BE"),
            origin="RU",
            issue_date=date(2026, 2, 27),
            expiry_date=date(2026, 4, 28),
            parcels=3,
            lines=(
                HsLine("7102.31", Decimal("1250.500"), Decimal("121298.50")),
                HsLine("7102.21", Decimal("310.250"), Decimal("9307.50")),
            ),
            total_carats=Decimal("1560.750"),
            total_value_usd=Decimal("130606.00"),
            authority="Гохран России, Министерство финансов Российской Федерации",
        )

    def test_confirmation_maps_every_field(self, example_registry: ParticipantRegistry) -> None:
        adapted = adapt(CONFIRMATION, example_registry)
        payload = adapted.payload
        assert isinstance(payload, ImportConfirmed)
        assert adapted.message_id == "c3e1a7f4-2d5b-4f8e-9a61-7b0d2c4e6f18"
        assert payload.certificate_number == "RU0123789"
        assert payload.confirming_participant == "BY"
        assert payload.date_of_receipt == date(2026, 3, 5)
        assert payload.parcels == 1
        assert payload.lines == (HsLine("7102.31", Decimal("842.130"), Decimal("80844.48")),)
        assert (payload.total_carats, payload.total_value_usd) == (
            Decimal("842.130"),
            Decimal("80844.48"),
        )
        assert payload.importer.country == "BY"
        assert payload.exporter == Party("«АЛРОСА» (ПАО)")
        assert payload.remarks == "Пломбы не нарушены"
        assert payload.authority == adapted.authority
        assert adapted.occurred_at == datetime(2026, 3, 5, tzinfo=UTC)

    def test_cancellation_maps_to_a_void(self, example_registry: ParticipantRegistry) -> None:
        adapted = adapt(CANCELLATION, example_registry)
        assert adapted.payload == CertificateVoided(
            certificate_number="RU0123456",
            voiding_participant="RU",
            voided_on=date(2026, 3, 1),
            reason="Поставка отменена экспортером",
        )
        assert adapted.message_id == "e8b4d2a6-1f3c-4e5a-b7d9-0c2e4f6a8b1d"

    def test_fixtures_obey_the_kp_rules(self, example_registry: ParticipantRegistry) -> None:
        meta = InboundMeta(sender=None, received_at=datetime(2026, 3, 6, tzinfo=UTC))
        for document in (CERTIFICATE, CERTIFICATE_1251, CONFIRMATION, CANCELLATION):
            translate(document, meta, example_registry)

    # --- conventions --------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("tnved", "hs"),
        [("7102100000", "7102.10"), ("7102210000", "7102.21"), ("7102310000", "7102.31")],
    )
    def test_tnved_codes_become_hs_subheadings(self, tnved: str, hs: str) -> None:
        assert profile.tnved_to_hs(tnved) == hs
        assert profile.hs_to_tnved(hs) == tnved

    def test_worked_diamonds_are_not_kp_goods(self, example_registry: ParticipantRegistry) -> None:
        document = edit(CERTIFICATE, "7102310000", "7102290000")
        payload = adapt(document, example_registry).payload
        assert isinstance(payload, CertificateIssued)
        assert payload.lines[0].hs_code == "7102.29"
        assert "NOT_KP_GOODS" in kp_rule_codes(document, example_registry)

    @pytest.mark.parametrize("mark", ["***", "*", "MIXED"])
    def test_mixed_origin_keeps_the_provenance(
        self, mark: str, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(
            CERTIFICATE,
            "<kpc:ExtractingCountry>RU</kpc:ExtractingCountry>",
            f"<kpc:ExtractingCountry>{mark}</kpc:ExtractingCountry>\n"
            "  <kpc:ProvenanceCountry>AE</kpc:ProvenanceCountry>",
        )
        payload = adapt(document, example_registry).payload
        assert isinstance(payload, CertificateIssued)
        assert (payload.origin, payload.provenance) == ("MIXED", "AE")

    def test_mixed_origin_without_provenance_breaks_a_kp_rule(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(CERTIFICATE, ">RU</kpc:ExtractingCountry>", ">***</kpc:ExtractingCountry>")
        assert "MIXED_ORIGIN_WITHOUT_PROVENANCE" in kp_rule_codes(document, example_registry)

    def test_mixed_origin_renders_as_asterisks(self, example_registry: ParticipantRegistry) -> None:
        cert = adapt(CERTIFICATE, example_registry).payload
        assert isinstance(cert, CertificateIssued)
        mixed = replace(cert, origin="MIXED", provenance="RU")
        rendered = ADAPTER.render(mixed, message_id="m-1", registry=example_registry)
        assert b"<kpc:ExtractingCountry>***</kpc:ExtractingCountry>" in rendered
        assert b"<kpc:ProvenanceCountry>RU</kpc:ProvenanceCountry>" in rendered

    def test_issuer_comes_from_the_certificate_authority(
        self, example_registry: ParticipantRegistry
    ) -> None:
        """The issuer is the CertificateOrg's country, not the number's prefix, so the KP rules
        can tell a number from someone else's range."""
        document = edit(
            CERTIFICATE,
            "<RUScat_ru:PostalCode>121099</RUScat_ru:PostalCode>\n"
            "      <RUScat_ru:CountryCode>RU</RUScat_ru:CountryCode>",
            "<RUScat_ru:CountryCode>BY</RUScat_ru:CountryCode>",
        )
        payload = adapt(document, example_registry).payload
        assert isinstance(payload, CertificateIssued)
        assert payload.issuing_participant == "BY"
        codes = kp_rule_codes(document, example_registry)
        assert "NUMBER_PREFIX_NOT_ISSUER" in codes
        assert "ISSUER_NOT_EXPORTER" in codes

    def test_unknown_country_stays_for_the_rules(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(
            CERTIFICATE,
            "<RUScat_ru:CountryCode>BE</RUScat_ru:CountryCode>",
            "<RUScat_ru:CountryCode>KE</RUScat_ru:CountryCode>",
        )
        payload = adapt(document, example_registry).payload
        assert isinstance(payload, CertificateIssued)
        assert (payload.importing_participant, payload.importing_member_state) == ("KE", None)
        assert "NON_PARTICIPANT" in kp_rule_codes(document, example_registry)

    def test_number_is_joined_once(self) -> None:
        assert profile.join_number("RU", "0123456") == "RU0123456"
        assert profile.join_number("RU", "RU0123456") == "RU0123456"
        assert profile.join_number("ru", " 0123 456 ") == "RU0123456"
        assert profile.join_number("RU", "RU-5444795") == "RU-5444795"  # not RURU-5444795
        assert profile.join_number("RU", "RUS0123") == "RURUS0123"

    def test_message_id_becomes_a_deterministic_document_id(
        self, example_registry: ParticipantRegistry
    ) -> None:
        payload = adapt(CANCELLATION, example_registry).payload
        first = ADAPTER.render(payload, message_id="kpgw-42", registry=example_registry)
        again = ADAPTER.render(payload, message_id="kpgw-42", registry=example_registry)
        assert first == again
        assert adapt(first, example_registry).message_id == profile.document_id("kpgw-42")
        uuid_id = "0b6c1f3e-0000-4000-8000-000000000001"
        rendered = ADAPTER.render(payload, message_id=uuid_id, registry=example_registry)
        assert adapt(rendered, example_registry).message_id == uuid_id

    def test_schemas_are_compiled_once(self) -> None:
        for kind in profile.KINDS.values():
            assert profile.schema(kind) is profile.schema(kind)

    # --- findings -------------------------------------------------------------------------------

    def test_mapping_findings_have_line_and_readable_path(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(CERTIFICATE, "<RUScat_ru:CountryCode>BE</RUScat_ru:CountryCode>", "")
        finding = rejected(document, example_registry).findings[0]
        assert finding.code == profile.COUNTRY_CODE_MISSING
        assert finding.line == 30
        assert finding.path == "/kpc:KimberleyProcessCertificate/kpc:Importer"

    def test_xsd_findings_speak_the_senders_prefixes(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(CERTIFICATE, 'DocumentModeID="01241"', 'DocumentModeID="01242"')
        finding = rejected(document, example_registry).findings[0]
        assert finding.code == "XSD_VIOLATION"
        assert "kpc:KimberleyProcessCertificate" in finding.message
        assert "01241" in finding.message
        assert "{urn:" not in finding.message

    def test_xsd_findings_say_the_form_the_value_missed(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(CERTIFICATE, "7102310000", "71023100")
        finding = rejected(document, example_registry).findings[0]
        assert finding.code == "XSD_VIOLATION"
        assert finding.message == (
            "Element 'kpc:HarmonizedCode': the value '71023100' is not in the expected form: "
            "10 digits, such as 7102310000."
        )
        # The first of several lines keeps its position: "[1]", not the lines as a whole.
        assert finding.path == (
            "/kpc:KimberleyProcessCertificate/kpc:DiamondsInfo[1]/kpc:HarmonizedCode"
        )
        assert finding.line == 42

    def test_a_russian_style_date_is_told_the_expected_form(
        self, example_registry: ParticipantRegistry
    ) -> None:
        """The FTS library's own leaf types (DateType) get the hint of their base type, and
        the type is named without the library's namespace."""
        document = edit(CERTIFICATE, "<kpc:IssueDate>2026-02-27<", "<kpc:IssueDate>27.02.2026<")
        finding = rejected(document, example_registry).findings[0]
        assert finding.message == (
            "Element 'kpc:IssueDate': '27.02.2026' is not a valid value of the type "
            "'DateType'. Write a date as YYYY-MM-DD, such as 2026-03-02."
        )

    def test_xsd_finding_paths_are_readable_in_a_default_namespace(
        self, example_registry: ParticipantRegistry
    ) -> None:
        """libxml2 writes /*/*[10]/*[2] for a document without prefixes."""
        source = CERTIFICATE.decode("utf-8").replace("7102310000", "71023100", 1)
        unprefixed = re.sub(r"<(/?)kpc:", r"<\1", source).replace("xmlns:kpc=", "xmlns=")
        finding = rejected(unprefixed.encode(), example_registry).findings[0]
        assert finding.code == "XSD_VIOLATION"
        assert finding.path == "/KimberleyProcessCertificate/DiamondsInfo[1]/HarmonizedCode"

    def test_unsupported_version_names_the_supported_one(
        self, example_registry: ParticipantRegistry
    ) -> None:
        document = edit(CONFIRMATION, "ImportConfirmation:5.13.3", "ImportConfirmation:5.22.0")
        finding = rejected(document, example_registry).findings[0]
        assert finding.code == profile.UNSUPPORTED_ALBUM_VERSION
        assert "5.13.3" in finding.message

    # --- encodings ------------------------------------------------------------------------------

    def test_windows_1251_fixture_is_really_windows_1251(self) -> None:
        assert CERTIFICATE_1251.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
        assert "«АЛРОСА» (ПАО)".encode("cp1251") in CERTIFICATE_1251
        with pytest.raises(UnicodeDecodeError):
            CERTIFICATE_1251.decode("utf-8")

    @pytest.mark.parametrize(
        "encode",
        [
            pytest.param(as_windows_1251, id="windows-1251"),
            pytest.param(lambda doc: codecs.BOM_UTF8 + doc, id="utf-8-bom"),
            pytest.param(
                lambda doc: doc.replace(b'encoding="UTF-8"', b'encoding="utf-8"'), id="utf-8-lower"
            ),
            pytest.param(lambda doc: doc.split(b"?>", 1)[1].lstrip(), id="no-declaration"),
            pytest.param(
                lambda doc: (
                    doc.decode("utf-8")
                    .replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
                    .encode("utf-16")
                ),
                id="utf-16-bom",
            ),
        ],
    )
    def test_every_encoding_gives_the_same_payload(
        self, encode: Callable[[bytes], bytes], example_registry: ParticipantRegistry
    ) -> None:
        expected = adapt(CERTIFICATE, example_registry).payload
        assert adapt(encode(CERTIFICATE), example_registry).payload == expected


@pytest.mark.parametrize(
    ("party", "says"),
    [
        (Party("N" * 151, "Antwerpen", "BE"), "151 characters"),
        (Party("Diamond Land NV", "A" * 251, "BE"), "251 characters"),
    ],
)
def test_a_value_the_format_cannot_hold_is_refused_when_rendering(
    party: Party, says: str, example_registry: ParticipantRegistry
) -> None:
    """Never a document the FTS schema refuses, never a cut value."""
    base = adapt(CERTIFICATE, example_registry).payload
    assert isinstance(base, CertificateIssued)
    cert = replace(base, importer=party)
    with pytest.raises(DoesNotFit, match=says):
        ADAPTER.render(cert, message_id="m-1", registry=example_registry)
    fits = replace(cert, importer=Party("N" * 150, "A" * 250, "BE"))
    document = ADAPTER.render(fits, message_id="m-1", registry=example_registry)
    assert adapt(document, example_registry).payload.importer == fits.importer


# --- an FTS integrator's review (session 10) -------------------------------------------------


def test_a_blank_cancellation_reason_is_refused(example_registry: ParticipantRegistry) -> None:
    """Only spaces passed the schema's minimum length and went to the importer as ""."""
    document = edit(fixture("cancellation_ru.xml"), "Поставка отменена экспортером", "   ")
    (finding,) = rejected(document, example_registry).findings
    assert finding.code == profile.TEXT_MISSING
    assert finding.path is not None and finding.path.endswith("/kpcc:CancelReason")


def test_a_cancellation_names_its_authority(example_registry: ParticipantRegistry) -> None:
    document = edit(
        fixture("cancellation_ru.xml"),
        "<cat_ru:OrganizationName>Гохран России, Министерство финансов Российской Федерации"
        "</cat_ru:OrganizationName>",
        "",
    )
    (finding,) = rejected(document, example_registry).findings
    assert finding.code == profile.ORGANIZATION_NAME_MISSING
    assert "a KP cancellation names it" in finding.message


def test_a_confirmation_is_not_called_a_certificate_in_its_findings(
    example_registry: ParticipantRegistry,
) -> None:
    document = edit(
        fixture("confirmation_by.xml"),
        "<cat_ru:OrganizationName>ОАО «Гранильный завод «Кристалл»</cat_ru:OrganizationName>",
        "",
    )
    finding = rejected(document, example_registry).findings[0]
    assert "a KP import confirmation names it" in finding.message


def test_greece_written_el_is_gr_in_the_party_too(example_registry: ParticipantRegistry) -> None:
    document = edit(
        fixture("certificate_ru_be.xml"),
        "<RUScat_ru:CountryCode>BE</RUScat_ru:CountryCode>",
        "<RUScat_ru:CountryCode>EL</RUScat_ru:CountryCode>",
    )
    payload = adapt(document, example_registry).payload
    assert isinstance(payload, CertificateIssued)
    assert (payload.importing_member_state, payload.importer.country) == ("GR", "GR")


@pytest.mark.parametrize(
    ("document", "written"),
    [(CERTIFICATE, "<kpc:PackageNumber>3<"), (CONFIRMATION, "<kpic:PackageNumber>1<")],
    ids=["certificate", "confirmation"],
)
def test_a_parcel_count_with_thousands_of_leading_zeros_is_its_value(
    example_registry: ParticipantRegistry, document: bytes, written: str
) -> None:
    """Found by fuzzing: the schema's six digits are significant ones, so it accepts any
    number of leading zeros, and Python's int() refused a text of more than 4,300 digits
    with a ValueError that escaped as an internal error (a poison pill)."""
    tag = written.split(">", maxsplit=1)[0]  # "<kpc:PackageNumber"
    padded = edit(document, written, f"{tag}>+{'0' * 5000}7<")
    payload = adapt(padded, example_registry).payload
    assert isinstance(payload, CertificateIssued | ImportConfirmed)
    assert payload.parcels == 7


# --- cat_ru:ShortName (a customs-fidelity review) ---------------------------------------------

ALROSA_FULL = "Акционерная компания «АЛРОСА» (публичное акционерное общество)"
ALROSA_SHORT = "АК «АЛРОСА» (ПАО)"


def with_exporter_names(document: bytes, names: str) -> bytes:
    return edit(
        document, "<cat_ru:OrganizationName>«АЛРОСА» (ПАО)</cat_ru:OrganizationName>", names
    )


def test_a_short_name_is_carried_beside_the_full_name(
    example_registry: ParticipantRegistry,
) -> None:
    """The FTS OrganizationBaseType gives the full legal name and the short one; the short
    one was dropped, though it is the name an importing authority often writes."""
    document = with_exporter_names(
        CERTIFICATE,
        f"<cat_ru:OrganizationName>{ALROSA_FULL}</cat_ru:OrganizationName>"
        f"<cat_ru:ShortName>{ALROSA_SHORT}</cat_ru:ShortName>",
    )
    payload = adapt(document, example_registry).payload
    assert isinstance(payload, CertificateIssued)
    assert (payload.exporter.name, payload.exporter.short_name) == (ALROSA_FULL, ALROSA_SHORT)
    rendered = ADAPTER.render(payload, message_id="m-1", registry=example_registry)
    assert f"<cat_ru:ShortName>{ALROSA_SHORT}</cat_ru:ShortName>" in rendered.decode()
    assert adapt(rendered, example_registry).payload == payload


@pytest.mark.parametrize(
    ("document", "old"),
    [
        (CERTIFICATE, "<cat_ru:OrganizationName>«АЛРОСА» (ПАО)</cat_ru:OrganizationName>"),
        (CONFIRMATION, "<cat_ru:OrganizationName>«АЛРОСА» (ПАО)</cat_ru:OrganizationName>"),
    ],
    ids=["certificate", "confirmation"],
)
def test_an_organisation_named_by_its_short_name_alone_is_named(
    example_registry: ParticipantRegistry, document: bytes, old: str
) -> None:
    """Both names are optional in the FTS base type: a short name alone was refused as
    ORGANIZATION_NAME_MISSING, telling the sender the name was missing."""
    named = edit(document, old, f"<cat_ru:ShortName>{ALROSA_SHORT}</cat_ru:ShortName>")
    payload = adapt(named, example_registry).payload
    assert isinstance(payload, CertificateIssued | ImportConfirmed)
    assert payload.exporter == replace(payload.exporter, name=ALROSA_SHORT, short_name=None)


def test_an_authority_named_by_its_short_name_alone_is_named(
    example_registry: ParticipantRegistry,
) -> None:
    full = "<cat_ru:OrganizationName>Гохран России, Министерство финансов Российской Федерации"
    document = edit(
        CERTIFICATE,
        f"{full}</cat_ru:OrganizationName>",
        "<cat_ru:ShortName>Гохран России</cat_ru:ShortName>",
    )
    adapted = adapt(document, example_registry)
    assert isinstance(adapted.payload, CertificateIssued)
    assert adapted.payload.authority == adapted.authority == "Гохран России"


def test_a_short_name_the_same_as_the_name_is_not_repeated(
    example_registry: ParticipantRegistry,
) -> None:
    document = with_exporter_names(
        CERTIFICATE,
        "<cat_ru:OrganizationName>«АЛРОСА» (ПАО)</cat_ru:OrganizationName>"
        "<cat_ru:ShortName> «АЛРОСА» (ПАО) </cat_ru:ShortName>",
    )
    payload = adapt(document, example_registry).payload
    assert isinstance(payload, CertificateIssued)
    assert payload.exporter.short_name is None


def test_a_short_name_longer_than_the_format_holds_is_refused_when_rendering(
    example_registry: ParticipantRegistry,
) -> None:
    payload = adapt(CERTIFICATE, example_registry).payload
    assert isinstance(payload, CertificateIssued)
    cert = replace(payload, importer=replace(payload.importer, short_name="S" * 121))
    with pytest.raises(DoesNotFit, match="cat_ru:ShortName"):
        ADAPTER.render(cert, message_id="m-1", registry=example_registry)


def test_a_country_code_in_the_fact_address_names_the_participant(
    example_registry: ParticipantRegistry,
) -> None:
    """A LegalAddress without CountryCode beside a FactAddress with one was
    COUNTRY_CODE_MISSING, asking for a code the document gave."""
    document = edit(
        CERTIFICATE,
        "      <RUScat_ru:CountryCode>BE</RUScat_ru:CountryCode>\n"
        "      <RUScat_ru:CounryName>БЕЛЬГИЯ</RUScat_ru:CounryName>\n"
        "      <RUScat_ru:City>Антверпен</RUScat_ru:City>\n"
        "      <RUScat_ru:StreetHouse>Hoveniersstraat 22</RUScat_ru:StreetHouse>\n"
        "    </catSert_ru:LegalAddress>",
        "      <RUScat_ru:City>Антверпен</RUScat_ru:City>\n"
        "      <RUScat_ru:StreetHouse>Hoveniersstraat 22</RUScat_ru:StreetHouse>\n"
        "    </catSert_ru:LegalAddress>\n"
        "    <catSert_ru:FactAddress>\n"
        "      <RUScat_ru:CountryCode>BE</RUScat_ru:CountryCode>\n"
        "      <RUScat_ru:City>Антверпен</RUScat_ru:City>\n"
        "    </catSert_ru:FactAddress>",
    )
    payload = adapt(document, example_registry).payload
    assert isinstance(payload, CertificateIssued)
    assert (payload.importing_participant, payload.importing_member_state) == ("EU", "BE")
    assert payload.importer == Party(
        "Antwerp Rough Trading BV", "2018, Антверпен, Hoveniersstraat 22", "BE"
    )


def test_an_authority_with_its_country_in_the_fact_address_is_placed(
    example_registry: ParticipantRegistry,
) -> None:
    document = edit(
        CONFIRMATION,
        "    <catSert_ru:LegalAddress>\n"
        "      <RUScat_ru:CountryCode>BY</RUScat_ru:CountryCode>\n"
        "      <RUScat_ru:City>г. Минск</RUScat_ru:City>\n"
        "    </catSert_ru:LegalAddress>\n"
        "  </kpic:ConfirmationOrg>",
        "    <catSert_ru:LegalAddress><RUScat_ru:City>г. Минск</RUScat_ru:City>"
        "</catSert_ru:LegalAddress>\n"
        "    <catSert_ru:FactAddress><RUScat_ru:CountryCode>BY</RUScat_ru:CountryCode>"
        "</catSert_ru:FactAddress>\n"
        "  </kpic:ConfirmationOrg>",
    )
    payload = adapt(document, example_registry).payload
    assert isinstance(payload, ImportConfirmed)
    assert (payload.confirming_participant, payload.confirming_member_state) == ("BY", None)


ALROSA_REGISTRATION = (
    "<cat_ru:OrganizationLanguage>RU</cat_ru:OrganizationLanguage>"
    "<cat_ru:RFOrganizationFeatures><cat_ru:OGRN>1021400967092</cat_ru:OGRN>"
    "<cat_ru:INN>1433000147</cat_ru:INN><cat_ru:KPP>143301001</cat_ru:KPP>"
    "</cat_ru:RFOrganizationFeatures>"
)


def test_registration_numbers_of_the_fts_organisation_type_are_accepted(
    example_registry: ParticipantRegistry,
) -> None:
    """A Russian exporter is written with its OGRN, INN and KPP (and the language of its
    names), as every FTS document names an organisation: the profile refused them as an
    XSD_VIOLATION. They are not mapped (docs/formats/ru-fts.md)."""
    document = with_exporter_names(
        CERTIFICATE,
        f"<cat_ru:OrganizationName>{ALROSA_FULL}</cat_ru:OrganizationName>"
        f"<cat_ru:ShortName>{ALROSA_SHORT}</cat_ru:ShortName>{ALROSA_REGISTRATION}",
    )
    payload = adapt(document, example_registry).payload
    assert isinstance(payload, CertificateIssued)
    assert (payload.exporter.name, payload.exporter.short_name) == (ALROSA_FULL, ALROSA_SHORT)


@pytest.mark.parametrize(
    "features",
    [
        "<cat_ru:RFOrganizationFeatures><cat_ru:INN>14330001470</cat_ru:INN>"
        "</cat_ru:RFOrganizationFeatures>",  # 11 digits
        "<cat_ru:RBOrganizationFeatures><cat_ru:UNP>100000001</cat_ru:UNP>"
        "</cat_ru:RBOrganizationFeatures>"
        "<cat_ru:RFOrganizationFeatures><cat_ru:INN>1433000147</cat_ru:INN>"
        "</cat_ru:RFOrganizationFeatures>",  # one member state's numbers only
    ],
    ids=["inn-of-11-digits", "two-states"],
)
def test_malformed_registration_numbers_are_refused(
    example_registry: ParticipantRegistry, features: str
) -> None:
    document = with_exporter_names(
        CERTIFICATE, f"<cat_ru:OrganizationName>{ALROSA_FULL}</cat_ru:OrganizationName>{features}"
    )
    assert [f.code for f in rejected(document, example_registry).findings] == ["XSD_VIOLATION"]
