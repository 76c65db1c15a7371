"""Helpers shared by the sub-commands: exit codes, errors as one sentence, JSON lines."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from gateway.errors import ConfigurationError, EnvironmentProblem, GatewayError
from gateway.events import to_json
from gateway.logs import json_line, json_requested
from gateway.registry import ParticipantRegistry, load_registry
from gateway.settings import Settings, load_settings
from gateway.text import json_text

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
#: 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    if json_requested():
        write_failure_line(message, code)
    else:
        click.echo(f"kpgw: {message}", err=True)
    sys.exit(code)


def write_failure_line(message: str, code: int, **extra: str) -> None:
    """A failed command's last words as one JSON line on stderr, written directly: no log
    level may hide why a command failed."""
    line = {
        "error": message,
        "exit_code": code,
        "event": "command_failed",
        "level": "error",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        **extra,
    }
    sys.stderr.buffer.write(json_line(line) + b"\n")
    sys.stderr.flush()


@contextmanager
def environment_errors() -> Iterator[None]:
    """Turn expected environment and configuration failures into one sentence and exit 2,
    never a stack trace."""
    try:
        yield
    except (EnvironmentProblem, ConfigurationError) as exc:
        fail(exc.message)
    except GatewayError as exc:
        fail(exc.message, EXIT_INVALID)
    except FileExistsError as exc:  # says it all (generate's --out); no class name
        fail(str(exc))
    except (OSError, TimeoutError) as exc:
        fail(f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        if type(exc).__module__.startswith("aiokafka"):
            # aiokafka's messages often begin with their class name already.
            name, text = type(exc).__name__, str(exc)
            said = text if text.startswith(name) else f"{name}: {text}"
            fail(f"Kafka is not reachable or refused the request ({said}){_broker_advice()}")
        raise


def _broker_advice() -> str:
    """Which broker was asked and what to check: the bare aiokafka error left an operator
    on night duty, mid-outage, to work out which setting named it and what to do next (a
    walkthrough)."""
    try:
        config = load_settings()
    except Exception:  # noqa: BLE001 - the advice must never hide the error itself
        return ""
    where = config.kafka_bootstrap
    local = all(
        address.strip().rsplit(":", 1)[0] in {"127.0.0.1", "localhost"}
        for address in where.split(",")
    )
    check = (
        "kpgw kafka status shows whether the local broker runs"
        if local
        else (
            "check that the brokers run and this host reaches them (and KPGW_KAFKA_SECURITY__* "
            "for a secured cluster)"
        )
    )
    return f": asked {where} (KPGW_KAFKA_BOOTSTRAP); {check}; run the command again once it answers"


def settings() -> Settings:
    with environment_errors():
        return load_settings()


def registry(path: Path | None = None) -> ParticipantRegistry:
    with environment_errors():
        return load_registry(path or settings().partners_file)


def emit_json(record: dict[str, Any]) -> None:
    click.echo(json_text(to_json(record)))  # senders' texts: what a terminal obeys, escaped


def registry_option(function: F) -> F:
    return click.option(
        "--registry",
        "registry_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        envvar="KPGW_PARTNERS_FILE",
        help="Participant registry TOML (default: KPGW_PARTNERS_FILE or the shipped example).",
    )(function)


def parse_instant(value: str) -> datetime:
    """ISO 8601, as the gateway writes its time stamps (``2026-03-02T10:15:30.123Z``, an
    offset, or a date); without an offset, UTC. ValueError otherwise."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def instant_callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> datetime | None:
    """A click option callback: :func:`parse_instant` of the option's text, or None."""
    if value is None:
        return None
    try:
        return parse_instant(str(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or time (e.g. 2026-03-02T10:15:30Z, "
            "2026-03-02T13:15:30+03:00, 2026-03-02)"
        ) from None
