"""The router's broker tests run each in a consumer group of their own (the prefix is in
its id), so a member killed by one test never delays another test's rebalance."""

from __future__ import annotations

import pytest

from gateway.settings import Settings, load_settings


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        router={"group_id": f"{topic_prefix}router"},
    )
