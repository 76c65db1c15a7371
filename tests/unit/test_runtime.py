"""``kpgw run``'s supervisor: how a component's end is judged (no broker: stand-in
components, since this is the supervisor's own logic)."""

from __future__ import annotations

import asyncio

import pytest

from gateway import runtime
from gateway.settings import Settings


async def _cancels_itself_when_stopped(settings: Settings, stop: asyncio.Event) -> None:
    """What the translator did with the broker gone: aiokafka's fetcher let its own
    CancelledError escape from ``consumer.stop()`` during shutdown."""
    del settings
    await stop.wait()
    raise asyncio.CancelledError


async def _stops_cleanly(settings: Settings, stop: asyncio.Event) -> None:
    del settings
    await stop.wait()


async def _fails(settings: Settings, stop: asyncio.Event) -> None:
    del settings, stop
    raise RuntimeError("broken")


async def test_a_component_cancelled_while_stopping_has_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        runtime, "components", lambda: {"a": _cancels_itself_when_stopped, "b": _stops_cleanly}
    )
    stop = asyncio.Event()
    running = asyncio.create_task(runtime.run(Settings(), stop=stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 5)  # returns: exit code 0, the others awaited


async def test_a_component_that_fails_stops_the_others_and_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "components", lambda: {"a": _fails, "b": _stops_cleanly})
    with pytest.raises(RuntimeError, match="broken"):
        await asyncio.wait_for(runtime.run(Settings(), stop=asyncio.Event()), 5)


async def test_a_component_cancelled_while_running_is_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def cancelled(settings: Settings, stop: asyncio.Event) -> None:
        del settings, stop
        raise asyncio.CancelledError

    monkeypatch.setattr(runtime, "components", lambda: {"a": cancelled, "b": _stops_cleanly})
    with pytest.raises(asyncio.CancelledError, match="a was cancelled"):
        await asyncio.wait_for(runtime.run(Settings(), stop=asyncio.Event()), 5)


def test_a_second_stop_signal_is_urgent() -> None:
    stop = runtime.StopRequest()
    stop.signal()
    assert stop.is_set() and not stop.urgent.is_set()
    stop.signal()
    assert stop.urgent.is_set()


async def test_the_starting_line_says_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import structlog
    from structlog.testing import capture_logs

    import gateway

    monkeypatch.setattr(runtime, "log", structlog.get_logger("gateway.runtime"))  # uncached
    monkeypatch.setattr(runtime, "components", lambda: {"a": _stops_cleanly})
    stop = asyncio.Event()
    stop.set()
    with capture_logs() as logs:
        await asyncio.wait_for(runtime.run(Settings(http_port=0), stop=stop), 5)
    [starting] = [e for e in logs if e["event"] == "gateway_starting"]
    assert starting["version"] == gateway.__version__
