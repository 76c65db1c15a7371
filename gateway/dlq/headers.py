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
#: Set when a dead letter was cut to fit kp.dlq: what was left out (the stack trace, how
#: many findings, ...); the reason code and the coordinates never are.
LEFT_OUT = "kpgw-left-out"
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
        LEFT_OUT,
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


def utf8_prefix(text: bytes, size: int) -> bytes:
    """At most ``size`` bytes of UTF-8 ``text``, never ending in part of a character: a
    header cut at a byte count is no longer UTF-8 text for a strict reader."""
    if len(text) <= size:
        return text
    return text[:size].decode("utf-8", "ignore").encode()


def non_null(headers: Iterable[tuple[str, bytes | None]]) -> Headers:
    """Kafka allows a null header value (Java's ``headers.add(name, null)``, librdkafka's
    NULL): kept as an empty value, which every tool can measure, show and replay."""
    return [(k, b"" if v is None else v) for k, v in headers]


def dlq_headers(
    original: Sequence[tuple[str, bytes | None]], origin: Origin, failure: Failure, now: datetime
) -> Headers:
    """The original headers (minus any stale DLQ headers, null values made empty) followed
    by the DLQ headers."""
    kept = [(k, v) for k, v in non_null(original) if k not in DLQ_HEADERS]
    headers: Headers = [
        (ORIGINAL_TOPIC, origin.topic.encode()),
        (ORIGINAL_PARTITION, struct.pack(">i", origin.partition)),
        (ORIGINAL_OFFSET, struct.pack(">q", origin.offset)),
        (ORIGINAL_TIMESTAMP, struct.pack(">q", origin.timestamp_ms)),
        (ORIGINAL_TIMESTAMP_TYPE, b"CreateTime"),
        (ORIGINAL_GROUP, origin.consumer_group.encode()),
        (EXCEPTION_FQCN, failure.exception_fqcn.encode()),
        (EXCEPTION_MESSAGE, utf8_prefix(failure.message.encode(), MAX_MESSAGE_BYTES)),
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
        headers.append((EXCEPTION_STACKTRACE, utf8_prefix(failure.stacktrace.encode(), 16 * 1024)))
    if failure.adapter:
        headers.append((ADAPTER, failure.adapter.encode()))
    if not any(k == SENDER for k, _ in kept):
        headers.append((SENDER, b""))
    return kept + headers


#: The largest dead letter written: kp.dlq takes 4 MiB records, and the producer sends
#: requests of at most 4 MiB + 64 KiB (``MAX_REQUEST_SIZE``). A dead letter that does not
#: fit would fail its transaction at every retry and stop its partition for good. A kp.dlq
#: created with a smaller ``max.message.bytes`` is read from its config
#: (``gateway.dlq.limit``), or learnt from the broker's refusal (``DeadLetterPublisher``).
MAX_DEAD_LETTER_BYTES = 4 * 1024 * 1024 - 64 * 1024
FOREIGN_HEADER_BYTES = 4096
FINDINGS_KEPT_WHEN_CUT = 10
#: The exception message and findings of a letter cut to its last resort (a kp.dlq of a
#: few kilobytes): the reason code and the coordinates are never left out.
MESSAGE_BYTES_AT_LAST = 256
FINDINGS_KEPT_AT_LAST = 1
#: Room kept for ``LEFT_OUT`` itself in a letter that had to be cut.
LEFT_OUT_RESERVE = 512
#: A record batch's own header (magic 2: base offset, length, epoch, magic, CRC,
#: attributes, offset delta, time stamps, producer id, epoch, sequence, count).
BATCH_HEADER_BYTES = 61


def varint_bytes(number: int) -> int:
    """The length of Kafka's zigzag varint of ``number``."""
    encoded = (number << 1) ^ (number >> 63)
    length = 1
    while encoded > 0x7F:
        encoded >>= 7
        length += 1
    return length


def _sized(data: bytes | None) -> int:
    """A length-prefixed field of a record: its varint length (-1 for null) and bytes."""
    return varint_bytes(-1) if data is None else varint_bytes(len(data)) + len(data)


def letter_size(key: bytes | None, value: bytes | None, headers: Headers) -> int:
    """What a dead letter weighs against the topic's ``max.message.bytes``, which the
    broker compares with the whole record batch: a batch of this letter alone (the
    publisher sends each letter in a batch of its own), uncompressed, as the producer
    frames it (a record of format 2, its time stamp and offset the batch's first)."""
    body = 1 + 1 + 1 + _sized(key) + _sized(value) + varint_bytes(len(headers))
    body += sum(_sized(name.encode()) + _sized(x) for name, x in headers)
    return BATCH_HEADER_BYTES + varint_bytes(body) + body


def fitted(
    key: bytes | None, value: bytes | None, headers: Headers, origin: Origin, limit: int
) -> tuple[bytes | None, bytes | None, Headers]:
    """A dead letter of at most ``limit`` bytes, whatever the failed record carried. Left
    out, in this order, until it fits: the stack trace; the findings beyond the first ten;
    the bulk of every header value over 4 KiB that dead-lettering did not write
    (``kpgw-sender`` included); the value (``VALUE_OMITTED`` says where the original is);
    the headers dead-lettering did not write; the key; at last all but the first finding
    and 256 bytes of the exception message. ``LEFT_OUT`` says what was left out."""
    size = letter_size
    if size(key, value, headers) <= limit:
        return key, value, headers
    limit -= LEFT_OUT_RESERVE
    left: list[str] = []
    total = _finding_count(headers)
    if header(headers, EXCEPTION_STACKTRACE) is not None:
        headers = [(k, v) for k, v in headers if k != EXCEPTION_STACKTRACE]
        left.append("the stack trace")
    if size(key, value, headers) > limit:
        headers = _findings_cut(headers, FINDINGS_KEPT_WHEN_CUT)
    if size(key, value, headers) > limit:
        cut = [
            (
                k,
                v
                if k in DLQ_HEADERS or len(v) <= FOREIGN_HEADER_BYTES
                else v[:FOREIGN_HEADER_BYTES],
            )
            for k, v in headers
        ]
        bulky = sum(
            1 for (_, before), (_, after) in zip(headers, cut, strict=True) if before != after
        )
        if bulky:
            left.append(f"all but {FOREIGN_HEADER_BYTES:,} bytes of {bulky} header value(s)")
        headers = cut
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
    if size(key, value, headers) > limit:
        headers = _findings_cut(headers, FINDINGS_KEPT_AT_LAST)
        message = header(headers, EXCEPTION_MESSAGE) or b""
        if len(message) > MESSAGE_BYTES_AT_LAST:
            headers = [(k, v) for k, v in headers if k != EXCEPTION_MESSAGE]
            headers.append((EXCEPTION_MESSAGE, utf8_prefix(message, MESSAGE_BYTES_AT_LAST)))
            left.append(f"all but {MESSAGE_BYTES_AT_LAST} bytes of the exception message")
    kept = _finding_count(headers)
    if kept < total:
        left.append(f"{total - kept} of {total} findings (the first {kept} kept)")
    if left:
        headers.append((LEFT_OUT, "; ".join(left).encode()))
    return key, value, headers


def _finding_count(headers: Headers) -> int:
    findings = header(headers, FINDINGS)
    return 0 if findings is None else len(json.loads(findings))


def _findings_cut(headers: Headers, kept: int) -> Headers:
    """``headers`` with the findings beyond the first ``kept`` left out, and the bulk of
    the kept ones' long messages and paths."""
    findings = header(headers, FINDINGS)
    if findings is None:
        return headers
    cut = json.loads(findings)[:kept]
    for item in cut:
        item["message"] = str(item.get("message", ""))[:300]
        item["path"] = str(item.get("path") or "")[:300] or None
    return [(k, v) for k, v in headers if k != FINDINGS] + [
        (FINDINGS, json.dumps(cut, ensure_ascii=False).encode())
    ]


def header(headers: Iterable[tuple[str, bytes]], name: str) -> bytes | None:
    found = None
    for key, value in headers:
        if key == name:
            found = value  # the last one wins, as in Spring Kafka
    return found


def header_values(headers: Iterable[tuple[str, bytes]], name: str) -> list[bytes]:
    """Every value of header ``name``, in order: Kafka headers are a list, and a name may
    be given more than once (a Kafka-native sender's conflicting ``kpgw-sender``, Spring's
    ``kafka_dlt-*`` of a letter dead-lettered, replayed and dead-lettered again)."""
    return [value for key, value in headers if key == name]


def sender_values(headers: Iterable[tuple[str, bytes]]) -> tuple[str, ...]:
    """The senders a record's ``kpgw-sender`` headers name, as the translator reads them:
    stripped text, a blank value as none, a value repeated as one; in order. More than one
    is a conflict (the translator dead-letters it as INVALID_INBOUND_HEADER); bytes that
    are not UTF-8 are shown with replacement characters."""
    values: list[str] = []
    for raw in header_values(headers, SENDER):
        text = raw.decode("utf-8", errors="replace").strip()
        if text and text not in values:
            values.append(text)
    return tuple(values)


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


Readable = str | int


def _readable(key: str, raw: bytes) -> Readable:
    number = int_header([(key, raw)], key) if key in _BINARY_NUMBERS else None
    return number if number is not None else raw.decode("utf-8", errors="replace")


def readable_header_list(headers: Iterable[tuple[str, bytes | None]]) -> list[tuple[str, Readable]]:
    """Every header for people, in order, a repeated name as often as it is given: Spring's
    binary numbers as numbers, everything else as UTF-8 text (a null value as empty text,
    bytes that are not UTF-8 with replacement characters)."""
    return [(key, _readable(key, raw)) for key, raw in non_null(headers)]


def readable_headers(
    headers: Iterable[tuple[str, bytes | None]],
) -> dict[str, Readable | list[Readable]]:
    """Headers for people by name (``dlq show --json``, ``tail --json``): a name given once
    has its value, as it always had; a name given more than once has the list of its
    values in order, so no value is hidden behind another."""
    grouped: dict[str, list[Readable]] = {}
    for key, value in readable_header_list(headers):
        grouped.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


#: The worst failure ``smallest_dead_letter_bytes`` sizes a letter for: the longest
#: exception class name, finding code, adapter name and attempt count the gateway writes,
#: with room to spare, and text of three-byte characters.
_WORST_NAME = "x" * 200
_WORST_TEXT = "\u20ac" * 1000


def smallest_dead_letter_bytes(topics: Iterable[str], groups: Iterable[str]) -> int:
    """How large the dead-letter topic's ``max.message.bytes`` must be for every dead
    letter to fit once cut to its last resort (the reason code and the coordinates, one
    finding, 256 bytes of the message, ``kpgw-value-omitted`` and ``kpgw-left-out``):
    the size of that letter for the worst failure of a record read from any of ``topics``
    by any of the consumer ``groups``. A topic below it may hold a partition for good."""
    finding = Finding(_WORST_NAME[:64], _WORST_TEXT, line=2**31 - 1, path=_WORST_TEXT)
    moment = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    sizes = [0]
    for topic in topics:
        for group in groups:
            origin = Origin(topic, 2**31 - 1, 2**63 - 1, 2**63 - 1, group)
            failure = Failure(
                stage="translator",
                reason=_WORST_NAME[:64],
                exception_fqcn=_WORST_NAME,
                message=_WORST_TEXT,
                findings=(finding,) * 50,
                stacktrace=_WORST_TEXT,
                attempts=2**31 - 1,
                first_failed_at=moment,
                adapter=_WORST_NAME[:64],
            )
            full = dlq_headers([("x", b"x" * 5000)] * 2, origin, failure, moment)
            sizes.append(letter_size(*fitted(b"k" * 10**6, b"v" * 10**7, full, origin, 0)))
    return max(sizes)
