"""``kpgw demo`` shows its story, and errors of our own, but not the Kafka client's transient
errors of a fresh broker; ``kpgw run``'s logs keep them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from click.testing import CliRunner
from rich.console import Console

from gateway.cli import cli
from gateway.demo import run
from gateway.demo.run import DemoOptions
from gateway.demo.summary import Summary
from gateway.logs import configure_logging
from gateway.settings import Settings

COORDINATOR = "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
FETCH = "Failed fetch offsets from 1: [Error 6] NotLeaderForPartitionError"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Each test configures logging itself; the levels and handlers are put back after."""
    root, client = logging.getLogger(), logging.getLogger("aiokafka")
    levels, handlers = (root.level, client.level), list(root.handlers)
    yield
    root.setLevel(levels[0])
    client.setLevel(levels[1])
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    structlog.reset_defaults()


def log_like_a_fresh_broker() -> None:
    logging.getLogger("aiokafka.consumer.group_coordinator").error(COORDINATOR)
    logging.getLogger("aiokafka.consumer.fetcher").error(FETCH)
    structlog.get_logger("gateway.router.driver").error("our_own_error")
    logging.getLogger("gateway.kafka.clients").error("our standard-library error")


def test_the_demo_hides_the_clients_transient_errors_not_ours(
    clean_env: pytest.MonkeyPatch, restored_logging: None
) -> None:
    async def fake_run_demo(settings: Settings, options: DemoOptions, console: Console) -> Summary:
        log_like_a_fresh_broker()
        return Summary()

    clean_env.setattr(run, "run_demo", fake_run_demo)
    result = CliRunner().invoke(cli, ["demo", "--short"])
    assert result.exit_code == 0, result.output
    assert "our_own_error" in result.stderr
    assert "our standard-library error" in result.stderr
    assert "GroupCoordinatorNotAvailableError" not in result.stderr
    assert "NotLeaderForPartitionError" not in result.stderr
    assert not logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.ERROR)
    assert logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.CRITICAL)


@pytest.mark.parametrize(
    ("arguments", "environment"),
    [
        (["--log-level", "info"], {}),  # was quiet: only the environment variable counted
        ([], {"KPGW_LOG_LEVEL": "info"}),
        (["--log-level=INFO", "--log-format", "json"], {}),
    ],
)
def test_with_a_log_level_asked_for_the_demo_shows_them(
    clean_env: pytest.MonkeyPatch,
    restored_logging: None,
    arguments: list[str],
    environment: dict[str, str],
) -> None:
    async def fake_run_demo(settings: Settings, options: DemoOptions, console: Console) -> Summary:
        log_like_a_fresh_broker()
        structlog.get_logger("gateway.demo.run").info("our_info_line")
        return Summary()

    clean_env.setattr(run, "run_demo", fake_run_demo)
    for name, value in environment.items():
        clean_env.setenv(name, value)
    result = CliRunner().invoke(cli, [*arguments, "demo", "--short"])
    assert result.exit_code == 0, result.output
    assert "our_info_line" in result.stderr
    assert "GroupCoordinatorNotAvailableError" in result.stderr
    if "json" in arguments:  # the format asked for is kept too
        lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
        assert any(line["event"] == "our_info_line" for line in lines)


def test_a_log_format_alone_keeps_the_demo_quiet_in_that_format(
    clean_env: pytest.MonkeyPatch, restored_logging: None
) -> None:
    async def fake_run_demo(settings: Settings, options: DemoOptions, console: Console) -> Summary:
        structlog.get_logger("gateway.demo.run").info("our_info_line")
        structlog.get_logger("gateway.router.driver").error("our_own_error")
        return Summary()

    clean_env.setattr(run, "run_demo", fake_run_demo)
    result = CliRunner().invoke(cli, ["--log-format", "json", "demo", "--short"])
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert line["event"] == "our_own_error"


def test_kpgw_run_logs_keep_the_clients_errors(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="json", level="info")  # what the command group does for 'run'
    log_like_a_fresh_broker()
    err = capsys.readouterr().err
    assert "GroupCoordinatorNotAvailableError" in err
    assert "NotLeaderForPartitionError" in err
