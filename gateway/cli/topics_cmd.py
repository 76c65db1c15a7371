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
from gateway.kafka.topics import TopicProblem, check_topics, create_topics


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


def problem_json(problem: TopicProblem) -> dict[str, str | None]:
    """A problem as ``--json`` gives it: topic and problem; for a config, also its name,
    the value found, the value wanted, why, and what ``--fix-configs`` would set (null:
    left alone)."""
    shown: dict[str, str | None] = {"topic": problem.topic, "problem": problem.problem}
    if problem.config is not None:
        shown |= {
            "config": problem.config,
            "found": problem.found,
            "wanted": problem.wanted,
            "why": problem.why,
            "fix": problem.fix,
        }
    return shown


@topics.command()
@registry_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='One JSON object: {"ok": ..., "problems": [{"topic": ..., "problem": ...}]}; a '
    "config's problem also has config, found, wanted, why and fix.",
)
def check(registry_path: Path | None, as_json: bool) -> None:
    """Verify partitions, copies, configs (cleanup policy, retention, record size, in-sync
    replicas: what `topics create` sets) and co-partitioning; exit 1 with the list of what
    is wrong."""
    config, participants = settings(), registry(registry_path)
    with environment_errors():
        problems = asyncio.run(check_topics(config, participants))
    if as_json:
        emit_json({"ok": not problems, "problems": [problem_json(x) for x in problems]})
    elif not problems:
        click.echo("all topics present, configured and co-partitioned")
    else:
        for problem in problems:
            click.echo(f"{problem.topic}: {problem.problem}")
    if problems:
        raise SystemExit(EXIT_INVALID)
