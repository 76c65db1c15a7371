"""structlog configured once: JSON lines in production, readable in a terminal.

Per-record context (certificate_id, tracking_id, topic, partition, offset) is bound with
``structlog.contextvars`` by the workers, so every line about a message says which one.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(*, fmt: str = "auto", level: str = "info") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
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
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # aiokafka logs through the standard library; keep it quiet unless debugging.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
