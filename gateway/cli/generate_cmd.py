"""``kpgw generate``: realistic synthetic traffic with a manifest of what each certificate's
story must produce (DESIGN.md section 8, DOMAIN.md section 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from gateway.cli import common
from gateway.generate import DEFAULT_BASE_DATE, GenerateOptions, Summary, write
from gateway.generate.faults import AFTER_EXPIRY_MAX_DAYS
from gateway.generate.sampling import EXPIRY_DAYS, ISSUE_SPAN_DAYS, RECEIPT_MAX_DAYS


def today() -> date:
    """Today in UTC: the gateway judges DATE_IN_FUTURE against its reception time."""
    return datetime.now(UTC).date()


def warn_if_future(options: GenerateOptions, summary: Summary) -> None:
    """Say so when documents are dated after today: the gateway would refuse each one
    (DATE_IN_FUTURE) rather than play its story. Not clamped: a corpus is reproducible from
    its options, and tests rely on --base-date (found by a new-user review)."""
    now = today()
    if summary.latest is None or summary.latest <= now:
        return
    earliest_safe = now - timedelta(days=options.latest_days)
    click.echo(
        f"warning: documents are dated up to {summary.latest}, after today ({now}, UTC); "
        "the gateway refuses a document dated after it receives it (DATE_IN_FUTURE). "
        f"Dates run up to {options.latest_days} days after --base-date"
        f"{' with --faults' if options.faults > 0 else ''}: --base-date "
        f"{earliest_safe.isoformat()} or earlier keeps them all in the past.",
        err=True,
    )


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
    help=f"The date the corpus counts from (YYYY-MM-DD; default "
    f"{DEFAULT_BASE_DATE.isoformat()}): issue dates fall in the {ISSUE_SPAN_DAYS} days from "
    f"it, receipts up to {RECEIPT_MAX_DAYS} days after issue, and with --faults a "
    f"confirmation after expiry up to {EXPIRY_DAYS + AFTER_EXPIRY_MAX_DAYS} days after "
    "issue. Warns when "
    "a date falls after today: the gateway refuses such documents (DATE_IN_FUTURE).",
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
    warn_if_future(options, summary)
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
