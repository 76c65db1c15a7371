"""``kpgw topics create|check``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from gateway.cli.common import (
    EXIT_INVALID,
    emit_json,
    environment_errors,
    registry,
    registry_option,
    settings,
)
from gateway.kafka.topics import check_topics, create_topics


@click.group()
def topics() -> None:
    """Create and check the gateway's Kafka topics (DESIGN.md section 2)."""


@topics.command()
@registry_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='One JSON object: {"created": [...], "existing": [...]} (topic names).',
)
def create(registry_path: Path | None, as_json: bool) -> None:
    """Create every topic that is missing (idempotent)."""
    config, participants = settings(), registry(registry_path)
    with environment_errors():
        report = asyncio.run(create_topics(config, participants))
    if as_json:
        emit_json({"created": report.created, "existing": report.existing})
        return
    for name in report.created:
        click.echo(f"created {name}")
    click.echo(f"{len(report.created)} created, {len(report.existing)} already present")


@topics.command()
@registry_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='One JSON object: {"ok": ..., "problems": [{"topic": ..., "problem": ...}]}.',
)
def check(registry_path: Path | None, as_json: bool) -> None:
    """Verify partitions, cleanup policies and co-partitioning; exit 1 with the list of what
    is wrong."""
    config, participants = settings(), registry(registry_path)
    with environment_errors():
        problems = asyncio.run(check_topics(config, participants))
    if as_json:
        emit_json(
            {
                "ok": not problems,
                "problems": [{"topic": x.topic, "problem": x.problem} for x in problems],
            }
        )
    elif not problems:
        click.echo("all topics present, configured and co-partitioned")
    else:
        for problem in problems:
            click.echo(f"{problem.topic}: {problem.problem}")
    if problems:
        raise SystemExit(EXIT_INVALID)
