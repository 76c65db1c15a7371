"""The packages depend in one direction: adapters know nothing of the gateway's I/O, and
the workers (translator, router, DLQ, Kafka plumbing) know nothing of the HTTP ingress, so
each can run alone (``kpgw run --only ...``) and be read without the others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: package -> packages it must not import
FORBIDDEN = {
    "adapters": ("gateway.kafka", "gateway.ingress", "gateway.router", "gateway.translator"),
    "gateway/kafka": ("gateway.ingress", "gateway.router", "gateway.translator"),
    "gateway/dlq": ("gateway.ingress", "gateway.router", "gateway.translator"),
    "gateway/translator": ("gateway.ingress", "gateway.router"),
    "gateway/router": ("gateway.ingress", "gateway.translator"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_does_not_import_the_layers_above_it(package: str) -> None:
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(_imports(path))
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[package])
    ]
    assert offending == []
