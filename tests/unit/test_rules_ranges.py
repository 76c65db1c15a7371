"""VALUE_OUT_OF_RANGE: a payload the KP rules accept always fits the Avro schemas, so an
accepted document can never fail later, when the translator encodes its event."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import codec, rules
from gateway.events import (
    MAX_CARATS,
    MAX_PARCELS,
    MAX_USD,
    CertificateIssued,
    ImportConfirmed,
    event_to_avro,
)
from gateway.registry import ParticipantRegistry
from tests.strategies import certificates, confirmations
from tests.unit.router.factories import event


def _out_of_range(
    payload: CertificateIssued | ImportConfirmed, registry: ParticipantRegistry
) -> list[str]:
    found = rules.findings_for(payload, registry)
    return [f.path or "" for f in found if f.code == rules.VALUE_OUT_OF_RANGE]


@settings(max_examples=50, deadline=None)
@given(cert=certificates())
def test_values_at_the_limits_are_accepted_and_encode(
    cert: CertificateIssued, example_registry: ParticipantRegistry
) -> None:
    line = replace(cert.lines[0], carats=MAX_CARATS, value_usd=MAX_USD)
    at_limit = replace(
        cert,
        lines=(line,),
        total_carats=MAX_CARATS,
        total_value_usd=MAX_USD,
        parcels=MAX_PARCELS,
    )
    assert _out_of_range(at_limit, example_registry) == []
    codec.encode("CertificateEvent", event_to_avro(event(at_limit)))


@settings(max_examples=50, deadline=None)
@given(cert=certificates(), excess=st.sampled_from([Decimal("0.001"), Decimal(10) ** 20]))
def test_values_beyond_the_limits_are_findings(
    cert: CertificateIssued, excess: Decimal, example_registry: ParticipantRegistry
) -> None:
    line = replace(cert.lines[0], carats=MAX_CARATS + excess, value_usd=MAX_USD + excess)
    beyond = replace(
        cert,
        lines=(line, *cert.lines[1:]),
        total_carats=MAX_CARATS + excess,
        total_value_usd=-(MAX_USD + excess),
        parcels=MAX_PARCELS + 1,
    )
    assert _out_of_range(beyond, example_registry) == [
        "total_carats",
        "total_value_usd",
        "lines[1].carats",
        "lines[1].value_usd",
        "parcels",
    ]
    with pytest.raises(ValueError, match=r"precision|[Ss]cale"):  # what the rule prevents
        codec.encode("CertificateEvent", event_to_avro(event(beyond)))


@settings(max_examples=30, deadline=None)
@given(conf=confirmations())
def test_a_confirmation_is_checked_too(
    conf: ImportConfirmed, example_registry: ParticipantRegistry
) -> None:
    beyond = replace(conf, total_carats=MAX_CARATS * 10, parcels=MAX_PARCELS + 1)
    assert _out_of_range(beyond, example_registry) == ["total_carats", "parcels"]
