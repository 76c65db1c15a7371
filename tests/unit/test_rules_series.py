"""NUMBER_NOT_IN_SERIES: a certificate number outside the blocks its issuer registered for
the issue year was never issued; a number from another year's block is the forger's
classic (DOMAIN.md section 3, Sierra Leone)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from gateway import rules
from gateway.errors import BusinessRuleViolation, ConfigurationError
from gateway.events import CertificateIssued
from gateway.registry import Participant, ParticipantRegistry, load_registry_text
from gateway.translation import InboundMeta, translate
from tests.kafka.helpers import certificate, render

SERIES = [
    {"first": "RU0250000", "last": "RU0259999", "year": 2025},
    {"first": "RU0260000", "last": "RU0264999", "year": 2026},
    {"first": "RU0265000", "last": "RU0269999", "year": 2026},
]


def _with_series(
    registry: ParticipantRegistry, code: str, series: list[dict[str, Any]]
) -> ParticipantRegistry:
    participant = registry.participants[code].model_dump()
    changed = Participant.model_validate({**participant, "number_series": series})
    return ParticipantRegistry(
        participants={**registry.participants, code: changed}, pairs=registry.pairs
    )


def _series_findings(cert: CertificateIssued, registry: ParticipantRegistry) -> list[str]:
    found = rules.findings_for(cert, registry)
    return [f.message for f in found if f.code == rules.NUMBER_NOT_IN_SERIES]


@pytest.fixture
def registry(example_registry: ParticipantRegistry) -> ParticipantRegistry:
    return _with_series(example_registry, "RU", SERIES)


@pytest.mark.parametrize("number", ["RU0260000", "RU0264999", "RU0265000", "RU0269999"])
def test_a_number_in_a_block_of_its_year_passes(registry: ParticipantRegistry, number: str) -> None:
    assert _series_findings(certificate(number, issued=date(2026, 3, 2)), registry) == []


def test_a_number_from_last_years_block_is_refused_and_named(
    registry: ParticipantRegistry,
) -> None:
    (message,) = _series_findings(certificate("RU0251234", issued=date(2026, 3, 2)), registry)
    assert message == (
        "certificate number RU0251234 is in RU's number series for 2025 (RU0250000-RU0259999); "
        "the series registered for certificates issued in 2026: RU0260000-RU0264999, "
        "RU0265000-RU0269999"
    )


@pytest.mark.parametrize("number", ["RU0270000", "RU0249999", "RU02600001", "RU9999999"])
def test_a_number_in_no_block_is_refused(registry: ParticipantRegistry, number: str) -> None:
    (message,) = _series_findings(certificate(number, issued=date(2026, 3, 2)), registry)
    assert f"{number} is in none of RU's number series" in message


def test_a_year_without_registered_blocks_judges_only_other_years_blocks(
    registry: ParticipantRegistry,
) -> None:
    issued = date(2027, 2, 1)
    assert _series_findings(certificate("RU0271234", issued=issued), registry) == []
    (message,) = _series_findings(certificate("RU0261234", issued=issued), registry)
    assert "for 2026 (RU0260000-RU0264999)" in message and "issued in 2027: none" in message


def test_a_block_without_a_year_serves_every_year(
    example_registry: ParticipantRegistry,
) -> None:
    registry = _with_series(example_registry, "RU", [{"first": "RU1000000", "last": "RU1999999"}])
    for year in (2004, 2026):
        assert _series_findings(certificate("RU1500000", issued=date(year, 3, 2)), registry) == []
    assert _series_findings(certificate("RU2000000", issued=date(2026, 3, 2)), registry)


def test_a_participant_without_blocks_is_not_judged(example_registry: ParticipantRegistry) -> None:
    assert _series_findings(certificate("RU0251234"), example_registry) == []


def test_eu_blocks_carry_member_state_prefixes(example_registry: ParticipantRegistry) -> None:
    registry = _with_series(
        example_registry, "EU", [{"first": "BE260000", "last": "BE269999", "year": 2026}]
    )
    cert = certificate("BE261234", exporter="EU", importer="RU", importer_state=None)
    assert _series_findings(cert, registry) == []
    assert _series_findings(
        certificate("BE251234", exporter="EU", importer="RU", importer_state=None), registry
    )


def test_the_translator_refuses_a_document_with_such_a_number(
    registry: ParticipantRegistry,
) -> None:
    document = render(certificate("RU0251234", issued=date(2026, 3, 2)))
    meta = InboundMeta(sender="RU", received_at=datetime(2026, 3, 3, tzinfo=UTC))
    with pytest.raises(BusinessRuleViolation) as caught:
        translate(document, meta, registry)
    assert [f.code for f in caught.value.findings] == [rules.NUMBER_NOT_IN_SERIES]
    assert caught.value.findings[0].path == "certificate_number"


@pytest.mark.parametrize(
    ("series", "complaint"),
    [
        ('{ first = "BW0260000", last = "BW0269999" }', "does not begin with RU"),
        ('{ first = "RU0260000", last = "RU026999" }', "share their prefix and their number"),
        ('{ first = "RU0269999", last = "RU0260000" }', "RU0269999 comes after RU0260000"),
        ('{ first = "RU 260000", last = "RU0269999" }', "an ISO code and 6-9 digits"),
        (
            '{ first = "RU0260000", last = "RU0269999" }, { first = "RU0265000", '
            'last = "RU0279999", year = 2027 }',
            "overlap",
        ),
    ],
)
def test_registry_refuses_blocks_that_cannot_be_judged(series: str, complaint: str) -> None:
    text = f'[participants.RU]\nname = "Russia"\nnumber_series = [{series}]\n'
    with pytest.raises(ConfigurationError) as caught:
        load_registry_text(text, source="participants.toml")
    assert complaint in caught.value.message
    assert "line 3" in caught.value.message or "participants.RU" in caught.value.message
