"""``kpgw topics create|check``."""

from __future__ import annotations

from pathlib import Path

import click

from gateway import aio_run
from gateway.cli.common import (
    EXIT_INVALID,
    EXIT_USAGE,
    emit_json,
    environment_errors,
    registry,
    registry_option,
    settings,
)
from gateway.kafka.topics import (
    ProblemKind,
    TopicProblem,
    check_topics,
    create_topics,
    duration,
    size,
)


@click.group()
def topics() -> None:
    """Create and check the gateway's Kafka topics (DESIGN.md section 2)."""


@topics.command()
@registry_option
@click.option(
    "--fix-configs",
    is_flag=True,
    help="Also raise the configs of existing topics that are too weak to what creation sets: "
    "retention.ms, max.message.bytes, and min.insync.replicas where the topic has copies "
    "enough. Only those keys are set; nothing is lowered, partitions are never touched, "
    "cleanup.policy is only reported.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='One JSON object: {"created": [...], "existing": [...], "config_problems": [...], '
    '"changed": [...]} (config_problems as `topics check --json` gives them; changed: topic, '
    "config, from, to, error).",
)
def create(registry_path: Path | None, fix_configs: bool, as_json: bool) -> None:
    """Create every topic that is missing (idempotent), and warn of existing topics whose
    configs are weaker than creation sets (retention, record size, in-sync replicas,
    cleanup policy); --fix-configs raises them."""
    config, participants = settings(), registry(registry_path)
    with environment_errors():
        report = aio_run.run(
            create_topics(config, participants, review_configs=True, fix_configs=fix_configs)
        )
    failed = [change for change in report.changed if change.error]
    for change in failed:
        click.echo(
            f"could not change {change.topic} {change.config} to {change.after}: {change.error}",
            err=True,
        )
    for problem in report.config_problems:
        click.echo(f"warning: {problem.topic}: {problem.problem}", err=True)
    for advice in config_advice(report.config_problems, fix_offered=not fix_configs):
        click.echo(advice, err=True)
    if as_json:
        emit_json(
            {
                "created": report.created,
                "existing": report.existing,
                "config_problems": [problem_json(x) for x in report.config_problems],
                "changed": [
                    {
                        "topic": x.topic,
                        "config": x.config,
                        "from": x.before,
                        "to": x.after,
                        "error": x.error,
                    }
                    for x in report.changed
                ],
            }
        )
    else:
        for name in report.created:
            click.echo(f"created {name}")
        for change in report.changed:
            if not change.error:
                click.echo(
                    f"changed {change.topic}: {change.config} "
                    f"{_shown(change.config, change.before)} -> "
                    f"{_shown(change.config, change.after)}"
                )
        summary = f"{len(report.created)} created, {len(report.existing)} already present"
        if fix_configs:
            done = len(report.changed) - len(failed)
            summary += f", {done} config{'' if done == 1 else 's'} changed"
        click.echo(summary)
    if failed:
        raise SystemExit(EXIT_USAGE)


def config_advice(problems: list[TopicProblem], *, fix_offered: bool = True) -> list[str]:
    """What to do about the config problems among ``problems``: the ones ``topics create
    --fix-configs`` raises (offered unless it is what just ran) and the ones left to the
    operator, with why."""
    configs = [problem for problem in problems if problem.config is not None]
    advice = []
    fixable = [problem for problem in configs if problem.fix is not None]
    if fixable and fix_offered:
        advice.append(
            f"kpgw topics create --fix-configs raises {len(fixable)} of these to what creation "
            "sets (only those keys; nothing is lowered)"
        )
    kept = sorted({str(problem.config) for problem in configs if problem.fix is None})
    if kept:
        reasons = "; ".join(_LEFT_ALONE.get(name, name) for name in kept)
        advice.append(f"left to you (kafka-configs --alter): {', '.join(kept)}: {reasons}")
    return advice


def check_advice(problems: list[TopicProblem]) -> list[str]:
    """What to do after ``topics check``: it named the problems and nothing else, so an
    operator on duty did not learn that ``topics create`` creates a missing topic and
    ``--fix-configs`` raises a weak config (a night-duty walkthrough)."""
    missing = [problem for problem in problems if problem.kind is ProblemKind.MISSING]
    advice = [f"kpgw topics create creates the {len(missing)} missing topic(s)"] if missing else []
    return advice + config_advice(problems)


#: Why ``--fix-configs`` leaves a config alone.
_LEFT_ALONE = {
    "cleanup.policy": "another cleanup policy changes what is deleted, not just how long it "
    "is kept",
    "min.insync.replicas": "more in-sync replicas than the topic has copies would refuse "
    "every write (kafka-reassign-partitions adds copies)",
}


def _shown(config: str, value: str | None) -> str:
    if value is None or not value.lstrip("-").isdigit():
        return str(value)
    if config == "retention.ms":
        return f"{value} ({duration(int(value))})"
    if config == "max.message.bytes" or (config == "retention.bytes" and int(value) >= 0):
        return f"{value} ({size(int(value))})"
    if config == "retention.bytes":
        return f"{value} (no size limit)"
    return value


def problem_json(problem: TopicProblem) -> dict[str, str | None]:
    """A problem as ``--json`` gives it: topic, problem (for people) and kind (for
    scripts: missing, partitions, copies, config, co_partitioning); for a config, also its
    name, the value found, the value wanted, why, and what ``--fix-configs`` would set
    (null: left alone)."""
    shown: dict[str, str | None] = {
        "topic": problem.topic,
        "problem": problem.problem,
        "kind": problem.kind.value,
    }
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
        problems = aio_run.run(check_topics(config, participants))
    if as_json:
        emit_json({"ok": not problems, "problems": [problem_json(x) for x in problems]})
    elif not problems:
        click.echo("all topics present, configured and co-partitioned")
    else:
        for problem in problems:
            click.echo(f"{problem.topic}: {problem.problem}")
        for advice in check_advice(problems):
            click.echo(advice, err=True)
    if problems:
        raise SystemExit(EXIT_INVALID)
