"""Load and validate the participant registry TOML, with the line and key of every problem."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from gateway.errors import ConfigurationError, Finding
from gateway.registry.model import DEFER_CONSISTENCY, ParticipantRegistry
from gateway.resources import data_dir

EXAMPLE_REGISTRY = "participants.example.toml"


def example_registry_path() -> Path:
    return data_dir() / EXAMPLE_REGISTRY


def load_registry(path: Path | None = None) -> ParticipantRegistry:
    path = path or example_registry_path()
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read participant registry {path}: {exc.strerror}"
        ) from exc
    except UnicodeDecodeError as exc:  # a reload would otherwise fail the request with it
        raise ConfigurationError(
            f"cannot read participant registry {path}: not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from exc
    return load_registry_text(text, source=str(path))


def load_registry_text(text: str, *, source: str = "<registry>") -> ParticipantRegistry:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from exc
    data = _reshape(raw)
    try:
        registry = ParticipantRegistry.model_validate(data, context={DEFER_CONSISTENCY: True})
    except ValidationError as exc:
        _refuse(source, tuple(_finding(error, text) for error in exc.errors()))
    problems = registry.problems()
    if problems:
        _refuse(
            source,
            tuple(
                _finding({"loc": location, "msg": message}, text) for location, message in problems
            ),
        )
    return registry


def _refuse(source: str, findings: tuple[Finding, ...]) -> NoReturn:
    listing = "; ".join(
        f"line {f.line}: {f.path}: {f.message}" if f.line else f"{f.path}: {f.message}"
        for f in findings
    )
    raise ConfigurationError(f"{source}: {listing}", findings=findings)


def _reshape(raw: dict[str, Any]) -> dict[str, Any]:
    """TOML tables keyed by code become participants with their code filled in."""
    participants = raw.get("participants", {})
    if isinstance(participants, dict):
        participants = {
            key: ({"code": key, **value} if isinstance(value, dict) else value)
            for key, value in participants.items()
        }
    return {**raw, "participants": participants}


def _finding(error: Any, text: str) -> Finding:
    loc = tuple(str(part) for part in error["loc"])
    path = ".".join(loc)
    return Finding("REGISTRY_INVALID", error["msg"], _line_of(loc, text), path)


def _line_of(loc: tuple[str, ...], text: str) -> int | None:
    """Best effort: the line of the table (and key) an error location points to."""
    lines = text.splitlines()
    if len(loc) >= 2 and loc[0] == "participants":
        header = re.compile(rf"^\s*\[participants\.{re.escape(loc[1])}\]\s*$")
        return _key_line(lines, header, loc[2] if len(loc) > 2 else None)
    if len(loc) >= 2 and loc[0] == "pairs" and loc[1].isdigit():
        header = re.compile(r"^\s*\[\[pairs\]\]\s*$")
        occurrences = [i for i, line in enumerate(lines) if header.match(line)]
        index = int(loc[1])
        if index < len(occurrences):
            start = occurrences[index]
            return _key_from(lines, start, loc[2] if len(loc) > 2 else None)
    return None


def _key_line(lines: list[str], header: re.Pattern[str], key: str | None) -> int | None:
    for number, line in enumerate(lines):
        if header.match(line):
            return _key_from(lines, number, key)
    return None


def _key_from(lines: list[str], start: int, key: str | None) -> int:
    if key is not None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number in range(start + 1, len(lines)):
            if lines[number].lstrip().startswith("["):
                break
            if pattern.match(lines[number]):
                return number + 1
    return start + 1
