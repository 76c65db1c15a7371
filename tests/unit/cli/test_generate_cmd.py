"""``kpgw generate``: files, manifest, summary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from gateway.cli import cli
from gateway.generate import read_manifest
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
