"""``stop_quietly``: a Kafka client's stop that lets its own fetch task's CancelledError
escape (aiokafka, broker gone) ends quietly; a cancellation of the caller still counts."""

from __future__ import annotations

import asyncio

import pytest

from gateway.kafka.clients import release, stop_quietly


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


class _Sender:
    """Like aiokafka's: cancelled, it first waits for its in-flight request."""

    async def routine(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)


class _Stubborn:
    """Swallows every cancellation until told to end."""

    done = False

    async def routine(self) -> None:
        while not self.done:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue


class _Client:
    def __init__(self, sender: object) -> None:
        self._sender = sender
        self.client = None  # no network client: no connections to close


async def test_release_cancels_a_client_s_tasks_until_they_end() -> None:
    sender = _Sender()
    task = asyncio.create_task(sender.routine())
    unrelated = asyncio.create_task(_Sender().routine())
    await asyncio.sleep(0)
    await release(_Client(sender), what="producer", seconds=5)
    assert task.cancelled()
    assert not unrelated.done()  # another client's task is left alone
    unrelated.cancel()


async def test_release_is_bounded_and_never_raises() -> None:
    stubborn = _Stubborn()
    task = asyncio.create_task(stubborn.routine())
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await release(_Client(stubborn), what="producer", seconds=0.5)
    assert loop.time() - started < 2
    await release(object(), what="not a client at all", seconds=0.5)  # type: ignore[arg-type]
    stubborn.done = True
    task.cancel()
    await task
