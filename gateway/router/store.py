"""The router's in-memory state of one input partition: the certificate states, their next
wall-clock deadlines in a heap, and the changes of the transaction in progress.

Changes are *staged* while a transaction is open and applied only by ``commit`` (the
transaction committed) or dropped by ``abort``; the timer entries a transaction took are
put back on abort. No Kafka, no asyncio: the driver (``gateway.router.driver``) feeds it.

A restored state may be kept as its changelog bytes with the deadline written beside it
(see ``gateway.router.restore``) and decoded on first use: restoring 100,000 pending
certificates then costs no Avro decoding, and an encoded state takes a fraction of the
memory of the decoded one.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Mapping
from datetime import datetime

import structlog

from gateway import codec
from gateway.registry import ParticipantRegistry
from gateway.router.state import STATE_SCHEMA, CertificateState, state_from_avro
from gateway.router.timers import DEFAULT_CONFIG, RouterConfig, next_deadline

log = structlog.get_logger(__name__)
Entry = tuple[datetime, str]
#: A state kept encoded: its changelog bytes and the deadline written with them.
Encoded = tuple[bytes, datetime | None]
#: A staged state's next deadline as computed under that registry.
Known = tuple[ParticipantRegistry, datetime | None]


def timers_fingerprint(registry: ParticipantRegistry, config: RouterConfig) -> str:
    """What ``next_deadline`` depends on besides the state: the pairs' deadlines and orphan
    windows, the participants and their member states, the retention. A deadline written
    under the same fingerprint is still right."""
    pairs = sorted(
        (p.exporter, p.importer, p.confirmation_deadline_days, p.orphan_window_days)
        for p in registry.pairs
    )
    members = sorted((code, p.member_states) for code, p in registry.participants.items())
    text = repr((pairs, members, config.retention, config.default_orphan_window))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PartitionStore:
    """States by certificate id, with staging and a deadline heap.

    The heap holds ``(deadline, certificate id)``; ``_deadlines`` says which entry is the
    live one for each id, so a superseded entry is skipped when it surfaces (lazy deletion)
    and each id has at most one live entry.
    """

    def __init__(self, partition: int, config: RouterConfig = DEFAULT_CONFIG) -> None:
        self.partition = partition
        self.config = config
        self.states: dict[str, CertificateState | bytes] = {}
        self._deadlines: dict[str, datetime] = {}
        self._heap: list[Entry] = []
        self._staged: dict[str, CertificateState | None] = {}
        self._known: dict[str, Known] = {}
        self._encoded: dict[str, bytes] = {}
        self._taken: list[Entry] = []

    def __len__(self) -> int:
        return len(self.states)

    # --- reading and staging -----------------------------------------------------------------

    def get(self, certificate_id: str) -> CertificateState | None:
        """The state as the open transaction sees it (its staged changes included)."""
        if certificate_id in self._staged:
            return self._staged[certificate_id]
        return self._committed(certificate_id)

    def _committed(self, certificate_id: str, *, keep: bool = True) -> CertificateState | None:
        """``keep``: an encoded state read is kept decoded (it is about to change); a
        look only (a deadline to compute again) leaves it encoded."""
        found = self.states.get(certificate_id)
        if isinstance(found, bytes):
            return self._decode(certificate_id, found, keep=keep)
        return found

    def _decode(self, certificate_id: str, value: bytes, *, keep: bool) -> CertificateState | None:
        """A failure here is a corrupt record: a state a newer router wrote never gets
        here, the restore refuses its partition (``NewerRouterStates``)."""
        try:
            state = state_from_avro(codec.decode(value, STATE_SCHEMA))
        except Exception as exc:  # noqa: BLE001 - our own record is corrupt: log, start afresh
            log.error("stored_state_undecodable", certificate_id=certificate_id, error=repr(exc))
            del self.states[certificate_id]
            return None
        if keep:
            self.states[certificate_id] = state
        return state

    def stage(
        self,
        certificate_id: str,
        state: CertificateState | None,
        deadline: Known | None = None,
        encoded: bytes | None = None,
    ) -> None:
        """Record a change of the open transaction; None deletes (a changelog tombstone).
        ``deadline``: ``(registry, next_deadline(state, registry))`` when the caller has
        computed it already (``commit`` reuses it if the registry is still the same).
        ``encoded``: the state's changelog bytes, to keep instead of the state once
        committed (for a state unlikely to be read again soon)."""
        self._staged[certificate_id] = state
        if encoded is None:
            self._encoded.pop(certificate_id, None)
        else:
            self._encoded[certificate_id] = encoded
        if deadline is None:
            self._known.pop(certificate_id, None)
        else:
            self._known[certificate_id] = deadline

    @property
    def staged(self) -> int:
        return len(self._staged)

    def commit(self, registry: ParticipantRegistry) -> None:
        """The transaction committed: apply its changes and reschedule what it touched."""
        touched = dict.fromkeys(self._staged)
        touched.update(dict.fromkeys(cid for _, cid in self._taken))
        for certificate_id, state in self._staged.items():
            if state is None:
                self.states.pop(certificate_id, None)
            else:
                self.states[certificate_id] = state
        self._staged.clear()
        self._taken.clear()
        for certificate_id in touched:
            known = self._known.get(certificate_id)
            if known is not None and known[0] is registry:
                self._set_deadline(certificate_id, known[1])
            else:
                self._schedule(certificate_id, registry)
        for certificate_id, value in self._encoded.items():
            if certificate_id in self.states:
                self.states[certificate_id] = value
        self._known.clear()
        self._encoded.clear()

    def abort(self) -> None:
        """The transaction aborted: forget its changes, put the timers it took back."""
        self._staged.clear()
        self._known.clear()
        self._encoded.clear()
        for deadline, certificate_id in self._taken:
            if certificate_id not in self._deadlines:
                self._deadlines[certificate_id] = deadline
                heapq.heappush(self._heap, (deadline, certificate_id))
        self._taken.clear()

    # --- timers -------------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """The earliest live deadline (superseded heap entries are dropped on the way)."""
        while self._heap:
            deadline, certificate_id = self._heap[0]
            if self._deadlines.get(certificate_id) == deadline:
                return deadline
            heapq.heappop(self._heap)
        return None

    def has_due(self, now: datetime) -> bool:
        deadline = self.next_due()
        return deadline is not None and deadline <= now

    def take_due(self, now: datetime, limit: int) -> list[str]:
        """Up to ``limit`` certificate ids whose deadline has been reached, earliest first.
        They belong to the open transaction: ``commit`` reschedules them, ``abort`` puts
        them back."""
        due: list[str] = []
        while self._heap and len(due) < limit:
            deadline, certificate_id = self._heap[0]
            if self._deadlines.get(certificate_id) != deadline:
                heapq.heappop(self._heap)
                continue
            if deadline > now:
                break
            heapq.heappop(self._heap)
            del self._deadlines[certificate_id]
            self._taken.append((deadline, certificate_id))
            due.append(certificate_id)
        return due

    def _schedule(self, certificate_id: str, registry: ParticipantRegistry) -> None:
        # A registry change reschedules every state: decoding them all for good would
        # undo keeping settled ones encoded (a code review).
        state = self._committed(certificate_id, keep=False)
        deadline = None if state is None else next_deadline(state, registry, self.config)
        self._set_deadline(certificate_id, deadline)

    def _set_deadline(self, certificate_id: str, deadline: datetime | None) -> None:
        if deadline is None:
            self._deadlines.pop(certificate_id, None)
        elif self._deadlines.get(certificate_id) != deadline:
            self._deadlines[certificate_id] = deadline
            heapq.heappush(self._heap, (deadline, certificate_id))

    # --- restore --------------------------------------------------------------------------------

    def load(
        self,
        states: Mapping[str, CertificateState],
        encoded: Mapping[str, Encoded],
        registry: ParticipantRegistry,
    ) -> None:
        """Replace the content with restored states (no transaction may be open): decoded
        ones are scheduled by ``next_deadline``, encoded ones by their written deadline."""
        self.states = {**encoded_values(encoded), **states}
        self._staged.clear()
        self._known.clear()
        self._encoded.clear()
        self._taken.clear()
        self._deadlines = {cid: d for cid, (_, d) in encoded.items() if d is not None}
        for certificate_id, state in states.items():
            deadline = next_deadline(state, registry, self.config)
            if deadline is not None:
                self._deadlines[certificate_id] = deadline
        self._heap = [(deadline, cid) for cid, deadline in self._deadlines.items()]
        heapq.heapify(self._heap)

    def certificate_ids(self) -> list[str]:
        return list(self.states)

    def reschedule(self, certificate_ids: Iterable[str], registry: ParticipantRegistry) -> None:
        """Recompute these deadlines (the registry changed), decoding encoded states."""
        for certificate_id in certificate_ids:
            if certificate_id in self.states:
                self._schedule(certificate_id, registry)


def encoded_values(encoded: Mapping[str, Encoded]) -> dict[str, CertificateState | bytes]:
    return {cid: value for cid, (value, _) in encoded.items()}
