"""structlog configured once: JSON lines in production, readable in a terminal.

Per-record context (certificate_id, tracking_id, topic, partition, offset) is bound with
``structlog.contextvars`` by the workers, so every line about a message says which one.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import orjson
import structlog

_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_line(event_dict: Any, default: Callable[[Any], Any] = repr, **_: Any) -> bytes:
    """One log line's JSON, as bytes: orjson (the ingress writes a line per request, and the
    standard library's encoder plus ``print`` cost twice as much); the standard encoder for
    what orjson refuses (integers beyond 64 bits), so a log call never raises."""
    try:
        return orjson.dumps(event_dict, default=default, option=_ORJSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(event_dict, default=repr).encode()


_explicit_json = [False]


def json_requested() -> bool:
    """``--log-format json`` (or KPGW_LOG_FORMAT=json) was asked for: a log shipper reads
    stderr, so even the last words of a failed command must be a JSON line."""
    return _explicit_json[0]


def configure_logging(*, fmt: str = "auto", level: str = "info") -> None:
    _explicit_json[0] = fmt == "json"
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    raw_stderr = getattr(sys.stderr, "buffer", None)
    renderer: structlog.types.Processor
    factory: Any
    if json_lines and raw_stderr is not None:
        renderer = structlog.processors.JSONRenderer(serializer=json_line)
        factory = structlog.BytesLoggerFactory(file=raw_stderr)
    else:
        renderer = (
            structlog.processors.JSONRenderer()
            if json_lines
            else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        )
        factory = structlog.WriteLoggerFactory(file=sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(json_lines, max(numeric, logging.WARNING), numeric)


_HANDLER_NAME = "gateway.logs.stderr"
#: A standard-library message (by logger and template) repeats at most once per window.
REPEAT_WINDOW_S = 10.0


class RepeatFilter(logging.Filter):
    """Lets a message through once per ``REPEAT_WINDOW_S`` per (logger, template), then
    says how many it held back. With the broker gone, aiokafka writes the same few
    warnings hundreds of times a second (one per partition and retry)."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S) -> None:
        super().__init__()
        self.window_s = window_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        seen = self._last.get(key)
        if seen is not None and record.created - seen[0] < self.window_s:
            self._last[key] = (seen[0], seen[1] + 1)
            return False
        if len(self._last) > 1000:  # templates are few; this only bounds the memory
            self._last.clear()
        self._last[key] = (record.created, 0)
        if seen is not None and seen[1]:
            record.repeated = seen[1]  # rendered with the line
        return True


#: How the ingress words a request aiohttp could not parse (``gateway.ingress.app``
#: redacts aiohttp's own line, which quotes the offending header, into this one).
MALFORMED_REQUEST = "refused a malformed HTTP request (%s, status %s)"

#: (logger, start of the message template) of the Kafka client's error lines about
#: conditions it retries itself: no coordinator yet on a fresh start, a broker restarting
#: or out of reach. They are expected, and last as long as the broker is away; at error,
#: every fresh start and every broker restart paged (an operations review). Only these,
#: and only when the error they quote (if any) is one Kafka calls retriable.
TRANSIENT_CLIENT_ERRORS: tuple[tuple[str, str], ...] = (
    ("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed"),
    ("aiokafka.consumer.group_coordinator", "Heartbeat session expired"),
    ("aiokafka.consumer.group_coordinator", "Heartbeat send request failed"),
    ("aiokafka.consumer.group_coordinator", "Error sending %s to node %s [%s] -- marking"),
    ("aiokafka", "Unable to update metadata from"),  # aiokafka/client.py logs as "aiokafka"
    ("aiokafka", "Unable connect to"),
    ("aiokafka.consumer.fetcher", "Failed fetch messages from"),
    ("aiokafka.producer.sender", "FindCoordinator Request failed"),
)


def _retriable(args: Any) -> bool:
    """No error among the line's arguments but retriable ones (a connection refused, a
    timeout, a Kafka error with ``retriable``)."""
    errors = [arg for arg in args if isinstance(arg, BaseException)] if args else []
    return all(
        getattr(error, "retriable", False) or isinstance(error, (OSError, TimeoutError))
        for error in errors
    )


class ExpectedConditions(logging.Filter):
    """Libraries' error lines about expected conditions, at the level they deserve: the
    Kafka client's transient ones (``TRANSIENT_CLIENT_ERRORS``) at warning, aiohttp's
    malformed request (a client's mistake, not the gateway's) at info, then shown only
    when ``level`` (the configured one) lets info through. Every other line unchanged."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.ERROR:
            return True
        template = str(record.msg)
        if record.name == "aiohttp.server" and template == MALFORMED_REQUEST:
            _relevel(record, logging.INFO)
            return record.levelno >= self.level
        if any(
            record.name == name and template.startswith(start)
            for name, start in TRANSIENT_CLIENT_ERRORS
        ) and _retriable(record.args):
            _relevel(record, logging.WARNING)
        return True


def _relevel(record: logging.LogRecord, level: int) -> None:
    record.levelno = level
    record.levelname = logging.getLevelName(level)


def _route_standard_logging(json_lines: bool, level: int, configured: int) -> None:
    """aiokafka and asyncio log through the standard library: render their lines like
    ours (JSON with level, time and logger), not as ``WARNING:aiokafka:...`` text in the
    middle of a JSON stream; quiet below warning unless debugging."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(allow=("repeated",)),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(ExpectedConditions(configured))
    handler.addFilter(RepeatFilter())
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in list(root.handlers):  # ours from an earlier call; others (pytest's) stay
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
