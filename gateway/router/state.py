"""The router's per-certificate state and its Avro form on ``kp.router.changelog``.

Immutable: the core returns a new :class:`CertificateState` (``dataclasses.replace``) and
never mutates one, so the driver can keep the old one until its transaction commits. The
state holds the canonical events the router needs to compare and forward (never raw XML),
when each was first seen, and what has been emitted, so nothing is emitted twice.

Times are kept at millisecond precision (Avro ``timestamp-millis``), so a state survives
the changelog round trip unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway import codec
from gateway.codec import Encoded
from gateway.events import (
    CertificateEvent,
    CertificateIssued,
    CertificateVoided,
    ImportConfirmed,
    event_from_avro,
    event_to_avro,
    to_millis,
    utc,
)
from gateway.router.records import Difference, OutcomeKind, ValueBand, event_body

#: The codec name of the changelog value schema (``kpgw.events.RouterState.avsc``).
STATE_SCHEMA = "RouterState"


class ConfirmationStatus(StrEnum):
    WAITING = "WAITING"
    """No certificate yet: the confirmation waits for it (orphan window)."""
    ORPHANED = "ORPHANED"
    """ORPHAN_CONFIRMATION was emitted; still compared if the certificate comes later."""
    JUDGED = "JUDGED"
    """Compared with the certificate; its outcomes were emitted."""
    GATED = "GATED"
    """Not compared: the pair is not enabled or a participant is suspended."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A canonical event kept in the state, with the instant the router first saw it."""

    event: CertificateEvent
    first_seen: datetime
    #: ``event``'s Avro body, spliced into the changelog and notifications (``stored_body``)
    body: Encoded | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StoredConfirmation:
    event: CertificateEvent
    first_seen: datetime
    status: ConfirmationStatus
    body: Encoded | None = field(default=None, compare=False, repr=False)

    @property
    def payload(self) -> ImportConfirmed:
        payload = self.event.payload
        assert isinstance(payload, ImportConfirmed)
        return payload


@dataclass(frozen=True, slots=True)
class EmittedOutcome:
    """An outcome already emitted: its kind, id and evidence (for "once" and for status),
    and what the evidence's status tells of it: its differences, its sentence and, for
    VALUE_PER_CARAT_OUT_OF_BAND, the value and the band (None in a state from before
    RouterState v5)."""

    kind: OutcomeKind
    outcome_id: str
    evidence: tuple[str, ...]
    differences: tuple[Difference, ...] = ()
    detail: str | None = None
    value_band: ValueBand | None = None


@dataclass(frozen=True, slots=True)
class Alias:
    """Another inbound message whose document the router already had (the same bytes
    under a new tracking id, or the same content): its kp.status follows the original's."""

    tracking_id: str
    sender: str
    message_id: str | None
    event_id: str  # the message's own
    original_event_id: str  # the event whose status it shares


@dataclass(frozen=True, slots=True)
class CertificateState:
    """Everything the router knows about one certificate id.

    - ``certificate``: the first ``CertificateIssued`` seen (the reference; a conflicting
      re-issue is reported, never stored in its place).
    - ``announced``: ``ShipmentAnnounced`` went to the importer (the certificate was within
      digital exchange when it arrived); only announced certificates can become overdue.
    - ``confirmations``: every distinct ``ImportConfirmed``, in arrival order.
    - ``voids``: every distinct ``CertificateVoided``, in arrival order.
    - ``other_event_ids``: events seen but not kept (re-sends with identical content,
      conflicting re-issues); with the kept events' ids they make the dedup set.
    - ``aliases``: other messages (tracking ids) whose status follows a kept event's.
    - ``seen_by_sender``: per participant, its seen-only events that are not aliases (a
      copy under a tracking id already known), for its per-sender limit.
    - ``emitted``: outcomes emitted so far.
    - ``last_change``: when the state last changed (start of the retention period).

    There is no "retired" flag: a retired state is deleted (``Decision.state`` None, a
    changelog tombstone), so a flag would never be stored.
    """

    certificate_id: str
    last_change: datetime
    certificate: StoredEvent | None = None
    announced: bool = False
    confirmations: tuple[StoredConfirmation, ...] = ()
    voids: tuple[StoredEvent, ...] = ()
    other_event_ids: tuple[str, ...] = ()
    emitted: tuple[EmittedOutcome, ...] = ()
    aliases: tuple[Alias, ...] = ()
    seen_by_sender: tuple[tuple[str, int], ...] = ()

    @property
    def issued(self) -> CertificateIssued | None:
        if self.certificate is None:
            return None
        payload = self.certificate.event.payload
        assert isinstance(payload, CertificateIssued)
        return payload

    def kept_events(self) -> Iterator[CertificateEvent]:
        if self.certificate is not None:
            yield self.certificate.event
        for confirmation in self.confirmations:
            yield confirmation.event
        for void in self.voids:
            yield void.event

    def event_count(self) -> int:
        """The distinct documents and messages this state has taken in: kept events, events
        only seen, and re-sent messages (an alias of a seen event counts once, not twice)."""
        kept = (self.certificate is not None) + len(self.confirmations) + len(self.voids)
        seen = set(self.other_event_ids)
        # A copy's first message is both a seen id and an alias; its re-sends are aliases;
        # a fuller rendering's own message is both kept and an alias (``followers``).
        first_messages = len(seen & {alias.event_id for alias in self.aliases})
        return kept + len(seen) + len(self.aliases) - first_messages - self._followers()

    def _followers(self, participant: str | None = None) -> int:
        """Aliases that are a kept event's own message (``Step.follow``), not a re-send."""
        own = {(event.event_id, event.source.tracking_id) for event in self.kept_events()}
        return sum(
            1
            for alias in self.aliases
            if (alias.event_id, alias.tracking_id) in own
            and (participant is None or alias.sender == participant)
        )

    def documents_from(self, participant: str) -> int:
        """What ``participant`` sent that this state took in: its kept events and its
        re-sent messages."""
        kept = sum(1 for event in self.kept_events() if event.source.participant == participant)
        aliases = sum(1 for alias in self.aliases if alias.sender == participant)
        followers = self._followers(participant)
        return kept + aliases - followers + dict(self.seen_by_sender).get(participant, 0)

    def original_of(self, event_id: str) -> str:
        """The event whose status a message with ``event_id`` shares: a kept event itself, an
        identical re-send's original, else the id itself (a conflicting re-issue is the
        evidence of its own outcome)."""
        for alias in self.aliases:
            if alias.event_id == event_id:
                return alias.original_event_id
        return event_id

    def knows_tracking_id(self, tracking_id: str) -> bool:
        """A message already counted: a kept event's own, or an alias."""
        if any(alias.tracking_id == tracking_id for alias in self.aliases):
            return True
        return any(event.source.tracking_id == tracking_id for event in self.kept_events())

    def has_seen(self, event_id: str) -> bool:
        """True when an event with this id already went through the router."""
        if event_id in self.other_event_ids:
            return True
        return any(event.event_id == event_id for event in self.kept_events())

    def has_emitted(self, outcome_id: str) -> bool:
        return any(item.outcome_id == outcome_id for item in self.emitted)

    def emitted_kinds(self) -> frozenset[OutcomeKind]:
        return frozenset(item.kind for item in self.emitted)

    def evolve(self, changes: dict[str, Any]) -> CertificateState:
        """``dataclasses.replace(self, **changes)`` without its field introspection (the
        router's hot path builds a few states per event)."""
        get = changes.get
        return CertificateState(
            get("certificate_id", self.certificate_id),
            get("last_change", self.last_change),
            get("certificate", self.certificate),
            get("announced", self.announced),
            get("confirmations", self.confirmations),
            get("voids", self.voids),
            get("other_event_ids", self.other_event_ids),
            get("emitted", self.emitted),
            get("aliases", self.aliases),
            get("seen_by_sender", self.seen_by_sender),
        )

    def void_payloads(self) -> Iterator[tuple[StoredEvent, CertificateVoided]]:
        for void in self.voids:
            payload = void.event.payload
            assert isinstance(payload, CertificateVoided)
            yield void, payload


# --- Avro (kp.router.changelog) ----------------------------------------------------------

Kept = StoredEvent | StoredConfirmation


def stored_body(item: Kept) -> Encoded:
    """The kept event's Avro body: the one it was read with, else encoded once and cached
    on ``item`` (a derived value: the state's content does not change)."""
    if item.body is None:
        object.__setattr__(item, "body", event_body(item.event))
    assert item.body is not None
    return item.body


def _event_dict(item: Kept) -> dict[str, Any]:
    return event_to_avro(item.event)


def _stored_from_avro(record: dict[str, Any]) -> StoredEvent:
    return StoredEvent(event_from_avro(record["event"]), utc(record["first_seen"]))


def state_to_avro(state: CertificateState) -> dict[str, Any]:
    """The Avro-ready ``RouterState`` record: ``gateway.codec.encode("RouterState", ...)``."""
    return _state_record(state, _event_dict)


def state_to_bytes(state: CertificateState) -> bytes:
    """``codec.encode(STATE_SCHEMA, state_to_avro(state))`` byte for byte, with the kept
    events' bodies spliced in instead of encoded at every change."""
    return codec.encode(STATE_SCHEMA, _state_record(state, stored_body))


def _state_record(state: CertificateState, event_value: Callable[[Kept], Any]) -> dict[str, Any]:
    cert = state.certificate
    return {
        "certificate_id": state.certificate_id,
        "certificate": None
        if cert is None
        else {"event": event_value(cert), "first_seen": to_millis(cert.first_seen)},
        "announced": state.announced,
        "confirmations": [
            {
                "event": event_value(item),
                "first_seen": to_millis(item.first_seen),
                "status": item.status.value,
            }
            for item in state.confirmations
        ],
        "voids": [
            {"event": event_value(item), "first_seen": to_millis(item.first_seen)}
            for item in state.voids
        ],
        "other_event_ids": list(state.other_event_ids),
        "aliases": [
            {
                "tracking_id": alias.tracking_id,
                "sender": alias.sender,
                "message_id": alias.message_id,
                "event_id": alias.event_id,
                "original_event_id": alias.original_event_id,
            }
            for alias in state.aliases
        ],
        "emitted": [
            {
                "kind": item.kind.value,
                "outcome_id": item.outcome_id,
                "evidence_event_ids": list(item.evidence),
                "differences": [difference.to_avro() for difference in item.differences],
                "detail": item.detail,
                "value_band": None if item.value_band is None else item.value_band.to_avro(),
            }
            for item in state.emitted
        ],
        "last_change": to_millis(state.last_change),
        "seen_by_sender": dict(state.seen_by_sender),
    }


def state_from_avro(record: dict[str, Any]) -> CertificateState:
    """The state from a record decoded with ``gateway.codec.decode(data, "RouterState")``."""
    certificate = record.get("certificate")
    return CertificateState(
        certificate_id=record["certificate_id"],
        last_change=utc(record["last_change"]),
        certificate=None if certificate is None else _stored_from_avro(certificate),
        announced=bool(record.get("announced", False)),
        confirmations=tuple(
            StoredConfirmation(
                event_from_avro(item["event"]),
                utc(item["first_seen"]),
                ConfirmationStatus(item["status"]),
            )
            for item in record.get("confirmations", [])
        ),
        voids=tuple(_stored_from_avro(item) for item in record.get("voids", [])),
        other_event_ids=tuple(record.get("other_event_ids", [])),
        aliases=tuple(
            Alias(
                item["tracking_id"],
                item["sender"],
                item.get("message_id"),
                item["event_id"],
                item["original_event_id"],
            )
            for item in record.get("aliases", [])
        ),
        emitted=tuple(
            EmittedOutcome(
                OutcomeKind(item["kind"]),
                item["outcome_id"],
                tuple(item["evidence_event_ids"]),
                tuple(
                    Difference(d["field"], d.get("certificate"), d.get("confirmation"))
                    for d in item.get("differences", [])
                ),
                item.get("detail"),
                None if item.get("value_band") is None else ValueBand.from_avro(item["value_band"]),
            )
            for item in record.get("emitted", [])
        ),
        seen_by_sender=tuple(sorted(record.get("seen_by_sender", {}).items())),
    )
