"""``stop_quietly``: a Kafka client's stop that lets its own fetch task's CancelledError
escape (aiokafka, broker gone) ends quietly; a cancellation of the caller still counts."""

from __future__ import annotations

import asyncio

import pytest

from gateway.kafka.clients import CLIENT_STOP_S, close_for_good, release, stop_quietly, wait_bounded


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


class _SwallowingStop:
    """Like aiokafka's ``consumer.stop()`` when it times out: cancelled while it awaits one
    of its own tasks that swallows the cancellation (the heartbeat, the fetch task), it
    goes on to its next step, which here never ends."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.steps: list[str] = []

    async def _own_task(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.steps.append("swallowed")

    async def stop(self) -> None:
        await asyncio.create_task(self._own_task())  # our cancel ends here, swallowed
        self.steps.append("next step")
        await self.release.wait()


async def test_a_stop_that_swallows_its_cancellation_is_still_bounded() -> None:
    """``asyncio.wait_for``, once its timeout is up, waits for the cancelled stop however
    long it then takes: the prime suspect of two full test runs that hung for good."""
    stopping = _SwallowingStop()
    caller = asyncio.create_task(stop_quietly(stopping.stop(), 0.2, what="consumer"))
    try:
        done, _ = await asyncio.wait({caller}, timeout=5)
        assert caller in done, "stop_quietly waited for a stop that swallowed its cancel"
        assert caller.result() is False
        assert stopping.steps == ["swallowed", "next step"]
    finally:
        stopping.release.set()
        await asyncio.wait({caller}, timeout=1)


async def test_close_for_good_releases_a_stop_left_running() -> None:
    """The stop left running is one of the client's tasks: ``release`` cancels it again."""
    stopping = _SwallowingStop()

    class _Consumer(_Client):
        async def stop(self) -> None:
            await stopping.stop()

    client = _Consumer(sender=None)
    loop = asyncio.get_running_loop()
    started = loop.time()
    caller = asyncio.create_task(close_for_good(client, what="consumer", seconds=0.2))  # type: ignore[arg-type]
    try:
        done, _ = await asyncio.wait({caller}, timeout=10)
        assert caller in done, "close_for_good waited for a stop that swallowed its cancel"
        assert loop.time() - started < CLIENT_STOP_S
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    finally:
        stopping.release.set()


async def test_wait_bounded_gives_up_on_a_task_that_swallows_its_cancellation() -> None:
    stopping = _SwallowingStop()
    task = asyncio.create_task(stopping.stop())
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await wait_bounded(task, 0.1, grace=0.1) is False
    assert loop.time() - started < 2
    stopping.release.set()
    assert await wait_bounded(task, 1) is True
