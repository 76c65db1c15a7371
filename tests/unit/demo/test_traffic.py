"""The demo's seeded stories show every path a person should see: dead letters from a
Kafka-native sender, refusals by the HTTP API, and fraud signals. The stories are drawn by
the generator, so a generator change can reshuffle them; this says so in seconds, not in
the dashboard test after a broker run."""

from __future__ import annotations

import pytest

from gateway.demo.run import DemoOptions
from gateway.demo.summary import FRAUD_SIGNALS
from gateway.demo.traffic import KAFKA_NATIVE, stories
from gateway.registry import ParticipantRegistry, load_registry

SHORT_PAIRS = 24  # `kpgw demo --short`, which the dashboard test runs


@pytest.fixture(scope="module")
def registry() -> ParticipantRegistry:
    return load_registry()


@pytest.mark.parametrize("pairs", [SHORT_PAIRS, DemoOptions().pairs])
def test_the_demo_shows_dead_letters_refusals_and_fraud_signals(
    registry: ParticipantRegistry, pairs: int
) -> None:
    defaults = DemoOptions()
    items = stories(registry, pairs=pairs, seed=defaults.seed, faults=defaults.faults)
    broken_senders = [i.files[0].sender for i in items if i.scenario.expected_findings]
    assert any(s in KAFKA_NATIVE for s in broken_senders), (
        "no broken document goes straight into Kafka, so the demo shows no dead letter",
        broken_senders,
    )
    assert any(s not in KAFKA_NATIVE for s in broken_senders), (
        "no broken document goes over HTTP, so the demo shows no refusal",
        broken_senders,
    )
    outcomes = {o for i in items for o in i.scenario.expected_outcomes}
    assert outcomes & set(FRAUD_SIGNALS), outcomes
