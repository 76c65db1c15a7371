"""``kpgw router rebuild``'s exit codes: a broker that stops answering in the middle of
the rebuild, and a router that took a partition over, exit 2 as the command says (the
environment, not the input), with one sentence and no stack trace."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import cli, router_cmd
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


def test_a_stalled_read_is_an_environment_problem() -> None:
    """``Reader`` raises this when the broker stops answering (exit 2, not 1)."""
    source = rebuild.Reader.read.__code__.co_names
    assert "EnvironmentProblem" in source
    assert "TransientFailure" not in source
