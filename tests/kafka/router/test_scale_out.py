"""Scale-out test: two router processes share the consumer group; one is stopped
(SIGTERM) mid-stream; the other takes over its partitions, restores their state from the
changelog (its certificates are matched by confirmations arriving afterwards), and the
outputs are complete and unique."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.kafka.helpers import registry_copy
from tests.kafka.router.support import (
    RouterProcess,
    check_exactly_once,
    log_events,
    partner,
    produce_events,
    produce_paced,
    stream,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
PAIRS = 1000


async def test_one_of_two_routers_stops_mid_stream_and_the_other_takes_over(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry = registry_copy(tmp_path)
    events, expected = stream(PAIRS, lag=PAIRS)  # all certificates, then the confirmations
    certificates = [e for e in events if e.event_type == "CERTIFICATE_ISSUED"]
    confirmations = [e for e in events if e.event_type != "CERTIFICATE_ISSUED"]
    first = RouterProcess(settings, registry, tmp_path / "first.log")
    second = RouterProcess(settings, registry, tmp_path / "second.log")
    flow: asyncio.Task[None] | None = None
    try:
        first.start()
        await first.wait_for_log('"partition_restored"')
        second.start()
        await second.wait_for_log('"partition_restored"')  # the group now has two members
        await first.wait_for_log('"partition_restored"')
        shared = _partitions(first.log_since_start())
        assert shared and len(shared) < 12, f"the first router owns {sorted(shared)}"
        await produce_events(settings, certificates)
        await partner(settings, "EU", PAIRS, timeout_s=60)  # all announced, by both routers
        flow = asyncio.create_task(produce_paced(settings, confirmations, seconds=8))
        await asyncio.sleep(2)
        assert await first.terminate() == 0  # mid-stream; leaves the group cleanly
        await asyncio.wait_for(flow, 60)
        await check_exactly_once(settings, expected, timeout_s=90)
        assert await second.terminate() == 0
    finally:
        if flow is not None:
            flow.cancel()
        first.stop_quietly()
        second.stop_quietly()
    first_owned = _partitions(first.log_since_start())
    restored = {
        item["partition"]: item["states"]
        for item in log_events(second.log_since_start(), "partition_restored")
        if item["partition"] in first_owned
    }
    assert set(restored) == first_owned, "the second router took over every partition"
    assert all(states > 0 for states in restored.values()), restored  # with their state
    print(f"first owned {sorted(first_owned)}; second restored {restored}")


def _partitions(log: str) -> set[int]:
    """The partitions of the last assignment in a router log."""
    assigned = log_events(log, "partitions_assigned")
    return set(assigned[-1]["partitions"]) if assigned else set()
