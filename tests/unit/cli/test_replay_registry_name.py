"""``kpgw dlq replay`` names the registry it judged the dead letters with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import cli, dlq_cmd
from gateway.dlq.replay import ReplayReport
from gateway.registry.loader import example_registry_path
from gateway.translator.predict import Prediction


@pytest.mark.parametrize(
    ("partners", "said"),
    [(None, "(judged with the example registry)"), ("x.toml", "(judged with the registry x.toml)")],
)
def test_a_replay_warning_names_the_registry_it_judged_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, partners: str | None, said: str
) -> None:
    """Found by an operations review: unset, KPGW_PARTNERS_FILE showed as "the registry
    None"."""
    monkeypatch.delenv("KPGW_PARTNERS_FILE", raising=False)
    if partners is not None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / partners).write_text(example_registry_path().read_text())
        monkeypatch.setenv("KPGW_PARTNERS_FILE", partners)

    async def replay(*_: Any, judge: Any, **__: Any) -> ReplayReport:
        report = ReplayReport(replay_id="r", operator="op", dry_run=True)
        report.failing_again, report.warning = judge([])
        return report

    monkeypatch.setattr(dlq_cmd, "run_replay", replay)
    monkeypatch.setattr(dlq_cmd, "_read", lambda selection: [])  # no broker asked
    monkeypatch.setattr(
        dlq_cmd, "predict", lambda *_: Prediction(failing_again={"0-4": "KP_FIELD_INVALID"})
    )
    result = CliRunner().invoke(cli, ["dlq", "replay", "--reason", "KP_FIELD_INVALID", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert said in result.output and "None" not in result.output


@pytest.mark.parametrize("partners", [None, "x.toml"])
def test_a_would_pass_verdict_by_the_example_registry_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, partners: str | None
) -> None:
    """A night-duty walkthrough: with KPGW_PARTNERS_FILE unset in the operator's shell, a
    dry run judged PAIR_NOT_ENABLED letters with the example registry, which enables the
    pair, and said only "would replay 2 of 2": nothing named the registry, though the
    gateway's own still refused them. With the registry given, nothing more is said."""
    monkeypatch.delenv("KPGW_PARTNERS_FILE", raising=False)
    if partners is not None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / partners).write_text(example_registry_path().read_text())
        monkeypatch.setenv("KPGW_PARTNERS_FILE", partners)

    async def replay(*_: Any, judge: Any, **__: Any) -> ReplayReport:
        report = ReplayReport(replay_id="r", operator="op", dry_run=True)
        report.failing_again, report.warning = judge([])
        return report

    monkeypatch.setattr(dlq_cmd, "run_replay", replay)
    monkeypatch.setattr(dlq_cmd, "_read", lambda selection: [])  # no broker asked
    monkeypatch.setattr(dlq_cmd, "predict", lambda *_: Prediction(translating=["1-12", "1-13"]))
    result = CliRunner().invoke(cli, ["dlq", "replay", "--reason", "PAIR_NOT_ENABLED", "--dry-run"])
    assert result.exit_code == 0, result.output
    note = "note: 2 of them would translate as judged with the example registry"
    assert (note in result.stderr) == (partners is None), result.stderr
    if partners is None:
        assert "KPGW_PARTNERS_FILE is unset here" in result.stderr


def test_a_dry_run_says_which_letters_it_did_not_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    """A night-duty walkthrough: router letters (UNDECODABLE_AVRO, bound for kp.events)
    were listed bare beside the judged ones, as if they would pass."""
    monkeypatch.delenv("KPGW_PARTNERS_FILE", raising=False)

    async def replay(*_: Any, judge: Any, **__: Any) -> ReplayReport:
        report = ReplayReport(replay_id="r", operator="op", dry_run=True)
        report.failing_again, report.warning = judge([])
        return report

    monkeypatch.setattr(dlq_cmd, "run_replay", replay)
    monkeypatch.setattr(dlq_cmd, "_read", lambda selection: [])  # no broker asked
    monkeypatch.setattr(dlq_cmd, "predict", lambda *_: Prediction(not_predicted=["0-106"]))
    result = CliRunner().invoke(cli, ["dlq", "replay", "--stage", "router", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "note: 1 of them were not judged" in result.stderr
