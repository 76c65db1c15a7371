"""Canonical certificate events: the typed form of ``schemas/avro/kpgw.events.*.avsc``.

Adapters produce these, the translator encodes them, the router consumes them. Amounts are
``Decimal`` (never float), instants are aware UTC ``datetime``, calendar days are ``date``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

CARATS_QUANTUM = Decimal("0.001")
USD_QUANTUM = Decimal("0.01")
#: The largest values the Avro schemas can carry (decimal precision 15 and 18, int 32-bit):
#: ``gateway.rules`` refuses a document beyond them, so no event ever fails to encode.
MAX_CARATS = Decimal("999999999999.999")
MAX_USD = Decimal("9999999999999999.99")
MAX_PARCELS = 2**31 - 1
#: Namespace for deterministic event ids (uuid5): same input, same id.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c1f0e-5a43-4c1e-9d55-4b5057000001")
_EVENT_ID_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


class EventType(StrEnum):
    CERTIFICATE_ISSUED = "CERTIFICATE_ISSUED"
    IMPORT_CONFIRMED = "IMPORT_CONFIRMED"
    CERTIFICATE_VOIDED = "CERTIFICATE_VOIDED"


def carats(value: Decimal | str | int) -> Decimal:
    return Decimal(value).quantize(CARATS_QUANTUM)


def usd(value: Decimal | str | int) -> Decimal:
    return Decimal(value).quantize(USD_QUANTUM)


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    address: str | None = None
    country: str | None = None
    #: The short name written beside the full one (FTS ``cat_ru:ShortName``), else None.
    short_name: str | None = None


@dataclass(frozen=True, slots=True)
class HsLine:
    hs_code: str
    carats: Decimal
    value_usd: Decimal
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateIssued:
    certificate_number: str
    issuing_participant: str
    exporting_participant: str
    importing_participant: str
    exporter: Party
    importer: Party
    origin: str
    issue_date: date
    expiry_date: date
    parcels: int
    lines: tuple[HsLine, ...]
    total_carats: Decimal
    total_value_usd: Decimal
    authority: str
    exporting_member_state: str | None = None
    importing_member_state: str | None = None
    provenance: str | None = None

    event_type = EventType.CERTIFICATE_ISSUED

    @property
    def sender(self) -> str:
        """The participant entitled to send this document."""
        return self.issuing_participant


@dataclass(frozen=True, slots=True)
class ImportConfirmed:
    certificate_number: str
    confirming_participant: str
    date_of_receipt: date
    importer: Party
    parcels: int | None = None
    lines: tuple[HsLine, ...] = ()
    total_carats: Decimal | None = None
    total_value_usd: Decimal | None = None
    exporter: Party | None = None
    remarks: str | None = None
    authority: str | None = None
    confirming_member_state: str | None = None

    event_type = EventType.IMPORT_CONFIRMED

    @property
    def sender(self) -> str:
        return self.confirming_participant


@dataclass(frozen=True, slots=True)
class CertificateVoided:
    certificate_number: str
    voiding_participant: str
    voided_on: date
    reason: str

    event_type = EventType.CERTIFICATE_VOIDED

    @property
    def sender(self) -> str:
        return self.voiding_participant


Payload = CertificateIssued | ImportConfirmed | CertificateVoided

#: What a document is, in the words of the CLI, the HTTP API and the generator's manifest.
DocumentKind = Literal["certificate", "confirmation", "void"]


def kind_of(payload: Payload) -> DocumentKind:
    if isinstance(payload, CertificateIssued):
        return "certificate"
    if isinstance(payload, ImportConfirmed):
        return "confirmation"
    return "void"


@dataclass(frozen=True, slots=True)
class EventSource:
    participant: str
    adapter: str
    adapter_version: str
    message_id: str
    raw_sha256: str
    authority: str | None = None
    tracking_id: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateEvent:
    event_id: str
    certificate_id: str
    occurred_at: datetime
    received_at: datetime
    source: EventSource
    payload: Payload = field()

    @property
    def event_type(self) -> EventType:
        return self.payload.event_type


def raw_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def deterministic_event_id(sender: str, raw_digest: str, payload: Payload) -> str:
    """The same sender, bytes and meaning always give the same id, so a replayed or re-sent
    record can never become a second event."""
    event_type = payload.event_type
    # An EventType formats as its value; ``.value`` skips Enum's slower formatting path.
    kind = event_type.value if isinstance(event_type, EventType) else f"{event_type}"
    name = f"{sender}|{raw_digest}|{kind}|{payload.certificate_number}"
    return uuid5_text(_EVENT_ID_NAMESPACE_BYTES, name)


def uuid5_text(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(UUID(bytes=namespace), name))`` without building UUID objects (RFC
    4122 section 4.3: SHA-1 of namespace and name, version 5, variant RFC 4122)."""
    sha1 = hashlib.sha1(namespace + name.encode("utf-8"), usedforsecurity=False)
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def utc(moment: datetime) -> datetime:
    """Aware UTC; naive datetimes are taken as UTC (as the formats we meet intend)."""
    tzinfo = moment.tzinfo
    if tzinfo is UTC:
        return moment
    if tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def read_instant(text: str) -> datetime | None:
    """``text`` as a UTC-comparable instant, or None when it is no ISO 8601 time stamp or
    falls outside the calendar once in UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment


#: The reception times the gateway dates documents by. Kafka's record timestamps count
#: milliseconds from 1970 (a producer may write any negative one, which the broker keeps;
#: -1 means none), and the date rules add a day to the day of reception, which the last
#: day of year 9999 cannot take: outside these, the batch failed at every retry.
EARLIEST_RECEPTION = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_RECEPTION = datetime(9998, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def usable_reception(moment: datetime | None) -> bool:
    return moment is not None and EARLIEST_RECEPTION <= moment <= LATEST_RECEPTION


def record_time(timestamp_ms: int) -> datetime | None:
    """A record's timestamp as a time of reception; None when it is none (negative) or past
    what the gateway dates documents by."""
    if timestamp_ms < 0:
        return None
    try:
        moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if usable_reception(moment) else None


def record_instant(timestamp_ms: int) -> datetime:
    """A record's timestamp as an instant for display and filters: a negative one (none,
    or any a producer wrote) is the epoch, one past the calendar its last moment."""
    try:
        return datetime.fromtimestamp(max(timestamp_ms, 0) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.max.replace(tzinfo=UTC)


def to_millis(moment: datetime) -> datetime:
    """Aware UTC, truncated to whole milliseconds (what Avro timestamp-millis keeps);
    ``moment`` itself when it already is."""
    if moment.tzinfo is UTC and not moment.microsecond % 1000:
        return moment
    moment = utc(moment)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# --- Avro mapping ------------------------------------------------------------------------

_PAYLOAD_NAMES: dict[type[Any], str] = {
    CertificateIssued: "kpgw.events.CertificateIssued",
    ImportConfirmed: "kpgw.events.ImportConfirmed",
    CertificateVoided: "kpgw.events.CertificateVoided",
}


def _party_to_avro(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    return {
        "name": party.name,
        "address": party.address,
        "country": party.country,
        "short_name": party.short_name,
    }


def _line_to_avro(line: HsLine) -> dict[str, Any]:
    return {
        "hs_code": line.hs_code,
        "carats": carats(line.carats),
        "value_usd": usd(line.value_usd),
        "origin": line.origin,
    }


def payload_to_avro(payload: Payload) -> tuple[str, dict[str, Any]]:
    """(record name, record): fastavro's explicit union branch, ~2x faster to write than
    letting it guess among the payload records."""
    record: dict[str, Any] = {}
    for name in payload.__dataclass_fields__:
        value = getattr(payload, name)
        if isinstance(value, Party):
            value = _party_to_avro(value)
        elif name == "lines":
            value = [_line_to_avro(line) for line in value]
        elif name in {"total_carats"} and value is not None:
            value = carats(value)
        elif name in {"total_value_usd"} and value is not None:
            value = usd(value)
        record[name] = value
    return (_PAYLOAD_NAMES[type(payload)], record)


def event_to_avro(event: CertificateEvent) -> dict[str, Any]:
    source = event.source
    return {
        "event_id": event.event_id,
        "event_type": str(event.event_type),
        "certificate_id": event.certificate_id,
        "occurred_at": utc(event.occurred_at),
        "received_at": utc(event.received_at),
        "source": {
            "participant": source.participant,
            "authority": source.authority,
            "adapter": source.adapter,
            "adapter_version": source.adapter_version,
            "message_id": source.message_id,
            "raw_sha256": source.raw_sha256,
            "tracking_id": source.tracking_id,
        },
        "payload": payload_to_avro(event.payload),
    }


def _party_from_avro(data: dict[str, Any] | None) -> Party | None:
    return None if data is None else Party(**data)


def _lines_from_avro(items: list[dict[str, Any]]) -> tuple[HsLine, ...]:
    return tuple(HsLine(**item) for item in items)


def payload_from_avro(name: str, data: dict[str, Any]) -> Payload:
    values = dict(data)
    if "lines" in values:
        values["lines"] = _lines_from_avro(values["lines"])
    for key in ("exporter", "importer"):
        if key in values:
            values[key] = _party_from_avro(values[key])
    short = name.rsplit(".", 1)[-1]
    if short == "CertificateIssued":
        return CertificateIssued(**values)
    if short == "ImportConfirmed":
        return ImportConfirmed(**values)
    if short == "CertificateVoided":
        return CertificateVoided(**values)
    raise ValueError(f"unknown payload record {name}")


def event_from_avro(record: dict[str, Any]) -> CertificateEvent:
    payload = record["payload"]
    if not isinstance(payload, tuple):
        raise TypeError("payload must be decoded with its record name")
    return CertificateEvent(
        event_id=record["event_id"],
        certificate_id=record["certificate_id"],
        occurred_at=record["occurred_at"],
        received_at=record["received_at"],
        source=EventSource(**record["source"]),
        payload=payload_from_avro(payload[0], payload[1]),
    )


def to_json(value: Any) -> Any:
    """JSON-ready form of decoded Avro or dataclass values: decimals as strings, ISO times
    (UTC, "Z") to the millisecond at most, as events carry them (timestamp-millis), not
    "...:17.682000Z"."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        moment = utc(value)
        spec = "milliseconds" if moment.microsecond else "seconds"
        return moment.isoformat(timespec=spec).replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items() if k != "-type"}
    if isinstance(value, list | tuple):
        if (
            len(value) == 2
            and isinstance(value[0], str)
            and value[0].startswith("kpgw.events.")
            and isinstance(value[1], dict)
        ):
            return {"type": value[0].rsplit(".", 1)[-1], **to_json(value[1])}
        return [to_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: to_json(getattr(value, name)) for name in value.__dataclass_fields__}
    return value
