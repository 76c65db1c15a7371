"""Loaded first with ``-p tests.startup`` (scripts/run-tests.sh, ``make unit``) and imported by
``tests/conftest.py``: a work-around for a CPython 3.11.7 bug that can fail a whole run.

The AST constructor keeps its recursion depth in shared state (python/cpython#106905).
pytest rewrites the assertions of every module of an entry-point plugin (hypothesis's whole
package, imported as late as the terminal summary) and of every test module with
``ast.parse``. A garbage collection in the middle may finalize an asyncio future whose
exception was never retrieved (a broker outage test leaves some); its "exception was never
retrieved" log formats the traceback, and 3.11's traceback formatting parses each source
line with ``ast`` to place its ``~~~`` anchors. The nested parse breaks the outer one:
"SystemError: AST constructor recursion depth mismatch".

So: tracebacks here get carets without those anchors (nothing else changes), and there is
no garbage collection until the test modules are collected (``conftest.py`` turns it on).
``-p`` plugins load before the entry-point ones, so this covers pytest's start-up too.
"""

from __future__ import annotations

import gc
import sys
import traceback


def _no_anchors(segment: str) -> None:
    del segment


if sys.version_info < (3, 12):
    traceback._extract_caret_anchors_from_line_segment = _no_anchors  # type: ignore[attr-defined]
gc.disable()
