"""Wall-clock deadlines of a certificate's state: when it becomes overdue, when a waiting
confirmation becomes an orphan, when the state retires. Pure date arithmetic; the instant
to compare with is always passed in (``tick``'s ``now``).

Every deadline is inclusive: a timer whose deadline is *exactly* reached fires
(``now >= deadline``), so "14 days" means "at 14 days to the millisecond, it is late".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.registry import ParticipantRegistry
from gateway.router.records import OutcomeKind
from gateway.router.state import CertificateState, ConfirmationStatus, StoredConfirmation


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """Settings of the pure core that the participant registry does not give.

    ``retention``: how long a settled state (matched, voided, reported overdue or orphan,
    outside digital exchange) is kept after its last change before it is retired and
    tombstoned. The default matches ``RouterSettings.retention_days``: longer than partner
    topics keep their records (365 days), so a late document about a certificate partners
    still have records of is judged against what the router knew.
    ``default_orphan_window``: how long a confirmation waits for its certificate when no
    pair (presumed exporter -> confirming participant) gives ``orphan_window_days``.
    ``max_events``: the distinct events one certificate's state takes in from its issuer,
    from its importer (once the certificate is known), and from all other participants
    together; a further one is refused (``CertificateStateFull``). A real certificate
    sees a handful (itself, a void, a confirmation or two, re-sends); a sender that keeps
    sending new versions of one certificate's documents must not grow its state without
    bound: the whole state is rewritten to the changelog with every change, and the
    broker refuses records over 1 MiB, which would stop the partition.
    ``max_events_per_sender``: the distinct documents one participant other than the
    certificate's issuer and importer may have in it. Without it, any participant could
    use up the third parties' share with confirmations of a number it guessed (numbers
    are sequential); without the separate shares, a few colluding ones could have the
    issuer's certificate and the importer's confirmation refused (security reviews).
    """

    retention: timedelta = timedelta(days=400)
    default_orphan_window: timedelta = timedelta(days=14)
    max_events: int = 100
    max_events_per_sender: int = 10

    @classmethod
    def from_days(cls, retention_days: int, default_orphan_window_days: int = 14) -> RouterConfig:
        return cls(
            retention=timedelta(days=retention_days),
            default_orphan_window=timedelta(days=default_orphan_window_days),
        )


DEFAULT_CONFIG = RouterConfig()


def presumed_exporter(certificate_id: str, registry: ParticipantRegistry) -> str:
    """The participant a certificate number names as its issuer (its ISO-2 prefix; an EU
    member state's prefix gives ``EU``), for a confirmation whose certificate is unknown."""
    prefix = certificate_id[:2].upper()
    return registry.participant_of(prefix) or prefix


def orphan_at(
    certificate_id: str,
    confirmation: StoredConfirmation,
    registry: ParticipantRegistry,
    config: RouterConfig = DEFAULT_CONFIG,
) -> datetime:
    """When a waiting confirmation becomes ORPHAN_CONFIRMATION: first seen + the orphan
    window of the pair presumed exporter -> confirming participant (else the default)."""
    pair = registry.pair(
        presumed_exporter(certificate_id, registry), confirmation.payload.confirming_participant
    )
    window = (
        timedelta(days=pair.orphan_window_days)
        if pair is not None
        else config.default_orphan_window
    )
    return confirmation.first_seen + window


def overdue_at(state: CertificateState, registry: ParticipantRegistry) -> datetime | None:
    """When CONFIRMATION_OVERDUE is due, or None when it cannot become due.

    Due = the certificate's first-seen instant (when ShipmentAnnounced went to the importer)
    + the pair's ``confirmation_deadline_days``. Only for an announced, not voided
    certificate that the importing participant has not confirmed (a confirmation by another
    participant does not count) and that was not reported overdue already.
    """
    cert = state.issued
    if cert is None or state.certificate is None or not state.announced or state.voids:
        return None
    if any(item.kind == OutcomeKind.CONFIRMATION_OVERDUE for item in state.emitted):
        return None
    for confirmation in state.confirmations:
        if (
            confirmation.status in (ConfirmationStatus.JUDGED, ConfirmationStatus.GATED)
            and confirmation.payload.confirming_participant == cert.importing_participant
        ):
            return None
    pair = registry.pair(cert.exporting_participant, cert.importing_participant)
    if pair is None:
        return None
    return state.certificate.first_seen + timedelta(days=pair.confirmation_deadline_days)


def is_settled(state: CertificateState, registry: ParticipantRegistry) -> bool:
    """Nothing is awaited: no confirmation waits for its certificate and no overdue is due."""
    waiting = any(c.status is ConfirmationStatus.WAITING for c in state.confirmations)
    return not waiting and overdue_at(state, registry) is None


def retire_at(
    state: CertificateState,
    registry: ParticipantRegistry,
    config: RouterConfig = DEFAULT_CONFIG,
) -> datetime | None:
    """When a settled state retires (last change + retention); None while something is
    awaited."""
    if not is_settled(state, registry):
        return None
    return state.last_change + config.retention


def next_deadline(
    state: CertificateState,
    registry: ParticipantRegistry,
    config: RouterConfig = DEFAULT_CONFIG,
) -> datetime | None:
    """The earliest instant at which ``tick`` would change this state (orphan, overdue or
    retirement), or None when no timer is pending. ``tick`` before it is a no-op, so the
    driver may keep states in a heap ordered by this and tick only those that are due."""
    candidates = [
        orphan_at(state.certificate_id, confirmation, registry, config)
        for confirmation in state.confirmations
        if confirmation.status is ConfirmationStatus.WAITING
    ]
    due = overdue_at(state, registry)
    if due is not None:
        candidates.append(due)
    elif not candidates:  # settled (is_settled): only the retirement is ahead
        candidates.append(state.last_change + config.retention)
    return min(candidates, default=None)
