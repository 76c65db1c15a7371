"""Crash test: the router runs as an OS process (``python -m gateway run --only router``)
while a few thousand events flow, and is killed with SIGKILL at random moments several
times and restarted. Read with read_committed, every expected outcome (and every partner
notification and delivery status) is there exactly once and nothing else is."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.kafka.helpers import registry_copy
from tests.kafka.router.support import (
    RouterProcess,
    check_exactly_once,
    log_events,
    produce_paced,
    stream,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
PAIRS = 1500
KILLS = 3
#: The group's session timeout for these routers: the broker's least. A killed member
#: keeps its partitions that long, and each restart waits for it.
SESSION_S = 6


async def test_sigkill_several_times_while_events_flow_gives_every_outcome_exactly_once(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    seed = int(os.environ.get("KPGW_CRASH_SEED", random.randrange(1_000_000)))
    chance = random.Random(seed)
    events, expected = stream(PAIRS)
    router = RouterProcess(
        settings,
        registry_copy(tmp_path),
        tmp_path / "router.log",
        KPGW_GROUP_SESSION_TIMEOUT_S=str(SESSION_S),
    )
    runs: list[str] = []
    # A killed member stays in the group until its session times out: each restart waits
    # that long, so the events are spread over the whole kill phase.
    flow = asyncio.create_task(produce_paced(settings, events, seconds=(SESSION_S + 4) * KILLS))
    try:
        for _ in range(KILLS):
            router.start()
            await router.wait_for_log('"partition_restored"', timeout_s=90)
            await router.wait_for_log('"outcome"', timeout_s=60)  # mid-stream: it is routing
            await asyncio.sleep(chance.uniform(0.2, 3.0))
            router.kill()
            runs.append(router.log_since_start())
        router.start()
        await asyncio.wait_for(flow, 120)
        counts = await check_exactly_once(settings, expected, timeout_s=120)
        assert await router.terminate() == 0  # SIGTERM: a graceful stop
        runs.append(router.log_since_start())
    finally:
        flow.cancel()
        router.stop_quietly()
    logged = [len(log_events(text, "outcome")) for text in runs]
    print(f"seed={seed} outcomes logged per run={logged} committed={counts['outcomes']}")
    assert sum(logged) >= PAIRS  # killed runs may have logged outcomes that never committed
