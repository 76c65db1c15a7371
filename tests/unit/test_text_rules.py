"""TEXT_CONTROL_CHARACTER: a canonical text carries no control character, bidirectional
override or noncharacter (a Unicode review found them travelling to partners and to
operators' terminals and dashboard), and what is shown is escaped."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import rules
from gateway.dlq.store import DeadLetter
from gateway.errors import BusinessRuleViolation
from gateway.events import Party
from gateway.ingress.dashboard import DashboardState
from gateway.registry import ParticipantRegistry
from gateway.text import json_text
from gateway.translation import InboundMeta, translate
from tests.kafka.helpers import certificate

ENVELOPE = Path(__file__).parents[1] / "fixtures" / "envelope" / "certificate_ru_fts.xml"


def _controls(payload: object, registry: ParticipantRegistry) -> list[tuple[str | None, str]]:
    return [
        (f.path, f.message)
        for f in rules.findings_for(payload, registry)  # type: ignore[arg-type]
        if f.code == rules.TEXT_CONTROL_CHARACTER
    ]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Diamond Land \u202eVN", "U+202E (RIGHT-TO-LEFT OVERRIDE) at character 14"),
        ("Diamond\x85Land", "U+0085 (Cc) at character 8"),
        ("Diamond \u2066Land\u2069", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("Diamond Land \ufdd0", "U+FDD0"),
        ("Diamond Land \U0001fffe", "U+1FFFE"),
    ],
)
def test_a_name_with_a_control_character_is_refused_naming_it(
    example_registry: ParticipantRegistry, name: str, shown: str
) -> None:
    cert = certificate("RU0700100")
    cert = replace(cert, importer=replace(cert.importer, name=name))
    ((path, message),) = _controls(cert, example_registry)
    assert path == "importer.name"
    assert shown in message


@pytest.mark.parametrize(
    "name",
    [
        "\u0634\u0631\u0643\u0629 \u0627\u0644\u0645\u0627\u0633\u200f LLC",  # RLM: right-to-left names need it
        "Diamond Land NV\tAntwerp",
        "\u00abАЛРОСА\u00bb (ПАО) \U0001f48e",
    ],
)
def test_marks_tabs_and_any_script_pass(example_registry: ParticipantRegistry, name: str) -> None:
    cert = certificate("RU0700101")
    cert = replace(cert, exporter=Party(name, "Moscow", "RU"))
    assert _controls(cert, example_registry) == []


def test_an_envelope_delivery_number_with_a_line_break_is_refused(
    example_registry: ParticipantRegistry,
) -> None:
    """It became the message id: a header and the default idempotency key."""
    source = ENVELOPE.read_text("utf-8").replace("HUB-2026-0004170", "HUB-1&#10;kpgw-sender: BE", 1)
    meta = InboundMeta(sender="RU", received_at=datetime(2026, 11, 1, tzinfo=UTC))
    with pytest.raises(BusinessRuleViolation) as caught:
        translate(source.encode(), meta, example_registry)
    (finding,) = caught.value.findings
    assert (finding.code, finding.path) == (rules.TEXT_CONTROL_CHARACTER, "message_id")
    assert "U+000A (Cc) at character 6" in finding.message


def test_json_for_a_terminal_escapes_what_it_would_obey_and_decodes_the_same() -> None:
    value = {"name": "АЛРОСА \u202eVB\x9b2J", "line": "a\u2028b"}
    shown = json_text(value)
    assert "\u202e" not in shown and "\x9b" not in shown and "\u2028" not in shown
    assert "АЛРОСА" in shown  # readable, not \\u-escaped
    assert json.loads(shown) == value


def test_the_dashboard_shows_a_dead_letters_message_escaped() -> None:
    state = DashboardState()
    letter = DeadLetter(
        id="0-1",
        partition=0,
        offset=1,
        timestamp=datetime(2026, 11, 1, tzinfo=UTC),
        key=None,
        value=b"<x/>",
        headers=(),
        reason="KP_FIELD_INVALID",
        stage="translator",
        sender="RU",
        original_topic="kp.inbound",
        original_partition=0,
        original_offset=7,
        message="statement KP-\u202eSLECRAP is not known",
    )
    state.dead_letter(letter)
    (shown,) = state.snapshot(0)["dead_letters"]["newest"]
    assert shown["message"] == "statement KP-\\u202eSLECRAP is not known"


def test_a_short_name_with_a_control_character_is_refused(
    example_registry: ParticipantRegistry,
) -> None:
    """The short name travels to partners beside the name: the same check."""
    cert = certificate("RU0700102")
    cert = replace(cert, exporter=replace(cert.exporter, short_name="АЛРОСА \u202e"))
    ((path, _message),) = _controls(cert, example_registry)
    assert path == "exporter.short_name"


def test_a_short_name_is_bounded_like_the_name(example_registry: ParticipantRegistry) -> None:
    cert = certificate("RU0700103")
    cert = replace(cert, exporter=replace(cert.exporter, short_name="A" * 513))
    found = [(f.code, f.path) for f in rules.findings_for(cert, example_registry)]
    assert (rules.TEXT_TOO_LONG, "exporter.short_name") in found
