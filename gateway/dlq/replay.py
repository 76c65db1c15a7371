"""Replaying dead letters: the original bytes and headers go back to the original topic with
``kpgw-replay-id``/``kpgw-replayed-from``, in chunks (``gateway.dlq.chunks``), each one
transaction that also writes to kp.dlq.audit the audit of exactly its letters, as one record
or as parts that each fit the topic (``gateway.dlq.audit``).
A dead letter already replayed (listed in any part of any replay's audit) is skipped, so
replaying twice processes once (and the translator's deterministic event ids make any
duplicate harmless)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import IllegalOperation, InvalidProducerEpoch, ProducerFenced

from gateway import codec
from gateway.dlq import headers as h
from gateway.dlq.audit import audit_part_limit, part_size
from gateway.dlq.chunks import CHUNK_BYTES, CHUNK_LETTERS, chunk_audits, chunk_bounds
from gateway.dlq.publisher import raise_command, send_alone
from gateway.dlq.store import DeadLetter, DlqFilter, read_dead_letters, read_topic_to_end
from gateway.errors import EnvironmentProblem
from gateway.events import read_instant, record_time, usable_reception
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
    #: How many records the replay's audit was written as (``gateway.dlq.audit``), in all
    #: its chunks.
    audit_records: int = 0
    #: How many chunks (transactions) the replay was cut into, and how many committed.
    chunks: int = 0
    chunks_committed: int = 0
    #: Letters a replay that stopped at a chunk did not re-send (``ReplayStopped``).
    not_replayed: list[DeadLetter] = field(default_factory=list)

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
            "chunks": self.chunks,
            "chunks_committed": self.chunks_committed,
            "not_replayed": len(self.not_replayed),
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
    # An original timestamp that is no time of reception (negative, or what a corrupt
    # header makes of any 8 bytes) cannot be pinned, and made the replay fail: the replayed
    # record is then dated by its own timestamp, the time of the replay.
    moment = None if original_ms is None else record_time(original_ms)
    if moment is not None and not any(_is_instant(_text(x)) for x in received):
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
    return text is not None and bool(text.strip()) and usable_reception(read_instant(text.strip()))


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
    chunk_letters: int | None = None,
    chunk_bytes: int | None = None,
) -> ReplayReport:
    """``judge``: what would become of the letters now (``gateway.translator.predict``), which
    the report, the audit's result and the operator are told before anything is sent.
    The letters go in chunks of at most ``chunk_letters`` letters and ``chunk_bytes`` bytes
    (by default ``CHUNK_LETTERS`` and ``CHUNK_BYTES``, ``gateway.dlq.chunks``), each one
    transaction with its audit; ``ReplayStopped`` (with the report of the chunks committed)
    when one fails."""
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
    try:
        todo, report.skipped = await _partition(settings, selection, force, report)
        report.replayed = todo
        _judge(report, judge)
        report.result = "ok" if todo else "nothing to replay"
        if report.warning:
            report.result = f"sent; {report.warning}"
        # Chunked and split to fit the audit topic before anything is sent: a single record
        # listing a bulk replay's letters was refused, and the whole replay rolled back.
        limit = await audit_part_limit(settings, audit_topic)
        bounds = (chunk_letters or CHUNK_LETTERS, chunk_bytes or CHUNK_BYTES)
        sizes = [h.letter_size(x.key, x.value, replay_headers(x, report.replay_id)) for x in todo]
        chunks = [todo[x.start : x.stop] for x in chunk_bounds(sizes, *bounds)]
        audits = chunk_audits(
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
            [[x.coordinates for x in chunk] for chunk in chunks],
            limit,
            topic=audit_topic,
        )
        report.audit_records = sum(len(x) for x in audits)
        report.chunks = len(chunks)
        done = 0  # letters re-sent and audited by the chunks committed
        for letters, parts in zip(chunks, audits, strict=True):
            try:
                await _replay_chunk(
                    producer,
                    report,
                    letters,
                    parts,
                    audit_topic=audit_topic,
                    limit=limit,
                    progress=progress,
                    before=done,
                )
            except _ChunkFailed as failed:
                raise _stopped(report, todo, done, failed) from None
            except asyncio.CancelledError:
                if not done:  # nothing committed: an interrupted command, nothing to tell
                    raise
                # Ctrl-C (the runner cancels the replay) after chunks committed: the operator
                # is told which were re-sent, as for a chunk that failed. The chunk in flight
                # is aborted by the transaction's context on its way out.
                raise _stopped(report, todo, done, _INTERRUPTED, ReplayInterrupted) from None
            except _CommitInterrupted as interrupted:
                return _interrupted_at_commit(report, todo, done, letters, interrupted)
            except Exception as exc:
                if not done:  # nothing committed: as a replay of one transaction said it
                    raise
                # Chunks are committed: say which, whatever stopped the replay.
                raise _stopped(report, todo, done, _ChunkFailed(repr(exc))) from exc
            report.chunks_committed += 1
            done += len(letters)
    finally:
        await close_for_good(producer, what="replay producer")
    return report


Judge = Callable[[list[DeadLetter]], tuple[dict[str, str], str | None]]

#: How long one chunk's transaction may stay open (aiokafka's default) before the
#: coordinator aborts it: a crashed replay holds read_committed readers of the original
#: topics back no longer than this. A chunk (``gateway.dlq.chunks``) takes seconds.
TRANSACTION_TIMEOUT_S = 60.0


class ReplayStopped(EnvironmentProblem):
    """A replay that stopped at a chunk whose transaction failed: the chunks before it are
    re-sent and audited (``report.replayed``), that chunk and those after it are not
    (``report.not_replayed``); running the same replay again re-sends only those."""

    def __init__(self, message: str, report: ReplayReport) -> None:
        super().__init__(message)
        self.report = report


class ReplayInterrupted(ReplayStopped):
    """A replay interrupted (Ctrl-C) after some of its chunks committed: what they re-sent
    and audited stays, as for ``ReplayStopped``."""


class _ChunkFailed(EnvironmentProblem):
    """Why a chunk's transaction was rolled back (``message``), and what to do (``advice``)."""

    def __init__(self, message: str, advice: str = "") -> None:
        super().__init__(message)
        self.advice = advice


#: How a replay stopped by Ctrl-C is told, and what the operator can do.
_INTERRUPTED = _ChunkFailed("interrupted", "kpgw dlq list --pending lists the dead letters left.")

#: How long a replay interrupted while the broker commits a chunk waits for the commit's
#: outcome (milliseconds on a healthy broker), to say whether that chunk was re-sent.
COMMIT_WAIT_S = 15.0


class _CommitInterrupted(Exception):
    """The replay was cancelled (Ctrl-C) while a chunk's commit was on its way, or the
    commit failed (``failure``) other than by a fence: the chunk ``committed`` (True), was
    rolled back (False), or nobody knows (None)."""

    def __init__(self, committed: bool | None, failure: BaseException | None = None) -> None:
        super().__init__(f"interrupted while committing (committed: {committed})")
        self.committed = committed
        self.failure = failure


@contextlib.asynccontextmanager
async def _transaction(producer: Any) -> AsyncIterator[None]:
    """``producer.transaction()``, but for a cancellation while the commit is on its way:
    aiokafka goes on with a commit it has started whatever its caller does (it shields it),
    so a bare cancellation would tell the replay a committed chunk was rolled back. Its
    outcome is waited for (``COMMIT_WAIT_S``) and raised as ``_CommitInterrupted``."""
    context = producer.transaction()
    await context.__aenter__()
    try:
        yield
    except BaseException as exc:
        await context.__aexit__(type(exc), exc, exc.__traceback__)  # aborts
        raise
    commit = asyncio.ensure_future(producer.commit_transaction())
    try:
        await asyncio.shield(commit)
    except asyncio.CancelledError:
        await asyncio.wait({commit}, timeout=COMMIT_WAIT_S)
        raise _CommitInterrupted(_committed(commit)) from None
    except _TAKEN_OVER:
        raise  # rolled back: the chunk's own handling says by whom
    except Exception as exc:
        # A timeout or a lost connection while the broker answers: the commit may have
        # gone through, so "rolled back" could be false.
        raise _CommitInterrupted(None, exc) from exc


def _interrupted_at_commit(
    report: ReplayReport,
    todo: list[DeadLetter],
    done: int,
    letters: list[DeadLetter],
    interrupted: _CommitInterrupted,
) -> ReplayReport:
    """Ctrl-C while the broker committed the chunk of ``letters`` (after ``done`` letters),
    or that commit failed: what the commit did decides what the operator is told. The
    report when that chunk was the last and committed (the replay is done), else
    ``ReplayInterrupted`` (Ctrl-C) or ``ReplayStopped`` (the commit failed)."""
    why: _ChunkFailed = _INTERRUPTED
    kind: type[ReplayStopped] = ReplayInterrupted
    if interrupted.failure is not None:
        why = _ChunkFailed(
            f"the broker's answer to the commit of chunk {report.chunks_committed + 1} failed "
            f"({interrupted.failure!r})",
            _INTERRUPTED.advice,
        )
        kind = ReplayStopped
    if interrupted.committed:
        report.chunks_committed += 1
        done += len(letters)
        if done == len(todo):
            return report
        raise _stopped(report, todo, done, why, kind, in_flight=False)
    unsure = len(letters) if interrupted.committed is None else 0
    raise _stopped(report, todo, done, why, kind, unsure=unsure)


def _committed(commit: asyncio.Future[Any]) -> bool | None:
    """Whether the commit ``commit`` went through: None while it runs, or when it failed
    other than by a fence (its request may have reached the broker)."""
    if not commit.done():
        commit.add_done_callback(_retrieve)
        return None
    if commit.cancelled():
        return None
    failed = commit.exception()
    if failed is None:
        return True
    return False if isinstance(failed, _TAKEN_OVER) else None


async def _replay_chunk(
    producer: Any,
    report: ReplayReport,
    letters: list[DeadLetter],
    parts: list[dict[str, Any]],
    *,
    audit_topic: str,
    limit: int,
    progress: Callable[[int, int], None] | None,
    before: int,
) -> None:
    """One transaction: ``letters`` re-sent and ``parts``, their audit, or neither;
    ``before``: how many letters the chunks before this one re-sent."""
    resends: list[asyncio.Future[Any]] = []
    audits: list[asyncio.Future[Any]] = []
    opened = time.monotonic()
    try:
        async with _transaction(producer):
            for index, letter in enumerate(letters, start=1):
                resends.append(
                    await producer.send(
                        letter.original_topic,
                        key=letter.key,
                        value=letter.value,
                        headers=replay_headers(letter, report.replay_id),
                    )
                )
                if progress:
                    progress(before + index, len(report.replayed))
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
        if time.monotonic() - opened > TRANSACTION_TIMEOUT_S:
            # The coordinator aborts a transaction open longer than its timeout, and the
            # producer learns it as a fence: no other replay needs to have run.
            raise _ChunkFailed(
                f"this replay's transaction was open {time.monotonic() - opened:.0f} s, longer "
                f"than the broker keeps one ({TRANSACTION_TIMEOUT_S:.0f} s), re-sending "
                f"{len(letters):,} dead letters: the broker aborted it",
                "A chunk takes seconds on a healthy broker: look at the broker's load first.",
            ) from None
        raise _ChunkFailed(
            "another kpgw dlq replay started while this one ran and took over",
            "Run it again (or --dry-run) once the other has finished.",
        ) from None


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
    """Abort the chunk's transaction when the broker refused a send: the fence of another
    replay as itself, else which records were refused (a re-sent letter or the audit)."""
    for refused in (*resends, *audits):
        if isinstance(refused, _TAKEN_OVER):
            raise refused
    if resends:
        raise _ChunkFailed(f"the broker refused {len(resends)} re-sent record(s) ({resends[0]!r})")
    if audits:
        largest = max(part_size(x) for x in parts)
        raise _ChunkFailed(
            f"{topic} refused {len(audits)} of the {len(parts)} audit record(s) of this "
            f"chunk ({audits[0]!r}; the largest is {largest:,} bytes, cut to the "
            f"{limit:,} bytes read as its max.message.bytes)",
            f"Raise the limit ({raise_command(topic, 1024 * 1024)}) and run it again.",
        )


def _stopped(
    report: ReplayReport,
    todo: list[DeadLetter],
    done: int,
    failed: _ChunkFailed,
    kind: type[ReplayStopped] = ReplayStopped,
    *,
    in_flight: bool = True,
    unsure: int = 0,
) -> ReplayStopped:
    """The replay stopped at the chunk after the first ``done`` letters of ``todo``: the
    report of what was re-sent and audited, and a message that says it in numbers.
    ``in_flight``: that chunk was started (and rolled back); else the replay stopped
    between two chunks. ``unsure``: that chunk's letters, when nobody knows whether its
    commit went through (interrupted while the broker committed it)."""
    report.replayed, report.not_replayed = todo[:done], todo[done:]
    chunk = report.chunks_committed + 1
    if unsure:
        before = f"chunks 1 to {chunk - 1}" if done else "no chunk before it"
        outcome = (
            f"the replay {report.replay_id} stopped at chunk {chunk} of {report.chunks} "
            f"while the broker committed it: whether its {unsure:,} dead letters were "
            f"re-sent and audited is not known; {done:,} of its {len(todo):,} were "
            f"({before}), the other {len(todo) - done - unsure:,} were not re-sent. Running "
            "the same command again re-sends only those not re-sent (a replay skips "
            "letters replayed before)"
        )
        report.result = (
            f"stopped after {done:,} of {len(todo):,} dead letters, chunk {chunk} of "
            f"{report.chunks} ({unsure:,}) not known: {failed.message}"
        )
    elif not in_flight:
        outcome = (
            f"the replay {report.replay_id} stopped after chunk {chunk - 1} of "
            f"{report.chunks}: {done:,} of its {len(todo):,} dead letters were re-sent and "
            f"audited (chunks 1 to {report.chunks_committed}), the other "
            f"{len(todo) - done:,} were not re-sent. Running the same command again re-sends "
            "only those (a replay skips letters replayed before)"
        )
        report.result = (
            f"stopped after {done:,} of {len(todo):,} dead letters "
            f"(chunk {chunk - 1} of {report.chunks}): {failed.message}"
        )
    elif not done:
        outcome = "the replay was rolled back and re-sent nothing"
        report.result = f"stopped at chunk {chunk} of {report.chunks}: {failed.message}"
    else:
        outcome = (
            f"the replay {report.replay_id} stopped at chunk {chunk} of {report.chunks}, which "
            f"was rolled back: {done:,} of its {len(todo):,} dead letters were re-sent and "
            f"audited (chunks 1 to {report.chunks_committed}), the other "
            f"{len(todo) - done:,} were not re-sent. Running the same command again re-sends "
            "only those (a replay skips letters replayed before)"
        )
        report.result = (
            f"stopped after {done:,} of {len(todo):,} dead letters "
            f"(chunk {chunk} of {report.chunks}): {failed.message}"
        )
    said = f"{failed.message}: {outcome}."
    return kind(f"{said} {failed.advice}" if failed.advice else said, report)


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
    inputs = worker_inputs(settings)
    for letter in report.selected:
        why = _unreplayable(letter, existing, inputs)
        if why:
            report.unreplayable.append(letter)
            report.why_unreplayable[letter.id] = why
        else:
            (skipped if letter.coordinates in done else todo).append(letter)
    return todo, skipped


def worker_inputs(settings: Settings) -> tuple[str, ...]:
    """The topics the gateway's workers read, where their dead letters come from: the
    translator's ``kp.inbound`` and the router's ``kp.events``."""
    return (f"{settings.topic_prefix}inbound", f"{settings.topic_prefix}events")


def _unreplayable(
    letter: DeadLetter, existing: dict[str, int], inputs: tuple[str, ...]
) -> str | None:
    if not letter.original_topic:
        return "it names no original topic (kafka_dlt-original-topic)"
    if letter.original_topic not in existing:
        return f"its original topic {letter.original_topic} does not exist"
    if letter.original_topic not in inputs:
        # A header written by another tool, or corrupt: the letter's bytes would go to
        # whoever reads that topic (a partner's, kp.dlq itself, kp.status).
        return (
            f"its original topic {letter.original_topic} is not one a gateway worker reads "
            f"({', '.join(inputs)}); dead letters go back only there"
        )
    omitted = h.text_header(letter.headers, h.VALUE_OMITTED)
    if omitted:
        return f"its document was too large to keep in the dead letter ({omitted})"
    return None
