"""The router's start-up check of its topics (DESIGN.md section 2): it refuses to run on
topics that would break its guarantees, rather than fail later or silently.

Fatal: a topic it reads or writes is missing (a send to a missing partner topic would
block its partition), ``kp.events``/``kp.router.changelog``/``kp.outcomes`` are not
co-partitioned, the changelog is not compacted, kp.dlq's ``max.message.bytes`` is below
the smallest dead letter (its first dead letter would hold its partition), or its latest
records show partitions added after data existed or states a newer router wrote. A
partition count other than the default is fine as long as the three agree (more
partitions, more router instances).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from gateway import codec
from gateway.dlq.store import iter_topic
from gateway.errors import ConfigurationError, EnvironmentProblem
from gateway.kafka.topics import (
    CO_PARTITIONED,
    ProblemKind,
    TopicProblem,
    check_topics_patiently,
    dead_letter_topic_too_small,
    partition_counts,
    partner_participants,
)
from gateway.registry import ParticipantRegistry
from gateway.router.restore import PARTITIONS_HEADER
from gateway.settings import Settings

log = structlog.get_logger(__name__)
CHANGELOG = "router.changelog"
#: How the refusal names a changelog whose states a newer router wrote.
NEWER_STATES = "its latest states were written with a RouterState schema this router does not know"


def router_topic_suffixes(registry: ParticipantRegistry) -> tuple[str, ...]:
    partners = tuple(f"partner.{code}" for code in partner_participants(registry))
    return (*CO_PARTITIONED, "status", "dlq", *partners)


def fatal_problems(prefix: str, problems: list[TopicProblem]) -> list[TopicProblem]:
    """The problems the router cannot run with (see the module docstring)."""
    fatal = []
    for problem in problems:
        if problem.kind is ProblemKind.PARTITIONS:
            continue  # a non-default partition count; co-partitioning is checked on its own
        if problem.config == "cleanup.policy" and problem.topic != f"{prefix}{CHANGELOG}":
            continue  # retention is the operator's choice, except for the changelog
        if problem.kind is ProblemKind.COPIES or problem.config == "min.insync.replicas":
            continue  # durability below the wanted: said, but the operator's to fix
        if problem.config in {"retention.ms", "max.message.bytes"} and not (
            dead_letter_topic_too_small(problem)
        ):
            continue  # said (router_topic_note), but the operator's to fix
        fatal.append(problem)
    return fatal


#: How far back from each changelog partition's end to look for the partition count its
#: states were written with (transaction markers take offsets too).
_LAST_RECORDS = 50


#: How long the partition-history check may take before start-up goes on without it.
_HISTORY_CHECK_S = 20.0


async def _repartitioned_or_unknown(settings: Settings) -> list[TopicProblem]:
    """``_repartitioned``, best effort: a broker that does not answer now (the topic check
    before waited for it) must not stop the router, and with it the gateway (a review)."""
    try:
        return await asyncio.wait_for(_repartitioned(settings), _HISTORY_CHECK_S)
    except (KafkaError, OSError, TimeoutError, EnvironmentProblem) as exc:
        log.warning("router_partition_history_unchecked", error=repr(exc))
        return []


async def _repartitioned(settings: Settings) -> list[TopicProblem]:
    """What the last records of each changelog partition tell (``changelog_problems``):
    a partition count changed since they were written, or a newer router wrote them."""
    topic = f"{settings.topic_prefix}{CHANGELOG}"
    counts = await partition_counts(settings, [topic])

    async def near_the_end(
        consumer: AIOKafkaConsumer, tps: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> None:
        for tp in tps:
            consumer.seek(tp, max(0, ends[tp] - _LAST_RECORDS))

    records: list[Any] = []
    async for batch in iter_topic(settings, topic, start=near_the_end):
        records.extend(batch)
    return changelog_problems(topic, counts.get(topic, 0), records)


def changelog_problems(
    topic: str, partitions_now: int, records: Iterable[Any]
) -> list[TopicProblem]:
    """The problems the changelog's latest records show.

    Written with another partition count than its topics have now: partitions were added
    after data existed, which moves certificates to other partitions and splits their state
    (a recovery review); the three topics still agreed, so co-partitioning alone let the
    router start.

    Written with a ``RouterState`` schema this version does not know: a newer router ran
    (a rollback, or a rolling restart that mixes versions). This router cannot decode those
    states: routers before the restore refused them started their certificates afresh, a
    confirmation then waiting as an orphan (an upgrade review); now their partitions would
    stay held, so starting is refused, loudly, instead. Tombstones and values without the
    single-object marker are the restore's to judge, not this check's."""
    written: set[int] = set()
    unknown: set[str] = set()
    for record in records:
        value = dict(record.headers or ()).get(PARTITIONS_HEADER)
        if value and value.isdigit():
            written.add(int(value))
        newer = codec.newer_writer(record.value)
        if newer is not None:
            unknown.add(newer)
    problems = []
    other = sorted(written - {partitions_now})
    if other:
        problems.append(
            TopicProblem(
                topic,
                f"its states were written with {other[0]} partitions and the topics now have "
                f"{partitions_now}: partitions were added after data existed, which moves "
                "certificates to other partitions and splits their state (docs/router.md, "
                "'A lost changelog, and other things to avoid'); Kafka cannot remove "
                "partitions: start a new deployment with its own topic prefix",
                kind=ProblemKind.REPARTITIONED,
            )
        )
    if unknown:
        problems.append(
            TopicProblem(
                topic,
                f"{NEWER_STATES} (writer fingerprint {', '.join(sorted(unknown))}): a newer "
                "router wrote them, and this one would not decode them and would start "
                "those certificates afresh",
                kind=ProblemKind.NEWER_STATES,
            )
        )
    return problems


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
    fatal.extend(await _repartitioned_or_unknown(settings))
    if fatal:
        listing = "; ".join(f"{p.topic}: {p.problem}" for p in fatal)
        raise ConfigurationError(
            f"the router refuses to start: {listing} ({remedies(settings.topic_prefix, fatal)})"
        )
    return True


def remedies(prefix: str, fatal: list[TopicProblem]) -> str:
    """What mends each kind of fatal problem. ``kpgw topics create`` only creates missing
    topics: it changes neither an existing topic's partitions nor its cleanup policy, and
    the refusal once sent operators to it for all three."""
    said: list[str] = []
    if any(p.kind is ProblemKind.MISSING for p in fatal):
        said.append("`kpgw topics create` creates the missing topics")
    if any(p.config == "cleanup.policy" for p in fatal):
        said.append(
            f"set cleanup.policy=compact on {prefix}{CHANGELOG} with kafka-configs --alter "
            "(`kpgw topics create` leaves an existing topic's policy alone)"
        )
    if any(p.kind is ProblemKind.CO_PARTITIONING for p in fatal):
        said.append(
            f"{', '.join(CO_PARTITIONED)} must have the same partition count; "
            "`kpgw topics create` never changes an existing topic's partitions and Kafka "
            "cannot remove any: while the topics hold no data, delete the odd one and run "
            "`kpgw topics create`; else start a new deployment with its own topic prefix"
        )
    if any(dead_letter_topic_too_small(p) for p in fatal):
        said.append(
            f"raise {prefix}dlq's max.message.bytes, as the problem says (dead letters are "
            "cut to fit any larger limit)"
        )
    if any(p.kind is ProblemKind.NEWER_STATES for p in fatal):
        said.append(
            "run the router version that wrote those states, or a newer one, and stop every "
            "older router of the group (README, 'Upgrading')"
        )
    return "; ".join(said) or "see docs/router.md, 'Start-up check'"
