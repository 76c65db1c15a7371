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


def configure_logging(*, fmt: str = "auto", level: str = "info") -> None:
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
    # aiokafka logs through the standard library; keep it quiet unless debugging.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
