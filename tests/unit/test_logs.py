"""Logging: JSON lines with the bound per-message context, and a log call never raises on
values the fast encoder refuses."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest
import structlog
from aiokafka.errors import GroupAuthorizationFailedError

from gateway.kafka.broker import port_free
from gateway.logs import (
    MALFORMED_REQUEST,
    TRANSIENT_CLIENT_ERRORS,
    ExpectedConditions,
    configure_logging,
    json_line,
)


@pytest.fixture
def json_logging() -> Iterator[None]:
    """Configured by each test itself: the logger binds the stderr it finds, and only the
    test body sees pytest's captured one."""
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def test_json_lines_carry_the_bound_context(
    json_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="json", level="info")
    log = structlog.get_logger("kpgw.test")
    structlog.contextvars.bind_contextvars(tracking_id="t-1", partition=3)
    log.info("message_accepted", body_bytes=3012, replayed=False)
    log.debug("not_shown")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["event"] == "message_accepted"
    assert entry["tracking_id"] == "t-1"
    assert entry["partition"] == 3
    assert entry["body_bytes"] == 3012
    assert entry["level"] == "info"
    assert entry["timestamp"].endswith("Z")


def test_exceptions_are_rendered_into_the_line(
    json_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="json", level="info")
    log = structlog.get_logger("kpgw.test")
    try:
        int("broken")
    except ValueError:
        log.exception("crashed")
    entry = json.loads(capsys.readouterr().err.splitlines()[0])
    assert "ValueError: invalid literal" in entry["exception"]


def test_values_the_fast_encoder_refuses_still_log() -> None:
    huge = 2**70
    assert json.loads(json_line({"n": huge})) == {"n": huge}
    assert json.loads(json_line({"d": Decimal("1.50")})) == {"d": "Decimal('1.50')"}
    assert json.loads(json_line({"m": {1: "a"}})) == {"m": {"1": "a"}}
    assert json.loads(json_line({"s": {"x"}})) == {"s": "{'x'}"}


def test_library_lines_are_json_too_and_repeats_are_held_back(
    json_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by an SRE review: aiokafka's lines came out as ``WARNING:aiokafka:...`` text
    in the JSON stream, ~260 a second while the broker was down."""
    import logging

    configure_logging(fmt="json", level="info")
    library = logging.getLogger("aiokafka.producer.sender")
    for partition in range(50):
        library.warning("Got error produce response on %s, retrying", partition)
    logging.getLogger("aiokafka").info("below warning: not shown")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1
    (entry,) = lines
    assert entry["event"] == "Got error produce response on 0, retrying"
    assert entry["level"] == "warning" and entry["logger"] == "aiokafka.producer.sender"
    assert entry["timestamp"].endswith("Z")
    held = logging.LogRecord(
        "aiokafka.producer.sender",
        logging.WARNING,
        "",
        0,
        "Got error produce response on %s, retrying",
        (1,),
        None,
    )
    held.created += 60  # after the window: let through, saying how many were held back
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "gateway.logs.stderr"]
    assert handler.filter(held)
    assert held.__dict__["repeated"] == 49


def test_with_json_logs_a_failed_commands_last_words_are_json_too() -> None:
    """An SRE review found the fatal line of `kpgw --log-format json run` in plain text,
    breaking strict JSON log shippers. No broker: the point is that none answers."""
    closed = next(p for p in range(28350, 28399) if port_free(p))
    env = {**os.environ, "KPGW_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed}"}
    # No log level may hide why it failed (a code review: at "critical" nothing was said).
    command = ["--log-format", "json", "--log-level", "critical", "topics", "check"]
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *command],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = [json.loads(line) for line in done.stderr.decode().splitlines() if line.strip()]
    assert lines[-1]["event"] == "command_failed" and lines[-1]["exit_code"] == 2
    assert "Kafka is not reachable" in lines[-1]["error"]


@pytest.mark.parametrize(
    ("command", "error", "usage"),
    [
        (["--log-format", "json", "send", "--bogus"], "No such option '--bogus'.", "kpgw send"),
        (["--log-format=json", "nosuch"], "No such command 'nosuch'.", "kpgw [OPTIONS]"),
        (["--log-format", "json", "dlq", "show"], "Missing argument", "kpgw dlq show"),
        # The value of another group option is not the sub-command (a code review).
        (["--log-level", "info", "--log-format", "json", "nosuch"], "No such command", "kpgw"),
    ],
)
def test_with_json_logs_a_usage_error_is_a_json_line(
    command: list[str], error: str, usage: str
) -> None:
    """Click printed its usage errors as plain text even under --log-format json (left open
    by session 9): a log shipper reading stderr must get one JSON line with the reason."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *command],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (line,) = [json.loads(text) for text in done.stderr.decode().splitlines() if text.strip()]
    assert line["event"] == "command_failed" and line["exit_code"] == 2
    assert line["error"].startswith(error) and usage in line["usage"]


def test_without_json_logs_a_usage_error_stays_click_text() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "send", "--bogus"],
        capture_output=True,
        env={**os.environ, "KPGW_LOG_FORMAT": "console"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"Error: No such option '--bogus'." in done.stderr and b"{" not in done.stderr


def _library_line(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, "", 0, msg, args, None)


def test_expected_library_errors_are_logged_at_their_level(
    json_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by an operations review: every fresh start logged aiokafka's "Group
    Coordinator Request failed" at error, a 20 s broker outage 12-18 error lines per
    process, and a client's malformed request came out as a gateway error."""
    from aiokafka.errors import GroupCoordinatorNotAvailableError, KafkaConnectionError

    configure_logging(fmt="json", level="info")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
    coordinator.error("Heartbeat session expired - marking coordinator dead")
    client = logging.getLogger("aiokafka")  # aiokafka/client.py's logger
    client.error("Unable to update metadata from %s", [1])
    client.error("Unable connect to node with id %s: %s", 1, KafkaConnectionError())
    logging.getLogger("aiohttp.server").error(MALFORMED_REQUEST, "BadHttpMessage", 400)
    # Not transient: unchanged.
    coordinator.error("OffsetCommit failed for unauthorized topics %s", ["kp.inbound"])
    logging.getLogger("gateway.other").error("Unable to update metadata from %s", [1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["logger"], e["level"]) for e in lines] == [
        ("aiokafka.consumer.group_coordinator", "warning"),
        ("aiokafka.consumer.group_coordinator", "warning"),
        ("aiokafka", "warning"),
        ("aiokafka", "warning"),
        ("aiohttp.server", "info"),
        ("aiokafka.consumer.group_coordinator", "error"),
        ("gateway.other", "error"),
    ]
    assert lines[0]["event"].startswith("Group Coordinator Request failed: [Error 15]")
    # A template on the list, quoting an error that is not retriable: still an error.
    denied = _library_line(
        "aiokafka.consumer.group_coordinator",
        "Group Coordinator Request failed: %s",
        GroupAuthorizationFailedError(),
    )
    assert ExpectedConditions().filter(denied) and denied.levelno == logging.ERROR


def test_a_malformed_request_line_follows_the_configured_level() -> None:
    quiet = ExpectedConditions(logging.WARNING)
    assert not quiet.filter(_library_line("aiohttp.server", MALFORMED_REQUEST, "X", 400))
    loud = ExpectedConditions(logging.INFO)
    line = _library_line("aiohttp.server", MALFORMED_REQUEST, "X", 400)
    assert loud.filter(line) and line.levelname == "INFO"


def _aiokafka_sources_by_logger() -> dict[str, str]:
    """Each aiokafka module's source, by the name of the logger it writes to."""
    import re
    from pathlib import Path

    import aiokafka

    root = Path(aiokafka.__file__).parent
    sources: dict[str, str] = {}
    for path in root.rglob("*.py"):
        text = path.read_text("utf-8")
        module = ".".join(("aiokafka", *path.relative_to(root).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        for named in re.findall(r"getLogger\((__name__|\"[\w.]+\")\)", text):
            logger = module if named == "__name__" else named.strip('"')
            sources[logger] = sources.get(logger, "") + text
    return sources


@pytest.mark.parametrize(("name", "start"), TRANSIENT_CLIENT_ERRORS)
def test_each_transient_template_is_still_one_the_client_logs_at_error(
    name: str, start: str
) -> None:
    """The list names aiokafka's own loggers and templates (a live outage showed
    aiokafka/client.py logs as "aiokafka"): an upgrade that rewords one is caught here,
    not by an error line that pages again."""
    assert start in _aiokafka_sources_by_logger().get(name, ""), (name, start)
    line = _library_line(name, start + " %s", TimeoutError())
    assert ExpectedConditions().filter(line) and line.levelno == logging.WARNING
