"""Shared fixtures. Tests marked ``kafka`` need the real broker at KPGW_KAFKA_BOOTSTRAP
(``.ci/run`` starts one); locally they skip when none answers, in CI that is a failure."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest

import tests.startup  # noqa: F401 - a CPython 3.11 work-around (see that module)
from gateway.registry import ParticipantRegistry, load_registry
from gateway.settings import Settings, load_settings

#: Stacks and a failure instead of a silent hang when a test runs too long (KPGW_TEST_HANG_S).
pytest_plugins = ("tests.hang_watchdog",)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    """No garbage collection while test modules are collected, then on again (with
    ``-p tests.startup`` it is off from pytest's start-up). CPython 3.11.7 keeps the AST
    constructor's recursion depth in shared state (python/cpython#106905): a collection
    that runs a finalizer during pytest's assertion-rewriting ``ast.parse``, and that
    finalizer formats a traceback (3.11 parses source lines for its carets), can fail the
    whole run with "SystemError: AST constructor recursion depth mismatch". Seen twice here
    during collection; nothing of the gateway is involved."""
    del session
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def example_registry() -> ParticipantRegistry:
    return load_registry()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    from gateway.kafka.broker import answers_metadata

    bootstrap = os.environ.get("KPGW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    if not answers_metadata(bootstrap, timeout_s=10):
        message = f"no Kafka broker answers at {bootstrap} (start one: kpgw kafka up)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A fresh prefix per test, so tests never see each other's records."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    return load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix)


@pytest.fixture
async def created_topics(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> AsyncIterator[Settings]:
    """Every topic of DESIGN.md section 2 under this test's prefix; deleted afterwards."""
    from gateway.kafka.topics import create_topics, delete_topics

    await create_topics(kafka_settings, example_registry)
    yield kafka_settings
    await delete_topics(kafka_settings)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("KPGW_"):
            monkeypatch.delenv(key)
    return monkeypatch
