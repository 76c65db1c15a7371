"""The demo's seeded stories show every path a person should see: dead letters from a
Kafka-native sender, refusals by the HTTP API, and fraud signals. The stories are drawn by
the generator, so a generator change can reshuffle them; this says so in seconds, not in
the dashboard test after a broker run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.demo.run import DemoOptions, new_run_id, stale_demo_prefixes
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


def test_a_demo_run_deletes_only_demo_topics_older_than_a_day() -> None:
    """Found by a partner-consumer review: a second demo run deleted the first run's
    topics while a partner's consumer read them."""
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    topics = [
        "demo.20261128115500.partner.EU",  # five minutes ago: kept
        "demo.20261127110000.inbound",  # yesterday, 25 hours ago: deleted
        "demo.20261127110000.partner.EU",
        "demo.20261127130000.inbound",  # 23 hours ago: kept
        "demo.20261127100000-0a1b2c.inbound",  # a run id with its suffix, 26 hours ago
        "demo.20261128115900-0a1b2c.inbound",  # one minute ago: kept
        "demo.20261127100000-mine.inbound",  # not a run id: never ours
        "demo.mine.inbound",  # not a run id: never ours
        "kp.inbound",
    ]
    assert stale_demo_prefixes(topics, now) == [
        "demo.20261127100000-0a1b2c.",
        "demo.20261127110000.",
    ]


def test_two_demo_runs_started_in_the_same_second_get_topics_of_their_own() -> None:
    """Found by a review: the run id was the start to the second, and the two demo tests
    of a parallel ``make test`` could start in the same second on the one broker, sharing
    topics, consumer groups and transactional ids (each summary counting the other's)."""
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    ids = {new_run_id(now) for _ in range(20)}
    assert len(ids) == 20
    assert all(x.startswith("20261128120000-") for x in ids)
    # Valid in a topic name, and a new run deletes them in turn once they are a day old.
    assert stale_demo_prefixes([f"demo.{x}.inbound" for x in ids], now) == []
    later = now + timedelta(days=2)
    assert len(stale_demo_prefixes([f"demo.{x}.inbound" for x in ids], later)) == 20
