"""PARTY_COUNTRY_MISMATCH: on a certificate the exporter is established in the exporting
participant and the importer in the importing one (any of its member states). Found by an
integrator review: a consignor in ZA on a BW certificate passed unremarked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway import rules
from gateway.events import Party
from gateway.registry import ParticipantRegistry
from tests.kafka.helpers import certificate, confirmation


def _mismatches(payload: object, registry: ParticipantRegistry) -> list[tuple[str | None, str]]:
    return [
        (f.path, f.message)
        for f in rules.findings_for(payload, registry)  # type: ignore[arg-type]
        if f.code == rules.PARTY_COUNTRY_MISMATCH
    ]


@pytest.mark.parametrize("country", ["BE", "NL", "be", None, ""])
def test_an_importer_in_any_member_state_or_without_a_country_is_accepted(
    example_registry: ParticipantRegistry, country: str | None
) -> None:
    cert = certificate("RU0800001", importer="EU", importer_state="BE")
    cert = replace(cert, importer=replace(cert.importer, country=country))
    assert _mismatches(cert, example_registry) == []


def test_an_exporter_outside_the_exporting_participant_is_named(
    example_registry: ParticipantRegistry,
) -> None:
    cert = certificate("RU0800002")
    cert = replace(cert, exporter=Party("Kimberley Rough (Pty) Ltd", "Kimberley", "ZA"))
    assert _mismatches(cert, example_registry) == [
        (
            "exporter.country",
            "the exporter 'Kimberley Rough (Pty) Ltd' has its address in ZA, but the "
            "exporting participant is RU",
        )
    ]


@pytest.mark.parametrize(
    ("country", "place"),
    [("AE", "AE"), ("KE", "KE, no KP participant"), ("FR", "FR (part of EU)")],
)
def test_an_importer_outside_the_importing_participant_is_named(
    example_registry: ParticipantRegistry, country: str, place: str
) -> None:
    cert = certificate("ZA0800003", exporter="ZA", importer="AE", importer_state=None)
    cert = replace(cert, importer=replace(cert.importer, country=country))
    found = _mismatches(cert, example_registry)
    if country == "AE":
        assert found == []
    else:
        assert found == [
            (
                "importer.country",
                f"the importer 'Antwerp Rough Trading BV' has its address in {place}, but "
                "the importing participant is AE",
            )
        ]


def test_a_confirmation_naming_an_importer_elsewhere_is_left_to_the_router(
    example_registry: ParticipantRegistry,
) -> None:
    """A diversion's evidence: refusing it would hide WRONG_DESTINATION."""
    conf = confirmation(certificate("RU0800004"))
    conf = replace(conf, importer=Party("Dubai Rough DMCC", "Almas Tower, Dubai", "AE"))
    assert _mismatches(conf, example_registry) == []
