"""DLQ record headers: Spring Kafka's ``kafka_dlt-*`` names (so existing tools understand
them, with Spring's binary big-endian encoding of partition, offset and timestamp) plus the
gateway's own ``kpgw-*`` headers."""

from __future__ import annotations

import json
import struct
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.errors import Finding, GatewayError

Headers = list[tuple[str, bytes]]

ORIGINAL_TOPIC = "kafka_dlt-original-topic"
ORIGINAL_PARTITION = "kafka_dlt-original-partition"
ORIGINAL_OFFSET = "kafka_dlt-original-offset"
ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
ORIGINAL_TIMESTAMP_TYPE = "kafka_dlt-original-timestamp-type"
ORIGINAL_GROUP = "kafka_dlt-original-consumer-group"
EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"
STAGE = "kpgw-stage"
REASON = "kpgw-reason"
ATTEMPTS = "kpgw-attempts"
FIRST_FAILED_AT = "kpgw-first-failed-at"
SENDER = "kpgw-sender"
ADAPTER = "kpgw-adapter"
FINDINGS = "kpgw-findings"
DEAD_LETTERED_AT = "kpgw-dead-lettered-at"
REPLAY_ID = "kpgw-replay-id"
REPLAYED_FROM = "kpgw-replayed-from"
#: Set when a dead letter had to leave the failed record's bytes out (too large for
#: kp.dlq): where the original is, on its topic, for that topic's retention.
VALUE_OMITTED = "kpgw-value-omitted"
#: Inbound headers a replay pins when the original record left them to its own metadata
#: (a Kafka-native sender): the translator's defaults would otherwise change on replay.
RECEIVED_AT = "kpgw-received-at"
TRACKING_ID = "kpgw-tracking-id"

#: Headers added by dead-lettering; removed again when a record is replayed.
DLQ_HEADERS = frozenset(
    {
        ORIGINAL_TOPIC,
        ORIGINAL_PARTITION,
        ORIGINAL_OFFSET,
        ORIGINAL_TIMESTAMP,
        ORIGINAL_TIMESTAMP_TYPE,
        ORIGINAL_GROUP,
        EXCEPTION_FQCN,
        EXCEPTION_MESSAGE,
        EXCEPTION_STACKTRACE,
        STAGE,
        REASON,
        ATTEMPTS,
        FIRST_FAILED_AT,
        ADAPTER,
        FINDINGS,
        DEAD_LETTERED_AT,
        VALUE_OMITTED,
    }
)
MAX_MESSAGE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a failed record was read."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    consumer_group: str


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a record is dead-lettered."""

    stage: str  # ingress | translator | router
    reason: str  # stable machine code, e.g. XSD_VIOLATION
    exception_fqcn: str
    message: str
    findings: tuple[Finding, ...] = ()
    stacktrace: str | None = None  # only for unexpected errors
    attempts: int = 1
    first_failed_at: datetime | None = None
    adapter: str | None = None

    @classmethod
    def of(
        cls,
        error: BaseException,
        *,
        stage: str,
        attempts: int = 1,
        first_failed_at: datetime | None = None,
        adapter: str | None = None,
        reason: str | None = None,
    ) -> Failure:
        expected = isinstance(error, GatewayError)
        trace = None if expected else "".join(traceback.format_exception(error))
        return cls(
            stage=stage,
            reason=reason or (error.reason if isinstance(error, GatewayError) else "POISON_PILL"),
            exception_fqcn=f"{type(error).__module__}.{type(error).__qualname__}",
            message=error.message if isinstance(error, GatewayError) else str(error) or repr(error),
            findings=error.findings if isinstance(error, GatewayError) else (),
            stacktrace=trace,
            attempts=attempts,
            first_failed_at=first_failed_at,
            adapter=adapter,
        )


def iso_bytes(moment: datetime) -> bytes:
    """An instant as header text: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z").encode()


def dlq_headers(
    original: Sequence[tuple[str, bytes]], origin: Origin, failure: Failure, now: datetime
) -> Headers:
    """The original headers (minus any stale DLQ headers) followed by the DLQ headers."""
    kept = [(k, v) for k, v in original if k not in DLQ_HEADERS]
    headers: Headers = [
        (ORIGINAL_TOPIC, origin.topic.encode()),
        (ORIGINAL_PARTITION, struct.pack(">i", origin.partition)),
        (ORIGINAL_OFFSET, struct.pack(">q", origin.offset)),
        (ORIGINAL_TIMESTAMP, struct.pack(">q", origin.timestamp_ms)),
        (ORIGINAL_TIMESTAMP_TYPE, b"CreateTime"),
        (ORIGINAL_GROUP, origin.consumer_group.encode()),
        (EXCEPTION_FQCN, failure.exception_fqcn.encode()),
        (EXCEPTION_MESSAGE, failure.message.encode()[:MAX_MESSAGE_BYTES]),
        (STAGE, failure.stage.encode()),
        (REASON, failure.reason.encode()),
        (ATTEMPTS, str(failure.attempts).encode()),
        (FIRST_FAILED_AT, iso_bytes(failure.first_failed_at or now)),
        (DEAD_LETTERED_AT, iso_bytes(now)),
        (
            FINDINGS,
            json.dumps([f.as_dict() for f in failure.findings], ensure_ascii=False).encode(),
        ),
    ]
    if failure.stacktrace:
        headers.append((EXCEPTION_STACKTRACE, failure.stacktrace.encode()[: 16 * 1024]))
    if failure.adapter:
        headers.append((ADAPTER, failure.adapter.encode()))
    if not any(k == SENDER for k, _ in kept):
        headers.append((SENDER, b""))
    return kept + headers


#: The largest dead letter written: kp.dlq takes 4 MiB records; the rest is the batch's
#: own overhead. A dead letter that does not fit would fail its transaction at every
#: retry and stop its partition for good.
MAX_DEAD_LETTER_BYTES = 4 * 1024 * 1024 - 64 * 1024
FOREIGN_HEADER_BYTES = 4096
FINDINGS_KEPT_WHEN_CUT = 10


def fitted(
    key: bytes | None, value: bytes | None, headers: Headers, origin: Origin, limit: int
) -> tuple[bytes | None, bytes | None, Headers]:
    """A dead letter the broker will take, whatever the failed record carried. Left out,
    in this order, until it fits: the stack trace; the findings beyond the first ten;
    the bulk of every header value over 4 KiB that dead-lettering did not write
    (``kpgw-sender`` included); the value (``VALUE_OMITTED`` says where the original is);
    the headers dead-lettering did not write; the key."""

    def size(k: bytes | None, v: bytes | None, hs: Headers) -> int:
        return len(k or b"") + len(v or b"") + sum(len(name) + len(x) for name, x in hs)

    if size(key, value, headers) <= limit:
        return key, value, headers
    headers = [(k, v) for k, v in headers if k != EXCEPTION_STACKTRACE]
    findings = header(headers, FINDINGS)
    if findings is not None and size(key, value, headers) > limit:
        cut = json.loads(findings)[:FINDINGS_KEPT_WHEN_CUT]
        for item in cut:
            item["message"] = str(item.get("message", ""))[:300]
            item["path"] = str(item.get("path") or "")[:300] or None
        headers = [(k, v) for k, v in headers if k != FINDINGS]
        headers.append((FINDINGS, json.dumps(cut, ensure_ascii=False).encode()))
    if size(key, value, headers) > limit:
        headers = [
            (
                k,
                v
                if k in DLQ_HEADERS or len(v) <= FOREIGN_HEADER_BYTES
                else v[:FOREIGN_HEADER_BYTES],
            )
            for k, v in headers
        ]
    if size(key, value, headers) > limit:
        where = f"{origin.topic}/{origin.partition}/{origin.offset}"
        note = f"{len(value or b''):,} bytes left out (too large for the dead-letter topic)"
        value = None
        if size(key, value, headers) > limit:
            headers = [(k, v) for k, v in headers if k in DLQ_HEADERS] + [(SENDER, b"")]
            note += ", with the headers dead-lettering did not write"
        if size(key, value, headers) > limit:
            note += f", and its {len(key or b''):,}-byte key"
            key = None
        headers.append((VALUE_OMITTED, f"{note}; the original record is {where}".encode()))
    return key, value, headers


def header(headers: Iterable[tuple[str, bytes]], name: str) -> bytes | None:
    found = None
    for key, value in headers:
        if key == name:
            found = value  # the last one wins, as in Spring Kafka
    return found


def text_header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    value = header(headers, name)
    return None if value is None else value.decode("utf-8", errors="replace")


def int_header(headers: Iterable[tuple[str, bytes]], name: str) -> int | None:
    value = header(headers, name)
    if value is None:
        return None
    if len(value) == 4:
        return int(struct.unpack(">i", value)[0])
    if len(value) == 8:
        return int(struct.unpack(">q", value)[0])
    try:
        return int(value)
    except ValueError:
        return None


#: Spring Kafka writes these as big-endian binary integers.
_BINARY_NUMBERS = (ORIGINAL_PARTITION, ORIGINAL_OFFSET, ORIGINAL_TIMESTAMP)


def readable_headers(headers: Iterable[tuple[str, bytes]]) -> dict[str, str | int]:
    """Headers for people (``dlq show``, ``tail``): Spring's binary numbers as numbers,
    everything else as UTF-8 text."""
    readable: dict[str, str | int] = {}
    for key, raw in headers:
        number = int_header([(key, raw)], key) if key in _BINARY_NUMBERS else None
        readable[key] = number if number is not None else raw.decode("utf-8", errors="replace")
    return readable
