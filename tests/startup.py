"""Loaded first with ``-p tests.startup`` (scripts/run-tests.sh, ``make unit``): no garbage
collection until the test modules are collected (``tests/conftest.py`` turns it on again).

CPython 3.11.7 keeps the AST constructor's recursion depth in shared state
(python/cpython#106905). pytest rewrites the assertions of every plugin it loads from an
entry point (hypothesis's whole package) and of every test module with ``ast.parse``; a
garbage collection in the middle that runs a finalizer which formats a traceback (3.11
parses source lines for its carets) fails the whole run with "SystemError: AST
constructor recursion depth mismatch". ``-p`` plugins load before the entry-point ones, so
this covers pytest's start-up as well as collection.
"""

from __future__ import annotations

import gc

gc.disable()
