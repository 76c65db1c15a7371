"""``kpgw schemas check|release|export``: Avro schema evolution (FULL_TRANSITIVE)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import fastavro

from gateway.avro_compat import full_transitive_problems
from gateway.cli.common import EXIT_INVALID, emit_json
from gateway.codec import NAMESPACE, TOP_LEVEL, expanded_schema, fingerprint, released_paths
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


def unreleased() -> list[str]:
    """Schemas the gateway would write that no released version is: partners hold only
    released files, so records written with such a schema are undecodable for them."""
    names = []
    for name in _present():
        paths = released_paths(name)
        if not paths or json.loads(paths[-1].read_text("utf-8")) != expanded_schema(name):
            names.append(name)
    return names


@schemas.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object: ok, and per schema its verdict, releases and problems.",
)
def check(as_json: bool) -> None:
    """Every schema stays FULL_TRANSITIVE-compatible with its released versions, and the
    current one is released (exit 1 otherwise)."""
    report = compatibility_report()
    pending = set(unreleased())
    verdicts = {
        name: "INCOMPATIBLE" if found else "UNRELEASED" if name in pending else "ok"
        for name, found in report.items()
    }
    ok = not pending and not any(report.values())
    if as_json:
        schemas = {
            name: {
                "verdict": verdicts[name],
                "released": len(released_paths(name)),
                "problems": found,
            }
            for name, found in report.items()
        }
        emit_json({"ok": ok, "schemas": schemas})
    else:
        for name, found in report.items():
            click.echo(f"{name}: {verdicts[name]} ({len(released_paths(name))} released)")
            for problem in found:
                click.echo(f"  {problem}")
            if name in pending and not found:
                click.echo("  changed since its last release: run kpgw schemas release")
    if not ok:
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
    """Write every released version of each top-level schema, self-contained (named types
    inlined), into OUT as <Name>/vN.avsc, and print each file's fingerprint: a reader needs
    every version whose records are still on its topics."""
    for name in _present():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for path in released_paths(name):
            schema = json.loads(path.read_text("utf-8"))
            target = folder / path.name
            target.write_text(json.dumps(schema, indent=2) + "\n", "utf-8")
            print_ = fingerprint(fastavro.parse_schema(schema, named_schemas={})).hex()
            click.echo(f"{target}  fingerprint {print_}")
