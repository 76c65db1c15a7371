"""The router's start-up check of its topics (DESIGN.md section 2): it refuses to run on
topics that would break its guarantees, rather than fail later or silently.

Fatal: a topic it reads or writes is missing (a send to a missing partner topic would
block its partition), ``kp.events``/``kp.router.changelog``/``kp.outcomes`` are not
co-partitioned, or the changelog is not compacted. A partition count other than the
default is fine as long as the three agree (more partitions, more router instances).
"""

from __future__ import annotations

import asyncio

import structlog

from gateway.errors import ConfigurationError
from gateway.kafka.topics import (
    CO_PARTITIONED,
    TopicProblem,
    check_topics_patiently,
    partner_participants,
)
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings

log = structlog.get_logger(__name__)
CHANGELOG = "router.changelog"


def router_topic_suffixes(registry: ParticipantRegistry) -> tuple[str, ...]:
    partners = tuple(f"partner.{code}" for code in partner_participants(registry))
    return (*CO_PARTITIONED, "status", "dlq", *partners)


def fatal_problems(prefix: str, problems: list[TopicProblem]) -> list[TopicProblem]:
    """The problems the router cannot run with (see the module docstring)."""
    fatal = []
    for problem in problems:
        if problem.problem.startswith("has ") and "partitions, expected" in problem.problem:
            continue  # a non-default partition count; co-partitioning is checked on its own
        if problem.problem.startswith("cleanup.policy") and problem.topic != f"{prefix}{CHANGELOG}":
            continue  # retention is the operator's choice, except for the changelog
        if " cop" in problem.problem or problem.problem.startswith("min.insync.replicas"):
            continue  # durability below the wanted: said, but the operator's to fix
        fatal.append(problem)
    return fatal


async def check_router_topics(
    settings: Settings,
    registry: ParticipantRegistry,
    stop: asyncio.Event | None = None,
    *,
    retry_s: float = 2.0,
) -> bool:
    """Raise ConfigurationError when the topics are unusable; wait (retrying) while the
    broker does not answer, until ``stop`` (then False: do not start)."""
    problems = await check_topics_patiently(
        settings,
        registry,
        router_topic_suffixes(registry),
        component="router",
        stop=stop,
        retry_s=retry_s,
    )
    if problems is None:
        return False
    fatal = fatal_problems(settings.topic_prefix, problems)
    for problem in problems:
        if problem not in fatal:
            log.warning("router_topic_note", topic=problem.topic, problem=problem.problem)
    if fatal:
        listing = "; ".join(f"{p.topic}: {p.problem}" for p in fatal)
        raise ConfigurationError(
            f"the router refuses to start: {listing} (create them with `kpgw topics create`; "
            f"{', '.join(CO_PARTITIONED)} must have the same partition count)"
        )
    return True
