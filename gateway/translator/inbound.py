"""The inbound record's headers (DESIGN.md section 2), read and written in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.events import (
    EARLIEST_RECEPTION,
    LATEST_RECEPTION,
    read_instant,
    record_time,
    usable_reception,
)
from gateway.text import describe, off_one_line
from gateway.translation import MAX_MESSAGE_ID_CHARS, InboundMeta

SENDER = "kpgw-sender"
MESSAGE_ID = "kpgw-message-id"
RECEIVED_AT = "kpgw-received-at"
TRACKING_ID = "kpgw-tracking-id"
CONTENT_TYPE = "content-type"
FORMAT = "kpgw-format"


#: The headers the translator reads; each may be given once (or repeated with one value).
READ_HEADERS = (SENDER, MESSAGE_ID, RECEIVED_AT, TRACKING_ID, FORMAT)


def _read(
    headers: Sequence[tuple[str, bytes | None]], name: str, problems: list[str]
) -> str | None:
    """The header's text, None when absent, empty or null (Kafka allows a null header
    value: Java's ``headers.add(name, null)``). Bytes that are not UTF-8, or the header
    repeated with different values, are problems: guessing would put the status under an
    id the sender does not know, or judge the document as another sender's."""
    values: list[str] = []
    for key, raw in headers:
        if key != name or raw is None:
            continue
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            problems.append(
                f"the {name} header is not UTF-8 text (byte {exc.start + 1} of {len(raw):,} is "
                f"0x{raw[exc.start]:02X}); header values are UTF-8"
            )
            return None
        if text and text not in values:
            values.append(text)
    if len(values) > 1:
        shown = ", ".join(repr(value[:40]) for value in values[:3])
        problems.append(
            f"the {name} header is given {len(values)} times with different values ({shown}); "
            "give it once"
        )
        return None
    return values[0] if values else None


def _misspelt(headers: Sequence[tuple[str, bytes | None]]) -> list[str]:
    """Header names are case-sensitive: ``KPGW-Sender`` or ``kpgw_tracking_id`` (a bridge
    that turns hyphens into underscores) would be ignored without a word, and the status
    kept under an id the sender does not look for."""
    problems = []
    for name in dict.fromkeys(key for key, _ in headers):
        meant = name.lower().replace("_", "-")
        if meant in READ_HEADERS and name != meant:
            problems.append(
                f"the header {name[:40]!r} is not read: its name is {meant} (lower case, hyphens)"
            )
    return problems


def _key_text(key: bytes | None, problems: list[str]) -> str | None:
    if not key:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(
            f"the record key is not UTF-8 text and no {TRACKING_ID} header names the message; "
            f"the key is `<sender>:<message id>` in UTF-8, or set {TRACKING_ID}"
        )
        return None


#: Longest tracking id or message id taken from a record: they key kp.status and go into
#: every event and status record (the ingress's are UUIDs and document ids).
MAX_ID_CHARS = MAX_MESSAGE_ID_CHARS


def parse_received_at(text: str | None, fallback_ms: int) -> datetime:
    moment = read_instant(text) if text else None
    return moment or record_time(fallback_ms) or datetime.now(UTC)


#: A participant code is two letters; a format hint is an adapter's name.
MAX_SENDER_CHARS = 16
MAX_FORMAT_CHARS = 64


def _header_problems(
    tracking_id: str | None,
    message_id: str | None,
    received_at: str | None,
    timestamp_ms: int,
    *,
    sender: str | None = None,
    format_hint: str | None = None,
) -> tuple[str, ...]:
    problems = [
        f"the {name} is {len(value):,} characters long; at most {limit} are accepted"
        for name, value, limit in (
            (f"{SENDER} header", sender, MAX_SENDER_CHARS),
            (f"{FORMAT} header", format_hint, MAX_FORMAT_CHARS),
            (f"tracking id ({TRACKING_ID}, else the record key)", tracking_id, MAX_ID_CHARS),
            (f"message id ({MESSAGE_ID})", message_id, MAX_ID_CHARS),
        )
        if value is not None and len(value) > limit
    ]
    problems.extend(
        problem
        for name, value in (
            (f"tracking id ({TRACKING_ID}, else the record key)", tracking_id),
            (f"message id ({MESSAGE_ID})", message_id),
        )
        if value is not None and (problem := _not_one_line(name, value)) is not None
    )
    if received_at is not None:
        moment = read_instant(received_at)
        if moment is None:
            problems.append(
                f"{RECEIVED_AT} {received_at[:40]!r} is not an ISO 8601 time stamp "
                "(e.g. 2026-03-02T10:15:00Z); it dates the document for the date rules"
            )
        elif not usable_reception(moment):
            problems.append(
                f"{RECEIVED_AT} {received_at[:40]!r} lies outside the years "
                f"{EARLIEST_RECEPTION.year} to {LATEST_RECEPTION.year}, in which the gateway "
                "dates documents; give the time the document was received"
            )
    elif record_time(timestamp_ms) is None:
        problems.append(
            f"the record's timestamp ({timestamp_ms:,} ms) is no time of reception (none, or "
            f"outside the years {EARLIEST_RECEPTION.year} to {LATEST_RECEPTION.year}) and no "
            f"{RECEIVED_AT} header gives one; let the producer stamp the record, or set "
            f"{RECEIVED_AT} (ISO 8601)"
        )
    return tuple(problems)


def _not_one_line(name: str, value: str) -> str | None:
    """An id that is not one line of printable text: the message id goes into the event
    partners receive, and both become headers, status keys and URL paths. The document's
    own message id is refused the same way (``TEXT_CONTROL_CHARACTER``); a header's went
    through with an escape sequence or a bidirectional override in it."""
    found = off_one_line(value)
    if found is None:
        return None  # printable, or unprintable as a text may be (a no-break space)
    at, character = found
    return (
        f"the {name} contains {describe(character)} at character {at + 1}: an id is one line "
        "of printable text (it becomes a header, a status key and part of a URL)"
    )


@dataclass(frozen=True, slots=True)
class Inbound:
    key: str | None
    sender: str | None
    message_id: str | None
    tracking_id: str
    received_at: datetime
    format_hint: str | None
    #: What is wrong with the headers a Kafka-native sender wrote; the record is then
    #: dead-lettered (INVALID_INBOUND_HEADER) under its coordinates as tracking id.
    header_problems: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
        timestamp_ms: int,
        coordinates: str,
    ) -> Inbound:
        unusable = _misspelt(headers)
        tracking_header = _read(headers, TRACKING_ID, unusable)
        message_id = _read(headers, MESSAGE_ID, unusable)
        received_at = _read(headers, RECEIVED_AT, unusable)
        sender, format_hint = _read(headers, SENDER, unusable), _read(headers, FORMAT, unusable)
        # A Kafka-native sender may omit a tracking id: the record key, else its coordinates.
        if tracking_header is None:
            text_key = _key_text(key, unusable)
        else:  # the key is then kept as it is, for the record
            text_key = key.decode("utf-8", errors="replace") if key else None
        tracking_id = tracking_header or text_key
        problems = (
            *unusable,
            *_header_problems(
                tracking_id,
                message_id,
                received_at,
                timestamp_ms,
                sender=sender,
                format_hint=format_hint,
            ),
        )
        if problems:  # nothing of the headers is used: the record is dead-lettered as it is
            return cls(
                key=text_key,
                sender=sender if sender and len(sender) <= MAX_SENDER_CHARS else None,
                message_id=None,
                tracking_id=coordinates,
                received_at=record_time(timestamp_ms) or datetime.now(UTC),
                format_hint=None,
                header_problems=problems,
            )
        return cls(
            key=text_key,
            sender=sender,
            message_id=message_id,
            tracking_id=tracking_id or coordinates,
            received_at=parse_received_at(received_at, timestamp_ms),
            format_hint=format_hint,
        )

    def meta(self) -> InboundMeta:
        return InboundMeta(
            sender=self.sender,
            received_at=self.received_at,
            tracking_id=self.tracking_id,
            message_id=self.message_id,
            format_hint=self.format_hint,
        )


def inbound_headers(
    *,
    sender: str,
    message_id: str | None,
    tracking_id: str,
    received_at: datetime,
    format_hint: str | None = None,
) -> list[tuple[str, bytes]]:
    """The inbound record's headers; no ``kpgw-message-id`` when the document's is not
    known (the ingress without synchronous validation), rather than an empty one."""
    headers = [
        (SENDER, sender.encode()),
        *([(MESSAGE_ID, message_id.encode())] if message_id else []),
        (
            RECEIVED_AT,
            received_at.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
            .encode(),
        ),
        (TRACKING_ID, tracking_id.encode()),
        (CONTENT_TYPE, b"application/xml"),
    ]
    if format_hint:
        headers.append((FORMAT, format_hint.encode()))
    return headers


def inbound_key(sender: str, message_id: str) -> bytes:
    return f"{sender}:{message_id}".encode()
