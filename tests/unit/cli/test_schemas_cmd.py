"""``kpgw schemas check`` fails on a schema changed since its release, and ``export`` writes
every released version with its fingerprint (found by a partner-consumer review: a new
optional field passed the check, and the gateway then wrote a fingerprint no partner had)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import cli, schemas_cmd
from gateway.codec import expanded_schema, released_paths


def test_the_shipped_schemas_are_all_released() -> None:
    result = CliRunner().invoke(cli, ["schemas", "check"])
    assert result.exit_code == 0, result.output
    assert "UNRELEASED" not in result.output


def test_a_schema_changed_since_its_release_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = expanded_schema

    def changed(name: str) -> Any:
        schema = copy.deepcopy(real(name))
        if name == "PartnerNotification":  # a compatible change: an optional field
            schema["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
        return schema

    monkeypatch.setattr(schemas_cmd, "expanded_schema", changed)
    result = CliRunner().invoke(cli, ["schemas", "check"])
    assert result.exit_code == 1
    assert "PartnerNotification: UNRELEASED" in result.output
    assert "run kpgw schemas release" in result.output


def test_export_writes_every_released_version_with_its_fingerprint(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    versions = released_paths("DeliveryStatus")
    assert len(versions) >= 2
    for path in versions:
        written = tmp_path / "DeliveryStatus" / path.name
        assert json.loads(written.read_text()) == json.loads(path.read_text())
        assert f"{written}  fingerprint " in result.output
