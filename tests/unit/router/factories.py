"""Small factories for the router's tests: realistic certificates, confirmations and voids
(RU0123456 from Gokhran to an Antwerp buyer), canonical events around them, and a harness
that feeds a certificate's events through ``decide``/``tick`` and keeps what came out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from gateway import codec
from gateway.events import (
    CertificateEvent,
    CertificateIssued,
    CertificateVoided,
    EventSource,
    HsLine,
    ImportConfirmed,
    Party,
    Payload,
    deterministic_event_id,
    event_to_avro,
    raw_sha256,
)
from gateway.registry import ParticipantRegistry, ParticipantStatus, load_registry
from gateway.router import (
    DEFAULT_CONFIG,
    STATE_SCHEMA,
    CertificateState,
    Decision,
    Emission,
    RouterConfig,
    TopicKind,
    decide,
    state_to_avro,
    tick,
)
from gateway.router.state import state_to_bytes
from gateway.router.wire import decode_event

T0 = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
ISSUED = date(2025, 3, 3)
GOKHRAN = Party("Gokhran of Russia", "Moscow, ul. Smolenskaya 3", "RU")
ANTWERP = Party("Antwerp Rough Trading BV", "Hoveniersstraat 22, 2018 Antwerpen", "BE")
DUBAI = Party("Dubai Rough DMCC", "Almas Tower, JLT, Dubai", "AE")
GOKHRAN_AUTHORITY = "Gokhran of Russia, Ministry of Finance of the Russian Federation"
ANTWERP_AUTHORITY = "FPS Economy, Antwerp Diamond Office (BE)"
#: 1830.550 ct for 159,882.00 USD: 87.34 USD/ct, inside Russia's band (38.8-242.5).
RU_LINES = (
    HsLine("7102.31", Decimal("1520.350"), Decimal("147474.00")),
    HsLine("7102.21", Decimal("310.200"), Decimal("12408.00")),
)


@cache
def registry() -> ParticipantRegistry:
    """The shipped example registry (RU->EU: 14-day deadline, exact; BW->EU: 0.5 %)."""
    return load_registry()


def with_status(code: str, status: ParticipantStatus) -> ParticipantRegistry:
    base = registry()
    participants = dict(base.participants)
    participants[code] = participants[code].model_copy(update={"status": status})
    return base.model_copy(update={"participants": participants})


def with_pair(exporter: str, importer: str, *, enabled: bool) -> ParticipantRegistry:
    """The example registry with the pair exporter -> importer switched on or off."""
    base = registry()
    pairs = tuple(
        pair.model_copy(update={"enabled": enabled})
        if (pair.exporter, pair.importer) == (exporter, importer)
        else pair
        for pair in base.pairs
    )
    return base.model_copy(update={"pairs": pairs})


def certificate(number: str = "RU0123456", **changes: Any) -> CertificateIssued:
    """A Gokhran certificate to an Antwerp buyer; ``changes`` override any field, and new
    ``lines`` recompute the totals unless they are given too."""
    lines = changes.get("lines", RU_LINES)
    base = CertificateIssued(
        certificate_number=number,
        issuing_participant="RU",
        exporting_participant="RU",
        importing_participant="EU",
        importing_member_state="BE",
        exporter=GOKHRAN,
        importer=ANTWERP,
        origin="RU",
        issue_date=ISSUED,
        expiry_date=ISSUED + timedelta(days=60),
        parcels=3,
        lines=lines,
        total_carats=sum((line.carats for line in lines), Decimal(0)),
        total_value_usd=sum((line.value_usd for line in lines), Decimal(0)),
        authority=GOKHRAN_AUTHORITY,
    )
    return replace(base, **changes)


def confirmation(cert: CertificateIssued, **changes: Any) -> ImportConfirmed:
    """The importer's confirmation that matches ``cert`` exactly, received 9 days after
    issue; ``totals_only=True`` gives totals instead of HS lines."""
    totals_only = changes.pop("totals_only", False)
    base = ImportConfirmed(
        certificate_number=cert.certificate_number,
        confirming_participant=cert.importing_participant,
        confirming_member_state=cert.importing_member_state,
        date_of_receipt=cert.issue_date + timedelta(days=9),
        importer=cert.importer,
        exporter=cert.exporter,
        parcels=cert.parcels,
        lines=() if totals_only else cert.lines,
        total_carats=cert.total_carats,
        total_value_usd=cert.total_value_usd,
        remarks="Seals intact",
        authority=ANTWERP_AUTHORITY,
    )
    return replace(base, **changes)


def void(cert: CertificateIssued, **changes: Any) -> CertificateVoided:
    base = CertificateVoided(
        certificate_number=cert.certificate_number,
        voiding_participant=cert.issuing_participant,
        voided_on=cert.issue_date + timedelta(days=5),
        reason="Shipment cancelled by exporter",
    )
    return replace(base, **changes)


def event(payload: Payload, *, copy: str = "", at: datetime = T0) -> CertificateEvent:
    """The canonical event of ``payload``; ``copy`` makes a different inbound message (a
    different event id) with the same content. The tracking id follows the message."""
    sender = payload.sender
    digest = raw_sha256(f"{payload!r}|{copy}".encode())
    event_id = deterministic_event_id(sender, digest, payload)
    return CertificateEvent(
        event_id=event_id,
        certificate_id=payload.certificate_number,
        occurred_at=at,
        received_at=at,
        source=EventSource(
            participant=sender,
            authority=None,
            adapter="uncefact" if sender != "RU" else "ru_fts",
            adapter_version="1.0.0",
            message_id=f"{sender}-{event_id[:8]}",
            raw_sha256=digest,
            tracking_id=f"trk-{event_id[:12]}",
        ),
        payload=payload,
    )


def issued(item: CertificateEvent) -> CertificateIssued:
    """The certificate an event carries (typed)."""
    assert isinstance(item.payload, CertificateIssued)
    return item.payload


class Harness:
    """Feeds one certificate's events through the core, keeping the state and every
    emission; every emission is encoded with its schema on the way (schema-valid)."""

    def __init__(
        self,
        reg: ParticipantRegistry | None = None,
        config: RouterConfig = DEFAULT_CONFIG,
        *,
        wire: bool = False,
    ) -> None:
        """``wire``: feed each event as the driver does, through its Avro encoding (the
        decoded event with its body, which the records then embed as is)."""
        self.registry = reg or registry()
        self.config = config
        self.wire = wire
        self.state: CertificateState | None = None
        self.emissions: list[Emission] = []
        self.written: list[bytes] = []  # every record and changelog state, encoded

    def feed(self, item: CertificateEvent, at: datetime = T0) -> Decision:
        if not self.wire:
            return self._keep(decide(self.state, item, at, self.registry, self.config))
        read, body = decode_event(codec.encode("CertificateEvent", event_to_avro(item)))
        assert read == item and body is not None
        return self._keep(decide(self.state, read, at, self.registry, self.config, body=body))

    def tick(self, at: datetime) -> Decision:
        assert self.state is not None
        return self._keep(tick(self.state, at, self.registry, self.config))

    def _keep(self, decision: Decision) -> Decision:
        """Every record is schema-valid, and what the driver writes (``to_bytes``,
        ``state_to_bytes``) is byte for byte ``codec.encode`` of the Avro-ready values."""
        for emission in decision.emissions:
            data = emission.to_bytes()
            assert data == codec.encode(emission.schema, emission.value)
            codec.decode(data)
            self.written.append(data)
        if decision.changed and decision.state is not None:
            data = state_to_bytes(decision.state)
            assert data == codec.encode(STATE_SCHEMA, state_to_avro(decision.state))
            self.written.append(data)
        self.state = decision.state
        self.emissions.extend(decision.emissions)
        return decision

    def kinds(self) -> list[str]:
        return [e.value["outcome"] for e in self.emissions if e.topic is TopicKind.OUTCOMES]

    def outcomes(self) -> list[dict[str, Any]]:
        return [e.value for e in self.emissions if e.topic is TopicKind.OUTCOMES]

    def outcome(self, kind: str) -> dict[str, Any]:
        found = [
            e.value
            for e in self.emissions
            if e.topic is TopicKind.OUTCOMES and e.value["outcome"] == kind
        ]
        assert len(found) == 1, f"{kind}: {len(found)} outcomes"
        return found[0]

    def partner(self, participant: str) -> list[str]:
        """What ``participant``'s topic got: notification types, outcomes by kind."""
        got = []
        for e in self.emissions:
            if e.topic is TopicKind.PARTNER and e.participant == participant:
                value = e.value
                outcome = value["outcome"]
                got.append(outcome["outcome"] if outcome else value["notification_type"])
        return got

    def status(self, item: CertificateEvent) -> tuple[str, str | None] | None:
        """The last kp.status of ``item``'s message: (status, reason)."""
        tracking_id = item.source.tracking_id
        return None if tracking_id is None else self.statuses().get(tracking_id)

    def status_record(self, item: CertificateEvent) -> dict[str, Any] | None:
        """The last kp.status record of ``item``'s message, whole."""
        found = [
            e.value
            for e in self.emissions
            if e.topic is TopicKind.STATUS and e.key == item.source.tracking_id
        ]
        return found[-1] if found else None

    def statuses(self) -> dict[str, tuple[str, str | None]]:
        """The last kp.status per tracking id: (status, reason)."""
        last: dict[str, tuple[str, str | None]] = {}
        for e in self.emissions:
            if e.topic is TopicKind.STATUS:
                last[e.key] = (e.value["status"], e.value["reason"])
        return last


def restated_only(decision: Decision, before: dict[str, Any] | None) -> bool:
    """A decision on a message seen before: no change, no outcome or notification, and at
    most its status again, the same as ``before`` (the message's last status record) but
    for its time stamp."""
    if decision.changed:
        return False
    if not decision.emissions:
        return before is None
    (only,) = decision.emissions
    if only.topic is not TopicKind.STATUS or before is None:
        return False
    return {**only.value, "updated_at": None} == {**before, "updated_at": None}
