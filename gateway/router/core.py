"""The router's pure core: one certificate's state + one event (or the clock) -> the new
state and the records to emit. No I/O, no asyncio, no clock reading: ``now`` is passed in.

``decide`` and ``tick`` are deterministic functions of their arguments, and every emitted
id is uuid5 of the certificate id, the kind and the evidence event ids. The Kafka driver
feeds them records and writes what they return, in one transaction per batch:

- ``Decision.emissions`` to their topics (``Emission.topic_name(prefix)``, ``key``,
  ``gateway.codec.encode(emission.schema, emission.value)``);
- if ``Decision.changed``: the state to ``kp.router.changelog`` under the certificate id
  (``encode(STATE_SCHEMA, state_to_avro(state))``), or a tombstone when ``state`` is None.

docs/router.md describes every outcome and who receives what.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.codec import Encoded
from gateway.errors import MessageRejected
from gateway.events import (
    CertificateEvent,
    CertificateIssued,
    CertificateVoided,
    ImportConfirmed,
    to_millis,
)
from gateway.registry import ParticipantRegistry
from gateway.registry.model import Pair
from gateway.router import compare
from gateway.router.records import (
    GATE_KINDS,
    MAX_STATUS_DIFFERENCES,
    Difference,
    NotificationType,
    OutcomeKind,
    ValueBand,
)
from gateway.router.signals import gate, value_out_of_band
from gateway.router.state import (
    CertificateState,
    ConfirmationStatus,
    StoredConfirmation,
    StoredEvent,
)
from gateway.router.step import Decision, Step
from gateway.router.timers import (
    DEFAULT_CONFIG,
    RouterConfig,
    orphan_at,
    overdue_at,
    retire_at,
)

__all__ = ["CertificateStateFull", "Decision", "decide", "tick"]


class CertificateStateFull(MessageRejected):
    """One certificate has taken in ``RouterConfig.max_events`` distinct events: a further
    one is refused (the driver dead-letters it) rather than kept."""

    code = "TOO_MANY_EVENTS"


def _refuse_when_full(
    state: CertificateState,
    event: CertificateEvent,
    registry: ParticipantRegistry,
    config: RouterConfig,
) -> None:
    """``CertificateStateFull`` for a new event beyond its sender's share of the state. The
    certificate's issuer and (once the certificate is known) its importing participant
    each may have ``max_events``; every other participant ``max_events_per_sender``, and
    all of them together ``max_events``. So no group of third parties can use up the room
    the issuer's certificate and the importer's confirmation need (ten colluding
    participants could, while one limit counted everyone). The message tells the sender
    only about its own documents."""
    sender = event.source.participant
    cert = state.issued
    issuer = (
        cert.issuing_participant
        if cert is not None
        else registry.participant_of(state.certificate_id[:2])
    )
    parties = {issuer, cert.importing_participant} if cert is not None else {issuer}
    if sender in parties:
        if state.documents_from(sender) >= config.max_events:
            raise CertificateStateFull(
                f"{sender} has already sent {config.max_events} distinct documents or "
                f"messages about certificate {state.certificate_id}, the most the gateway "
                "keeps from one participant; this one is not taken in: ask why new "
                "versions keep coming"
            )
        return
    if state.documents_from(sender) >= config.max_events_per_sender:
        raise CertificateStateFull(
            f"{sender} has already sent {config.max_events_per_sender} documents or re-sent "
            f"messages about certificate {state.certificate_id}, the most a participant "
            "that did not issue it may; this one is not taken in"
        )
    others = state.event_count() - sum(state.documents_from(party) for party in parties if party)
    if others >= config.max_events:
        raise CertificateStateFull(
            f"certificate {state.certificate_id} has already taken in the most documents the "
            f"gateway keeps from participants other than its issuer and importer "
            f"({config.max_events}); this one is not taken in"
        )


def decide(
    state: CertificateState | None,
    event: CertificateEvent,
    now: datetime,
    registry: ParticipantRegistry,
    config: RouterConfig = DEFAULT_CONFIG,
    *,
    body: Encoded | None = None,
) -> Decision:
    """Apply one canonical event from ``kp.events`` to its certificate's state.

    ``state`` is None for a certificate id never seen (or retired). An event whose id was
    already seen returns the state unchanged with no outcome or notification: in the same
    message (a duplicate inbound record) its message's status is written again, in another
    message (a new tracking id) that message shares the original's status; a new event beyond
    ``config.max_events`` raises ``CertificateStateFull``. ``now`` becomes the event's
    first-seen instant (deadlines and orphan windows count from it) and the time stamp of
    the emitted records: pass the input record's timestamp to make a re-run byte-identical,
    or the wall clock to time from processing. ``body``: the event's Avro body as read
    (``codec.decode_with_body``), kept with the state and copied into the records that
    embed the event instead of encoding it again; the records are the same either way.
    """
    moment = to_millis(now)
    if state is None:
        state = CertificateState(certificate_id=event.certificate_id, last_change=moment)
    elif state.certificate_id != event.certificate_id:
        raise ValueError(
            f"event {event.event_id} is for {event.certificate_id}, "
            f"the state for {state.certificate_id}"
        )
    if state.has_seen(event.event_id):
        tracking_id = event.source.tracking_id
        if tracking_id is None:
            return Decision(state)
        if state.knows_tracking_id(tracking_id):
            # The same message again: a sender's retry, two ingress instances taking one
            # key at once, a replayed dead letter. Nothing to decide, but the translator
            # has just written TRANSLATED for the copy, and kp.status keeps the last record
            # per message: without its status again, the message would read "translated"
            # for good (a scale-out review).
            run = _Run(state, moment, registry, config)
            run.restate(tracking_id)
            return Decision(state, tuple(run.emissions))
        # The same bytes in another message (a retry under a new Idempotency-Key): nothing
        # to decide, but that message's status follows the one it repeats. Such messages
        # count towards the limits like new documents: re-sending one file under new keys
        # must not fill a certificate either (a code review).
        _refuse_when_full(state, event, registry, config)
        run = _Run(state, moment, registry, config)
        original = state.original_of(event.event_id)
        run.alias(event, original)
        gated = next(
            (
                kept
                for kept in state.confirmations
                if kept.event.event_id in (event.event_id, original)
                and kept.status is ConfirmationStatus.GATED
            ),
            None,
        )
        if gated is not None:
            run.judge_again(gated)  # the same file sent again once the gate lifted
        elif state.certificate is not None and state.certificate.event.event_id == original:
            run.reopen()
        return run.finish()
    _refuse_when_full(state, event, registry, config)
    run = _Run(state, moment, registry, config)
    run.incoming, run.incoming_body = event, body
    payload = event.payload
    if isinstance(payload, CertificateIssued):
        run.on_certificate(event, payload)
    elif isinstance(payload, ImportConfirmed):
        run.on_confirmation(event, payload)
    else:
        run.on_void(event, payload)
    return run.finish()


def _instant(moment: datetime) -> str:
    """An instant in a detail as the partners' documents write instants: ISO 8601 UTC to
    the millisecond, ``2026-03-16T10:00:00.123Z`` (isoformat gave microseconds and
    ``+00:00``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _discrepancies(differences: tuple[Difference, ...], pair: Pair) -> str:
    """A MATCHED_WITH_DISCREPANCIES in a sentence: the fields that differ and, when carats
    or a value differ, the pair's tolerances they were judged by (the differences carry
    the values)."""
    fields = ", ".join(dict.fromkeys(item.field for item in differences))
    said = f"the confirmation differs from the certificate in {fields}"
    if not any(item.field.endswith(("carats", "value_usd")) for item in differences):
        return said
    carats, value = pair.carats_tolerance_pct, pair.value_tolerance_pct
    if carats or value:
        return f"{said} (tolerances: carats {carats}%, value {value}%)"
    return f"{said} (this pair compares carats and values exactly)"


def tick(
    state: CertificateState,
    now: datetime,
    registry: ParticipantRegistry,
    config: RouterConfig = DEFAULT_CONFIG,
) -> Decision:
    """Fire the wall-clock timers that are due at ``now`` (each deadline inclusive):
    ORPHAN_CONFIRMATION for confirmations that waited their orphan window,
    CONFIRMATION_OVERDUE once when the pair's deadline is reached, and retirement (a None
    state: tombstone) of a settled state whose retention has passed since its last change.
    Before ``timers.next_deadline(state, ...)`` it returns the state unchanged."""
    moment = to_millis(now)
    run = _Run(state, moment, registry, config)
    for confirmation in state.confirmations:
        if confirmation.status is not ConfirmationStatus.WAITING:
            continue
        if moment >= orphan_at(state.certificate_id, confirmation, registry, config):
            run.set_status(confirmation, ConfirmationStatus.ORPHANED)
            if run.primary_of(confirmation) is not None:
                continue  # a fuller copy of a receipt reported (or to be reported) already
            waited = moment - confirmation.first_seen
            run.outcome(
                OutcomeKind.ORPHAN_CONFIRMATION,
                [confirmation.event],
                detail=f"no certificate {state.certificate_id} after {waited.days} days",
            )
    due = overdue_at(state, registry)
    if due is not None and moment >= due and state.certificate is not None:
        cert = state.certificate
        run.outcome(
            OutcomeKind.CONFIRMATION_OVERDUE,
            [cert.event],
            detail=f"no confirmation since {_instant(cert.first_seen)}, due {_instant(due)}",
        )
    if run.changed:
        return run.finish()
    retire = retire_at(state, registry, config)
    if retire is not None and moment >= retire:
        return Decision(None, (), changed=True)
    return Decision(state)


class _Run(Step):
    """Applies one event: a handler per event kind and the judgement of a confirmation."""

    # --- events --------------------------------------------------------------------------

    def on_certificate(self, event: CertificateEvent, cert: CertificateIssued) -> None:
        first = self.state.certificate
        if first is not None:
            original = first.event.payload
            assert isinstance(original, CertificateIssued)
            if compare.same_document(original, cert):
                self.seen_only(event, first.event.event_id)
                self.reopen()  # a certificate held back by a gate, sent again
                return
            differences = compare.document_differences(original, cert)
            reported = self.reported_reissue(differences)
            self.seen_only(event, reported)  # reported: that re-issue again, re-sent
            if reported is not None:
                return
            moved = cert.importing_participant != original.importing_participant
            self.outcome(
                OutcomeKind.CONFLICTING_REISSUE,
                [first.event, event],
                differences=differences,
                detail=f"{cert.certificate_number} issued again with different content",
                importer_view=(
                    f"{cert.certificate_number} was issued again by "
                    f"{cert.exporting_participant} with different content for another "
                    "destination; the issuing participant has been told"
                    if moved
                    else None
                ),
            )
            return
        self.update(certificate=StoredEvent(event, self.now, self.incoming_body))
        exporter, importer = cert.exporting_participant, cert.importing_participant
        blocked = gate(self.registry, (exporter, importer), (exporter, importer))
        if blocked is not None:
            self.outcome(blocked.kind, [event], detail=blocked.detail)
        else:
            self.announce(event, cert)
        # Every confirmation that came first, including those a gate held back then (a
        # suspended confirming participant): judged now, or, still held back, its fraud
        # signals raised beside the gate outcome it already had, so what is reported does
        # not depend on which document came first.
        participants = (exporter, importer)
        for confirmation in self.state.confirmations:
            held_back = confirmation.status is ConfirmationStatus.GATED and gate(
                self.registry,
                (*participants, confirmation.payload.confirming_participant),
                participants,
            )
            if held_back:
                if self.primary_of(confirmation) is None:
                    self.signals_despite_gate(confirmation)
            else:
                self.judge(confirmation)

    def reported_reissue(self, differences: tuple[Difference, ...]) -> str | None:
        """The event id of a conflicting re-issue already reported with exactly these
        differences from the first certificate (so with the same content), else None. The
        re-issue's content is not kept, its outcome's differences are (up to
        ``MAX_STATUS_DIFFERENCES``; beyond, a re-send is reported again)."""
        if len(differences) > MAX_STATUS_DIFFERENCES:
            return None
        for item in self.state.emitted:
            if item.kind is OutcomeKind.CONFLICTING_REISSUE and item.differences == differences:
                return item.evidence[-1]
        return None

    def announce(self, event: CertificateEvent, cert: CertificateIssued) -> None:
        """ShipmentAnnounced to the importer (with the voids already in), and the value
        band: the certificate is within digital exchange."""
        importer = cert.importing_participant
        self.update(announced=True)
        self.touched.setdefault(event.event_id, event)
        # No due date when the importer's confirmation is already here (it waited for
        # this certificate and is judged next).
        waiting = any(
            item.status is not ConfirmationStatus.JUDGED
            and item.payload.confirming_participant == importer
            for item in self.state.confirmations
        )
        self.notify(
            NotificationType.SHIPMENT_ANNOUNCED,
            importer,
            event,
            confirmation_due=None if waiting else overdue_at(self.state, self.registry),
        )
        self.check_value(event, cert)
        for void in self.state.voids:
            self.notify(NotificationType.CERTIFICATE_VOIDED, importer, void.event)
            self.touched.setdefault(void.event.event_id, void.event)

    def reopen(self) -> bool:
        """A certificate a gate held back when it arrived (its pair off, a participant
        suspended), once the gate has lifted and a document about it comes: announced now,
        its deadline counting from now, and the confirmations judged. The router keeps no
        history of the registry, so a new document is the signal; before, such a
        certificate was never announced and could never become overdue."""
        stored, cert = self.state.certificate, self.state.issued
        if stored is None or cert is None or self.state.announced:
            return False
        exporter, importer = cert.exporting_participant, cert.importing_participant
        if gate(self.registry, (exporter, importer), (exporter, importer)) is not None:
            return False
        self.update(certificate=StoredEvent(stored.event, self.now, stored.body))
        self.announce(stored.event, cert)
        for confirmation in self.state.confirmations:
            if confirmation.status is not ConfirmationStatus.JUDGED:
                self.judge(confirmation)
        return True

    def on_confirmation(self, event: CertificateEvent, conf: ImportConfirmed) -> None:
        for kept in self.state.confirmations:
            if compare.is_copy_of(conf, kept.payload):
                self.seen_only(event, kept.event.event_id)
                if kept.status is ConfirmationStatus.GATED:
                    self.judge_again(kept)
                return
        blocked = gate(self.registry, (conf.confirming_participant,), None)
        status = ConfirmationStatus.WAITING if blocked is None else ConfirmationStatus.GATED
        entry = StoredConfirmation(event, self.now, status, self.incoming_body)
        primary = self._primary(event.event_id, conf)
        self.update(confirmations=(*self.state.confirmations, entry))
        if primary is not None:  # its message's status follows the receipt's first's
            self.follow(event, primary.event.event_id)
        cert = self.state.certificate
        if cert is not None:
            self.judge(entry)
        elif blocked is not None and self.primary_of(entry) is None:
            self.outcome(blocked.kind, [event], detail=blocked.detail)
        elif blocked is None and primary is None:
            self.touched.setdefault(event.event_id, event)  # AWAITING_CERTIFICATE

    def judge_again(self, kept: StoredConfirmation) -> None:
        """A confirmation a gate held back (its pair off, a participant suspended) is sent
        again: judged now if the gate has lifted. The router keeps no history of the
        registry, so the sender's re-send is the signal; without it the certificate stayed
        neither matched nor overdue until it retired."""
        if gate(self.registry, (kept.payload.confirming_participant,), None) is not None:
            return
        if self.state.certificate is None:
            self.set_status(kept, ConfirmationStatus.WAITING)
        else:
            self.judge(kept)

    def on_void(self, event: CertificateEvent, void: CertificateVoided) -> None:
        for kept, payload in self.state.void_payloads():
            if payload == void:
                self.seen_only(event, kept.event.event_id)
                return
        stored = StoredEvent(event, self.now, self.incoming_body)
        self.update(voids=(*self.state.voids, stored))
        cert = self.state.issued
        if cert is None:
            return
        if self.state.announced:
            self.notify(NotificationType.CERTIFICATE_VOIDED, cert.importing_participant, event)
            # Both messages' statuses say so: the void's, and the certificate's.
            self.touched.setdefault(event.event_id, event)
            if self.state.certificate is not None:
                certificate_event = self.state.certificate.event
                self.touched.setdefault(certificate_event.event_id, certificate_event)
        for confirmation in self.state.confirmations:
            if confirmation.status in (
                ConfirmationStatus.JUDGED,
                ConfirmationStatus.GATED,
            ) and (self.primary_of(confirmation) is None):
                self.after_void(confirmation, stored, void)

    # --- judgement -----------------------------------------------------------------------

    def judge(self, entry: StoredConfirmation) -> None:
        """Compare a confirmation with the certificate and emit its outcomes."""
        assert self.state.certificate is not None
        if not self.state.announced and self.reopen():
            return  # the gate has lifted: announced, and every confirmation judged
        cert_event = self.state.certificate.event
        cert = self.state.issued
        assert cert is not None
        conf = entry.payload
        exporter, importer = cert.exporting_participant, cert.importing_participant
        participants = (exporter, importer, conf.confirming_participant)
        blocked = gate(self.registry, participants, (exporter, importer))
        primary = self.primary_of(entry)
        if blocked is not None:
            self.set_status(entry, ConfirmationStatus.GATED)
            if primary is None:  # a receipt's gate outcome and signals are told once
                if not self.gate_told(entry):
                    self.outcome(blocked.kind, [cert_event, entry.event], detail=blocked.detail)
                self.signals_despite_gate(entry)
            return
        if primary is not None and primary.status is not ConfirmationStatus.JUDGED:
            self.judge(primary)  # sent again, fuller, once the gate lifted
        judged = [
            kept for kept in self.state.confirmations if kept.status is ConfirmationStatus.JUDGED
        ]
        earlier = [
            kept
            for kept in judged
            if kept.payload.confirming_participant == importer
            and not compare.same_receipt(kept.payload, conf)
        ]
        self.set_status(entry, ConfirmationStatus.JUDGED)
        self.notify(NotificationType.IMPORT_CONFIRMED, exporter, entry.event)
        pair = self.registry.pair(exporter, importer)
        assert pair is not None  # the gate passed
        differences = compare.compare(
            cert, conf, pair.carats_tolerance_pct, pair.value_tolerance_pct
        )
        evidence = [cert_event, entry.event]
        if primary is not None:
            self.fuller_receipt(entry, differences)
            return
        if conf.confirming_participant != importer:
            where = Difference("confirming_participant", importer, conf.confirming_participant)
            self.outcome(
                OutcomeKind.WRONG_DESTINATION,
                evidence,
                differences=(where, *differences),
                detail=f"certificate for {importer} confirmed by {conf.confirming_participant}",
            )
        elif earlier:
            first = earlier[0]
            self.outcome(
                OutcomeKind.DUPLICATE_CONFIRMATION,
                [cert_event, first.event, entry.event],
                differences=compare.document_differences(first.payload, conf),
                detail=f"already confirmed by event {first.event.event_id}",
            )
        elif differences:
            self.outcome(
                OutcomeKind.MATCHED_WITH_DISCREPANCIES,
                evidence,
                differences=differences,
                detail=_discrepancies(differences, pair),
            )
        else:
            self.outcome(OutcomeKind.MATCHED, evidence)
        self.after_expiry_or_void(entry)

    def gate_told(self, entry: StoredConfirmation) -> bool:
        """A gate outcome has this confirmation as evidence already (told when it came
        before its certificate, or before a gated certificate was announced): a
        confirmation held back is reported once, whatever the order (a property review)."""
        event_id = entry.event.event_id
        return any(
            item.kind in GATE_KINDS and event_id in item.evidence for item in self.state.emitted
        )

    def primary_of(self, entry: StoredConfirmation) -> StoredConfirmation | None:
        """The first confirmation of the same receipt that came before ``entry``, or None
        when ``entry`` is the receipt's first, or contradicts one of that receipt's earlier
        renderings (then it is another receipt: a rendering must agree with all of them,
        whatever their order; a code review found "3 parcels, none, 4 parcels" judged
        otherwise than "none, 3, 4"). A receipt's gate outcome, orphan report and signals
        are told once, for its first confirmation; a fuller one adds only differences
        (``fuller_receipt``)."""
        return self._primary(entry.event.event_id, entry.payload)

    def _primary(self, event_id: str, conf: ImportConfirmed) -> StoredConfirmation | None:
        first: StoredConfirmation | None = None
        for kept in self.state.confirmations:
            if kept.event.event_id == event_id:
                break
            other = kept.payload
            if not compare.same_receiver_and_day(other, conf):
                continue
            if not compare.same_receipt(other, conf):
                return None
            first = first or kept
        return first

    def fuller_receipt(
        self, entry: StoredConfirmation, differences: tuple[Difference, ...]
    ) -> None:
        """A receipt already judged, confirmed again with something more (parcels, the
        exporter, per-line goods): not a second shipment, and its date was judged already;
        differences its match did not report make a new MATCHED_WITH_DISCREPANCIES. A
        fuller copy of a receipt flagged as another shipment, or of a diverting
        participant's, adds nothing."""
        cert = self.state.issued
        assert cert is not None
        assert self.state.certificate is not None
        if entry.payload.confirming_participant != cert.importing_participant:
            return
        same_receipt = [
            kept
            for kept in self.state.confirmations
            if kept.event.event_id != entry.event.event_id
            and compare.same_receipt(kept.payload, entry.payload)
        ]
        receipt_ids = {kept.event.event_id for kept in same_receipt}
        matches = [
            item
            for item in self.state.emitted
            if item.kind in (OutcomeKind.MATCHED, OutcomeKind.MATCHED_WITH_DISCREPANCIES)
            and receipt_ids.intersection(item.evidence)
        ]
        if not matches:
            return  # that receipt was another shipment's (DUPLICATE_CONFIRMATION): flagged
        reported = {difference for item in matches for difference in item.differences}
        if any(difference not in reported for difference in differences):
            self.outcome(
                OutcomeKind.MATCHED_WITH_DISCREPANCIES,
                [self.state.certificate.event, entry.event],
                differences=differences,
                detail="a fuller confirmation of the receipt in event "
                f"{same_receipt[0].event.event_id}",
            )

    def signals_despite_gate(self, entry: StoredConfirmation) -> None:
        """A gate holds the comparison back, not the fraud signals: goods confirmed by a
        participant the certificate does not name (a diversion, the gravest case when that
        participant is suspended), received after the expiry or after a void."""
        cert_event = self.state.certificate.event if self.state.certificate else None
        cert = self.state.issued
        if cert_event is None or cert is None:
            return
        conf, importer = entry.payload, cert.importing_participant
        if conf.confirming_participant != importer:
            self.outcome(
                OutcomeKind.WRONG_DESTINATION,
                [cert_event, entry.event],
                differences=(
                    Difference("confirming_participant", importer, conf.confirming_participant),
                ),
                detail=f"certificate for {importer} confirmed by {conf.confirming_participant}",
            )
        self.after_expiry_or_void(entry)

    def after_expiry_or_void(self, entry: StoredConfirmation) -> None:
        cert_event = self.state.certificate.event if self.state.certificate else None
        cert = self.state.issued
        assert cert_event is not None
        assert cert is not None
        conf = entry.payload
        if conf.date_of_receipt > cert.expiry_date:
            self.outcome(
                OutcomeKind.CONFIRMED_AFTER_EXPIRY,
                [cert_event, entry.event],
                differences=(
                    Difference(
                        "date_of_receipt",
                        cert.expiry_date.isoformat(),
                        conf.date_of_receipt.isoformat(),
                    ),
                ),
                detail=f"received {conf.date_of_receipt}, certificate expired {cert.expiry_date}",
            )
        for stored, void in self.state.void_payloads():
            self.after_void(entry, stored, void)

    def after_void(
        self, entry: StoredConfirmation, stored: StoredEvent, void: CertificateVoided
    ) -> None:
        """CONFIRMED_AFTER_VOID when the goods were received on or after the void date;
        VOIDED_AFTER_RECEIPT when the importer had received them before it (a certificate
        used, then cancelled: the shipment would vanish from the exporter's records while
        the importer's count it). Each once per confirmation, for the first such void, and
        the same whichever of the confirmation and the void came first."""
        received = entry.payload.date_of_receipt
        cert = self.state.issued
        if self.state.certificate is None or cert is None:
            return
        if received >= void.voided_on:
            flagged = OutcomeKind.CONFIRMED_AFTER_VOID
            detail = f"received {received}, certificate voided {void.voided_on}: {void.reason}"
        elif entry.payload.confirming_participant == cert.importing_participant:
            flagged = OutcomeKind.VOIDED_AFTER_RECEIPT
            detail = (
                f"voided {void.voided_on} ({void.reason}), after {cert.importing_participant} "
                f"confirmed receiving the goods on {received}"
            )
        else:
            return
        if any(
            item.kind is flagged and entry.event.event_id in item.evidence
            for item in self.state.emitted
        ):
            return  # one signal per confirmation, however many voids it is after
        self.outcome(
            flagged,
            [self.state.certificate.event, entry.event, stored.event],
            differences=(
                Difference("date_of_receipt", void.voided_on.isoformat(), received.isoformat()),
            ),
            detail=detail,
        )

    def check_value(self, event: CertificateEvent, cert: CertificateIssued) -> None:
        found = value_out_of_band(cert, self.registry)
        if found is not None:
            ratio = str(found.usd_per_carat)
            self.outcome(
                OutcomeKind.VALUE_PER_CARAT_OUT_OF_BAND,
                [event],
                differences=(Difference("usd_per_carat", ratio, None),),
                value_band=ValueBand(
                    ratio,
                    None if found.hs_code else str(found.low),
                    str(found.high),
                    found.hs_code,
                ),
                detail=(
                    f"its {found.hs_code} line at {ratio} USD/ct is above {found.high} USD/ct, "
                    "the most its origin's rough of any kind is worth"
                    if found.hs_code
                    else f"{ratio} USD/ct is outside {found.low}-{found.high} USD/ct "
                    + (
                        f"for origin {cert.origin}"
                        if cert.origin != compare.MIXED
                        else "for its lines' origins, weighted by carats"
                    )
                ),
            )
