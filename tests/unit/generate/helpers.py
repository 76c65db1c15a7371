"""Shared by the generator, CLI, benchmark and XML-safety tests: which real formats this
build has, and generated documents in a format."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters import registry as adapter_registry
from gateway.generate import GeneratedCertificate, GenerateOptions, generate
from gateway.registry import ParticipantRegistry
from tests.unit.generate import fakeformat

#: The built-in formats (issue 3); each test over them needs its adapter in the build.
REAL_FORMATS = ("uncefact", "ru_fts", "envelope")
RECEIVED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # after every generated document
#: The test-only format of ``fakeformat``.
PLAIN = "plainxml"
FORMATS = (PLAIN, *REAL_FORMATS)


def require(fmt: str) -> None:
    """Skip while the adapter's package is not in this build yet; once it is, it must load
    (a broken adapter fails the test instead of skipping it)."""
    target = adapter_registry.BUILTIN.get(fmt)
    if target is None or importlib.util.find_spec(target.partition(":")[0]) is None:
        pytest.skip(f"the {fmt} adapter is not in this build yet")
    adapter_registry.get(fmt)


def documents_in(
    fmt: str,
    registry: ParticipantRegistry,
    *,
    pairs: int = 10,
    seed: int = 0,
    faults: float = 0.0,
) -> list[GeneratedCertificate]:
    options = GenerateOptions(pairs=pairs, seed=seed, format=fmt, faults=faults)
    return list(generate(options, registry))


def format_under_test(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Body of a ``fmt`` fixture parametrised with format names: the test-only plain
    format (always there) is registered for the test; a real one must be in the build."""
    name: str = request.param
    if name == PLAIN:
        with fakeformat.registered(monkeypatch):
            yield name
    else:
        require(name)
        yield name
