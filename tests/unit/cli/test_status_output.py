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
    assert human.stdout.startswith(f"ZA:walk-za-1: no status ({code}) ")
    assert human.stdout.endswith(f": {detail}\n")  # the problem's title, then its detail
    assert "1 of 1 request(s) failed" in human.stderr
    assert "ask again later" not in human.stderr


async def test_no_connection_exits_2_and_says_the_call_failed() -> None:
    async with ingress_stub() as stub:
        url = stub.url
    gone = await _status(url, "t-1")  # the stub has stopped: connection refused
    assert gone.exit_code == 2
    assert gone.stdout.startswith("t-1: no answer: ")
    assert "1 of 1 request(s) failed" in gone.stderr


async def test_an_unknown_id_is_told_from_a_wrong_url() -> None:
    """Both are 404s: the status endpoint's own problem says no such message (exit 1, the
    answer about that id); any other 404 is a route that does not exist (exit 2)."""
    async with ingress_stub() as stub:
        stub.statuses["ZA:real-route"] = [(404, "Not Found")]  # the ingress's unknown route
        unknown = await _status(stub.url, "ZA:unknown")
        routed = await _status(stub.url, "ZA:real-route")
        plain = await _status(stub.url + "/nope", "ZA:unknown")  # not even a problem document
        machine = await _status(stub.url + "/nope", "--json", "ZA:unknown")
    assert unknown.exit_code == 1, unknown.output
    assert unknown.stdout == (
        "ZA:unknown: unknown to this participant (404): no message ZA:unknown of ZA is known\n"
    )
    assert unknown.stderr == ""  # nothing to ask again later
    assert routed.exit_code == plain.exit_code == machine.exit_code == 2
    assert routed.stdout == (
        f"ZA:real-route: no status (404) Not found; no kpgw status endpoint at {stub.url}: "
        "check --url\n"
    )
    assert plain.stdout == (
        f"ZA:unknown: no status (404) 404: Not Found; no kpgw status endpoint at {stub.url}/nope: "
        "check --url\n"
    )
    assert "ask again later" not in plain.stderr and "request(s) failed" in plain.stderr
    assert machine.stdout.count("\n") == 1  # the JSON line is as before: http_status, problem
