"""``kpgw status`` for people and its exit codes (a new-user review): a refused call (the
token, the URL, the ingress) exits 2 like ``kpgw send``; an unknown tracking id, the answer
about that id, exits 1."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli
from tests.unit.cli.ingress_stub import ingress_stub


async def _status(url: str, *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, cli, ["status", "--url", url, "--token", "t", *args]
    )


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        (401, "the bearer token is not valid"),
        (403, "the participant is suspended"),
        (500, "an internal error occurred; it has been logged"),
    ],
)
async def test_a_refused_call_exits_2_like_send(code: int, detail: str) -> None:
    async with ingress_stub() as stub:
        stub.statuses["ZA:walk-za-1"] = [(code, detail)]
        human = await _status(stub.url, "ZA:walk-za-1")
        machine = await _status(stub.url, "--json", "ZA:walk-za-1")
    assert human.exit_code == machine.exit_code == 2, human.output
    assert human.stdout == f"ZA:walk-za-1: no status ({code}) {detail}\n"
    assert "1 of 1 request(s) failed" in human.stderr
    assert "ask again later" not in human.stderr


async def test_no_connection_exits_2_and_says_the_call_failed() -> None:
    async with ingress_stub() as stub:
        url = stub.url
    gone = await _status(url, "t-1")  # the stub has stopped: connection refused
    assert gone.exit_code == 2
    assert gone.stdout.startswith("t-1: no answer: ")
    assert "1 of 1 request(s) failed" in gone.stderr
