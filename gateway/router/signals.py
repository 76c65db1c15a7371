"""Judgements that need the registry or the whole state, not a pair of documents: whether
an exchange is inside digital exchange at all (gates), whether a certificate's USD per
carat fits its origin's band, and the delivery status a sender's message has reached."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from gateway.events import CertificateIssued
from gateway.registry import ParticipantRegistry
from gateway.router.compare import MIXED
from gateway.router.records import (
    GATE_KINDS,
    SEVERITY,
    THIRD_PARTY_KINDS,
    DeliveryState,
    Difference,
    OutcomeKind,
    StatusOutcome,
    third_party_detail,
)
from gateway.router.state import CertificateState, ConfirmationStatus, EmittedOutcome


@dataclass(frozen=True, slots=True)
class Gate:
    """Why an exchange is outside digital exchange: the outcome kind and a sentence."""

    kind: OutcomeKind
    detail: str


def gate(
    registry: ParticipantRegistry, participants: Iterable[str], pair: tuple[str, str] | None
) -> Gate | None:
    """PARTICIPANT_SUSPENDED when one of ``participants`` is suspended (checked first),
    PAIR_NOT_ENABLED when one is not in the registry or the directed ``pair`` is missing or
    not enabled; None when the exchange may proceed. Judged on the registry as it is now."""
    codes = list(dict.fromkeys(participants))
    for code in codes:
        participant = registry.get(code)
        if participant is not None and not registry.is_active(code):
            return Gate(
                OutcomeKind.PARTICIPANT_SUSPENDED, f"{code} ({participant.name}) is suspended"
            )
    for code in codes:
        if registry.get(code) is None:
            return Gate(OutcomeKind.PAIR_NOT_ENABLED, f"{code} is not in the participant registry")
    if pair is not None:
        found = registry.pair(*pair)
        if found is None:
            return Gate(
                OutcomeKind.PAIR_NOT_ENABLED,
                f"the pair {pair[0]}->{pair[1]} has no digital exchange agreement",
            )
        if not found.enabled:
            return Gate(
                OutcomeKind.PAIR_NOT_ENABLED, f"the pair {pair[0]}->{pair[1]} is not enabled"
            )
    return None


@dataclass(frozen=True, slots=True)
class OutOfBand:
    usd_per_carat: Decimal
    low: Decimal
    high: Decimal
    #: the HS code of the one line judged on its own (an industrial line), else None
    hs_code: str | None = None


#: Industrial rough (HS 7102.21) trades at a few to tens of USD/ct, far below an origin's
#: all-goods band: its lines are judged against a band of their own (``usd_per_carat_by_hs``
#: in the registry), else left out of the weighted check and judged alone against the
#: all-goods band's upper end (industrial rough is never worth more than that: value
#: moved onto such a line must not escape the check, a property-based review).
INDUSTRIAL = "7102.21"


def value_out_of_band(cert: CertificateIssued, registry: ParticipantRegistry) -> OutOfBand | None:
    """The certificate's USD per carat when it lies outside the plausible band of its
    goods (the band's ends are inside). Each line is judged with its origin's band (the
    line's own origin, else the certificate's) for its HS code when the registry gives one,
    else the origin's all-goods band; lines with different bands are weighted by their
    carats (rounded to the cent). Industrial lines without a band of their own are left
    out, with their value, and each judged alone: above its origin's all-goods upper end it
    is out of band (``hs_code`` says so) when the rest is not. None when a line's origin is
    unknown or has no band, or nothing is left to judge."""
    low = high = weight = value = Decimal(0)
    bands: set[tuple[Decimal, Decimal]] = set()
    industrial: OutOfBand | None = None
    for line in cert.lines:
        origin = line.origin or (None if cert.origin == MIXED else cert.origin)
        found = _bands_of(origin, registry) if origin else None
        general, by_hs = found if found is not None else (None, {})
        band = by_hs.get(line.hs_code)
        if band is None and line.hs_code == INDUSTRIAL:
            if general is None and origin is None and cert.provenance:
                # mixed origin, the line's own unstated: the provenance's upper end
                general = (_bands_of(cert.provenance, registry) or (None, {}))[0]
            if general is not None and line.carats > 0 and industrial is None:
                ratio = line.value_usd / line.carats
                if ratio > general[1]:
                    industrial = OutOfBand(
                        ratio.quantize(Decimal("0.01")), Decimal(0), general[1], INDUSTRIAL
                    )
            continue
        if found is None or line.carats <= 0:
            return None
        band = band or general
        if band is None:
            return None
        bands.add(band)
        low += band[0] * line.carats
        high += band[1] * line.carats
        weight += line.carats
        value += line.value_usd
    if weight <= 0:
        return industrial
    if len(bands) == 1:
        ((low, high),) = bands
    else:
        cent = Decimal("0.01")
        low, high = (low / weight).quantize(cent), (high / weight).quantize(cent)
    ratio = value / weight
    if low <= ratio <= high:
        return industrial
    return OutOfBand(ratio.quantize(Decimal("0.01")), low, high)


def _bands_of(
    country: str, registry: ParticipantRegistry
) -> tuple[tuple[Decimal, Decimal] | None, Mapping[str, tuple[Decimal, Decimal]]] | None:
    origin = registry.participant_of(country)
    participant = registry.get(origin) if origin else None
    if participant is None:
        return None
    return participant.usd_per_carat, participant.usd_per_carat_by_hs


@dataclass(frozen=True, slots=True)
class Status:
    state: DeliveryState
    reason: str | None = None
    detail: str | None = None
    #: For DISCREPANCY: each field that differs, with the outcome that found it.
    differences: tuple[tuple[OutcomeKind, Difference], ...] = ()
    #: For DISCREPANCY and OVERDUE: the outcomes behind it, with their sentences.
    outcomes: tuple[StatusOutcome, ...] = ()


def delivery_status(
    state: CertificateState, event_id: str, third_party: str | None = None
) -> Status | None:
    """Where the message that carried ``event_id`` stands, from every outcome that has it
    as evidence: DISCREPANCY (reason: the most severe kind, detail: all of them, with
    CONFIRMATION_OVERDUE last while the importer has still not confirmed; a gate outcome
    no longer counts once the event was matched, or for an announced certificate whose
    own gate at arrival has lifted) > MATCHED
    > OVERDUE > ANNOUNCED (an announced certificate without outcomes, with the detail
    "cancelled by its issuer" once voided; a void once the importer was told of it); None
    otherwise. A DISCREPANCY lists the differences of its outcomes, most severe first; a
    DISCREPANCY and an OVERDUE list the outcomes themselves, with what its sender was told
    of each (``_told``). ``third_party``: the sender, when
    it is not party to the certificate: it learns only of THIRD_PARTY_KINDS, no
    differences (they would show the certificate's side) and the sentences of its redacted
    outcomes."""
    visible = None if third_party is None else THIRD_PARTY_KINDS
    found = [
        item
        for item in state.emitted
        if event_id in item.evidence and (visible is None or item.kind in visible)
    ]
    kinds = {item.kind for item in found}
    matched = bool(kinds & {OutcomeKind.MATCHED, OutcomeKind.MATCHED_WITH_DISCREPANCIES})
    cert = state.certificate
    lifted = (
        state.announced and cert is not None and cert.event.event_id == event_id
    )  # announced after all: the certificate's own gate at arrival has lifted

    # Gate outcomes that no longer say where the message stands: its event was matched
    # since, or it is the announced certificate's and the gate was its pair's or its own
    # (a suspended confirmer's gate still shows).
    gates = kinds & GATE_KINDS
    if matched:
        passed = gates
    elif lifted:
        passed = {
            kind
            for kind in gates
            if kind is OutcomeKind.PAIR_NOT_ENABLED or _gated_alone(found, kind, event_id)
        }
    else:
        passed = set()
    bad = [kind for kind in SEVERITY if kind in kinds and kind not in passed]
    # The overdue outcome's evidence is the certificate; the confirmation that matched it
    # afterwards was the late one, and its sender should hear so too.
    late = OutcomeKind.CONFIRMATION_OVERDUE in kinds or (
        matched and visible is None and OutcomeKind.CONFIRMATION_OVERDUE in state.emitted_kinds()
    )
    if bad:
        differences = (
            ()
            if visible is not None
            else tuple(
                (kind, difference)
                for kind in bad
                for item in found
                if item.kind is kind
                for difference in item.differences
            )
        )
        detail = ", ".join(kind.value for kind in bad)
        if OutcomeKind.CONFIRMATION_OVERDUE in kinds and not _importer_confirmed(state):
            # Still unconfirmed by its importer: a diversion's or a band's DISCREPANCY must
            # not hide that from the issuer (a partner review).
            detail += f", {OutcomeKind.CONFIRMATION_OVERDUE.value}"
            bad.append(OutcomeKind.CONFIRMATION_OVERDUE)
        elif late:
            detail += "; confirmed after the deadline"
        told = _told(state, found, bad, third_party)
        return Status(DeliveryState.DISCREPANCY, bad[0].value, detail, differences, told)
    if OutcomeKind.MATCHED in kinds:
        return Status(DeliveryState.MATCHED, None, "confirmed after the deadline" if late else None)
    if late:
        overdue = [OutcomeKind.CONFIRMATION_OVERDUE]
        return Status(
            DeliveryState.OVERDUE,
            OutcomeKind.CONFIRMATION_OVERDUE.value,
            outcomes=_told(state, found, overdue, third_party),
        )
    if cert is None:
        return _awaiting_certificate(state, event_id)
    if not state.announced:
        return None
    cancelled = [void for void in state.voids if void.event.event_id == event_id]
    if cancelled:  # the importer was told of the cancellation (CERTIFICATE_VOIDED)
        return Status(DeliveryState.ANNOUNCED, None, "the importer was told of the cancellation")
    if cert.event.event_id == event_id:
        if state.voids:
            return Status(DeliveryState.ANNOUNCED, None, "cancelled by its issuer")
        return Status(DeliveryState.ANNOUNCED)
    return None


def _told(
    state: CertificateState,
    found: list[EmittedOutcome],
    kinds: list[OutcomeKind],
    third_party: str | None,
) -> tuple[StatusOutcome, ...]:
    """Each outcome of ``kinds`` among ``found``, in that order, as its sender was told of
    it: the outcome's own sentence and value band, or for a third party the redacted
    sentence of its WRONG_DESTINATION (the outcome's own names the certificate's importer).
    An ORPHAN_CONFIRMATION's sentence stays: it was decided before any certificate came."""
    told = []
    for kind in kinds:
        for item in found:
            if item.kind is not kind:
                continue
            if third_party is None:
                told.append(StatusOutcome(kind, item.detail, item.value_band))
            elif kind is OutcomeKind.WRONG_DESTINATION:
                told.append(
                    StatusOutcome(kind, third_party_detail(state.certificate_id, third_party))
                )
            else:
                told.append(StatusOutcome(kind, item.detail))
    return tuple(told)


#: The reason of a confirmation's TRANSLATED status while it waits for its certificate.
AWAITING_CERTIFICATE = "AWAITING_CERTIFICATE"


def _awaiting_certificate(state: CertificateState, event_id: str) -> Status | None:
    """A confirmation that came before its certificate: still TRANSLATED, but its sender
    learns why nothing else happens yet (a new-user review could not tell it from a
    router that had not reached it)."""
    if any(
        item.event.event_id == event_id and item.status is ConfirmationStatus.WAITING
        for item in state.confirmations
    ):
        return Status(
            DeliveryState.TRANSLATED,
            AWAITING_CERTIFICATE,
            f"no certificate {state.certificate_id} has been accepted yet (one refused or "
            "dead-lettered does not count: it is sent again or replayed once fixed): the "
            "confirmation is compared with it when it comes, and reported as "
            "ORPHAN_CONFIRMATION if none comes within the orphan window",
        )
    return None


def _gated_alone(found: list[EmittedOutcome], kind: OutcomeKind, event_id: str) -> bool:
    """Every ``kind`` outcome of the event has it as its only evidence (the certificate's
    own gate at arrival, not a confirmation's)."""
    return all(item.evidence == (event_id,) for item in found if item.kind is kind)


def _importer_confirmed(state: CertificateState) -> bool:
    cert = state.issued
    return cert is not None and any(
        item.status is ConfirmationStatus.JUDGED
        and item.payload.confirming_participant == cert.importing_participant
        for item in state.confirmations
    )
