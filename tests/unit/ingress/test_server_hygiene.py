"""What aiohttp does below the application: its log of unparsable requests never quotes a
header (a token), and concurrent readiness probes share one broker check."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.http_exceptions import BadHttpMessage, InvalidHeader

from gateway.ingress import service
from gateway.ingress.app import RedactMalformedRequests, redact_server_log
from gateway.ingress.service import Ingress
from gateway.settings import load_settings
from gateway.text import AUDIT_TEXT_CHARS, audit_text
from tests.kafka.helpers import registry_copy

TOKEN = "kpgw_ru_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXhxdXV4"


def _record(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except type(error):
        info = sys.exc_info()
    return logging.LogRecord(
        "aiohttp.server",
        logging.ERROR,
        __file__,
        1,
        "Error handling request from %s",
        ("127.0.0.1",),
        info,
    )


@pytest.mark.parametrize(
    "error",
    [
        BadHttpMessage(f"Invalid header: b'Authorization : Bearer {TOKEN}'"),
        InvalidHeader(f"Authorization: Bearer {TOKEN}\r"),
    ],
)
def test_a_malformed_request_is_logged_without_its_headers(error: BaseException) -> None:
    record = _record(error)
    assert RedactMalformedRequests().filter(record)
    text = logging.Formatter().format(record)
    assert TOKEN not in text
    assert type(error).__name__ in text and "status 400" in text


def test_other_errors_keep_their_traceback() -> None:
    record = _record(RuntimeError("a bug"))
    assert RedactMalformedRequests().filter(record)
    assert "RuntimeError: a bug" in logging.Formatter().format(record)


def test_the_filter_is_installed_once() -> None:
    redact_server_log()
    redact_server_log()
    server_log = logging.getLogger("aiohttp.server")
    assert sum(isinstance(f, RedactMalformedRequests) for f in server_log.filters) == 1


async def test_concurrent_readiness_probes_share_one_broker_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def broker_topics(settings: Any, timeout_s: float) -> set[str] | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return None  # broker down: the report says so

    monkeypatch.setattr(service, "broker_topics", broker_topics)
    # Reused for a minute, not a second: 200 probes on a loaded 2-core machine took longer
    # than the second, and the last probe below then checked again (a flaky failure).
    monkeypatch.setattr(service, "READY_CACHE_S", 60.0)
    ingress = Ingress.build(load_settings(kafka_bootstrap="127.0.0.1:1"))
    reports = await asyncio.gather(*(ingress.readiness() for _ in range(200)))
    assert calls == 1
    assert all(report == reports[0] for report in reports)
    assert reports[0]["ready"] is False and reports[0]["checks"]["broker"] is False
    await ingress.readiness()  # cached for READY_CACHE_S
    assert calls == 1


def test_document_text_in_an_audit_line_is_bounded_and_escaped() -> None:
    """Found by a security review: an 8 KB issuer code became an 8 KB audit line, with its
    newlines raw in console logs."""
    text = audit_text("ZZ may not send\n\x1b[31m" + "X" * 10_000)
    assert "\n" not in text and "\x1b" not in text and "\\x1b[31m" in text
    assert len(text) < AUDIT_TEXT_CHARS + 20


async def test_readiness_lists_a_registry_file_that_could_not_be_reloaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def broker_topics(settings: Any, timeout_s: float) -> set[str] | None:
        return None

    monkeypatch.setattr(service, "broker_topics", broker_topics)
    path = registry_copy(tmp_path)
    ingress = Ingress.build(load_settings(kafka_bootstrap="127.0.0.1:1", partners_file=path))
    assert "registry_reload_failed" not in await ingress._check_readiness()
    path.unlink()
    ingress.registry.watcher.current()
    report = await ingress._check_readiness()
    assert report["registry_reload_failed"] == [str(path)]
    assert all(isinstance(value, bool) for value in report["checks"].values())
