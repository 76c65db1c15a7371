"""A deliberate stop while the workers wait for an unreachable broker at start-up is a
clean stop (found by an SRE review: SIGTERM during an outage exited 2 with
``component_failed`` lines, which a supervisor's restart policy reads as a crash). No
broker is needed: the point is that none answers (a closed port on loopback)."""

from __future__ import annotations

import asyncio
import time

from gateway import runtime
from gateway.kafka.broker import port_free
from gateway.settings import Settings


def _unreachable() -> Settings:
    closed = next(p for p in range(28300, 28350) if port_free(p))
    return Settings(kafka_bootstrap=f"127.0.0.1:{closed}", http_port=0)


async def test_stopping_while_waiting_for_the_broker_is_a_clean_stop() -> None:
    stop = runtime.StopRequest()
    gateway = asyncio.create_task(
        runtime.run(_unreachable(), only=("translator", "router"), stop=stop)
    )
    await asyncio.sleep(1.5)  # both are retrying their topic check
    assert not gateway.done()
    stopped_at = time.monotonic()
    stop.signal()
    await asyncio.wait_for(gateway, 10)  # returns: no exception, so exit code 0
    assert time.monotonic() - stopped_at < 5  # not after a further retry period or more
