"""``kpgw router rebuild``'s exit codes: a broker that stops answering in the middle of
the rebuild, and a router that took a partition over, exit 2 as the command says (the
environment, not the input), with one sentence and no stack trace."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from click.testing import CliRunner

from gateway.cli import cli, router_cmd
from gateway.errors import EnvironmentProblem
from gateway.kafka import clients
from gateway.router import rebuild


@pytest.mark.parametrize(
    "failure",
    [
        rebuild.RebuildInterrupted("a router took partition 3 over during the rebuild"),
        rebuild.EnvironmentProblem("reading kp.events made no progress for 60 s"),
    ],
)
def test_an_environment_failure_mid_rebuild_exits_2(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    async def failing(*args: Any, **kwargs: Any) -> list[Any]:
        raise failure

    monkeypatch.setattr(router_cmd, "rebuild_changelog", failing)
    result = CliRunner().invoke(cli, ["router", "rebuild", "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


async def test_a_stalled_read_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Reader`` raises this when the broker stops answering (exit 2, not 1)."""

    class SilentBroker:
        async def beginning_offsets(self, tps: list[Any]) -> dict[Any, int]:
            return dict.fromkeys(tps, 0)

        def assign(self, tps: list[Any]) -> None:
            return None

        def seek(self, tp: Any, offset: int) -> None:
            return None

        async def getmany(self, *tps: Any, **_: Any) -> dict[Any, list[Any]]:
            await asyncio.sleep(0.01)
            return {}

        async def position(self, tp: Any) -> int:
            return 0

    monkeypatch.setattr(clients, "READ_STALL_S", 0.1)
    reader = rebuild.Reader(SilentBroker(), {})  # type: ignore[arg-type]

    async def read_all() -> None:
        async with asyncio.timeout(5):
            async for _ in reader.read({TopicPartition("kp.events", 0): 5}):
                pass

    with pytest.raises(EnvironmentProblem, match="made no progress"):
        await read_all()
