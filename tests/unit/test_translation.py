"""``gateway.translation.translate``: a refusal after mapping (sender check, KP rules) still
names the adapter that read the document (the dead letter's ``kpgw-adapter``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.errors import BusinessRuleViolation, UnauthorisedSender
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta, translate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "uncefact"
MOMENT = datetime(2026, 3, 1, tzinfo=UTC)


def test_an_unauthorised_sender_names_the_adapter(example_registry: ParticipantRegistry) -> None:
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    with pytest.raises(UnauthorisedSender) as caught:
        translate(raw, InboundMeta(sender="RU", received_at=MOMENT), example_registry)
    assert caught.value.adapter == "uncefact"


def test_a_broken_kp_rule_names_the_adapter(example_registry: ParticipantRegistry) -> None:
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    broken = raw.replace(
        b"<ram:Content>1590.400</ram:Content>", b"<ram:Content>1.000</ram:Content>"
    )
    assert broken != raw
    with pytest.raises(BusinessRuleViolation) as caught:
        translate(broken, InboundMeta(sender="BW", received_at=MOMENT), example_registry)
    assert caught.value.adapter == "uncefact"
