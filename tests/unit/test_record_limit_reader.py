"""``RecordLimitReader`` reads kp.dlq's and kp.dlq.audit's ``max.message.bytes``: its line
for a limit it cannot read names the topic, under a name that fits either (it was
``dead_letter_limit_unreadable`` for the audit topic too)."""

from __future__ import annotations

import time

import pytest

from gateway.dlq.limit import RecordLimitReader
from gateway.settings import Settings
from tests.log_capture import captured


@pytest.mark.parametrize("topic", ["kp.dlq", "kp.dlq.audit"])
async def test_a_limit_that_cannot_be_read_is_said_once_naming_its_topic(topic: str) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1")  # nothing listens: no answer
    read = RecordLimitReader(settings, topic, seconds=1.0, consequence="it is guessed")
    started = time.monotonic()
    with captured("gateway.dlq.limit") as logs:
        assert await read() is None
        assert await read() is None  # the same failure: not said again
    assert time.monotonic() - started < 10
    unread = [line for line in logs if line["log_level"] == "warning"]
    assert [line["event"] for line in unread] == ["record_limit_unreadable"]
    assert unread[0]["topic"] == topic
    assert f"max.message.bytes of {topic}" in unread[0]["detail"]
    assert unread[0]["detail"].endswith(": it is guessed")
