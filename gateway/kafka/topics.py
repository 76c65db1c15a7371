"""The topics of DESIGN.md section 2: their specs, creation (idempotent) and checks."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum

import structlog
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from gateway.dlq.headers import smallest_dead_letter_bytes
from gateway.dlq.publisher import raise_command
from gateway.errors import ConfigurationError, EnvironmentProblem
from gateway.kafka.alter_configs import set_topic_configs
from gateway.kafka.clients import admin_client, close_for_good
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings

log = structlog.get_logger(__name__)

DAY_MS = 24 * 60 * 60 * 1000
#: How long a message's status is kept (the topic, and the ingress's view of it): the
#: router's default retention of a settled certificate. Compaction alone kept every
#: tracking id forever, and every ingress held them all in memory.
STATUS_RETENTION_DAYS = 400
#: How long raw documents stay on kp.inbound, and so how long an Idempotency-Key is
#: remembered (the ingress forgets its keys with them).
INBOUND_RETENTION_DAYS = 30
EVENTS_PARTITIONS = 12
#: Topics that must share partition count and key so a certificate's events, state and
#: outcomes live on the same partition number (the router's per-partition transactions).
TOPIC_ALREADY_EXISTS = 36
CO_PARTITIONED = ("events", "router.changelog", "outcomes")


@dataclass(frozen=True, slots=True)
class Retention:
    """The shortest retention a topic may have (DESIGN.md section 2), and why: a shorter
    one deletes what the gateway or KP record keeping still needs. Longer, or infinite
    (-1), is fine."""

    days: int
    label: str
    why: str


@dataclass(frozen=True, slots=True)
class TopicSpec:
    suffix: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    #: The shortest retention.ms accepted (None: no time-based deletion, or no minimum).
    retention: Retention | None = None
    #: Why the topic needs ``max.message.bytes`` of at least its configured value.
    large_records_why: str | None = None

    def name(self, prefix: str) -> str:
        return f"{prefix}{self.suffix}"


def _delete(days: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}


MIB = 1024 * 1024
#: Raw documents may be up to the ingress's body limit (2 MiB) plus headers; DLQ records
#: carry them again with more headers. The broker's default (~1 MiB) would refuse them.
LARGE_RECORD_BYTES = 4 * MIB
LARGE_RECORDS = {"max.message.bytes": str(LARGE_RECORD_BYTES)}
#: What a raw document carries besides its body (the ingress's producer allows as much).
RECORD_OVERHEAD_BYTES = 64 * 1024
KP_RECORD_KEEPING = Retention(3 * 366, "3 years", "KP record keeping")

CORE_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "inbound",
        6,
        {**_delete(INBOUND_RETENTION_DAYS), **LARGE_RECORDS},
        Retention(
            INBOUND_RETENTION_DAYS,
            f"{INBOUND_RETENTION_DAYS} days",
            "documents not yet translated when a translator outage outlasts it are lost, "
            "and an Idempotency-Key is forgotten with its document (a resend is accepted twice)",
        ),
        "raw documents up to the ingress's body limit (KPGW_INGRESS__MAX_BODY_BYTES) plus headers",
    ),
    TopicSpec(
        "events", EVENTS_PARTITIONS, _delete(3 * 366 + 30), KP_RECORD_KEEPING
    ),  # KP record keeping >= 3 years
    TopicSpec("router.changelog", EVENTS_PARTITIONS, {"cleanup.policy": "compact"}),
    TopicSpec("outcomes", EVENTS_PARTITIONS, _delete(3 * 366 + 30), KP_RECORD_KEEPING),
    TopicSpec(
        "status",
        6,
        {"cleanup.policy": "compact,delete", "retention.ms": str(STATUS_RETENTION_DAYS * DAY_MS)},
        Retention(
            STATUS_RETENTION_DAYS,
            f"{STATUS_RETENTION_DAYS} days",
            "a sender's tracking id is answered as long as the router keeps a settled certificate",
        ),
    ),
    TopicSpec(
        "dlq",
        3,
        {**_delete(365), **LARGE_RECORDS},
        Retention(365, "1 year", "dead letters are kept to be replayed after a fix"),
        "dead letters carry the original document and its headers plus the DLQ's own "
        "(up to 4 MiB); below that they are cut to fit, the document left out first "
        "(kpgw-left-out says what was)",
    ),
    TopicSpec(
        "dlq.audit",
        1,
        _delete(5 * 366),
        Retention(5 * 366, "5 years", "the audit trail of who replayed which dead letter"),
    ),
)
PARTNER_PARTITIONS = 3
PARTNER_CONFIG = _delete(365)
PARTNER_RETENTION = Retention(
    365, "1 year", "notifications a partner has not fetched yet are lost after it"
)


def partner_participants(registry: ParticipantRegistry) -> list[str]:
    """Participants that exchange digitally (appear in a pair): each gets kp.partner.<P>."""
    codes = {pair.exporter for pair in registry.pairs} | {pair.importer for pair in registry.pairs}
    return sorted(codes)


def partner_topic(prefix: str, participant: str) -> str:
    return f"{prefix}partner.{participant}"


def all_specs(registry: ParticipantRegistry) -> list[TopicSpec]:
    partners = [
        TopicSpec(f"partner.{code}", PARTNER_PARTITIONS, PARTNER_CONFIG, PARTNER_RETENTION)
        for code in partner_participants(registry)
    ]
    return [*CORE_TOPICS, *partners]


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A config ``topics create --fix-configs`` set: from ``before`` to ``after``, or
    not, with the broker's ``error``."""

    topic: str
    config: str
    before: str | None
    after: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TopicReport:
    created: list[str]
    existing: list[str]
    #: The existing topics' configs that differ from what creation would set (after the
    #: changes, when fixing): reviewed only when asked (``review_configs``).
    config_problems: list[TopicProblem] = field(default_factory=list)
    changed: list[ConfigChange] = field(default_factory=list)


async def create_topics(
    settings: Settings,
    registry: ParticipantRegistry,
    *,
    wait_s: float = 30,
    review_configs: bool = False,
    fix_configs: bool = False,
) -> TopicReport:
    """Create every topic that does not exist yet and wait until the broker's metadata
    shows them all. Existing topics keep their partitions; with ``review_configs`` their
    configs are compared with what creation would set (``config_problems``), and with
    ``fix_configs`` the ones too weak are raised to it: retention.ms,
    max.message.bytes, and min.insync.replicas where the topic has copies enough. Only
    those keys are set (IncrementalAlterConfigs); nothing is ever lowered, and
    cleanup.policy is only reported."""
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = all_specs(registry)
        missing = [spec for spec in wanted if spec.name(settings.topic_prefix) not in existing]
        created: list[str] = []
        if missing:
            wanted_durability = await _durability(admin, settings)
            topics = [
                NewTopic(
                    name=spec.name(settings.topic_prefix),
                    num_partitions=spec.partitions,
                    replication_factor=wanted_durability.replication_factor,
                    topic_configs=wanted_configs(spec, settings, wanted_durability),
                )
                for spec in missing
            ]
            try:
                response = await admin.create_topics(topics)
            except TopicAlreadyExistsError:
                response = None
            created = _created(response, [topic.name for topic in topics])
        names = {spec.name(settings.topic_prefix) for spec in wanted}
        await _wait_visible(admin, names, wait_s)
        present = sorted(names - set(created))
        if not (review_configs or fix_configs):
            return TopicReport(created=created, existing=present)
        reviewed = [spec for spec in wanted if spec.name(settings.topic_prefix) in present]
        problems = await _existing_config_problems(admin, settings, reviewed)
        changed: list[ConfigChange] = []
        if fix_configs and any(problem.fix is not None for problem in problems):
            changed = await _raise_configs(admin, problems)
            problems = await _after_changes(admin, settings, reviewed, changed, wait_s)
        return TopicReport(
            created=created, existing=present, config_problems=problems, changed=changed
        )
    finally:
        await close_for_good(admin, what="admin client")


async def _existing_config_problems(
    admin: object, settings: Settings, specs: list[TopicSpec]
) -> list[TopicProblem]:
    names = [spec.name(settings.topic_prefix) for spec in specs]
    if not names:
        return []
    _, copies = await _partitions_and_copies(admin, names)
    configs = await _topic_configs(admin, names, CHECKED_CONFIGS)
    wanted = await _durability(admin, settings)
    return [
        problem
        for spec in specs
        for problem in config_problems(
            spec,
            spec.name(settings.topic_prefix),
            configs.get(spec.name(settings.topic_prefix), {}),
            settings=settings,
            durability=wanted,
            copies=copies.get(spec.name(settings.topic_prefix), 0),
        )
    ]


async def _after_changes(
    admin: object,
    settings: Settings,
    specs: list[TopicSpec],
    changed: list[ConfigChange],
    wait_s: float,
) -> list[TopicProblem]:
    """The config problems once the brokers show the changes made (a change is applied by
    the controller; a broker describes it a moment later)."""
    done = {(change.topic, change.config) for change in changed if not change.error}
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        problems = await _existing_config_problems(admin, settings, specs)
        pending = done & {(problem.topic, problem.config) for problem in problems}
        if not pending or asyncio.get_running_loop().time() > deadline:
            return problems
        await asyncio.sleep(0.2)


async def _raise_configs(admin: object, problems: list[TopicProblem]) -> list[ConfigChange]:
    """Set each problem's ``fix`` (never a lower value: a fix exists only for a config
    below its minimum)."""
    fixes = [p for p in problems if p.fix is not None and p.config is not None]
    changes: dict[str, dict[str, str]] = {}
    for problem in fixes:
        changes.setdefault(problem.topic, {})[problem.config or ""] = problem.fix or ""
    errors = await set_topic_configs(admin, changes)
    return [
        ConfigChange(
            problem.topic,
            problem.config or "",
            problem.found,
            problem.fix or "",
            errors.get(problem.topic, "no answer from the broker"),
        )
        for problem in fixes
    ]


async def _wait_visible(admin: object, names: set[str], wait_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        visible = set(await admin.list_topics())  # type: ignore[attr-defined]
        if names <= visible and await _leaders_elected(admin, sorted(names)):
            return
        if asyncio.get_running_loop().time() > deadline:
            missing = ", ".join(sorted(names - visible))
            raise TimeoutError(f"topics not visible after {wait_s:.0f} s: {missing}")
        await asyncio.sleep(0.2)


async def _leaders_elected(admin: object, names: list[str]) -> bool:
    """Every partition has a leader: producing right after creation would otherwise meet
    NOT_LEADER_OR_FOLLOWER retries."""
    described = await admin.describe_topics(names)  # type: ignore[attr-defined]
    return all(
        not item.get("error_code")
        and item["partitions"]
        and all(part.get("leader", -1) >= 0 for part in item["partitions"])
        for item in described
    )


async def partition_count(settings: Settings, topic: str) -> int:
    """Partitions of ``topic`` (0 when it does not exist)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        return (await _partition_counts(admin, [topic])).get(topic, 0)
    finally:
        await close_for_good(admin, what="admin client")


async def partition_counts(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Partitions of each of ``topics`` that exists (one metadata request)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        return await _partition_counts(admin, sorted(set(topics)))
    finally:
        await close_for_good(admin, what="admin client")


async def require_topic(settings: Settings, topic: str) -> int:
    """The partitions of ``topic``, or ``EnvironmentProblem`` saying it does not exist (a
    wrong ``KPGW_TOPIC_PREFIX`` is the usual cause)."""
    count = await partition_count(settings, topic)
    if count == 0:
        raise EnvironmentProblem(
            f"topic {topic} does not exist on {settings.kafka_bootstrap} (topic prefix "
            f"{settings.topic_prefix!r}; create the topics with kpgw topics create)"
        )
    return count


@dataclass(frozen=True, slots=True)
class Durability:
    """Copies of each partition, and copies an acks=all write needs."""

    replication_factor: int
    min_insync_replicas: int


def durability(settings: Settings, brokers: int) -> Durability:
    """What topics get: the settings, else 3 copies (fewer only on a cluster with fewer
    brokers: one in development and CI) and 2 of them in sync for a write. Without this a
    topic takes the broker's ``default.replication.factor``, which is 1 in Apache Kafka's
    defaults: one copy of every accepted document, and acks=all meaning one disk."""
    factor = settings.topic_replication_factor or max(1, min(3, brokers))
    in_sync = settings.topic_min_insync_replicas or (2 if factor >= 3 else 1)
    if in_sync > factor:
        raise ConfigurationError(
            f"KPGW_TOPIC_MIN_INSYNC_REPLICAS={in_sync} exceeds the replication factor {factor}: "
            "no write could ever be acknowledged"
        )
    return Durability(factor, in_sync)


async def _durability(admin: object, settings: Settings) -> Durability:
    cluster = await admin.describe_cluster()  # type: ignore[attr-defined]
    return durability(settings, len(cluster.get("brokers", ())))


def _created(response: object, requested: list[str]) -> list[str]:
    """Names this call created; TOPIC_ALREADY_EXISTS (a concurrent creator) is not an error."""
    if response is None:
        return []
    created: list[str] = []
    for item in getattr(response, "topic_errors", []) or []:
        name, code = item[0], item[1]
        if code == 0:
            created.append(name)
        elif code != TOPIC_ALREADY_EXISTS:
            message = item[2] if len(item) > 2 and item[2] else ""
            raise RuntimeError(f"creating {name} failed: Kafka error {code} {message}".strip())
    return [name for name in requested if name in created]


class ProblemKind(StrEnum):
    """What a ``TopicProblem`` is about, for the code that decides what to do with it (the
    message is for people and may be reworded)."""

    MISSING = "missing"
    PARTITIONS = "partitions"  # a partition count other than the one created
    COPIES = "copies"  # fewer copies of each partition than wanted
    CONFIG = "config"  # a topic config differs (``config`` names it)
    CO_PARTITIONING = "co_partitioning"  # the co-partitioned topics' counts differ
    REPARTITIONED = "repartitioned"  # the router's states were written with another count
    NEWER_STATES = "newer_states"  # the router's latest states are a newer router's


@dataclass(frozen=True, slots=True)
class TopicProblem:
    topic: str
    problem: str
    #: For a topic config that differs from what ``topics create`` sets: its name, the
    #: value found, the value wanted (a minimum for retention.ms, max.message.bytes and
    #: min.insync.replicas), and why it matters.
    config: str | None = None
    found: str | None = None
    wanted: str | None = None
    why: str | None = None
    #: What ``kpgw topics create --fix-configs`` would set; None when it leaves it alone.
    fix: str | None = None
    #: kp.dlq's limit is below the smallest dead letter: no dead letter can be written
    #: (the workers' preflights refuse to start on it).
    blocks_dead_letters: bool = False
    kind: ProblemKind = ProblemKind.CONFIG


#: The topic configs compared with what ``topics create`` sets.
CHECKED_CONFIGS = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "min.insync.replicas",
)


def needed_record_bytes(spec: TopicSpec, settings: Settings) -> int | None:
    """The ``max.message.bytes`` the gateway needs on the topic of ``spec`` (None: the
    broker's default is enough)."""
    if spec.large_records_why is None:
        return None
    if spec.suffix == "inbound":
        return settings.ingress.max_body_bytes + RECORD_OVERHEAD_BYTES
    return LARGE_RECORD_BYTES


def wanted_configs(spec: TopicSpec, settings: Settings, durability: Durability) -> dict[str, str]:
    """The configs ``topics create`` gives the topic of ``spec``."""
    configs = {**spec.configs, "min.insync.replicas": str(durability.min_insync_replicas)}
    needed = needed_record_bytes(spec, settings)
    if needed is not None:
        configs["max.message.bytes"] = str(max(int(configs["max.message.bytes"]), needed))
    return configs


def duration(ms: int) -> str:
    """``3600000`` as ``1 h``; -1 as ``infinite``."""
    if ms < 0:
        return "infinite"
    for unit, size in (("day", DAY_MS), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            count = ms // size
            return f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
    return f"{ms} ms"


def size(count: int) -> str:
    """``4194304`` as ``4 MiB``; ``1048588`` as ``1.00 MiB``."""
    return f"{count // MIB} MiB" if count % MIB == 0 else f"{count / MIB:.2f} MiB"


def config_problems(
    spec: TopicSpec,
    name: str,
    found: dict[str, str],
    *,
    settings: Settings,
    durability: Durability,
    copies: int,
) -> list[TopicProblem]:
    """Where the topic's effective configs ``found`` fall short of what ``topics create``
    sets: a different cleanup policy; a retention shorter than the design's minimum; a
    record size limit below what the gateway writes; fewer in-sync replicas than wanted."""
    problems: list[TopicProblem] = []
    wanted = wanted_configs(spec, settings, durability)
    wanted_policy = spec.configs.get("cleanup.policy", "delete")
    policy = found.get("cleanup.policy")
    if _policies(policy) != _policies(wanted_policy):
        problems.append(
            TopicProblem(
                name,
                f"cleanup.policy is {policy}, expected {wanted_policy}",
                "cleanup.policy",
                policy,
                wanted_policy,
                "another policy deletes records the gateway still needs, or keeps ones it "
                "means to delete",
            )
        )
    retention = found.get("retention.ms")
    deletes = "delete" in _policies(policy)
    if spec.retention is not None and deletes and retention is not None:
        least = spec.retention.days * DAY_MS
        if 0 <= int(retention) < least:
            problems.append(
                TopicProblem(
                    name,
                    f"retention.ms {retention} ({duration(int(retention))}) is shorter than "
                    f"{spec.retention.label}: {spec.retention.why}",
                    "retention.ms",
                    retention,
                    str(least),
                    spec.retention.why,
                    wanted["retention.ms"],
                )
            )
    kept_bytes = found.get("retention.bytes")
    if spec.retention is not None and deletes and kept_bytes is not None and int(kept_bytes) >= 0:
        # A size limit deletes the oldest segments whatever their age.
        problems.append(
            TopicProblem(
                name,
                f"retention.bytes {kept_bytes} ({size(int(kept_bytes))}) per partition deletes "
                f"the oldest records whatever their age, before {spec.retention.label}: "
                f"{spec.retention.why}",
                "retention.bytes",
                kept_bytes,
                "-1",
                spec.retention.why,
                "-1",
            )
        )
    needed = needed_record_bytes(spec, settings)
    limit = found.get("max.message.bytes")
    smallest = smallest_dead_letter(settings) if spec.suffix == "dlq" else 0
    if limit is not None and int(limit) < smallest:
        problems.append(
            TopicProblem(
                name,
                f"max.message.bytes {limit} is below {smallest}, {DLQ_TOO_SMALL}: such a "
                "letter is retried, its partition held, until the limit is raised "
                f"({raise_command(name)})",
                "max.message.bytes",
                limit,
                str(smallest),
                "the smallest dead letter keeps the reason code, the coordinates, one "
                "finding and 256 bytes of the message",
                wanted["max.message.bytes"],
                blocks_dead_letters=True,
            )
        )
    elif needed is not None and limit is not None and int(limit) < needed:
        problems.append(
            TopicProblem(
                name,
                f"max.message.bytes {limit} ({size(int(limit))}) is below {needed} "
                f"({size(needed)}): {spec.large_records_why}",
                "max.message.bytes",
                limit,
                str(needed),
                spec.large_records_why,
                wanted["max.message.bytes"],
            )
        )
    in_sync = found.get("min.insync.replicas")
    if int(in_sync or 1) < durability.min_insync_replicas:
        raisable = copies >= durability.min_insync_replicas
        problems.append(
            TopicProblem(
                name,
                f"min.insync.replicas is {in_sync}, expected "
                f"{durability.min_insync_replicas} (KPGW_TOPIC_MIN_INSYNC_REPLICAS)",
                "min.insync.replicas",
                in_sync,
                str(durability.min_insync_replicas),
                "an acks=all write is acknowledged with fewer copies on disk than configured"
                + (
                    ""
                    if raisable
                    else f" (not raised: the topic has {copies} cop"
                    f"{'y' if copies == 1 else 'ies'}, so no write could be acknowledged)"
                ),
                str(durability.min_insync_replicas) if raisable else None,
            )
        )
    return problems


#: How a kp.dlq too small for the smallest dead letter is named (the preflights refuse it).
DLQ_TOO_SMALL = "the smallest dead letter the gateway writes"


def smallest_dead_letter(settings: Settings) -> int:
    """The ``max.message.bytes`` kp.dlq needs for the smallest dead letter of the
    translator (records of kp.inbound) and the router (of kp.events)."""
    prefix = settings.topic_prefix
    return smallest_dead_letter_bytes(
        [f"{prefix}inbound", f"{prefix}events"],
        [settings.translator.group_id, settings.router.group_id],
    )


def dead_letter_topic_too_small(problem: TopicProblem) -> bool:
    return problem.blocks_dead_letters


def dead_letter_problems(prefix: str, configs: dict[str, dict[str, str]]) -> list[TopicProblem]:
    """kp.dlq takes smaller records than kp.inbound (its ``max.message.bytes`` raised by
    hand above what ``topics create`` sets): the dead letters of the largest records are
    cut. (Below what ``topics create`` sets, ``config_problems`` says so already.)"""
    dlq, inbound = f"{prefix}dlq", f"{prefix}inbound"
    letters = configs.get(dlq, {}).get("max.message.bytes")
    records = configs.get(inbound, {}).get("max.message.bytes")
    if letters is None or records is None or int(letters) >= int(records):
        return []
    if int(letters) < LARGE_RECORD_BYTES:
        return []  # named by config_problems
    return [
        TopicProblem(
            dlq,
            f"max.message.bytes {letters} ({size(int(letters))}) is below {inbound}'s "
            f"{records} ({size(int(records))}): the dead letters of its largest records are "
            "cut to fit, the document left out (kpgw-left-out says what was)",
            "max.message.bytes",
            letters,
            records,
            f"a dead letter carries the original record of {inbound} and headers",
        )
    ]


def _policies(policy: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (policy or "").split(",") if part.strip())


async def check_topics(
    settings: Settings, registry: ParticipantRegistry, *, only: tuple[str, ...] | None = None
) -> list[TopicProblem]:
    """Every topic exists with its partition count, copies and the configs ``topics
    create`` sets (cleanup policy, retention, record size, in-sync replicas), and the
    router's topics are co-partitioned. Returns the problems (empty when all is well)."""
    prefix = settings.topic_prefix
    specs = [s for s in all_specs(registry) if only is None or s.suffix in only]
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [s for s in specs if s.name(prefix) in existing]
        problems = [
            TopicProblem(s.name(prefix), "missing", kind=ProblemKind.MISSING)
            for s in specs
            if s not in present
        ]
        names = [s.name(prefix) for s in present]
        partitions, copies = await _partitions_and_copies(admin, names)
        configs = await _topic_configs(admin, names, CHECKED_CONFIGS)
        wanted = await _durability(admin, settings)
    finally:
        await close_for_good(admin, what="admin client")
    for spec in present:
        name = spec.name(prefix)
        if partitions.get(name) != spec.partitions:
            problems.append(
                TopicProblem(
                    name,
                    f"has {partitions.get(name)} partitions, expected {spec.partitions}",
                    kind=ProblemKind.PARTITIONS,
                )
            )
        if copies.get(name, 0) < wanted.replication_factor:
            problems.append(
                TopicProblem(
                    name,
                    f"has {copies.get(name)} cop{'y' if copies.get(name) == 1 else 'ies'} of "
                    f"each partition, expected {wanted.replication_factor} "
                    "(KPGW_TOPIC_REPLICATION_FACTOR; kafka-reassign-partitions adds copies)",
                    kind=ProblemKind.COPIES,
                )
            )
        problems.extend(
            config_problems(
                spec,
                name,
                configs.get(name, {}),
                settings=settings,
                durability=wanted,
                copies=copies.get(name, 0),
            )
        )
    problems.extend(copartition_problems(prefix, partitions))
    if only is None or {"inbound", "dlq"} <= set(only):
        problems.extend(dead_letter_problems(prefix, configs))
    return problems


def copartition_problems(prefix: str, partitions: dict[str, int]) -> list[TopicProblem]:
    counts = {f"{prefix}{suffix}": partitions.get(f"{prefix}{suffix}") for suffix in CO_PARTITIONED}
    known = {name: count for name, count in counts.items() if count is not None}
    if len(set(known.values())) > 1:
        listing = ", ".join(f"{name}={count}" for name, count in known.items())
        return [
            TopicProblem(
                ",".join(known),
                f"not co-partitioned ({listing})",
                kind=ProblemKind.CO_PARTITIONING,
            )
        ]
    return []


async def _partition_counts(admin: object, names: list[str]) -> dict[str, int]:
    return (await _partitions_and_copies(admin, names))[0]


async def _partitions_and_copies(
    admin: object, names: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Each topic's partition count, and its fewest copies of a partition (one request)."""
    if not names:
        return {}, {}
    described = await admin.describe_topics(names)  # type: ignore[attr-defined]
    found = [item for item in described if not item.get("error_code")]
    counts = {item["topic"]: len(item["partitions"]) for item in found}
    copies = {
        item["topic"]: min(len(part.get("replicas", ())) for part in item["partitions"])
        for item in found
        if item["partitions"]
    }
    return counts, copies


async def _topic_configs(
    admin: object, names: list[str], keys: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    """Each topic's values of the configs ``keys`` (its own, or the broker's default)."""
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    responses = await admin.describe_configs(resources)  # type: ignore[attr-defined]
    values: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            name = resource[3]
            for entry in resource[4]:
                if entry[0] in keys:
                    values.setdefault(name, {})[entry[0]] = entry[1]
    return values


async def list_topics(settings: Settings) -> list[str]:
    """Every topic name on the cluster."""
    admin = admin_client(settings)
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await close_for_good(admin, what="admin client")


async def delete_topics(settings: Settings) -> list[str]:
    """Delete every topic under ``settings.topic_prefix`` (tests and demo resets only)."""
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = admin_client(settings)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await close_for_good(admin, what="admin client")


async def check_topics_patiently(
    settings: Settings,
    registry: ParticipantRegistry,
    only: tuple[str, ...],
    *,
    component: str,
    stop: asyncio.Event | None = None,
    retry_s: float = 2.0,
) -> list[TopicProblem] | None:
    """``check_topics`` for a worker starting up: while the broker does not answer, wait
    and ask again rather than fail. None when ``stop`` was set meanwhile: a deliberate stop
    during an outage is a clean stop, not a failure a supervisor would restart."""
    while True:
        try:
            return await check_topics(settings, registry, only=only)
        except (KafkaError, OSError, TimeoutError) as exc:
            if stop is not None and stop.is_set():
                log.info("stopped_while_waiting_for_the_broker", component=component)
                return None
            log.warning("topic_check_failed_will_retry", component=component, error=repr(exc))
            if stop is None:
                await asyncio.sleep(retry_s)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_s)
            if stop.is_set():
                log.info("stopped_while_waiting_for_the_broker", component=component)
                return None
