"""``kpgw generate``: realistic synthetic traffic with a manifest of what each certificate's
story must produce (DESIGN.md section 8, DOMAIN.md section 7)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from gateway.cli import common
from gateway.generate import DEFAULT_BASE_DATE, GenerateOptions, write


@click.command()
@click.option(
    "--pairs",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Certificates to generate (each with its confirmation unless a fault says otherwise).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same seed gives byte-identical files.",
)
@click.option(
    "--format",
    "fmt",
    default="mixed",
    show_default=True,
    help="An adapter name for every file, or 'mixed': each sender speaks the format the "
    "participant registry gives it.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Output directory (manifest.jsonl and documents/).",
)
@click.option(
    "--faults",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of certificates whose story carries a fault or a broken document.",
)
@click.option(
    "--base-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help=f"First issue date (YYYY-MM-DD); default {DEFAULT_BASE_DATE.isoformat()}.",
)
@click.option("--force", is_flag=True, help="Replace a corpus already in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@common.registry_option
def generate(
    *,
    pairs: int,
    seed: int,
    fmt: str,
    out: Path,
    faults: float,
    base_date: datetime | None,
    force: bool,
    as_json: bool,
    registry_path: Path | None,
) -> None:
    """Write realistic certificate + confirmation documents and manifest.jsonl: one line per
    certificate with the fault its story carries (null if none), its files in sending
    order, the outcomes the router must reach, and for a broken document the finding code
    the translator must give instead."""
    registry = common.registry(registry_path)
    options = GenerateOptions(
        pairs=pairs,
        seed=seed,
        format=fmt,
        faults=faults,
        base_date=base_date.date() if base_date else DEFAULT_BASE_DATE,
    )
    with common.environment_errors():
        summary = write(options, registry, out, force=force)
    result = summary.as_dict()
    if as_json:
        common.emit_json({"out": str(out), **result})
        return
    click.echo(
        f"wrote {result['certificates']} certificates in {result['files']} files to {out} "
        "(manifest.jsonl, documents/)"
    )
    click.echo("faults:  " + ", ".join(f"{k} {v}" for k, v in result["faults"].items()))
    click.echo("formats: " + ", ".join(f"{k} {v}" for k, v in result["formats"].items()))
