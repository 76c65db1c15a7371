"""``kpgw schemas check|release|export``: Avro schema evolution (FULL_TRANSITIVE)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.avro_compat import full_transitive_problems
from gateway.cli.common import EXIT_INVALID
from gateway.codec import NAMESPACE, TOP_LEVEL, expanded_schema, released_paths
from gateway.resources import avro_dir


def _present() -> list[str]:
    return [name for name in TOP_LEVEL if (avro_dir() / f"{NAMESPACE}.{name}.avsc").exists()]


def compatibility_report() -> dict[str, list[str]]:
    """Per top-level schema, why it is not FULL_TRANSITIVE compatible with its releases."""
    report: dict[str, list[str]] = {}
    for name in _present():
        released = [(p.stem, json.loads(p.read_text("utf-8"))) for p in released_paths(name)]
        report[name] = full_transitive_problems(expanded_schema(name), released)
    return report


@click.group()
def schemas() -> None:
    """Avro schemas: compatibility with released versions, releases, self-contained export."""


@schemas.command()
def check() -> None:
    """Every schema stays FULL_TRANSITIVE-compatible with its released versions (exit 1)."""
    report = compatibility_report()
    bad = {name: found for name, found in report.items() if found}
    for name, found in report.items():
        releases = len(released_paths(name))
        click.echo(f"{name}: {'INCOMPATIBLE' if found else 'ok'} ({releases} released)")
        for problem in found:
            click.echo(f"  {problem}")
    if bad:
        raise SystemExit(EXIT_INVALID)


@schemas.command()
def release() -> None:
    """Freeze each schema that changed since its last release as the next version."""
    for name in _present():
        current = expanded_schema(name)
        paths = released_paths(name)
        if paths and json.loads(paths[-1].read_text("utf-8")) == current:
            continue
        folder = avro_dir() / "released" / name
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"v{len(paths) + 1}.avsc"
        target.write_text(json.dumps(current, indent=2) + "\n", "utf-8")
        click.echo(f"released {target}")


@schemas.command()
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
def export(out: Path) -> None:
    """Write each top-level schema self-contained (named types inlined) into OUT."""
    out.mkdir(parents=True, exist_ok=True)
    for name in _present():
        (out / f"{name}.avsc").write_text(json.dumps(expanded_schema(name), indent=2) + "\n")
        click.echo(out / f"{name}.avsc")
