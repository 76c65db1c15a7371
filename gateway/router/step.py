"""The machinery of one router step: a copy-on-write state, the records emitted so far,
who receives an outcome, and the kp.status records at the end. ``gateway.router.core``
builds the decisions on it; ``Decision`` is what the driver gets back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.codec import Encoded
from gateway.events import CertificateEvent, ImportConfirmed
from gateway.registry import ParticipantRegistry
from gateway.router.records import (
    GATE_KINDS,
    MAX_STATUS_DIFFERENCES,
    THIRD_PARTY_KINDS,
    Difference,
    Emission,
    NotificationType,
    OutcomeKind,
    TopicKind,
    ValueBand,
    event_notification,
    message_status_record,
    outcome_body,
    outcome_id,
    outcome_notification,
    outcome_record,
    status_record,
    third_party_detail,
)
from gateway.router.signals import delivery_status
from gateway.router.state import (
    Alias,
    CertificateState,
    ConfirmationStatus,
    EmittedOutcome,
    StoredConfirmation,
    StoredEvent,
)
from gateway.router.timers import RouterConfig, presumed_exporter


@dataclass(frozen=True, slots=True)
class Decision:
    """What the driver does after one ``decide`` or ``tick``.

    ``state``: the new state, or None when the certificate retires (write a tombstone).
    ``emissions``: the records to produce, in order.
    ``changed``: the state differs from the one passed in (write it to the changelog);
    False for a duplicate event or a tick with nothing due.
    """

    state: CertificateState | None
    emissions: tuple[Emission, ...] = ()
    changed: bool = False

    @property
    def tombstone(self) -> bool:
        return self.state is None

    def outcomes(self) -> list[dict[str, Any]]:
        """The ``Outcome`` values among the emissions (on ``kp.outcomes``)."""
        return [e.value for e in self.emissions if e.topic is TopicKind.OUTCOMES]


_LAST: list[tuple[ParticipantRegistry, frozenset[str]]] = []


def _exchanging(registry: ParticipantRegistry) -> frozenset[str]:
    """Participants that appear in a registry pair (have a partner topic); computed once
    per registry version, not per event."""
    if _LAST and _LAST[0][0] is registry:
        return _LAST[0][1]
    found = frozenset(p.exporter for p in registry.pairs) | {p.importer for p in registry.pairs}
    _LAST[:] = [(registry, found)]
    return found


class Step:
    """One decision in progress: a copy-on-write state plus the emissions so far."""

    def __init__(
        self,
        state: CertificateState,
        now: datetime,
        registry: ParticipantRegistry,
        config: RouterConfig,
    ) -> None:
        self.state = state
        self.now = now
        self.registry = registry
        self.config = config
        self.changed = False
        self.emissions: list[Emission] = []
        #: events whose sender gets a kp.status update, by id, in first-touched order
        self.touched: dict[str, CertificateEvent] = {}
        #: messages that became aliases in this step (their status is written at once)
        self.new_aliases: list[Alias] = []
        #: the event being decided and its Avro body as read (None: unknown, or a tick)
        self.incoming: CertificateEvent | None = None
        self.incoming_body: Encoded | None = None
        self._exchanging = _exchanging(registry)

    # --- state ---------------------------------------------------------------------------

    def update(self, **changes: Any) -> None:
        self.state = self.state.evolve(changes)
        self.changed = True

    def set_status(self, confirmation: StoredConfirmation, status: ConfirmationStatus) -> None:
        event_id = confirmation.event.event_id
        self.update(
            confirmations=tuple(
                StoredConfirmation(item.event, item.first_seen, status, item.body)
                if item.event.event_id == event_id
                else item
                for item in self.state.confirmations
            )
        )

    def seen_only(self, event: CertificateEvent, original: str | None) -> None:
        """Remember an event that is not kept; ``original`` when it is an identical re-send
        (its message's status then follows the original's from now on), else its message
        is an alias of itself (a conflicting re-issue: known, so a replay of that very
        message changes nothing, a property review)."""
        self.update(other_event_ids=(*self.state.other_event_ids, event.event_id))
        if not self.alias(event, original or event.event_id):
            self.count_unaliased(event)

    def count_unaliased(self, event: CertificateEvent) -> None:
        """A seen-only event that no alias counts (its message's tracking id was known):
        counted for its sender, or copies varied in their remarks under one tracking id
        would get past the per-sender limit (a property-based review)."""
        counts = dict(self.state.seen_by_sender)
        sender = event.source.participant
        counts[sender] = counts.get(sender, 0) + 1
        self.update(seen_by_sender=tuple(sorted(counts.items())))

    def alias(self, event: CertificateEvent, original_event_id: str) -> bool:
        """Let ``event``'s message (its tracking id) share ``original_event_id``'s status;
        False when that message is known already (nothing to add)."""
        tracking_id = event.source.tracking_id
        if tracking_id is None or self.state.knows_tracking_id(tracking_id):
            return False
        self._add_alias(event, tracking_id, original_event_id)
        return True

    def follow(self, event: CertificateEvent, original_event_id: str) -> None:
        """Let a kept event's message share ``original_event_id``'s status while it has no
        outcome of its own (a fuller rendering of a receipt: it got no status at all)."""
        tracking_id = event.source.tracking_id
        if tracking_id is not None and all(
            alias.tracking_id != tracking_id for alias in self.state.aliases
        ):
            self._add_alias(event, tracking_id, original_event_id)

    def _add_alias(self, event: CertificateEvent, tracking_id: str, original: str) -> None:
        source = event.source
        alias = Alias(tracking_id, source.participant, source.message_id, event.event_id, original)
        self.update(aliases=(*self.state.aliases, alias))
        self.new_aliases.append(alias)

    def finish(self) -> Decision:
        if not self.changed:
            return Decision(self.state)
        self.state = self.state.evolve({"last_change": self.now})
        for event in self.touched.values():
            self._status(event, event.event_id)
        # A kept event's own message that is also an alias (a fuller rendering, a re-issue)
        # already has its status from the loop above: one record per message.
        written = {(event.event_id, event.source.tracking_id) for event in self.touched.values()}
        for alias in self.state.aliases:
            if (alias.event_id, alias.tracking_id) in written:
                continue
            if alias in self.new_aliases or alias.original_event_id in self.touched:
                self._alias_status(alias)
        return Decision(self.state, tuple(self.emissions), changed=True)

    # --- emission ------------------------------------------------------------------------

    def reachable(self, participant: str) -> bool:
        """Has a partner topic (appears in a registry pair) and is active."""
        return participant in self._exchanging and self.registry.is_active(participant)

    def notify(
        self,
        kind: NotificationType,
        recipient: str,
        event: CertificateEvent,
        *,
        confirmation_due: datetime | None = None,
    ) -> None:
        if self.reachable(recipient):
            body = self.body_of(event)
            self.emissions.append(
                event_notification(
                    kind, recipient, event, self.now, body, confirmation_due=confirmation_due
                )
            )

    def body_of(self, event: CertificateEvent) -> Encoded | None:
        """The Avro body of the incoming event or of a kept one, when known."""
        if event is self.incoming:
            return self.incoming_body
        state = self.state
        kept: list[StoredEvent | StoredConfirmation] = [*state.confirmations, *state.voids]
        if state.certificate is not None:
            kept.append(state.certificate)
        return next((item.body for item in kept if item.event is event), None)

    def outcome(
        self,
        kind: OutcomeKind,
        evidence: Sequence[CertificateEvent],
        *,
        differences: Sequence[Difference] = (),
        detail: str | None = None,
        importer_view: str | None = None,
        value_band: ValueBand | None = None,
    ) -> None:
        """Emit one outcome (kp.outcomes + recipients' partner topics) unless its id was
        emitted before. ``importer_view``: the certificate's importer gets the outcome
        without differences and with this detail (the differences are another shipment's).
        ``value_band``: what VALUE_PER_CARAT_OUT_OF_BAND found, kept for the status."""
        ids = tuple(event.event_id for event in evidence)
        certificate_id = self.state.certificate_id
        known_id = outcome_id(certificate_id, kind, ids)
        if self.state.has_emitted(known_id):
            return
        record = outcome_record(
            certificate_id=certificate_id,
            kind=kind,
            pair=self.pair_of(evidence),
            evidence=ids,
            decided_at=self.now,
            differences=differences,
            detail=detail,
            known_id=known_id,
        )
        body = outcome_body(record)
        self.emissions.append(Emission(TopicKind.OUTCOMES, certificate_id, record, None, body))
        importer = None if self.state.issued is None else self.state.issued.importing_participant
        for recipient in self.recipients(kind, evidence):
            if importer_view is not None and recipient == importer:
                private = {**record, "differences": [], "detail": importer_view}
                self.emissions.append(
                    outcome_notification(recipient, private, outcome_body(private))
                )
            elif self.party_to_certificate(recipient):
                self.emissions.append(outcome_notification(recipient, record, body))
            elif kind in THIRD_PARTY_KINDS:
                redacted = self.redacted(record, recipient, evidence)
                self.emissions.append(
                    outcome_notification(recipient, redacted, outcome_body(redacted))
                )
        kept = tuple(differences[:MAX_STATUS_DIFFERENCES])
        emitted = EmittedOutcome(kind, record["outcome_id"], ids, kept, detail, value_band)
        self.update(emitted=(*self.state.emitted, emitted))
        for event in evidence:
            self.touched.setdefault(event.event_id, event)

    def pair_of(self, evidence: Sequence[CertificateEvent]) -> tuple[str, str]:
        cert = self.state.issued
        if cert is not None:
            return cert.exporting_participant, cert.importing_participant
        confirmers = [
            e.payload.confirming_participant
            for e in evidence
            if isinstance(e.payload, ImportConfirmed)
        ]
        exporter = presumed_exporter(self.state.certificate_id, self.registry)
        return exporter, confirmers[0] if confirmers else ""

    def party_to_certificate(self, participant: str) -> bool:
        """The certificate's exporter or importer (anyone, before a certificate is known:
        there is nothing of it to disclose then)."""
        cert = self.state.issued
        return cert is None or participant in (
            cert.exporting_participant,
            cert.importing_participant,
        )

    def redacted(
        self, record: dict[str, Any], recipient: str, evidence: Sequence[CertificateEvent]
    ) -> dict[str, Any]:
        """The outcome as a participant that is not party to the certificate sees it: the
        verdict on its own confirmation, without the certificate's destination, goods,
        values, dates or parties (a confirmation for any number must not become a way to
        read other participants' certificates). ``pair.importer`` is the recipient, as its
        confirmation claimed."""
        own = [
            event.event_id
            for event in evidence
            if isinstance(event.payload, ImportConfirmed)
            and event.payload.confirming_participant == recipient
        ]
        return {
            **record,
            "pair": {"exporter": record["pair"]["exporter"], "importer": recipient},
            "differences": [],
            "evidence_event_ids": own,
            "detail": third_party_detail(record["certificate_id"], recipient),
        }

    def recipients(self, kind: OutcomeKind, evidence: Sequence[CertificateEvent]) -> list[str]:
        """The exporter (or the number's presumed issuer) always; the importer when the
        certificate was announced to it (not for gate outcomes); every participant whose
        confirmation is evidence. Only participants with a partner topic that are active."""
        cert = self.state.issued
        candidates = [
            cert.exporting_participant
            if cert is not None
            else presumed_exporter(self.state.certificate_id, self.registry)
        ]
        if cert is not None and self.state.announced and kind not in GATE_KINDS:
            candidates.append(cert.importing_participant)
        candidates.extend(
            e.payload.confirming_participant
            for e in evidence
            if isinstance(e.payload, ImportConfirmed)
        )
        return [code for code in dict.fromkeys(candidates) if self.reachable(code)]

    def _third_party(self, event: CertificateEvent) -> str | None:
        """``event``'s sender when it is not party to the certificate (its status then tells
        only what its redacted outcomes tell), else None."""
        payload = event.payload
        if isinstance(payload, ImportConfirmed) and not self.party_to_certificate(
            payload.confirming_participant
        ):
            return payload.confirming_participant
        return None

    def restate(self, tracking_id: str) -> None:
        """Write the current status of the message ``tracking_id`` once more (no change to
        the state): a kept event's own, else the one its alias shares."""
        before = len(self.emissions)
        for event in self.state.kept_events():
            if event.source.tracking_id == tracking_id:
                self._status(event, event.event_id)
                if len(self.emissions) > before:
                    return
        for alias in self.state.aliases:
            if alias.tracking_id == tracking_id:
                self._alias_status(alias)
                return

    def _alias_status(self, alias: Alias) -> None:
        """The original's status, for the alias's message; a kept event's own status once
        it has outcomes of its own (a fuller rendering that showed a difference)."""
        original = next(
            (e for e in self.state.kept_events() if e.event_id == alias.original_event_id), None
        )
        third_party = None if original is None else self._third_party(original)
        status = delivery_status(self.state, alias.event_id, third_party) or delivery_status(
            self.state, alias.original_event_id, third_party
        )
        if status is not None:
            self.emissions.append(
                message_status_record(
                    alias.tracking_id,
                    alias.sender,
                    alias.message_id,
                    self.state.certificate_id,
                    status=status.state,
                    updated_at=self.now,
                    reason=status.reason,
                    detail=status.detail,
                    differences=status.differences,
                    outcomes=status.outcomes,
                )
            )

    def _status(self, event: CertificateEvent, about: str) -> None:
        status = delivery_status(self.state, about, self._third_party(event))
        if status is not None:
            record = status_record(
                event,
                status.state,
                self.now,
                reason=status.reason,
                detail=status.detail,
                differences=status.differences,
                outcomes=status.outcomes,
            )
            if record is not None:
                self.emissions.append(record)
