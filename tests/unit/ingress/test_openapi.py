"""The OpenAPI document ships inside the package, is valid OpenAPI 3.1 and documents every
problem the handlers can raise."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from gateway.demo_tokens import demo_token
from gateway.ingress.handlers import openapi_document
from gateway.registry import ParticipantRegistry
from tests.conftest import REPO_ROOT


def test_the_document_is_valid_openapi_3_1() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    spec = yaml.safe_load(openapi_document())
    assert spec["openapi"].startswith("3.1")
    validator.validate(spec)


def test_demo_tokens_match_the_example_registry(example_registry: ParticipantRegistry) -> None:
    holders = [code for code, p in example_registry.participants.items() if p.token_hashes]
    assert holders
    for code in holders:
        assert example_registry.participant_for_token(demo_token(code)) == code
    assert demo_token("ru") == demo_token("RU")


@pytest.mark.slow
def test_the_wheel_carries_the_openapi_document(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("kpgw-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("gateway/ingress/openapi.yaml") == openapi_document()
