"""``KPGW_TEST_OUTAGE_BROKER_PORT`` names one port for every test with a broker of its own
(where ports are scarce). The two processes of ``make test`` (pytest-xdist) run two test
files at once, and two of those tests started a broker on that one port together (found
by a review): its use is serialised."""

from __future__ import annotations

import threading
import time

import pytest

from tests.kafka.helpers import outage_broker_port


def test_the_given_port_is_held_by_one_test_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPGW_TEST_OUTAGE_BROKER_PORT", "39477")
    entered = threading.Event()
    second: list[float] = []

    def another_test() -> None:
        entered.wait(10)
        with outage_broker_port() as port:
            assert port == 39477
            second.append(time.monotonic())

    other = threading.Thread(target=another_test)
    other.start()
    with outage_broker_port() as port:
        assert port == 39477
        entered.set()
        time.sleep(0.5)
        assert second == []  # still waiting for this one
        released = time.monotonic()
    other.join(10)
    assert second and second[0] >= released


def test_without_a_given_port_each_test_gets_a_free_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KPGW_TEST_OUTAGE_BROKER_PORT", raising=False)
    with outage_broker_port() as first, outage_broker_port() as second:
        assert first > 0 and second > 0
