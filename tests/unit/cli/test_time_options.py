"""``--since``/``--until`` are instants wherever they appear, read by one helper
(gateway.cli.common.parse_instant); ``kpgw status`` waited for states under the name
``--until``, now ``--wait-for`` (the old spelling still works). An on-call operator review."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli, dlq_cmd
from gateway.dlq.store import DeadLetter, DlqFilter
from tests.unit.cli.ingress_stub import ingress_stub


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[DlqFilter]:
    """The filters the dlq commands read the DLQ with (nothing is read)."""
    filters: list[DlqFilter] = []

    def read(selection: DlqFilter, pending: bool) -> tuple[list[DeadLetter], dict[str, str]]:
        filters.append(selection)
        return [], {}

    monkeypatch.setattr(dlq_cmd, "_read_with_history", read)
    return filters


@pytest.mark.parametrize("command", ["list", "stats"])
def test_dlq_time_filters_take_what_validate_received_at_takes(
    command: str, asked: list[DlqFilter]
) -> None:
    result = CliRunner().invoke(
        cli,
        ["dlq", command, "--since", "2026-03-02", "--until", "2026-03-02T13:15:30+03:00"],
    )
    assert result.exit_code == 0, result.output
    assert asked[0].since == datetime(2026, 3, 2, tzinfo=UTC)
    assert asked[0].until == datetime(2026, 3, 2, 10, 15, 30, tzinfo=UTC)


def test_a_time_that_is_not_one_says_which_forms_are(asked: list[DlqFilter]) -> None:
    for option in ("--since", "--until"):
        result = CliRunner().invoke(cli, ["dlq", "list", option, "yesterday"])
        assert result.exit_code == 2
        assert "is not an ISO 8601 date or time (e.g. 2026-03-02T10:15:30Z" in result.output
    assert asked == []


def test_since_must_come_before_until(asked: list[DlqFilter]) -> None:
    result = CliRunner().invoke(
        cli, ["dlq", "stats", "--since", "2026-03-02", "--until", "2026-03-02T01:00:00+02:00"]
    )
    assert result.exit_code == 2
    assert "--since 2026-03-02T00:00:00+00:00 is not before --until" in result.output


def test_every_since_and_until_says_iso_8601_in_its_help() -> None:
    for command in ("list", "stats", "replay"):
        text = " ".join(CliRunner().invoke(cli, ["dlq", command, "--help"]).output.split())
        assert "--since TEXT Dead-lettered at or after this instant: ISO 8601" in text
        assert "--until TEXT Dead-lettered before this instant (ISO 8601" in text


async def _kpgw(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def test_status_waits_for_the_states_wait_for_names() -> None:
    async with ingress_stub() as stub:
        stub.statuses["t-1"] = [{"status": "accepted"}, {"status": "translated"}]
        base = ("status", "--url", stub.url, "--token", "t", "--interval", "0.1")
        result = await _kpgw(*base, "--timeout", "10", "--wait-for", "translated", "--json", "t-1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "translated"
    assert stub.asked == ["t-1", "t-1"]  # --wait-for is a wait: no --wait needed


async def test_status_until_is_still_understood_as_wait_for() -> None:
    async with ingress_stub() as stub:
        stub.statuses["t-1"] = [{"status": "accepted"}, {"status": "translated"}]
        base = ("status", "--url", stub.url, "--token", "t", "--interval", "0.1")
        result = await _kpgw(*base, "--wait", "--until", "translated", "--json", "t-1")
        alone = await _kpgw(*base, "--until", "matched", "--timeout", "0.5", "--json", "t-1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "translated"
    assert "--until is now --wait-for" in result.stderr
    assert alone.exit_code == 2  # waited, and timed out: not "--until needs --wait"
    assert json.loads(alone.stdout)["timed_out"] is True


def test_status_help_has_wait_for_and_no_until() -> None:
    text = CliRunner().invoke(cli, ["status", "--help"]).output
    assert "--wait-for" in text and "--until" not in text
