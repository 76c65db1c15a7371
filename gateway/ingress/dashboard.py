"""The operator's dashboard (``GET /dashboard``, ``GET /dashboard/data.json``): per partner
pair what was announced, matched, matched with discrepancies and overdue; the dead-letter
queue by reason with its newest records; recent fraud signals; throughput per 10 s.

``DashboardState`` is the pure aggregation (no I/O, the clock passed in), with the same
counting rules as the demo's summary (``gateway.demo.summary``). ``Dashboard`` feeds it:
one read_committed consumer without a group reads ``kp.outcomes``, ``kp.dlq`` and every
``kp.partner.<P>`` (SHIPMENT_ANNOUNCED only) from the beginning, like ``mirror.py``; the
ingress's own mirrors of ``kp.inbound`` and ``kp.status`` add the accepted and translated
documents. The consumer starts on the first dashboard request, so an ingress nobody looks
at pays nothing. Memory is bounded: counters per pair and reason, the newest few records.

An operator token (``KPGW_INGRESS__DASHBOARD_TOKEN``) protects it, as HTTP Basic (any user
name, the token as password: browsers ask for it) or ``Authorization: Bearer``; unset,
the dashboard is open, and the ingress binds 127.0.0.1 by default.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import heapq
import hmac
import itertools
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from aiokafka import TopicPartition
from pydantic import SecretStr

from gateway import codec
from gateway.demo.summary import MATCH_KINDS, PLAIN, PairCounts
from gateway.dlq.store import DeadLetter
from gateway.ingress.exposure import LOOPBACK
from gateway.ingress.mirror import Apply
from gateway.ingress.problems import Problem
from gateway.kafka.clients import close_for_good, committed_consumer
from gateway.kafka.topics import partition_count, partner_participants, partner_topic
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.text import printable_line

log = structlog.get_logger(__name__)
BUCKET_S = 10
WINDOW_BUCKETS = 30  # five minutes
SERIES = ("accepted", "translated", "decided")
NEWEST_DEAD_LETTERS = 15
RECENT_SIGNALS = 30
MESSAGE_CHARS = 300
RETRY_S = 1.0
STOP_GRACE_S = 2.0


def iso_ms(at_ms: int) -> str:
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def announced_pair(notification: Mapping[str, Any]) -> tuple[str, str] | None:
    """(exporter, importer) of a SHIPMENT_ANNOUNCED notification, else None."""
    if notification.get("notification_type") != "SHIPMENT_ANNOUNCED":
        return None
    event = notification.get("event") or {}
    payload = event.get("payload")
    body = payload[1] if isinstance(payload, tuple) else payload or {}
    return (body.get("exporting_participant", "?"), body.get("importing_participant", "?"))


@dataclass(slots=True)
class DashboardState:
    """Everything the page shows, bounded in size. Each method applies one record."""

    pairs: dict[tuple[str, str], PairCounts] = field(default_factory=dict)
    dead_by_reason: Counter[str] = field(default_factory=Counter)
    dead_senders: dict[str, Counter[str]] = field(default_factory=dict)
    signal_kinds: Counter[str] = field(default_factory=Counter)
    buckets: dict[int, list[int]] = field(default_factory=dict)  # bucket -> counts per SERIES
    records: int = 0
    #: Each dead letter's reason by its coordinates ("dlq/<partition>/<offset>"), and those
    #: a replay re-sent (kp.dlq.audit): what is still pending, as ``kpgw dlq stats`` says
    #: (dead letters are exceptions; one small entry each).
    dead_reasons: dict[str, str] = field(default_factory=dict)
    replayed: set[str] = field(default_factory=set)
    failed_again: int = 0  # dead letters that are a replay failing again
    _newest_dead: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    _recent_signals: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def _pair(self, exporter: str, importer: str) -> PairCounts:
        return self.pairs.setdefault((exporter, importer), PairCounts())

    def announcement(self, notification: Mapping[str, Any]) -> None:
        self.records += 1
        pair = announced_pair(notification)
        if pair is not None:
            self._pair(*pair).announced += 1

    def outcome(self, outcome: Mapping[str, Any], at_ms: int, now_ms: int) -> None:
        """One ``Outcome`` record (decoded) written at ``at_ms``."""
        self.records += 1
        kind = str(outcome["outcome"])
        exporter, importer = str(outcome["pair"]["exporter"]), str(outcome["pair"]["importer"])
        counts = self._pair(exporter, importer)
        if kind == "MATCHED":
            counts.matched += 1
        elif kind == "MATCHED_WITH_DISCREPANCIES":
            counts.discrepancies += 1
        elif kind == "CONFIRMATION_OVERDUE":
            counts.overdue += 1
        if kind not in MATCH_KINDS:  # every other outcome is a fraud signal
            counts.signals += 1
            self.signal_kinds[kind] += 1
            signal = {
                "at": iso_ms(at_ms),
                "certificate_id": str(outcome["certificate_id"]),
                "pair": f"{exporter}->{importer}",
                "kind": kind,
                "meaning": PLAIN.get(kind, kind.replace("_", " ").lower()),
                "detail": printable_line(outcome.get("detail") or ""),
            }
            self._keep(self._recent_signals, RECENT_SIGNALS, at_ms, signal)
        self.throughput("decided", at_ms, now_ms)

    def dead_letter(self, letter: DeadLetter) -> None:
        self.records += 1
        self.dead_by_reason[letter.reason] += 1
        # A letter naming conflicting senders counts for each, as `kpgw dlq stats` does.
        senders = tuple(dict.fromkeys(_shown_sender(x) for x in letter.senders)) or ("?",)
        self.dead_senders.setdefault(letter.reason, Counter()).update(senders)
        self.dead_reasons[letter.coordinates] = letter.reason
        if letter.replay_of:
            self.failed_again += 1
        at_ms = int(letter.timestamp.timestamp() * 1000)
        record = {
            "id": letter.id,
            "at": iso_ms(at_ms),
            "sender": ", ".join(senders),
            "reason": letter.reason,
            "stage": letter.stage,
            "message": printable_line(letter.message[:MESSAGE_CHARS]),
        }
        self._keep(self._newest_dead, NEWEST_DEAD_LETTERS, at_ms, record)

    def replay(self, audit: Mapping[str, Any]) -> None:
        """One kp.dlq.audit record: the dead letters it re-sent are no longer pending."""
        self.records += 1
        if not audit.get("dry_run"):
            self.replayed.update(audit.get("dead_letters") or ())

    def _pending_by_reason(self) -> Counter[str]:
        return Counter(
            reason for where, reason in self.dead_reasons.items() if where not in self.replayed
        )

    def _keep(
        self,
        heap: list[tuple[int, int, dict[str, Any]]],
        size: int,
        at_ms: int,
        item: dict[str, Any],
    ) -> None:
        entry = (at_ms, next(self._seq), item)
        if len(heap) < size:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)

    def throughput(self, series: str, at_ms: int, now_ms: int) -> None:
        """Count one document of ``series`` in its 10 s bucket, if within the window."""
        bucket, current = at_ms // (BUCKET_S * 1000), now_ms // (BUCKET_S * 1000)
        oldest = current - WINDOW_BUCKETS + 1
        if bucket < oldest or bucket > current + 1:  # +1: a little clock skew is fine
            return
        self.buckets.setdefault(bucket, [0] * len(SERIES))[SERIES.index(series)] += 1
        if len(self.buckets) > WINDOW_BUCKETS + 2:
            for stale in [b for b in self.buckets if not oldest <= b <= current + 1]:
                del self.buckets[stale]

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The data document (``GET /dashboard/data.json``), without the feed's status."""
        pairs = []
        totals = PairCounts()
        for (exporter, importer), counts in sorted(self.pairs.items()):
            pairs.append({"pair": f"{exporter}->{importer}", **_counts(counts)})
            for name in ("announced", "matched", "discrepancies", "overdue", "signals"):
                setattr(totals, name, getattr(totals, name) + getattr(counts, name))
        current = now_ms // (BUCKET_S * 1000)
        pending = self._pending_by_reason()
        buckets = [
            {
                "start": iso_ms(b * BUCKET_S * 1000),
                **dict(zip(SERIES, self.buckets.get(b, [0] * 3), strict=True)),
            }
            for b in range(current - WINDOW_BUCKETS + 1, current + 1)
        ]
        return {
            "generated_at": iso_ms(now_ms),
            "pairs": pairs,
            "totals": _counts(totals),
            "dead_letters": {
                "total": sum(self.dead_by_reason.values()),
                "pending": sum(pending.values()),
                "failed_again_after_replay": self.failed_again,
                "by_reason": [
                    {
                        "reason": reason,
                        "count": count,
                        "pending": pending.get(reason, 0),
                        "senders": dict(self.dead_senders[reason]),
                    }
                    for reason, count in sorted(self.dead_by_reason.items(), key=_most)
                ],
                "newest": _newest(self._newest_dead),
            },
            "fraud_signals": {
                "total": sum(self.signal_kinds.values()),
                "by_kind": [
                    {"kind": kind, "meaning": PLAIN.get(kind, kind), "count": count}
                    for kind, count in sorted(self.signal_kinds.items(), key=_most)
                ],
                "recent": _newest(self._recent_signals),
            },
            "throughput": {"bucket_seconds": BUCKET_S, "series": list(SERIES), "buckets": buckets},
        }


def _counts(counts: PairCounts) -> dict[str, int]:
    return {
        "announced": counts.announced,
        "matched": counts.matched,
        "discrepancies": counts.discrepancies,
        "overdue": counts.overdue,
        "fraud_signals": counts.signals,
    }


def _most(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def _newest(heap: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for _, _, item in sorted(heap, key=lambda e: (e[0], e[1]), reverse=True)]


def now_ms() -> int:
    return int(time.time() * 1000)


def tee(first: Apply, second: Apply) -> Apply:
    """One mirror callback feeding two views (``second`` must not raise)."""

    def both(record: Any) -> None:
        first(record)
        second(record)

    return both


def is_operator(request: web.Request, token: SecretStr | None) -> bool:
    """Whether ``request`` presents ``token`` (Basic password or Bearer); every request
    does when no token is configured."""
    if token is None:
        return True
    given_as = set(request.headers.getall("Authorization", []))
    if len(given_as) > 1:  # ambiguous, as for participants (auth._one_authorization): no
        return False
    presented = _presented(next(iter(given_as), ""))
    wanted = hashlib.sha256(token.get_secret_value().encode()).digest()
    # surrogatepass: a header with non-UTF-8 bytes must fail the comparison, not the request.
    given = hashlib.sha256((presented or "").encode("utf-8", "surrogatepass")).digest()
    # An empty presented token never passes, whatever is configured (the settings refuse
    # an empty one, but this is the last line: ``curl -u ':'`` matched an empty token).
    return bool(presented) and hmac.compare_digest(given, wanted)


def check_operator(
    request: web.Request, token: SecretStr | None, resource: str = "the dashboard"
) -> None:
    """401 unless the operator token is presented (Basic password or Bearer); open when
    no token is configured. Used for the dashboard and, with its own token, ``/metrics``."""
    if not is_operator(request, token):
        raise Problem(
            "unauthenticated",
            f"{resource} needs the operator token (as the Basic password or a Bearer token)",
            headers={"WWW-Authenticate": 'Basic realm="kpgw operators", charset="UTF-8"'},
        )


def _presented(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic":
        # ValueError covers binascii.Error, UnicodeDecodeError and non-ASCII base64 text.
        with contextlib.suppress(ValueError):
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
    return None


_PARTICIPANT_CODE = re.compile(r"^[A-Z]{2}$")


def _shown_sender(sender: str) -> str:
    """A dead letter's sender as the page shows it: a Kafka-native record's header may be
    anything (a security review sent megabytes), and each distinct value was a row kept
    in memory."""
    if not sender:
        return "?"
    return sender if _PARTICIPANT_CODE.match(sender) else "(not a participant code)"


class Dashboard:
    """The I/O shell around ``DashboardState``; started by the first page or data request."""

    def __init__(self, settings: Settings, registry: Callable[[], ParticipantRegistry]) -> None:
        self.settings = settings
        self.registry = registry
        self.state = DashboardState()
        self.caught_up = asyncio.Event()
        self.outcomes_topic = f"{settings.topic_prefix}outcomes"
        self.dlq_topic = f"{settings.topic_prefix}dlq"
        self.audit_topic = f"{settings.topic_prefix}dlq.audit"
        self._next: dict[TopicPartition, int] = {}
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # --- views of the ingress's mirrors (always on, cheap) -------------------------------

    def on_inbound(self, record: Any) -> None:
        self.state.throughput("accepted", record.timestamp, now_ms())

    def on_status(self, record: Any) -> None:
        now = now_ms()
        if record.value is None or record.timestamp < now - WINDOW_BUCKETS * BUCKET_S * 1000:
            return  # old history: no need to decode it
        with contextlib.suppress(Exception):
            if codec.decode(record.value, "DeliveryStatus")["status"] == "TRANSLATED":
                self.state.throughput("translated", record.timestamp, now)

    # --- lifecycle ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        open_to = self.settings.http_host
        if self.settings.ingress.dashboard_token is None and open_to not in LOOPBACK:
            log.warning("dashboard_open_without_token", host=open_to)
        self._stop = asyncio.Event()
        try:
            yield
        finally:
            self._stop.set()
            task, self._task, self._stop = self._task, None, None
            if task is not None:
                _, pending = await asyncio.wait({task}, timeout=STOP_GRACE_S)
                for late in pending:
                    late.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await late

    def ensure_started(self) -> None:
        if self._task is None and self._stop is not None:
            self._task = asyncio.create_task(self._run(self._stop), name="dashboard-feed")

    def document(self, *, broker_reachable: bool = True) -> dict[str, Any]:
        """``ready``: caught up and still reading; ``broker_reachable`` False: the figures
        are as they were when the broker went away."""
        registry = self.registry()
        codes = {code for pair in self.state.pairs for code in pair}
        return {
            "ready": self.caught_up.is_set() and broker_reachable,
            "broker_reachable": broker_reachable,
            "records_read": self.state.records,
            "topic_prefix": self.settings.topic_prefix,
            "participants": {
                code: registry.participants[code].name
                for code in sorted(codes)
                if code in registry.participants
            },
            **self.state.snapshot(now_ms()),
        }

    # --- the feed -------------------------------------------------------------------------

    def topics(self, registry: ParticipantRegistry) -> list[str]:
        prefix = self.settings.topic_prefix
        partners = [partner_topic(prefix, code) for code in partner_participants(registry)]
        return [self.outcomes_topic, self.dlq_topic, self.audit_topic, *partners]

    async def _run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self._session(stop)
            except Exception as exc:  # noqa: BLE001 - the feed outlives broker trouble
                if failures % 30 == 0:
                    log.warning("dashboard_feed_retrying", error=repr(exc))
                failures += 1
            else:
                failures = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)

    async def _session(self, stop: asyncio.Event) -> None:
        registry = self.registry()
        topics = self.topics(registry)
        counts = await asyncio.gather(*(partition_count(self.settings, t) for t in topics))
        if not counts[0]:
            raise LookupError(f"topic {self.outcomes_topic} does not exist (yet)")
        tps = [TopicPartition(t, p) for t, n in zip(topics, counts, strict=True) for p in range(n)]
        consumer = committed_consumer(
            self.settings, group_id=None, enable_auto_commit=False, request_timeout_ms=10_000
        )
        try:
            await consumer.start()
            consumer.assign(tps)
            beginnings = await consumer.beginning_offsets(tps)
            for tp in tps:
                consumer.seek(tp, max(beginnings[tp], self._next.get(tp, 0)))
            pending: dict[TopicPartition, int] = {}
            if not self.caught_up.is_set():
                ends = await consumer.end_offsets(tps)  # read_committed: last stable offsets
                pending = {tp: end for tp, end in ends.items() if end > self._next.get(tp, 0)}
            while not stop.is_set():
                if not pending and not self.caught_up.is_set():
                    self.caught_up.set()
                    log.info("dashboard_caught_up", records=self.state.records)
                if self.registry() is not registry and self.topics(self.registry()) != topics:
                    return  # partner topics changed: a new session reads them too
                batches = await consumer.getmany(timeout_ms=300, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        self._apply(record)
                        self._next[tp] = record.offset + 1
                for tp in list(pending):
                    if await consumer.position(tp) >= pending[tp]:
                        del pending[tp]
        finally:
            await close_for_good(consumer, what="dashboard consumer")

    def _apply(self, record: Any) -> None:
        try:
            if record.topic == self.dlq_topic:
                # A dead letter may carry no value (a Kafka-native sender's empty record,
                # EMPTY_DOCUMENT): it counts, as in ``kpgw dlq stats``.
                self.state.dead_letter(DeadLetter.of(record))
            elif record.value is None:
                return
            elif record.topic == self.audit_topic:
                self.state.replay(codec.decode(record.value, "DlqAudit"))
            elif record.topic == self.outcomes_topic:
                outcome = codec.decode(record.value, "Outcome")
                self.state.outcome(outcome, record.timestamp, now_ms())
            else:
                self.state.announcement(codec.decode(record.value, "PartnerNotification"))
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the view
            log.warning(
                "dashboard_record_skipped",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=repr(exc),
            )
