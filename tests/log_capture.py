"""Capturing what some modules log, whatever ran before: a module's logger is cached with
the configuration it met on first use (``cache_logger_on_first_use``), which
``structlog.testing.capture_logs`` cannot reach once an earlier test configured logging
and used it; in a whole-suite run such a test saw no lines at all."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.testing import LogCapture


@contextmanager
def captured(*modules: str) -> Iterator[list[MutableMapping[str, Any]]]:
    """Every line the ``modules``' ``log`` writes in the block, at every level, with its
    ``log_level``; their loggers are put back afterwards."""
    capture = LogCapture()
    stand_in = structlog.wrap_logger(
        None,
        processors=[structlog.processors.add_log_level, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    loaded = [importlib.import_module(name) for name in modules]
    saved = [module.log for module in loaded]
    for module in loaded:
        module.log = stand_in
    try:
        yield capture.entries
    finally:
        for module, logger in zip(loaded, saved, strict=True):
            module.log = logger
