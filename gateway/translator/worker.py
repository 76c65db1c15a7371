"""The translator worker: kp.inbound -> kp.events + kp.status, permanent failures -> kp.dlq,
exactly once per input partition (see ``gateway.kafka.transactional``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition

from gateway import codec
from gateway.dlq.headers import Failure, Origin
from gateway.dlq.limit import RecordLimitReader
from gateway.dlq.publisher import DeadLetterPublisher
from gateway.errors import (
    ConfigurationError,
    EventTooLarge,
    Finding,
    GatewayError,
    InvalidInboundHeader,
    NotXml,
    PoisonPill,
    UnauthorisedSender,
    UnsafeXml,
)
from gateway.events import CertificateEvent, event_to_avro
from gateway.kafka.inflate_limit import Inflated, Unreadable, stand_in
from gateway.kafka.outbox import Outbox
from gateway.kafka.topics import (
    ProblemKind,
    check_topics_patiently,
    dead_letter_topic_too_small,
)
from gateway.kafka.transactional import TransactionalWorker
from gateway.metrics import pipeline_metrics
from gateway.registry import ParticipantRegistry, load_registry
from gateway.registry.watch import RegistryWatcher, polled
from gateway.settings import Settings
from gateway.text import audit_text
from gateway.translation import UNAUTHORISED_SENDER, InboundMeta, translate
from gateway.translator.crashes import open_journal
from gateway.translator.inbound import Inbound

log = structlog.get_logger(__name__)
Translate = Callable[[bytes, InboundMeta, ParticipantRegistry], CertificateEvent]


@dataclass(frozen=True, slots=True)
class Translated:
    event: CertificateEvent | None
    failure: Failure | None
    encoded: bytes = b""  # the event, Avro single-object encoded
    certificate_id: str | None = None  # of a refused document, when it was read


#: What a dead-lettered message's status tells its sender (DeliveryStatus.detail): the
#: findings with line and path, as a 422 would have (the sender may not have had one:
#: Kafka-native senders, or synchronous validation off).
STATUS_FINDINGS = 10
STATUS_DETAIL_CHARS = 2000
#: The largest event written to kp.events. The KP rules bound every free text
#: (TEXT_TOO_LONG), so a real event is a few KB; the router embeds up to three events in
#: one outcome and keeps all of a certificate's in its state, under Kafka's 1 MiB default.
MAX_EVENT_BYTES = 128 * 1024


def status_detail(failure: Failure) -> str:
    if not failure.findings:
        return failure.message[:STATUS_DETAIL_CHARS]
    lines = [finding.describe(max_message=300) for finding in failure.findings[:STATUS_FINDINGS]]
    more = len(failure.findings) - STATUS_FINDINGS
    if more > 0:
        lines.append(f"... and {more} more")
    return "\n".join(lines)[:STATUS_DETAIL_CHARS]


def translate_record(
    value: bytes | None,
    inbound: Inbound,
    registry: ParticipantRegistry,
    *,
    translate_fn: Translate = translate,
    max_attempts: int = 3,
) -> Translated:
    """Pure apart from retries: an expected failure is final at once; an unexpected error is
    retried up to ``max_attempts`` and then becomes a POISON_PILL with its stack trace.
    Encoding the event counts as translating: an event that cannot be encoded is a poison
    pill of its own record, never an error that would fail (and repeat) the whole batch."""
    if inbound.header_problems:
        findings = tuple(
            Finding(InvalidInboundHeader.code, problem) for problem in inbound.header_problems
        )
        header_error = InvalidInboundHeader("; ".join(inbound.header_problems), findings=findings)
        return Translated(None, Failure.of(header_error, stage="translator"))
    if inbound.sender is None:
        message = "the inbound record has no kpgw-sender header; every sender must be authenticated"
        error = UnauthorisedSender(message, findings=(Finding(UNAUTHORISED_SENDER, message),))
        return Translated(None, Failure.of(error, stage="translator", reason=UNAUTHORISED_SENDER))
    if value is None:  # "the body is empty" would leave a Kafka-native sender guessing
        message = (
            "the record's value is null (a tombstone), not a document; kp.inbound is not "
            "compacted: send the XML document as the value"
        )
        tombstone = NotXml(message, findings=(Finding("EMPTY_DOCUMENT", message),))
        return Translated(None, Failure.of(tombstone, stage="translator"))
    first_failed: datetime | None = None
    last: BaseException | None = None
    for attempt in range(1, max_attempts + 1):
        try:
            event = translate_fn(value, inbound.meta(), registry)
            encoded = _encoded(event)
        except GatewayError as exc:
            if exc.retriable:
                raise
            adapter = exc.adapter or inbound.format_hint
            failure = Failure.of(exc, stage="translator", adapter=adapter)
            return Translated(None, failure, certificate_id=_named(exc.certificate_id))
        except Exception as exc:  # noqa: BLE001 - any other error is a bug or a poison pill
            first_failed = first_failed or datetime.now(UTC)
            last = exc
            # The error's text may quote the document: bounded and escaped, and the trace
            # is the frames only (the dead letter keeps the whole of it).
            log.error(
                "translate_crashed",
                attempt=attempt,
                error=audit_text(repr(exc)),
                trace="".join(traceback.format_tb(exc.__traceback__))[-2000:],
            )
            continue
        return Translated(event, None, encoded)
    assert last is not None
    failure = Failure.of(
        last,
        stage="translator",
        attempts=max_attempts,
        first_failed_at=first_failed,
        reason="POISON_PILL",
    )
    return Translated(None, failure)


#: The longest certificate number a refused document's status names (a KP number has 11
#: characters). A document may carry one of a megabyte (the KP rules refuse it, and its
#: finding quotes the beginning): in the status record it went over kp.status's record
#: size, and the translator's batch failed at every retry, the partition stopped for good.
MAX_STATUS_CERTIFICATE_ID_CHARS = 64


def _named(certificate_id: str | None) -> str | None:
    """The certificate a refused document's status names; None for a number too long to
    be one."""
    if certificate_id is None or len(certificate_id) > MAX_STATUS_CERTIFICATE_ID_CHARS:
        return None
    return certificate_id


def _encoded(event: CertificateEvent) -> bytes:
    encoded = codec.encode("CertificateEvent", event_to_avro(event))
    if len(encoded) > MAX_EVENT_BYTES:
        too_large = EventTooLarge(
            f"the canonical event would be {len(encoded):,} bytes; at most "
            f"{MAX_EVENT_BYTES:,} are written to kp.events"
        )
        too_large.certificate_id = event.certificate_id
        raise too_large
    return encoded


def died_translating(deaths: int) -> Translated:
    """A record the crash journal saw kill the process ``deaths`` times: not translated
    again (``gateway.translator.crashes``)."""
    error = PoisonPill(
        f"the translator process died {deaths} times while translating this record (a "
        "crash in native code or an out-of-memory kill); it is not translated again"
    )
    return Translated(None, Failure.of(error, stage="translator", attempts=deaths))


def never_read(batch: Inflated | Unreadable) -> Translated:
    """A stand-in for a compressed batch that a consumer does not read
    (``gateway.kafka.inflate_limit``): its records were never read, so never translated."""
    message = batch.describe()
    kind = UnsafeXml if isinstance(batch, Inflated) else NotXml
    error = kind(message, findings=(Finding(batch.code, message),))
    return Translated(None, Failure.of(error, stage="translator"))


def status_record(
    inbound: Inbound,
    *,
    state: str,
    certificate_id: str | None,
    reason: str | None,
    detail: str | None,
    now: datetime,
    message_id: str | None = None,
) -> dict[str, Any]:
    """``message_id``: the document's own, once read (a Kafka-native sender need not give
    it in ``kpgw-message-id``; the router's statuses carry it from the event)."""
    return {
        "tracking_id": inbound.tracking_id,
        "sender": inbound.sender or "",
        "message_id": message_id or inbound.message_id,
        "certificate_id": certificate_id,
        "status": state,
        "reason": reason,
        "detail": detail,
        "updated_at": now,
    }


class TranslatorHandler:
    def __init__(
        self,
        settings: Settings,
        registry: RegistryWatcher,
        *,
        translate_fn: Translate = translate,
    ) -> None:
        prefix = settings.topic_prefix
        self.events_topic = f"{prefix}events"
        self.status_topic = f"{prefix}status"
        self.registry = registry
        self.translate_fn = translate_fn
        self.max_attempts = settings.translator.max_attempts
        self.group_id = settings.translator.group_id
        self.dead_letters = DeadLetterPublisher(
            f"{prefix}dlq",
            component="translator",
            read_limit=RecordLimitReader(settings, f"{prefix}dlq"),
        )
        self.translated = 0
        self.dead_lettered = 0
        self.assigned: set[TopicPartition] = set()  # for the consumer-lag metric
        self.journal = open_journal(settings.translator.crash_journal_dir, self.group_id)
        #: records with crash counts, processed in the open transaction of their partition
        self._settling: dict[TopicPartition, list[str]] = {}
        self.metrics = pipeline_metrics()
        #: translated? -> the histogram child (``labels()`` costs more than ``observe``)
        self._timings = {
            True: self.metrics.translation_seconds.labels("translated"),
            False: self.metrics.translation_seconds.labels("dead_lettered"),
        }

    async def on_assigned(self, partitions: Sequence[TopicPartition]) -> None:
        self.assigned.update(partitions)

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        self.assigned.difference_update(partitions)

    def committed(self, partition: TopicPartition) -> None:
        self.metrics.committed("translator", partition)
        settled = self._settling.pop(partition, None)
        if settled and self.journal is not None:
            self.journal.settle(settled)

    def aborted(self, partition: TopicPartition) -> None:
        self.metrics.aborted("translator", partition)
        self._settling.pop(partition, None)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    async def process(
        self, partition: TopicPartition, records: Sequence[Any], producer: AIOKafkaProducer
    ) -> None:
        registry = self.registry.current()
        outbox = Outbox(producer)  # events and statuses: one batch per partition
        for record in records:
            coordinates = f"{record.topic}/{record.partition}/{record.offset}"
            inbound = Inbound.of(record.key, record.headers or (), record.timestamp, coordinates)
            structlog.contextvars.bind_contextvars(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                tracking_id=inbound.tracking_id,
            )
            try:
                await self._one(record, inbound, registry, outbox, coordinates)
            finally:
                structlog.contextvars.unbind_contextvars(
                    "topic", "partition", "offset", "tracking_id"
                )
        await outbox.flush()

    async def _one(
        self,
        record: Any,
        inbound: Inbound,
        registry: ParticipantRegistry,
        outbox: Outbox,
        coordinates: str,
    ) -> None:
        started = time.perf_counter()
        journal = self.journal
        deaths = journal.crashes(coordinates) if journal is not None else 0
        if deaths:
            partition = TopicPartition(record.topic, record.partition)
            self._settling.setdefault(partition, []).append(coordinates)
        if (unread := stand_in(record)) is not None:
            result = never_read(unread)
        elif deaths >= self.max_attempts:
            result = died_translating(deaths)
        else:
            in_flight = journal.translating(coordinates) if journal else contextlib.nullcontext()
            with in_flight:
                result = translate_record(
                    record.value,
                    inbound,
                    registry,
                    translate_fn=self.translate_fn,
                    max_attempts=self.max_attempts,
                )
        self._timings[result.event is not None].observe(time.perf_counter() - started)
        now = datetime.now(UTC)
        if result.event is not None:
            event = result.event
            await outbox.send(
                self.events_topic,
                event.certificate_id.encode(),
                result.encoded,
                headers=[
                    ("kpgw-event-id", event.event_id.encode()),
                    ("kpgw-tracking-id", inbound.tracking_id.encode()),
                    ("kpgw-sender", (inbound.sender or "").encode()),
                ],
            )
            status = status_record(
                inbound,
                state="TRANSLATED",
                certificate_id=event.certificate_id,
                reason=None,
                detail=str(event.event_type),
                now=now,
                message_id=event.source.message_id,
            )
            self.translated += 1
            log.debug(
                "translated",
                certificate_id=event.certificate_id,
                event_type=str(event.event_type),
                adapter=event.source.adapter,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
        else:
            failure = result.failure
            assert failure is not None
            delivery = await self.dead_letters.publish(
                outbox.producer,
                key=record.key,
                value=record.value,
                headers=list(record.headers or ()),
                origin=Origin(
                    record.topic, record.partition, record.offset, record.timestamp, self.group_id
                ),
                failure=failure,
                now=now,
            )
            outbox.watch(delivery)
            status = status_record(
                inbound,
                state="DEAD_LETTERED",
                certificate_id=result.certificate_id,
                reason=failure.reason,
                detail=status_detail(failure),
                now=now,
            )
            self.dead_lettered += 1
            tp = TopicPartition(record.topic, record.partition)
            self.metrics.dead_letter("translator", tp, failure.reason)
        await outbox.send(
            self.status_topic,
            inbound.tracking_id.encode(),
            codec.encode("DeliveryStatus", status),
        )


def build_translator(
    settings: Settings,
    *,
    registry_path: Path | None = None,
    translate_fn: Translate = translate,
) -> tuple[TransactionalWorker, TranslatorHandler]:
    watcher = RegistryWatcher(registry_path or settings.partners_file)
    handler = TranslatorHandler(settings, watcher, translate_fn=translate_fn)
    worker = TransactionalWorker(
        settings,
        name="translator",
        topic=f"{settings.topic_prefix}inbound",
        group_id=settings.translator.group_id,
        handler=handler,
        backoff_ms=settings.translator.retry_backoff_ms,
        backoff_max_ms=settings.translator.retry_backoff_max_ms,
    )
    pipeline_metrics().watch(
        "translator",
        worker,
        lambda w: w.handler.assigned,
        lambda w, tp: w.position(tp),
        health=lambda w: w.health(),
    )
    return worker, handler


TRANSLATOR_TOPICS = ("inbound", "events", "status", "dlq")


async def check_translator_topics(
    settings: Settings, stop: asyncio.Event | None = None, *, retry_s: float = 2.0
) -> bool:
    """Refuse to start when a topic the translator reads or writes is missing (a mistyped
    KPGW_TOPIC_PREFIX would otherwise subscribe to nothing and idle without a word); wait
    while the broker does not answer, until ``stop`` (then False: do not start)."""
    registry = load_registry(settings.partners_file)
    problems = await check_topics_patiently(
        settings, registry, TRANSLATOR_TOPICS, component="translator", stop=stop, retry_s=retry_s
    )
    if problems is None:
        return False  # stopped while the broker did not answer
    missing = [p.topic for p in problems if p.kind is ProblemKind.MISSING]
    too_small = [p for p in problems if dead_letter_topic_too_small(p)]
    for problem in problems:
        if problem.kind is not ProblemKind.MISSING and problem not in too_small:
            log.warning("translator_topic_note", topic=problem.topic, problem=problem.problem)
    if missing:
        raise ConfigurationError(
            f"the translator refuses to start: {', '.join(missing)} missing (create them with "
            f"`kpgw topics create`; is KPGW_TOPIC_PREFIX={settings.topic_prefix!r} right?)"
        )
    if too_small:
        # Its first dead letter would hold its partition until the limit is raised.
        raise ConfigurationError(
            f"the translator refuses to start: {too_small[0].topic}: {too_small[0].problem}"
        )
    return True


async def run_translator(settings: Settings, stop: asyncio.Event) -> None:
    if not await check_translator_topics(settings, stop):
        return
    worker, handler = build_translator(settings)
    await handler.dead_letters.start()  # dead letters cut to fit kp.dlq at the first try
    try:
        async with polled(handler.registry):  # a broken edit is said without a record
            await worker.run(stop)
    finally:
        handler.close()
        # Its last words, with what it did (as router_stopped's): processed in this
        # process, a batch retried after an abort counted again.
        log.info(
            "translator_stopped", translated=handler.translated, dead_lettered=handler.dead_lettered
        )
