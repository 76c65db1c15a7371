"""The adapter registry: built-in adapters by import path, imported on first use, plus the
``kpgw.adapters`` entry-point group for partners' adapters that live in other
distributions."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

import structlog

from adapters.contract import Adapter, RootName
from gateway.errors import ConfigurationError, Finding, UnknownFormat

ENTRY_POINT_GROUP = "kpgw.adapters"

#: Built-in adapters: name -> "module:attribute" of an Adapter instance.
BUILTIN: dict[str, str] = {
    "uncefact": "adapters.uncefact:ADAPTER",
    "ru_fts": "adapters.ru_fts:ADAPTER",
    "envelope": "adapters.envelope:ADAPTER",
}

log = structlog.get_logger(__name__)


def _load(target: str) -> Adapter:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    adapter = getattr(module, attribute)
    if not isinstance(adapter, Adapter):
        raise ConfigurationError(f"{target} is not a kpgw adapter (see adapters.contract)")
    return adapter


@cache
def adapters() -> dict[str, Adapter]:
    """Every available adapter by name, built once: built-ins first, then entry points (an
    entry point may not shadow a built-in name)."""
    found: dict[str, Adapter] = {}
    for name, target in BUILTIN.items():
        try:
            found[name] = _load(target)
        except ModuleNotFoundError as exc:
            if exc.name is not None and target.startswith(exc.name):
                continue  # a built-in not yet present in this build
            raise
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found:
            log.warning("adapter_entry_point_shadowed", adapter=entry.name, value=entry.value)
            continue
        adapter = entry.load()
        if not isinstance(adapter, Adapter):
            raise ConfigurationError(f"entry point {entry.value} is not a kpgw adapter")
        found[entry.name] = adapter
    return found


def get(name: str) -> Adapter:
    try:
        return adapters()[name]
    except KeyError:
        known = ", ".join(sorted(adapters()))
        message = f"unknown format {name!r}; known formats: {known}"
        raise UnknownFormat(message, findings=(Finding("UNKNOWN_FORMAT", message),)) from None


#: The adapters dict the memo below was filled from, and its answers (adapters are pure, so
#: a root name always detects the same adapter while that dict is in use).
_DETECTED: list[tuple[dict[str, Adapter], dict[RootName, Adapter]]] = []
_DETECTED_LIMIT = 256


def detect(root: RootName, *, line: int = 1) -> Adapter:
    """The adapter whose ``detects`` accepts ``root``; UnknownFormat at ``line`` (the root
    element's, which may follow a declaration and comments) when none does."""
    available = adapters()
    current = _DETECTED[0] if _DETECTED else None
    if current is None or current[0] is not available:
        current = (available, {})
        _DETECTED[:] = [current]
    memo = current[1]
    found = memo.get(root)
    if found is not None:
        return found
    for adapter in available.values():
        if adapter.detects(root):
            if len(memo) < _DETECTED_LIMIT:
                memo[root] = adapter
            return adapter
    message = (
        f"no adapter understands a document whose root element is {root}; "
        f"known formats: {', '.join(sorted(adapters()))}"
    )
    raise UnknownFormat(
        message, findings=(Finding("UNKNOWN_FORMAT", message, line=line, path="/"),)
    )
