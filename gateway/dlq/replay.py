"""Replaying dead letters: the original bytes and headers go back to the original topic with
``kpgw-replay-id``/``kpgw-replayed-from``; the replay's audit goes to kp.dlq.audit in the
same transaction, as one record or as parts that each fit the topic (``gateway.dlq.audit``).
A dead letter already replayed (listed in any part of any replay's audit) is skipped, so
replaying twice processes once (and the translator's deterministic event ids make any
duplicate harmless)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import IllegalOperation, InvalidProducerEpoch, ProducerFenced

from gateway import codec
from gateway.dlq import headers as h
from gateway.dlq.audit import audit_part_limit, audit_parts, part_size
from gateway.dlq.publisher import raise_command, send_alone
from gateway.dlq.store import DeadLetter, DlqFilter, read_dead_letters, read_topic_to_end
from gateway.errors import EnvironmentProblem
from gateway.events import read_instant
from gateway.kafka.clients import close_for_good, transactional_producer
from gateway.kafka.topics import partition_counts, require_topic
from gateway.settings import Settings


@dataclass(slots=True)
class ReplayReport:
    replay_id: str
    operator: str
    dry_run: bool
    selected: list[DeadLetter] = field(default_factory=list)
    replayed: list[DeadLetter] = field(default_factory=list)
    skipped: list[DeadLetter] = field(default_factory=list)
    #: Dead letters that name no original topic (written by another tool) or one that no
    #: longer exists: never sent, so one of them cannot abort the whole replay.
    unreplayable: list[DeadLetter] = field(default_factory=list)
    #: Why each unreplayable dead letter (by id) was left out.
    why_unreplayable: dict[str, str] = field(default_factory=dict)
    #: Dead letters (by id) the translator would dead-letter again now, with the reason
    #: (``gateway.translator.predict``): sent anyway, but the operator and the audit say so.
    failing_again: dict[str, str] = field(default_factory=dict)
    warning: str | None = None
    result: str = "ok"
    #: How many records the replay's audit was written as (``gateway.dlq.audit``).
    audit_records: int = 0

    def as_dict(self) -> dict[str, Any]:
        # A dry run replays nothing: its letters are "would_replay", never "replayed".
        done = 0 if self.dry_run else len(self.replayed)
        return {
            "replay_id": self.replay_id,
            "operator": self.operator,
            "dry_run": self.dry_run,
            "selected": len(self.selected),
            "replayed": done,
            "would_replay": len(self.replayed) if self.dry_run else 0,
            "skipped_already_replayed": len(self.skipped),
            "unreplayable": [x.id for x in self.unreplayable],
            "why_unreplayable": dict(self.why_unreplayable),
            "would_fail_again": dict(self.failing_again),
            "warning": self.warning,
            "result": self.result,
            "audit_records": self.audit_records,
            "dead_letters": [x.id for x in self.replayed],
        }


async def already_replayed(settings: Settings) -> set[str]:
    """Coordinates ("dlq/<partition>/<offset>") of every dead letter a past replay re-sent."""
    return set(await replay_history(settings))


async def replay_history(settings: Settings) -> dict[str, str]:
    """Coordinates of every dead letter a past replay re-sent -> the id of the first
    replay that did (kp.dlq.audit, read_committed)."""
    first: dict[str, str] = {}
    for record in await read_topic_to_end(settings, f"{settings.topic_prefix}dlq.audit"):
        audit = codec.decode(record.value, "DlqAudit")
        if not audit["dry_run"]:
            for coordinates in audit["dead_letters"]:
                first.setdefault(coordinates, audit["replay_id"])
    return first


def original_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The failed record's own headers, every one in order, a repeated name as often as it
    was given: the letter's headers without those dead-lettering (or a replay) added. The
    empty ``kpgw-sender`` dead-lettering adds after its own headers when the record had
    none is its, not the record's."""
    kept: list[tuple[str, bytes]] = []
    after_dead_lettering = False
    for name, value in letter.headers:
        if name in h.DLQ_HEADERS:
            after_dead_lettering = True
        elif name in {h.REPLAY_ID, h.REPLAYED_FROM}:
            continue
        elif not (name == h.SENDER and not value and after_dead_lettering):
            kept.append((name, value))
    return kept


def replay_headers(letter: DeadLetter, replay_id: str) -> list[tuple[str, bytes]]:
    kept = original_headers(letter)
    pinned = _pinned_metadata(letter, kept)
    # A pinned header replaces the original's (an empty or unreadable one): the translator
    # refuses a header given twice with different values.
    replaced = {name for name, _ in pinned}
    return [
        *[(k, v) for k, v in kept if k not in replaced],
        *pinned,
        (h.REPLAY_ID, replay_id.encode()),
        (h.REPLAYED_FROM, letter.coordinates.encode()),
    ]


def _pinned_metadata(letter: DeadLetter, kept: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """A Kafka-native sender may leave out the reception time and the tracking id: the
    translator then takes the record's timestamp and key or coordinates, which a replay
    would change (a certificate dated "in the future" would pass the date rule on replay,
    and its status would move to a tracking id nobody knows). Pin the original ones.
    Judged on every value of a header given more than once, as the translator reads them:
    one usable value is the sender's, whatever blank or unreadable one comes after it."""
    pinned: list[tuple[str, bytes]] = []
    original_ms = h.int_header(letter.headers, h.ORIGINAL_TIMESTAMP)
    received = h.header_values(kept, h.RECEIVED_AT)
    if original_ms is not None and not any(_is_instant(_text(x)) for x in received):
        moment = datetime.fromtimestamp(original_ms / 1000, tz=UTC)
        pinned.append((h.RECEIVED_AT, h.iso_bytes(moment)))
    tracking = any(_text(x).strip() for x in h.header_values(kept, h.TRACKING_ID))
    if not tracking and not letter.key and letter.original_offset is not None:
        original = f"{letter.original_topic}/{letter.original_partition}/{letter.original_offset}"
        pinned.append((h.TRACKING_ID, original.encode()))
    return pinned


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _is_instant(text: str | None) -> bool:
    """Whether the translator reads ``text`` as the reception time (else it refuses it)."""
    return text is not None and bool(text.strip()) and read_instant(text.strip()) is not None


def _audit_bytes(part: Mapping[str, Any]) -> bytes:
    """A replay audited in one record is written as ``DlqAudit`` v1, which says it whole:
    a ``kpgw dlq`` or dashboard of the version before parts (which knows no v2) still
    reads it; only a bulk replay's parts need v2."""
    if part["parts"] == 1:
        return codec.encode_released("DlqAudit", "1", part)
    return codec.encode("DlqAudit", part)


async def replay(
    settings: Settings,
    selection: DlqFilter,
    *,
    operator: str,
    dry_run: bool = False,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    judge: Judge | None = None,
) -> ReplayReport:
    """``judge``: what would become of the letters now (``gateway.translator.predict``), which
    the report, the audit's result and the operator are told before anything is sent."""
    report = ReplayReport(replay_id=str(uuid.uuid4()), operator=operator, dry_run=dry_run)
    await require_topic(settings, f"{settings.topic_prefix}dlq")  # before any producer
    if dry_run:
        report.replayed, report.skipped = await _partition(settings, selection, force, report)
        _judge(report, judge)
        report.result = "dry-run"
        return report
    # One transactional id per deployment: starting it fences (and aborts) any other replay
    # still open, and only then is kp.dlq.audit read, so every replay that committed before
    # is seen. Two replays at once can therefore never both re-send a dead letter.
    producer = transactional_producer(
        settings,
        f"{settings.topic_prefix}dlq-replay",
        transaction_timeout_ms=int(TRANSACTION_TIMEOUT_S * 1000),
    )
    await producer.start()
    audit_topic = f"{settings.topic_prefix}dlq.audit"
    resends: list[asyncio.Future[Any]] = []
    audits: list[asyncio.Future[Any]] = []
    opened: float | None = None  # when the transaction began
    try:
        todo, report.skipped = await _partition(settings, selection, force, report)
        report.replayed = todo
        _judge(report, judge)
        report.result = "ok" if todo else "nothing to replay"
        if report.warning:
            report.result = f"sent; {report.warning}"
        # Split to fit the audit topic before anything is sent: a single record listing a
        # bulk replay's letters was refused, and the whole replay rolled back with it.
        limit = await audit_part_limit(settings, audit_topic)
        parts = audit_parts(
            {
                "replay_id": report.replay_id,
                "operator": operator,
                "at": datetime.now(UTC),
                # --force belongs to the selection: it re-sends letters replayed before.
                "filter": selection.as_json(force=force),
                "dry_run": False,
                "selected": len(report.selected),
                "replayed": len(todo),
                "skipped": len(report.skipped),
                "result": report.result,
            },
            [x.coordinates for x in todo],
            limit,
            topic=audit_topic,
        )
        report.audit_records = len(parts)
        opened = time.monotonic()
        async with producer.transaction():
            for index, letter in enumerate(todo, start=1):
                resends.append(
                    await producer.send(
                        letter.original_topic,
                        key=letter.key,
                        value=letter.value,
                        headers=replay_headers(letter, report.replay_id),
                    )
                )
                if progress:
                    progress(index, len(todo))
            # Each part in a batch of its own: two in one batch may exceed the limit.
            key = report.replay_id.encode()
            audits.extend(
                [await send_alone(producer, audit_topic, key, _audit_bytes(x), []) for x in parts]
            )
            # Every send acknowledged before the commit: aiokafka commits even when a
            # batch was refused, and the audit would then mark an unsent letter replayed.
            _raise_refused(
                await _refusals(resends), await _refusals(audits), audit_topic, limit, parts
            )
    except _TAKEN_OVER:
        # The sends (and aiokafka's own futures) fail with the fence too: their errors are
        # this message, not asyncio's "Future exception was never retrieved" tracebacks.
        for sent in [*resends, *audits]:
            sent.add_done_callback(_retrieve)
        _quiet_about_the_fence(asyncio.get_running_loop())
        if opened is not None and time.monotonic() - opened > TRANSACTION_TIMEOUT_S:
            # The coordinator aborts a transaction open longer than its timeout, and the
            # producer learns it as a fence: no other replay needs to have run.
            raise EnvironmentProblem(
                f"this replay's transaction was open {time.monotonic() - opened:.0f} s, longer "
                f"than the broker keeps one ({TRANSACTION_TIMEOUT_S:.0f} s), re-sending "
                f"{len(report.replayed):,} dead letters: the broker aborted it and this replay "
                "re-sent nothing. Replay fewer at once (--reason, --sender, --since/--until, "
                "--id; a replay skips letters replayed before, so repeat until none is left)."
            ) from None
        raise EnvironmentProblem(
            "another kpgw dlq replay started while this one ran and took over; this one "
            "re-sent nothing. Run it again (or --dry-run) once the other has finished."
        ) from None
    finally:
        await close_for_good(producer, what="replay producer")
    return report


Judge = Callable[[list[DeadLetter]], tuple[dict[str, str], str | None]]

#: How long the replay's transaction may stay open (aiokafka's default) before the
#: coordinator aborts it: a crashed replay holds read_committed readers of the original
#: topics back no longer than this.
TRANSACTION_TIMEOUT_S = 60.0


async def _refusals(sends: list[asyncio.Future[Any]]) -> list[BaseException]:
    outcomes = await asyncio.gather(*sends, return_exceptions=True)
    return [x for x in outcomes if isinstance(x, BaseException)]


def _raise_refused(
    resends: list[BaseException],
    audits: list[BaseException],
    topic: str,
    limit: int,
    parts: list[dict[str, Any]],
) -> None:
    """Abort the replay's transaction when the broker refused a send: the fence of another
    replay as itself, else which records were refused (a re-sent letter or the audit)."""
    for refused in (*resends, *audits):
        if isinstance(refused, _TAKEN_OVER):
            raise refused
    if resends:
        raise EnvironmentProblem(
            f"the broker refused {len(resends)} re-sent record(s) ({resends[0]!r}); "
            "the replay was rolled back and re-sent nothing"
        )
    if audits:
        largest = max(part_size(x) for x in parts)
        raise EnvironmentProblem(
            f"{topic} refused {len(audits)} of the {len(parts)} audit record(s) of this "
            f"replay ({audits[0]!r}; the largest is {largest:,} bytes, cut to the "
            f"{limit:,} bytes read as its max.message.bytes): the replay was rolled back "
            f"and re-sent nothing. Raise the limit ({raise_command(topic, 1024 * 1024)}) "
            "and run it again"
        )


def _judge(report: ReplayReport, judge: Judge | None) -> None:
    if judge is not None and report.replayed:
        report.failing_again, report.warning = judge(report.replayed)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _quiet_about_the_fence(loop: asyncio.AbstractEventLoop) -> None:
    """Drop the loop's reports of aiokafka futures that hold the fence's error and that
    nobody awaits (they are released after this replay ends); report anything else."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), _TAKEN_OVER):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


#: How aiokafka reports that another replay's producer fenced this one: at once, or, when
#: the fence aborted the open transaction first, as a send outside a transaction.
_TAKEN_OVER = (ProducerFenced, InvalidProducerEpoch, IllegalOperation)


async def _partition(
    settings: Settings, selection: DlqFilter, force: bool, report: ReplayReport
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """The selected dead letters still to replay, and those a past replay re-sent."""
    report.selected = await read_dead_letters(settings, selection)
    done = set() if force else await already_replayed(settings)
    # A send to a topic that does not exist waits for metadata until it times out, which
    # would abort the whole transaction and read like an unreachable broker.
    named = [x.original_topic for x in report.selected if x.original_topic]
    existing = await partition_counts(settings, named) if named else {}
    todo: list[DeadLetter] = []
    skipped: list[DeadLetter] = []
    report.unreplayable, report.why_unreplayable = [], {}
    for letter in report.selected:
        why = _unreplayable(letter, existing)
        if why:
            report.unreplayable.append(letter)
            report.why_unreplayable[letter.id] = why
        else:
            (skipped if letter.coordinates in done else todo).append(letter)
    return todo, skipped


def _unreplayable(letter: DeadLetter, existing: dict[str, int]) -> str | None:
    if not letter.original_topic:
        return "it names no original topic (kafka_dlt-original-topic)"
    if letter.original_topic not in existing:
        return f"its original topic {letter.original_topic} does not exist"
    omitted = h.text_header(letter.headers, h.VALUE_OMITTED)
    if omitted:
        return f"its document was too large to keep in the dead letter ({omitted})"
    return None
