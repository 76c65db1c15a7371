"""What the router emits: outcome kinds, deterministic ids and the Avro-ready records.

Every emitted record is an :class:`Emission`: which topic (a participant's partner topic,
``kp.outcomes`` or ``kp.status``), its key and an Avro-ready value for the ``Outcome``,
``PartnerNotification`` or ``DeliveryStatus`` schema (``gateway.codec.encode`` takes it as
is). Ids are uuid5 of the certificate id, the kind and the evidence, so re-processing the
same input after a crash yields records with the same ids.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway import codec
from gateway.codec import Encoded, encode_body
from gateway.events import CertificateEvent, event_to_avro

#: Namespace of the router's deterministic ids (uuid5).
ROUTER_ID_NAMESPACE = uuid.UUID("6f1c1f0e-5a43-4c1e-9d55-4b5057000002")
_NAMESPACE = ROUTER_ID_NAMESPACE.bytes


class OutcomeKind(StrEnum):
    """The ``kpgw.events.OutcomeKind`` symbols the router decides (docs/router.md)."""

    MATCHED = "MATCHED"
    MATCHED_WITH_DISCREPANCIES = "MATCHED_WITH_DISCREPANCIES"
    CONFIRMATION_OVERDUE = "CONFIRMATION_OVERDUE"
    ORPHAN_CONFIRMATION = "ORPHAN_CONFIRMATION"
    DUPLICATE_CONFIRMATION = "DUPLICATE_CONFIRMATION"
    WRONG_DESTINATION = "WRONG_DESTINATION"
    CONFIRMED_AFTER_EXPIRY = "CONFIRMED_AFTER_EXPIRY"
    CONFLICTING_REISSUE = "CONFLICTING_REISSUE"
    CONFIRMED_AFTER_VOID = "CONFIRMED_AFTER_VOID"
    VALUE_PER_CARAT_OUT_OF_BAND = "VALUE_PER_CARAT_OUT_OF_BAND"
    PAIR_NOT_ENABLED = "PAIR_NOT_ENABLED"
    PARTICIPANT_SUSPENDED = "PARTICIPANT_SUSPENDED"
    VOIDED_AFTER_RECEIPT = "VOIDED_AFTER_RECEIPT"


#: Outcomes that say "this exchange is outside digital exchange", not "the documents differ".
GATE_KINDS = frozenset({OutcomeKind.PAIR_NOT_ENABLED, OutcomeKind.PARTICIPANT_SUSPENDED})
#: What a participant that is not party to a certificate (neither its exporter nor its
#: importer) may learn about it through its own confirmation: that it was not addressed to
#: it, or that no certificate came. Never the certificate's content (docs/router.md).
THIRD_PARTY_KINDS = frozenset({OutcomeKind.WRONG_DESTINATION, OutcomeKind.ORPHAN_CONFIRMATION})
#: The differences of one outcome that its evidence's delivery status lists (the outcome
#: on kp.outcomes and the partner topics carries all of them).
MAX_STATUS_DIFFERENCES = 20
#: Most severe first: the ``reason`` of a DISCREPANCY status is the first of these present.
SEVERITY = (
    OutcomeKind.CONFLICTING_REISSUE,
    OutcomeKind.DUPLICATE_CONFIRMATION,
    OutcomeKind.WRONG_DESTINATION,
    OutcomeKind.CONFIRMED_AFTER_VOID,
    OutcomeKind.VOIDED_AFTER_RECEIPT,
    OutcomeKind.ORPHAN_CONFIRMATION,
    OutcomeKind.CONFIRMED_AFTER_EXPIRY,
    OutcomeKind.VALUE_PER_CARAT_OUT_OF_BAND,
    OutcomeKind.PARTICIPANT_SUSPENDED,
    OutcomeKind.PAIR_NOT_ENABLED,
    OutcomeKind.MATCHED_WITH_DISCREPANCIES,
)


class NotificationType(StrEnum):
    SHIPMENT_ANNOUNCED = "SHIPMENT_ANNOUNCED"
    CERTIFICATE_VOIDED = "CERTIFICATE_VOIDED"
    IMPORT_CONFIRMED = "IMPORT_CONFIRMED"
    OUTCOME = "OUTCOME"


class DeliveryState(StrEnum):
    """The ``DeliveryStatus.status`` values the router writes (the others are upstream's)."""

    TRANSLATED = "TRANSLATED"  # with reason AWAITING_CERTIFICATE: a confirmation waits
    ANNOUNCED = "ANNOUNCED"
    MATCHED = "MATCHED"
    DISCREPANCY = "DISCREPANCY"
    OVERDUE = "OVERDUE"
    DEAD_LETTERED = "DEAD_LETTERED"  # an event the core refused (CertificateStateFull)


class TopicKind(StrEnum):
    PARTNER = "partner"
    OUTCOMES = "outcomes"
    STATUS = "status"


_EVENT = "kpgw.events.CertificateEvent"
_SCHEMAS = {
    TopicKind.PARTNER: "PartnerNotification",
    TopicKind.OUTCOMES: "Outcome",
    TopicKind.STATUS: "DeliveryStatus",
}


@dataclass(frozen=True, slots=True)
class Emission:
    """One record to produce.

    ``key`` is the certificate id, except on ``kp.status`` where it is the tracking id (the
    topic is compacted by tracking id, DESIGN.md section 2). ``participant`` is set only for
    ``TopicKind.PARTNER``. ``value`` is Avro-ready for :attr:`schema`.
    """

    topic: TopicKind
    key: str
    value: dict[str, Any]
    participant: str | None = None
    #: The Avro body, when known, of the record this emission embeds (the event a
    #: notification forwards, the outcome of an OUTCOME notification) or, on kp.outcomes,
    #: of the outcome itself: ``to_bytes`` copies it instead of encoding it again.
    body: Encoded | None = field(default=None, compare=False, repr=False)

    @property
    def schema(self) -> str:
        """The ``gateway.codec`` top-level schema name of :attr:`value`."""
        return _SCHEMAS[self.topic]

    def to_bytes(self) -> bytes:
        """``codec.encode(self.schema, self.value)``, byte for byte, faster."""
        body = self.body
        if body is None:
            return codec.encode(self.schema, self.value)
        if self.topic is TopicKind.OUTCOMES:
            return codec.encode(self.schema, body)
        embedded = "event" if body.name == _EVENT else "outcome"
        return codec.encode(self.schema, {**self.value, embedded: body})

    def topic_name(self, prefix: str = "kp.") -> str:
        if self.topic is TopicKind.PARTNER:
            return f"{prefix}partner.{self.participant}"
        return f"{prefix}{self.topic.value}"


@dataclass(frozen=True, slots=True)
class Difference:
    """One field that differs. For CONFLICTING_REISSUE and DUPLICATE_CONFIRMATION the two
    columns hold the earlier and the later document of the same kind."""

    field: str
    certificate: str | None
    confirmation: str | None

    def to_avro(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "certificate": self.certificate,
            "confirmation": self.confirmation,
        }


@dataclass(frozen=True, slots=True)
class ValueBand:
    """The USD per carat a VALUE_PER_CARAT_OUT_OF_BAND outcome found and the band of its
    origin it lies outside, decimals as text with their scale; ``low`` None: the band has
    no lower end (an industrial line judged against its origin's upper end only)."""

    usd_per_carat: str
    low: str | None
    high: str
    #: the HS code of the one line judged alone, else None (the whole certificate)
    hs_code: str | None = None

    def to_avro(self) -> dict[str, Any]:
        return {
            "usd_per_carat": self.usd_per_carat,
            "low": self.low,
            "high": self.high,
            "hs_code": self.hs_code,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> ValueBand:
        return cls(value["usd_per_carat"], value.get("low"), value["high"], value.get("hs_code"))


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """One outcome behind a delivery status, as the message's sender may learn of it: its
    kind, its sentence and, for the value band, the value and the band."""

    kind: OutcomeKind
    detail: str | None = None
    value_band: ValueBand | None = None

    def to_avro(self) -> dict[str, Any]:
        return {
            "outcome": self.kind.value,
            "detail": self.detail,
            "value_band": None if self.value_band is None else self.value_band.to_avro(),
        }


def third_party_detail(certificate_id: str, participant: str) -> str:
    """The sentence a participant that is not party to a certificate is told with its
    WRONG_DESTINATION: nothing of the certificate but that it is not addressed to it."""
    return (
        f"certificate {certificate_id} is not addressed to {participant}; "
        "the confirmation does not count as its receipt, and the issuing "
        "participant has been told"
    )


def outcome_id(certificate_id: str, kind: OutcomeKind | str, evidence: Iterable[str]) -> str:
    """uuid5 of the certificate, the kind and the evidence ids (sorted: arrival order does
    not change the id)."""
    return uuid5("|".join(("outcome", certificate_id, str(kind), *sorted(evidence))))


def notification_id(
    certificate_id: str, kind: NotificationType, recipient: str, subject_id: str
) -> str:
    """uuid5 of the certificate, the notification type, the recipient and the subject (the
    forwarded event's id or the outcome's id)."""
    return uuid5("|".join(("notification", certificate_id, kind.value, recipient, subject_id)))


def uuid5(name: str) -> str:
    """``str(uuid.uuid5(ROUTER_ID_NAMESPACE, name))`` without the UUID objects (RFC 4122
    section 4.3: SHA-1 of namespace and name, version 5, RFC 4122 variant)."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE + name.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def outcome_record(
    *,
    certificate_id: str,
    kind: OutcomeKind,
    pair: tuple[str, str],
    evidence: Sequence[str],
    decided_at: datetime,
    differences: Sequence[Difference] = (),
    detail: str | None = None,
    known_id: str | None = None,
) -> dict[str, Any]:
    """The ``Outcome`` record; ``known_id``: its ``outcome_id`` when already computed."""
    return {
        "outcome_id": known_id or outcome_id(certificate_id, kind, evidence),
        "certificate_id": certificate_id,
        "outcome": kind.value,
        "pair": {"exporter": pair[0], "importer": pair[1]},
        "differences": [difference.to_avro() for difference in differences],
        "evidence_event_ids": list(evidence),
        "decided_at": decided_at,
        "detail": detail,
    }


def event_body(event: CertificateEvent) -> Encoded:
    """The Avro body of ``event`` (``CertificateEvent`` schema), to be spliced into the
    records that embed it."""
    return encode_body("CertificateEvent", event_to_avro(event))


def outcome_body(outcome: dict[str, Any]) -> Encoded:
    """The Avro body of an ``Outcome`` record: written once, on kp.outcomes and in every
    OUTCOME notification."""
    return encode_body("Outcome", outcome)


class EventValue(Mapping[str, Any]):
    """``event_to_avro(event)``, built on first use: the ``event`` of a notification's
    value, which the driver does not need when it copies the event's body."""

    __slots__ = ("_event", "_value")

    def __init__(self, event: CertificateEvent) -> None:
        self._event = event
        self._value: dict[str, Any] | None = None

    def _avro(self) -> dict[str, Any]:
        if self._value is None:
            self._value = event_to_avro(self._event)
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._avro()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._avro())

    def __len__(self) -> int:
        return len(self._avro())


def event_notification(
    kind: NotificationType,
    recipient: str,
    event: CertificateEvent,
    created_at: datetime,
    body: Encoded | None = None,
    *,
    confirmation_due: datetime | None = None,
) -> Emission:
    """Forward a canonical event (announcement, void, confirmation) to ``recipient``;
    ``body``: the event's Avro body when known; ``confirmation_due``: for an announcement,
    when the importer's confirmation is due."""
    value = {
        "notification_id": notification_id(event.certificate_id, kind, recipient, event.event_id),
        "notification_type": kind.value,
        "certificate_id": event.certificate_id,
        "recipient": recipient,
        "created_at": created_at,
        "event": EventValue(event),
        "outcome": None,
        "confirmation_due": confirmation_due,
    }
    return Emission(TopicKind.PARTNER, event.certificate_id, value, recipient, body)


def outcome_notification(
    recipient: str, outcome: dict[str, Any], body: Encoded | None = None
) -> Emission:
    """Tell ``recipient`` about an outcome; ``body``: the outcome's Avro body when known."""
    certificate_id: str = outcome["certificate_id"]
    value = {
        "notification_id": notification_id(
            certificate_id, NotificationType.OUTCOME, recipient, outcome["outcome_id"]
        ),
        "notification_type": NotificationType.OUTCOME.value,
        "certificate_id": certificate_id,
        "recipient": recipient,
        "created_at": outcome["decided_at"],
        "event": None,
        "outcome": outcome,
        "confirmation_due": None,
    }
    return Emission(TopicKind.PARTNER, certificate_id, value, recipient, body)


def status_record(
    event: CertificateEvent,
    status: DeliveryState,
    updated_at: datetime,
    *,
    reason: str | None = None,
    detail: str | None = None,
    differences: Sequence[tuple[OutcomeKind, Difference]] = (),
    outcomes: Sequence[StatusOutcome] = (),
) -> Emission | None:
    """The ``kp.status`` record of ``event``'s inbound message, or None without a tracking
    id (a record that did not come through the ingress)."""
    source = event.source
    if source.tracking_id is None:
        return None
    return message_status_record(
        source.tracking_id,
        source.participant,
        source.message_id,
        event.certificate_id,
        status=status,
        updated_at=updated_at,
        reason=reason,
        detail=detail,
        differences=differences,
        outcomes=outcomes,
    )


def message_status_record(
    tracking_id: str,
    sender: str,
    message_id: str | None,
    certificate_id: str,
    *,
    status: DeliveryState,
    updated_at: datetime,
    reason: str | None = None,
    detail: str | None = None,
    differences: Sequence[tuple[OutcomeKind, Difference]] = (),
    outcomes: Sequence[StatusOutcome] = (),
) -> Emission:
    """The ``kp.status`` record of one inbound message (an event's own, or a re-send's
    that shares its status); ``differences``: each with the outcome that found it;
    ``outcomes``: the outcomes behind it, with their sentences."""
    value = {
        "tracking_id": tracking_id,
        "sender": sender,
        "message_id": message_id,
        "certificate_id": certificate_id,
        "status": status.value,
        "reason": reason,
        "detail": detail,
        "differences": [
            {"outcome": kind.value, **difference.to_avro()} for kind, difference in differences
        ],
        "outcomes": [outcome.to_avro() for outcome in outcomes],
        "updated_at": updated_at,
    }
    return Emission(TopicKind.STATUS, tracking_id, value)
