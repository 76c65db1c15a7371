"""``kpgw router rebuild``: the router's changelog rebuilt from ``kp.events`` after it was
lost (docs/router.md, "A lost changelog"). Exit 0 when every partition was rebuilt (or,
with ``--dry-run``, read), 2 when the routers still run or the broker fails."""

from __future__ import annotations

from pathlib import Path

import click

from gateway import aio_run
from gateway.cli.common import emit_json, environment_errors, registry, registry_option, settings
from gateway.router.rebuild import PartitionRebuild, rebuild_changelog


@click.group()
def router() -> None:
    """The router's state: rebuild a lost changelog."""


@router.command()
@click.option(
    "--partition",
    "partitions",
    type=click.IntRange(min=0),
    multiple=True,
    help="Only this partition of kp.events (repeat for more; default: all).",
)
@click.option("--dry-run", is_flag=True, help="Read and report; write nothing.")
@click.option(
    "--allow-truncated",
    is_flag=True,
    help="Write even where retention deleted the first events of kp.events (see --dry-run).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partition.")
@registry_option
def rebuild(
    partitions: tuple[int, ...],
    dry_run: bool,
    allow_truncated: bool,
    as_json: bool,
    registry_path: Path | None,
) -> None:
    """Rebuild the router's changelog from kp.events, with every router stopped.

    The events the router's group already processed are decided again in order, each at
    its record's time, the deadlines firing in between; every rebuilt state is written to
    kp.router.changelog, and of the outcomes, partner notifications and statuses the
    router would have written, only those the topics do not hold yet (by their ids).
    Events not processed yet are left to the router. Run it with --dry-run first; running
    it twice writes nothing twice. The participant registry used is today's (--registry),
    not the one each event met.
    """
    config = settings()
    current = registry(registry_path)

    def show(report: PartitionRebuild) -> None:
        if as_json:
            emit_json(report.as_dict())
        else:
            click.echo(_line(report, dry_run))

    with environment_errors():
        reports = aio_run.run(
            rebuild_changelog(
                config,
                current,
                partitions=partitions or None,
                dry_run=dry_run,
                allow_truncated=allow_truncated,
                on_partition=show,
            )
        )
    if not as_json:
        states = sum(report.states for report in reports)
        written = sum(report.records_written for report in reports)
        verb = "would write" if dry_run else "wrote"
        click.echo(
            f"{len(reports)} partition(s): {states:,} state(s) rebuilt; "
            + ("nothing written (dry run)" if dry_run else f"{verb} {written:,} record(s)")
        )


def _line(report: PartitionRebuild, dry_run: bool) -> str:
    verb = "would write" if dry_run else "wrote"
    if report.processed_up_to is None:
        read = "never processed by the router"
    else:
        read = f"{report.events_read:,} event(s) up to offset {report.processed_up_to:,}"
        if report.log_start:
            read += f" (offsets before {report.log_start:,} are gone: retention)"
    refused = sum(report.refused.values())
    missing = sum(report.outcomes_missing.values())
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report.outcomes_missing.items()))
    parts = [
        f"partition {report.partition}: {read}",
        f"{report.states:,} state(s) (the changelog held {report.changelog_keys_before:,}; "
        f"{report.tombstones:,} tombstone(s))",
        f"{verb} {missing:,} missing outcome(s)" + (f" ({kinds})" if kinds else ""),
        f"{report.notifications_missing:,} notification(s), "
        f"{report.statuses_restated:,} status(es)",
    ]
    if report.events_waiting and report.timers_until is not None:
        parts.append(
            f"{report.events_waiting:,} later event(s) left to the router, and the deadlines "
            f"after {report.timers_until:%Y-%m-%d %H:%M:%S} UTC (the first one's time)"
        )
    if report.kept_unrebuilt:
        parts.append(
            f"{report.kept_unrebuilt:,} changelog state(s) the incomplete history does not "
            "give are kept"
        )
    if refused:
        parts.append(f"{refused:,} event(s) refused as the router did (dead letters)")
    if report.outcomes_unexplained:
        parts.append(
            f"{report.outcomes_unexplained:,} outcome(s) on kp.outcomes the history does not "
            "give (written without state, or judged under another registry; they stay: "
            f"{', '.join(report.unexplained_ids[:5])}"
            + (", ... in --json" if report.outcomes_unexplained > 5 else "")
            + ")"
        )
    return "; ".join(parts)
