"""The translator's last line says what it did, as ``router_stopped`` does (an operations
review: it carried no counts)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from gateway.settings import Settings
from gateway.translator import worker as translator

MODULES = ("gateway.translator.worker",)


@pytest.fixture(autouse=True)
def _fresh_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loggers another test used are cached with its configuration: capture_logs sees
    only fresh ones."""
    for module in MODULES:
        monkeypatch.setattr(f"{module}.log", structlog.get_logger(module))


async def test_the_last_line_carries_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    async def topics_exist(*_: Any, **__: Any) -> bool:
        return True

    async def run(stop: asyncio.Event) -> None:
        handler.translated, handler.dead_lettered = 41, 2

    registry = SimpleNamespace(current=lambda: None)  # polled while the worker runs

    async def read() -> None:
        return None

    letters = SimpleNamespace(start=read)  # reads kp.dlq's limit at start-up
    handler = SimpleNamespace(
        translated=0, dead_lettered=0, close=lambda: None, registry=registry, dead_letters=letters
    )
    monkeypatch.setattr(translator, "check_translator_topics", topics_exist)
    monkeypatch.setattr(
        translator, "build_translator", lambda settings: (SimpleNamespace(run=run), handler)
    )
    with capture_logs() as logs:
        await translator.run_translator(Settings(), asyncio.Event())
    assert logs[-1] == {
        "event": "translator_stopped",
        "log_level": "info",
        "translated": 41,
        "dead_lettered": 2,
    }
