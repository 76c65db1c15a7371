"""Log lines quote document-derived text only escaped and cut to 160 characters (README,
"Security model"), wherever they are written: an operations review found the translator's
``dead_lettered`` warning quoting 245 characters of a field's value, and a secret a
sender had put in a document."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from aiokafka import TopicPartition
from click.testing import CliRunner
from structlog.testing import capture_logs

from gateway import codec
from gateway.cli import cli, dlq_cmd
from gateway.dlq.headers import Failure, Origin
from gateway.dlq.publisher import DeadLetterPublisher
from gateway.dlq.replay import ReplayReport
from gateway.dlq.store import DeadLetter
from gateway.errors import MappingFailed
from gateway.events import event_to_avro
from gateway.registry.loader import example_registry_path
from gateway.registry.watch import RegistryWatcher
from gateway.router.handler import RouterHandler, Slot
from gateway.router.store import PartitionStore
from gateway.settings import load_settings
from gateway.text import AUDIT_TEXT_CHARS, audit_text
from gateway.translator.inbound import Inbound
from gateway.translator.worker import translate_record
from tests.unit.router.factories import certificate, event, registry

MODULES = ("gateway.dlq.publisher", "gateway.translator.worker", "gateway.router.handler")


@pytest.fixture(autouse=True)
def _fresh_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loggers another test used are cached with its configuration: capture_logs sees
    only fresh ones."""
    for module in MODULES:
        monkeypatch.setattr(f"{module}.log", structlog.get_logger(module))


SECRET = "SECRETPAYLOAD-passw0rd-1234567"
#: A document's text as an error quotes it: a secret past the first 160 characters, a
#: forged line and an ANSI escape.
QUOTED = "field value " + "V" * 200 + SECRET + '\n{"level": "info"}\x1b[2J'


def _bounded(text: str) -> None:
    assert SECRET not in text and "\n" not in text and "\x1b" not in text
    assert len(text) <= AUDIT_TEXT_CHARS + 40  # escapes and the ellipsis


def test_the_helper_cuts_and_escapes() -> None:
    text = audit_text("a\nb\x1b[31m\u202e" + "X" * 1000)
    assert text.startswith("a\\nb\\x1b[31m\\u202e") and text.endswith("X...")
    _bounded(text)
    assert audit_text("RU0123456") == "RU0123456"  # usual text is unchanged


class _Batch:
    def append(self, **_: Any) -> object:
        return object()


class _Producer:
    def create_batch(self) -> _Batch:
        return _Batch()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    async def send_batch(self, batch: _Batch, topic: str, **_: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def test_a_dead_letter_line_quotes_the_failure_bounded() -> None:
    failure = Failure.of(MappingFailed(f"value {QUOTED!r} is invalid"), stage="translator")
    origin = Origin("kp.inbound", 0, 7, 0, "g")
    with capture_logs() as logs:
        asyncio.run(
            DeadLetterPublisher("kp.dlq").publish(
                _Producer(), key=None, value=b"x", headers=[], origin=origin, failure=failure
            )
        )
    [line] = [e for e in logs if e["event"] == "dead_lettered"]
    _bounded(line["message"])
    assert line["message"].startswith("value 'field value VVV")


def test_a_translator_crash_line_quotes_the_error_bounded() -> None:
    def crash(*_: Any) -> Any:
        raise ValueError(QUOTED)

    inbound = Inbound.of(b"k", [("kpgw-sender", b"RU")], 0, "kp.inbound/0/1")
    with capture_logs() as logs:
        result = translate_record(b"<x/>", inbound, registry(), translate_fn=crash, max_attempts=1)
    assert result.failure is not None and SECRET in result.failure.message  # kept in the DLQ
    [line] = [e for e in logs if e["event"] == "translate_crashed"]
    _bounded(line["error"])
    assert SECRET not in line["trace"] and "raise ValueError" in line["trace"]


def test_a_router_crash_line_quotes_the_error_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partners = tmp_path / "partners.toml"
    partners.write_text(example_registry_path().read_text())
    settings = load_settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="t.")
    handler = RouterHandler(settings, RegistryWatcher(partners))

    def crash(*_: Any, **__: Any) -> Any:
        raise ValueError(QUOTED)

    monkeypatch.setattr("gateway.router.handler.decide", crash)
    issued = event(certificate())
    record = SimpleNamespace(
        topic="t.events",
        partition=0,
        offset=3,
        timestamp=0,
        key=issued.certificate_id.encode(),
        value=codec.encode("CertificateEvent", event_to_avro(issued)),
        headers=[],
    )
    tp = TopicPartition("t.events", 0)
    slot = Slot(tp, PartitionStore(0), restored=True, catch_up_to=0, caught_up=True)
    outbox = SimpleNamespace(producer=_Producer(), watch=lambda _: None)
    with capture_logs() as logs:
        asyncio.run(handler._route(record, slot, registry(), outbox))  # type: ignore[arg-type]
    [line] = [e for e in logs if e["event"] == "decide_crashed"]
    _bounded(line["error"])
    assert "exc_info" not in line and SECRET not in line["trace"]
    [dead] = [e for e in logs if e["event"] == "dead_lettered"]
    _bounded(dead["message"])


def test_replay_lines_quote_the_dead_letter_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    letter = DeadLetter(
        id="0-4",
        partition=0,
        offset=4,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        key=None,
        value=None,
        headers=(),
        reason="KP_FIELD_INVALID",
        stage="translator",
        sender="RU",
        original_topic="kp.inbound",
        original_partition=0,
        original_offset=1,
        message="",
    )

    async def replay(*_: Any, **kwargs: Any) -> ReplayReport:
        report = ReplayReport(replay_id="r", operator="op", dry_run=True)
        report.selected = report.unreplayable = [letter]
        report.why_unreplayable[letter.id] = f"its original topic {QUOTED} does not exist"
        return report

    monkeypatch.setattr(dlq_cmd, "run_replay", replay)
    result = CliRunner().invoke(cli, ["dlq", "replay", "--dry-run", "--all"])
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.output.splitlines() if "not replayable" in x]
    _bounded(line.split("not replayable: ", 1)[1])
