"""How many copies topics get (``gateway.kafka.topics.durability``)."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigurationError
from gateway.kafka.topics import Durability, durability
from gateway.settings import Settings


@pytest.mark.parametrize(
    ("brokers", "expected"),
    [(1, Durability(1, 1)), (2, Durability(2, 1)), (3, Durability(3, 2)), (7, Durability(3, 2))],
)
def test_three_copies_two_in_sync_unless_the_cluster_is_smaller(
    brokers: int, expected: Durability
) -> None:
    assert durability(Settings(), brokers) == expected


def test_settings_decide_when_given() -> None:
    chosen = Settings(topic_replication_factor=5, topic_min_insync_replicas=3)
    assert durability(chosen, 6) == Durability(5, 3)
    assert durability(Settings(topic_replication_factor=3), 1) == Durability(3, 2)  # Kafka refuses


def test_more_in_sync_than_copies_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no write could ever be acknowledged"):
        durability(Settings(topic_replication_factor=2, topic_min_insync_replicas=3), 3)
