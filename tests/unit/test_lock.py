"""requirements.lock pins every runtime dependency within pyproject's bounds, and this
environment (built by ``make venv`` with it as constraints) runs exactly those versions:
what the tests ran with is what the image ships (found by an SRE review: the image
resolved whatever PyPI had on the day of the build)."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (REPO_ROOT / "requirements.lock").read_text("utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned, f"not a pin: {line}"
            pins[canonicalize_name(name)] = pinned
    return pins


def _runtime() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_runtime_dependency_is_pinned_within_its_bounds() -> None:
    pins = _lock()
    for requirement in _runtime():
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned}"


@pytest.mark.parametrize("name", sorted(_lock()))
def test_this_environment_runs_the_locked_version(name: str) -> None:
    try:
        installed = version(name)
    except PackageNotFoundError:
        pytest.fail(f"{name} is locked but not installed: recreate the venv (make venv)")
    assert installed == _lock()[name], "requirements.lock changed: recreate the venv"
