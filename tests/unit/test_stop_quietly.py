"""``stop_quietly``: a Kafka client's stop that lets its own fetch task's CancelledError
escape (aiokafka, broker gone) ends quietly; a cancellation of the caller still counts."""

from __future__ import annotations

import asyncio

import pytest

from gateway.kafka.clients import stop_quietly


async def _stop_leaking_a_cancellation() -> None:
    raise asyncio.CancelledError  # what aiokafka's consumer.stop() did with the broker gone


async def _stop_failing() -> None:
    raise ConnectionError("broker gone")


async def _stop_hanging() -> None:
    await asyncio.sleep(60)


async def test_an_internal_cancellation_or_failure_of_stop_is_swallowed() -> None:
    """An SRE review: `kpgw tail --idle-timeout` ended in a traceback and exit 1 when the
    broker went away while it waited."""
    await stop_quietly(_stop_leaking_a_cancellation(), 5, what="consumer")
    await stop_quietly(_stop_failing(), 5, what="consumer")


async def test_a_hung_stop_is_bounded() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stop_quietly(_stop_hanging(), 0.1, what="consumer")
    assert loop.time() - started < 5


async def test_cancelling_the_caller_still_cancels_it() -> None:
    task = asyncio.create_task(stop_quietly(_stop_hanging(), 30, what="consumer"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
