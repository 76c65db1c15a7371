"""Decide a partition's events again, in order, as the router did: the pure half of
``kpgw router rebuild`` (``gateway.router.rebuild`` reads and writes Kafka).

Each event is decided at its record's timestamp (when the translator wrote it: about when
the live router first saw it), and the timers due before it fire first, each at its own
deadline, as the live router's wall-clock timer would have fired them. The result is the
states the changelog should hold and every record the router would have emitted, each
with its deterministic id: the caller writes only those the topics do not hold yet.

What the live router refused is refused again and counted (undecodable records, a key
that is not the certificate id, a full or too large state, a crash of the core): those
went to the dead-letter queue the first time.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.errors import UndecodableEvent
from gateway.events import CertificateEvent
from gateway.registry import ParticipantRegistry
from gateway.router.core import CertificateStateFull, Decision, decide, tick
from gateway.router.records import DeliveryState, Emission, TopicKind, status_record
from gateway.router.state import CertificateState, state_to_bytes
from gateway.router.timers import RouterConfig, next_deadline
from gateway.router.wire import decode_event

#: Why an event of the history was not taken in (the live router dead-lettered it).
UNDECODABLE = "UNDECODABLE_EVENT"
KEY_MISMATCH = "KEY_MISMATCH"
STATE_FULL = CertificateStateFull.code
STATE_TOO_LARGE = "STATE_TOO_LARGE"
CRASHED = "POISON_PILL"
#: How many ids of outcomes the history does not give a report lists.
UNEXPLAINED_IDS = 100


@dataclass(slots=True)
class History:
    """One partition's states, rebuilt by deciding its events again; feed it the records
    in offset order (``take``), then ``advance`` to the present."""

    registry: ParticipantRegistry
    config: RouterConfig
    max_state_bytes: int
    states: dict[str, CertificateState] = field(default_factory=dict)
    emissions: list[Emission] = field(default_factory=list)
    events: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    _due: list[tuple[datetime, str]] = field(default_factory=list)
    _deadline: dict[str, datetime] = field(default_factory=dict)

    def take(self, key: bytes | None, value: bytes | None, at: datetime) -> None:
        """Decide one ``kp.events`` record written at ``at``."""
        self.advance(at)
        try:
            event, body = decode_event(value)
        except UndecodableEvent:
            self.refused[UNDECODABLE] += 1
            return
        certificate_id = event.certificate_id
        if key is None or key.decode("utf-8", "replace") != certificate_id:
            self.refused[KEY_MISMATCH] += 1
            return
        try:
            decision = decide(
                self.states.get(certificate_id), event, at, self.registry, self.config, body=body
            )
        except CertificateStateFull as exc:
            self.refused[STATE_FULL] += 1
            self._dead_lettered(event, at, exc.reason, exc.message)
            return
        except Exception:  # noqa: BLE001 - the live router dead-lettered it as a poison pill
            self.refused[CRASHED] += 1
            return
        state = decision.state
        if (
            decision.changed
            and state is not None
            and len(state_to_bytes(state)) > self.max_state_bytes
        ):
            self.refused[STATE_TOO_LARGE] += 1
            self._dead_lettered(
                event, at, STATE_TOO_LARGE, "the certificate's state would be too large"
            )
            return
        self.events += 1
        self._apply(certificate_id, decision)

    def advance(self, now: datetime) -> None:
        """Fire every timer due at or before ``now``, each at its own deadline."""
        while self._due and self._due[0][0] <= now:
            deadline, certificate_id = heapq.heappop(self._due)
            if self._deadline.get(certificate_id) != deadline:
                continue  # rescheduled since
            del self._deadline[certificate_id]
            state = self.states.get(certificate_id)
            if state is None:
                continue
            try:
                decision = tick(state, deadline, self.registry, self.config)
            except Exception:  # noqa: BLE001 - the live router logs tick_crashed and goes on
                self.refused[CRASHED] += 1
                continue
            self._apply(certificate_id, decision)

    def _dead_lettered(
        self, event: CertificateEvent, at: datetime, reason: str, detail: str
    ) -> None:
        """The status the live router wrote for an event its core refused."""
        status = status_record(
            event, DeliveryState.DEAD_LETTERED, at, reason=reason, detail=detail[:500]
        )
        if status is not None:
            self.emissions.append(status)

    def _apply(self, certificate_id: str, decision: Decision) -> None:
        self.emissions.extend(decision.emissions)
        if not decision.changed:
            return
        if decision.state is None:
            self.states.pop(certificate_id, None)
            self._deadline.pop(certificate_id, None)
            return
        self.states[certificate_id] = decision.state
        deadline = next_deadline(decision.state, self.registry, self.config)
        if deadline is None:
            self._deadline.pop(certificate_id, None)
        elif self._deadline.get(certificate_id) != deadline:
            self._deadline[certificate_id] = deadline
            heapq.heappush(self._due, (deadline, certificate_id))


#: What a ``kp.status`` record says, as far as a rebuild compares it (``status_gist``).
StatusGist = tuple[Any, ...]


def status_gist(value: Mapping[str, Any]) -> StatusGist:
    """What a status says that a rebuild restates when the topic's last record for the
    message says otherwise: its status, reason and differences, and its outcomes' kinds
    and whether each has its sentence and value band. A status an older version wrote
    (before ``DeliveryStatus`` v3, or by a router whose states kept no sentences) lacks
    those and is restated with them; a sentence already there is kept as written (it is
    what the sender was told with the outcome, which a rebuild does not write again, and
    an overdue's sentence names the instant the live router first saw the certificate,
    which the rebuild only approaches by the record's time stamp)."""
    return (
        value["status"],
        value["reason"],
        tuple(
            (d["outcome"], d["field"], d["certificate"], d["confirmation"])
            for d in value.get("differences") or ()
        ),
        tuple(
            (o["outcome"], o.get("detail") is not None, o.get("value_band") is not None)
            for o in value.get("outcomes") or ()
        ),
    )


@dataclass(slots=True)
class Held:
    """What the topics already hold of a partition's records: outcome ids on
    ``kp.outcomes``, notification ids on the partner topics, the gist of each message's
    last status on ``kp.status``."""

    outcomes: set[str] = field(default_factory=set)
    notifications: set[str] = field(default_factory=set)
    statuses: dict[str, StatusGist] = field(default_factory=dict)


@dataclass(slots=True)
class Missing:
    records: list[Emission] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # by kind
    outcomes_present: int = 0
    #: Held outcomes the history does not give: written by a router without its state.
    outcomes_unexplained: int = 0
    #: Their ids, the first ``UNEXPLAINED_IDS`` in order (for telling partners which to
    #: disregard).
    unexplained_ids: list[str] = field(default_factory=list)
    notifications: int = 0
    statuses: int = 0


def missing_records(emissions: Sequence[Emission], held: Held) -> Missing:
    """Of the records a history emitted, those the topics do not hold, in order: each
    outcome and notification once (by id), and each message's last status when the topic's
    last one for it says otherwise or less (``status_gist``)."""
    missing = Missing()
    given = {str(e.value["outcome_id"]) for e in emissions if e.topic is TopicKind.OUTCOMES}
    missing.outcomes_present = len(given & held.outcomes)
    unexplained = sorted(held.outcomes - given)
    missing.outcomes_unexplained = len(unexplained)
    missing.unexplained_ids = unexplained[:UNEXPLAINED_IDS]
    last_status = {e.key: e for e in emissions if e.topic is TopicKind.STATUS}
    outcomes, notifications = set(held.outcomes), set(held.notifications)
    for emission in emissions:
        if emission.topic is TopicKind.OUTCOMES:
            known = str(emission.value["outcome_id"])
            if known in outcomes:
                continue
            outcomes.add(known)
            missing.outcomes[str(emission.value["outcome"])] += 1
        elif emission.topic is TopicKind.PARTNER:
            known = str(emission.value["notification_id"])
            if known in notifications:
                continue
            notifications.add(known)
            missing.notifications += 1
        else:
            if last_status[emission.key] is not emission:
                continue
            if held.statuses.get(emission.key) == status_gist(emission.value):
                continue
            missing.statuses += 1
        missing.records.append(emission)
    return missing
