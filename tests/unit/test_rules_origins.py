"""Origins and confirmations: every country a certificate names as a source of its diamonds
must be an active participant, and a confirmation gives the KP's minimum content."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from gateway import rules
from gateway.events import HsLine
from gateway.registry import ParticipantRegistry
from tests.kafka.helpers import certificate, confirmation


def _codes(payload: object, registry: ParticipantRegistry) -> list[tuple[str, str | None]]:
    return [(f.code, f.path) for f in rules.findings_for(payload, registry)]  # type: ignore[arg-type]


def _mixed(*origins: str | None, provenance: str | None = "BE") -> object:
    lines = tuple(
        HsLine(hs, Decimal("100.000"), Decimal("10000.00"), origin)
        for hs, origin in zip(("7102.31", "7102.21", "7102.10"), origins, strict=False)
    )
    return replace(
        certificate("RU0700020"),
        origin=rules.MIXED,
        provenance=provenance,
        lines=lines,
        total_carats=sum((line.carats for line in lines), Decimal(0)),
        total_value_usd=sum((line.value_usd for line in lines), Decimal(0)),
    )


def test_a_mixed_certificate_with_participant_lines_is_accepted(
    example_registry: ParticipantRegistry,
) -> None:
    assert _codes(_mixed("BW", "RU"), example_registry) == []


@pytest.mark.parametrize(
    ("origins", "provenance", "expected"),
    [
        (("BW", "KE"), "BE", [(rules.ORIGIN_NOT_PARTICIPANT, "lines[2].origin")]),
        (("VE", "BW"), "BE", [(rules.PARTICIPANT_SUSPENDED, "lines[1].origin")]),
        (("BW", "RU"), "KE", [(rules.ORIGIN_NOT_PARTICIPANT, "provenance")]),
        (("BW", "RU"), "VE", [(rules.PARTICIPANT_SUSPENDED, "provenance")]),
    ],
)
def test_a_non_participant_source_is_refused_whichever_field_names_it(
    origins: tuple[str, ...],
    provenance: str,
    expected: list[tuple[str, str]],
    example_registry: ParticipantRegistry,
) -> None:
    assert _codes(_mixed(*origins, provenance=provenance), example_registry) == expected


def test_a_suspended_origin_is_refused(example_registry: ParticipantRegistry) -> None:
    cert = certificate("RU0700021", origin="VE")
    assert _codes(cert, example_registry) == [(rules.PARTICIPANT_SUSPENDED, "origin")]


def test_a_member_state_is_an_origin_of_its_participant(
    example_registry: ParticipantRegistry,
) -> None:
    assert _codes(_mixed("BE", "RU"), example_registry) == []


def test_a_confirmation_gives_the_kp_minimum(example_registry: ParticipantRegistry) -> None:
    full = confirmation(certificate("RU0700022"))
    assert _codes(full, example_registry) == []
    bare = replace(full, parcels=None, lines=(), total_carats=None, exporter=None)
    assert _codes(bare, example_registry) == [
        (rules.CONFIRMATION_INCOMPLETE, "parcels"),
        (rules.CONFIRMATION_INCOMPLETE, "total_carats"),
        (rules.CONFIRMATION_INCOMPLETE, "exporter"),
    ]
    # The weight may come from the lines alone.
    assert _codes(replace(full, total_carats=None), example_registry) == []
