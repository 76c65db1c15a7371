"""``kpgw bench ...``: benchmarks with JSON results (``--json``: one object per line).

A group so each part adds its own sub-command (``adapters`` here; ``translator``,
``router``, ``ingress`` later) in its own module under ``gateway.bench``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from adapters.registry import adapters
from gateway.bench import adapters as bench_adapters
from gateway.bench.adapters import GOAL_DOCS_PER_S, GOAL_RATIO_TO_BARE_PARSE
from gateway.cli import common


@click.group(name="bench")
def bench_group() -> None:
    """Benchmarks of the gateway's parts (single core, generated documents)."""


@bench_group.command(name="adapters")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per format and line.")
@click.option(
    "--documents",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Distinct generated documents per format.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.0, min_open=True),
    default=2.0,
    show_default=True,
    help="Minimum measuring time per rate.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    help="Format to measure (repeatable); default every installed adapter.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed of the generated documents."
)
@common.registry_option
def adapters_command(
    *,
    as_json: bool,
    documents: int,
    seconds: float,
    formats: tuple[str, ...],
    seed: int,
    registry_path: Path | None,
) -> None:
    """Documents per second per format through the whole translation path (XSD and KP
    rules included), and the ratio to a bare hardened lxml parse of the same bytes.
    Exit 1 when a format could not be measured."""  # fmt: skip
    registry = common.registry(registry_path)
    with common.environment_errors():
        if not formats and not adapters():
            common.fail("no message format adapters are installed: nothing to measure")
        results = bench_adapters.run(
            registry, documents=documents, seconds=seconds, formats=formats, seed=seed
        )
    if as_json:
        for result in results:
            common.emit_json(result)
    else:
        _report(results)
    sys.exit(common.EXIT_INVALID if any("error" in r for r in results) else common.EXIT_OK)


def _report(results: list[dict[str, Any]]) -> None:
    table = Table(title="kpgw bench adapters (single core)")
    columns = ("format", "docs/s", "bare parse/s", "ratio to bare parse", "floor", "docs")
    for column in columns:
        table.add_column(column, justify="left" if column == "format" else "right")
    console = Console(highlight=False)
    for result in results:
        if "error" in result:
            error = Text(result["error"], style="red")
            table.add_row(Text(result["format"]), error, *[""] * (len(columns) - 2))
            continue
        fast = result["docs_per_s"] >= GOAL_DOCS_PER_S
        close = result["ratio_to_bare_parse"] <= GOAL_RATIO_TO_BARE_PARSE
        table.add_row(
            Text(result["format"]),
            Text(f"{result['docs_per_s']:,.0f}", style="green" if fast else "red"),
            f"{result['bare_parse_docs_per_s']:,.0f}",
            Text(f"{result['ratio_to_bare_parse']:.2f}x", style="green" if close else "red"),
            f"{result['floor_ratio_to_bare_parse']:.2f}x",
            str(result["documents"]),
        )
    console.print(table)
    console.print(
        f"goal: >= {GOAL_DOCS_PER_S:,} documents/s per core and <= "
        f"{GOAL_RATIO_TO_BARE_PARSE:g}x the bare parse; floor: the checked parse and one look "
        "at every element, what any Python adapter pays at least"
    )


bench = bench_group  # the name gateway.cli.COMMANDS looks up


@bench_group.command(name="translator")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--documents", type=click.IntRange(min=10), default=5000, show_default=True)
@click.option("--format", "fmt", default="mixed", show_default=True)
@common.registry_option
def translator_command(
    *, as_json: bool, documents: int, fmt: str, registry_path: Path | None
) -> None:
    """Inbound records/s through the translator worker with transactions on the real broker
    (KPGW_KAFKA_BOOTSTRAP) vs the adapter-only rate of the same documents in the same run."""
    from gateway import aio_run
    from gateway.bench.translator import GOAL_RATIO, run_translator_bench

    config, registry = common.settings(), common.registry(registry_path)
    with common.environment_errors():
        result = aio_run.run(
            run_translator_bench(
                config, registry, documents=documents, fmt=fmt, registry_path=registry_path
            )
        )
    if as_json:
        common.emit_json(result)
        return
    click.echo(
        f"translator: {result['worker_records_per_s']:,.0f} records/s with transactions; "
        f"adapter only {result['adapter_only_docs_per_s']:,.0f} docs/s; ratio "
        f"{result['ratio_to_adapter_only']:.2f} (goal >= {GOAL_RATIO}). Per record: "
        f"{result['worker_cpu_us_per_record']} us of worker CPU, of which translating and encoding "
        f"{result['translate_and_encode_us_per_record_in_worker']} us (translating alone: "
        f"{result['adapter_only_us_per_doc']} us)"
    )


@bench_group.command(name="ingress")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--requests", type=click.IntRange(min=50), default=2000, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed of the generated documents."
)
def ingress_command(
    *, as_json: bool, requests: int, concurrency: int, rounds: int, seed: int
) -> None:
    """POST /v1/messages requests/s and p50/p99 at a fixed concurrency on the real broker
    (KPGW_KAFKA_BOOTSTRAP) vs a bare handler that only produces the same bytes (acks=all)."""
    from gateway import aio_run
    from gateway.bench.ingress import GOAL_RATIO, run_ingress_bench

    config, registry = common.settings(), common.registry(None)
    with common.environment_errors():
        result = aio_run.run(
            run_ingress_bench(
                config,
                registry,
                requests=requests,
                concurrency=concurrency,
                rounds=rounds,
                seed=seed,
            )
        )
    if as_json:
        common.emit_json(result)
        return
    real, bare = result["ingress"], result["bare_produce"]
    click.echo(
        f"ingress: {real['requests_per_s']:,.0f} req/s, p50 {real['p50_ms']} ms, p99 "
        f"{real['p99_ms']} ms; bare produce {bare['requests_per_s']:,.0f} req/s; ratio "
        f"{result['ratio_to_bare']:.2f} (goal >= {GOAL_RATIO}); without synchronous "
        f"validation {result['ratio_to_bare_without_sync_validation']:.2f}. CPU per request "
        f"{real['cpu_us_per_request']} us + {real['worker_cpu_us_per_request']} us in the "
        f"validation workers, bare {bare['cpu_us_per_request']} us (load generator included)"
    )


@bench_group.command(name="router")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--events", type=click.IntRange(min=100), default=20_000, show_default=True)
@click.option(
    "--pending",
    type=click.IntRange(min=100),
    default=100_000,
    show_default=True,
    help="Pending certificates to restore from the changelog.",
)
@common.registry_option
def router_command(*, as_json: bool, events: int, pending: int, registry_path: Path | None) -> None:
    """Events/s through the router with transactions on the real broker (KPGW_KAFKA_BOOTSTRAP)
    vs a bare consume-and-produce passthrough of the same records; restore time and memory
    per pending certificate. Exit 1 when a goal is missed."""
    from gateway.bench.router import run_router_bench

    config = common.settings()
    with common.environment_errors():
        result = run_router_bench(config, events, as_json, pending=pending, registry=registry_path)
    if as_json:
        common.emit_json(result)
    else:
        click.echo(
            f"router: {result['router_events_per_s']:,} events/s with transactions; passthrough "
            f"{result['passthrough_events_per_s']:,} events/s; ratio "
            f"{result['ratio_router_to_passthrough']:.3f} (goal >= {result['goal_ratio']}); "
            f"restore of {result['restored_states']:,} pending certificates "
            f"{result['restore_s']} s (goal < {result['goal_restore_s']:g} s), "
            f"{result['heap_bytes_per_pending_certificate']} B each"
        )
    sys.exit(common.EXIT_OK if result["ratio_ok"] and result["restore_ok"] else common.EXIT_INVALID)
