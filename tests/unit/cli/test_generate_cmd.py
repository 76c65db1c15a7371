"""``kpgw generate``: files, manifest, summary, exit codes."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli, generate_cmd
from gateway.generate import DEFAULT_BASE_DATE, GenerateOptions, generate, read_manifest
from gateway.generate.corpus import LATEST_DAYS, LATEST_DAYS_WITH_FAULTS, document_date
from gateway.registry import ParticipantRegistry
from tests.unit.generate.helpers import PLAIN


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_generate_writes_documents_and_manifest(plain: None, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    result = run("generate", "--pairs", "25", "--seed", "4", "--format", PLAIN, "--out", str(out),
                 "--faults", "0.4", "--base-date", "2027-03-01")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 25 certificates" in result.stdout
    manifest = read_manifest(out)
    assert len(manifest) == 25
    for line in manifest:
        for entry in line["files"]:
            assert (out / entry["path"]).is_file()
    assert b"2027-03" in (out / manifest[0]["files"][0]["path"]).read_bytes()


def test_json_summary_and_reproducibility(plain: None, tmp_path: Path) -> None:
    args = ["generate", "--pairs", "30", "--seed", "8", "--format", PLAIN, "--faults", "0.5"]
    first = run(*args, "--out", str(tmp_path / "a"), "--json")
    second = run(*args, "--out", str(tmp_path / "b"), "--json")
    assert first.exit_code == second.exit_code == 0
    summary = json.loads(first.stdout)
    assert set(summary) == {"out", "certificates", "files", "faults", "formats"}
    assert summary["certificates"] == 30
    assert summary["formats"] == {PLAIN: summary["files"]}
    assert sum(summary["faults"].values()) == 30
    assert (tmp_path / "a" / "manifest.jsonl").read_bytes() == (
        tmp_path / "b" / "manifest.jsonl"
    ).read_bytes()


def test_existing_corpus_needs_force(plain: None, tmp_path: Path) -> None:
    args = ["generate", "--pairs", "2", "--format", PLAIN, "--out", str(tmp_path)]
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 2
    assert "--force" in again.stderr
    assert run(*args, "--force").exit_code == 0


def test_missing_adapter_is_an_environment_error(plain: None, tmp_path: Path) -> None:
    result = run("generate", "--pairs", "2", "--format", "mixed", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "ru_fts" in result.stderr
    assert "spoken by" in result.stderr
    assert not (tmp_path / "manifest.jsonl").exists()


def test_bad_options_are_usage_errors(plain: None, tmp_path: Path) -> None:
    out = ["--out", str(tmp_path)]
    assert run("generate", "--faults", "1.5", *out).exit_code == 2
    assert run("generate", "--pairs", "-1", *out).exit_code == 2
    assert run("generate", "--base-date", "05/01/2026", *out).exit_code == 2
    assert run("generate", "--pairs", "1").exit_code == 2  # --out is required


REVIEW_DAY = date(2026, 11, 29)  # the day a new user found corpora dated in the future


@pytest.fixture
def on_review_day(monkeypatch: pytest.MonkeyPatch) -> date:
    monkeypatch.setattr(generate_cmd, "today", lambda: REVIEW_DAY)
    return REVIEW_DAY


def test_a_corpus_dated_after_today_is_written_with_a_warning(
    plain: None, tmp_path: Path, on_review_day: date
) -> None:
    """Found by a new-user review: --base-date 2026-11-20 on 2026-11-29 gave certificates
    the gateway refused as DATE_IN_FUTURE, and the help called it the first issue date."""
    out = tmp_path / "corpus"
    args = ["generate", "--pairs", "20", "--seed", "3", "--format", PLAIN, "--out", str(out)]
    result = run(*args, "--base-date", "2026-11-20", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["certificates"] == 20  # stdout stays one JSON object
    latest = max(_document_dates(out))
    assert latest > REVIEW_DAY  # warned, not clamped: --base-date keeps its meaning
    warning = " ".join(result.stderr.split())
    assert warning.startswith(
        f"warning: documents are dated up to {latest}, after today (2026-11-29, UTC)"
    )
    assert "DATE_IN_FUTURE" in warning
    safe = REVIEW_DAY - timedelta(days=LATEST_DAYS)
    assert f"--base-date {safe} or earlier keeps them all in the past" in warning
    again = run(*args, "--base-date", str(safe), "--force")
    assert again.exit_code == 0 and again.stderr == ""
    assert max(_document_dates(out)) <= REVIEW_DAY


def test_with_faults_the_safe_base_date_is_further_back(
    plain: None, tmp_path: Path, on_review_day: date
) -> None:
    out = tmp_path / "corpus"
    args = ["generate", "--pairs", "40", "--seed", "5", "--format", PLAIN, "--out", str(out),
            "--faults", "1"]  # fmt: skip
    result = run(*args, "--base-date", "2026-10-25")
    safe = REVIEW_DAY - timedelta(days=LATEST_DAYS_WITH_FAULTS)
    assert f"after --base-date with --faults: --base-date {safe} or earlier" in " ".join(
        result.stderr.split()
    )
    assert run(*args, "--base-date", str(safe), "--force").stderr == ""


def test_the_default_base_date_never_dates_a_document_in_the_future(
    plain: None, tmp_path: Path, on_review_day: date
) -> None:
    assert DEFAULT_BASE_DATE + timedelta(days=LATEST_DAYS_WITH_FAULTS) < REVIEW_DAY
    result = run("generate", "--pairs", "60", "--format", PLAIN, "--faults", "1",
                 "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0 and result.stderr == ""


@pytest.mark.parametrize(("faults", "bound"), [(0.0, LATEST_DAYS), (1.0, LATEST_DAYS_WITH_FAULTS)])
def test_no_document_is_dated_later_than_the_bound_the_warning_gives(
    plain: None, registry: ParticipantRegistry, faults: float, bound: int
) -> None:
    base = date(2026, 12, 20)  # the number series of two years in one corpus
    latest = base
    for seed in range(4):
        options = GenerateOptions(pairs=150, seed=seed, format=PLAIN, faults=faults,
                                  base_date=base)  # fmt: skip
        assert options.latest_days == bound
        for item in generate(options, registry):
            for document in item.scenario.documents:
                latest = max(latest, document_date(document.payload))
    assert latest <= base + timedelta(days=bound)
    assert latest >= base + timedelta(days=bound - 10)  # the bound is close, not loose


def test_the_help_says_how_far_the_dates_run() -> None:
    text = " ".join(run("generate", "--help").output.split())
    assert "issue dates fall in the 28 days from it" in text
    assert "receipts up to 20 days after issue" in text
    assert "DATE_IN_FUTURE" in text


def _document_dates(out: Path) -> list[date]:
    """The dates of the acts the documents record (issue, receipt, cancellation; not the
    expiry, rightly later) in the plain test format."""
    acts = re.compile(r"<(?:t:)?(?:issue_date|date_of_receipt|voided_on)>(\d{4}-\d{2}-\d{2})<")
    found = []
    for path in (out / "documents").iterdir():
        found += [date.fromisoformat(day) for day in acts.findall(path.read_text("utf-8"))]
    assert found
    return found
