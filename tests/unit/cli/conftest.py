from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.registry import ParticipantRegistry, load_registry
from tests.unit.generate import fakeformat
from tests.unit.generate.helpers import FORMATS, format_under_test


@pytest.fixture(scope="session")
def registry() -> ParticipantRegistry:
    return load_registry()


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the test-only plain formats are installed."""
    with fakeformat.registered(monkeypatch):
        yield


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each format: the test-only plain one always, each real adapter in this build."""
    yield from format_under_test(request, monkeypatch)
