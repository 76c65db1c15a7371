"""``GET /v1/messages/{tracking_id}``: where a sender's message is now.

The view is ``kp.status`` (compacted, keyed by tracking id) materialised in memory by a
``TopicMirror``: the translator writes TRANSLATED / DEAD_LETTERED, the router ANNOUNCED /
MATCHED / DISCREPANCY / OVERDUE; the last record of a tracking id wins. A message this
gateway accepted that ``kp.status`` does not mention yet is ``accepted`` (from the
idempotency index, itself materialised from ``kp.inbound``). A participant sees only its
own messages: anyone else's tracking id is 404, exactly like an unknown one, so ids leak
nothing. Before a 404, both views are read to the topics' current end (at most a second:
``TopicMirror.read_to_end``), so the status URL of a 202 answers on any instance at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway import codec
from gateway.ingress.idempotency import IdempotencyIndex
from gateway.kafka.topics import STATUS_RETENTION_DAYS

#: DeliveryStatus.status -> the API's word.
STATES = {
    "ACCEPTED": "accepted",
    "TRANSLATED": "translated",
    "DEAD_LETTERED": "dead-lettered",
    "ANNOUNCED": "announced",
    "MATCHED": "matched",
    "DISCREPANCY": "discrepancy",
    "OVERDUE": "overdue",
    "UNKNOWN": "accepted",  # a state newer than this reader: at least it was accepted
}


@dataclass(frozen=True, slots=True)
class StatusEntry:
    sender: str
    status: str
    reason: str | None
    detail: str | None
    certificate_id: str | None
    updated_at: datetime
    #: For a discrepancy: {outcome, field, certificate, confirmation} per difference.
    differences: tuple[dict[str, str | None], ...] = ()
    #: For a discrepancy or an overdue: {outcome, detail, value_band} per outcome.
    outcomes: tuple[dict[str, Any], ...] = ()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StatusView:
    """Statuses by tracking id, then by sender: a status written for another sender under
    the same tracking id (a Kafka-native sender chooses its own) is never shown to, nor
    replaces, the participant's own."""

    #: Records between two sweeps of the statuses that aged past the retention.
    SWEEP_EVERY = 10_000

    def __init__(
        self,
        retention: timedelta = timedelta(days=STATUS_RETENTION_DAYS),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._entries: dict[str, dict[str, StatusEntry]] = {}
        self.retention = retention
        self.clock = clock
        self._since_sweep = 0

    def __len__(self) -> int:
        return sum(len(by_sender) for by_sender in self._entries.values())

    def apply(self, record: Any) -> None:
        """One committed ``kp.status`` record (the mirror's callback); a tombstone forgets."""
        key = record.key.decode("utf-8", "replace") if record.key else None
        if record.value is None:
            if key is not None:
                self._entries.pop(key, None)
            return
        value = codec.decode(record.value, "DeliveryStatus")
        updated = value["updated_at"]
        if isinstance(updated, int):
            updated = datetime.fromtimestamp(updated / 1000, tz=UTC)
        self._since_sweep += 1
        if self._since_sweep >= self.SWEEP_EVERY:
            self.sweep()
        if updated < self.clock() - self.retention:
            return  # aged out (Kafka deletes whole segments, so old records still arrive)
        by_sender = self._entries.setdefault(str(value["tracking_id"]), {})
        by_sender[str(value["sender"])] = StatusEntry(
            sender=str(value["sender"]),
            status=STATES.get(str(value["status"]), "accepted"),
            reason=value.get("reason"),
            detail=value.get("detail"),
            certificate_id=value.get("certificate_id"),
            updated_at=updated,
            differences=tuple(
                {
                    "outcome": item["outcome"],
                    "field": item["field"],
                    "certificate": item.get("certificate"),
                    "confirmation": item.get("confirmation"),
                }
                for item in value.get("differences", [])
            ),
            outcomes=tuple(_outcome(item) for item in value.get("outcomes", [])),
        )

    def sweep(self) -> int:
        """Forget the statuses not updated within the retention; how many went."""
        self._since_sweep = 0
        oldest = self.clock() - self.retention
        gone = 0
        for tracking_id in list(self._entries):
            by_sender = self._entries[tracking_id]
            for sender in [s for s, entry in by_sender.items() if entry.updated_at < oldest]:
                del by_sender[sender]
                gone += 1
            if not by_sender:
                del self._entries[tracking_id]
        return gone

    def lookup(
        self, tracking_id: str, participant: str, accepted: IdempotencyIndex
    ) -> dict[str, Any] | None:
        """The status document, or None when unknown or not ``participant``'s."""
        entry = self._entries.get(tracking_id, {}).get(participant)
        if entry is not None:
            return {
                "tracking_id": tracking_id,
                "status": entry.status,
                "reason": entry.reason,
                "detail": entry.detail,
                "certificate_id": entry.certificate_id,
                "differences": [dict(item) for item in entry.differences],
                "outcomes": [
                    {**item, "value_band": _copy(item["value_band"])} for item in entry.outcomes
                ],
                "updated_at": iso(entry.updated_at),
            }
        original = accepted.get(tracking_id, participant)
        if original is None:
            return None
        return {
            "tracking_id": tracking_id,
            "status": "accepted",
            "reason": None,
            "detail": None,
            "certificate_id": None,
            "differences": [],
            "outcomes": [],
            "updated_at": iso(original.received_at),
        }


def _outcome(item: dict[str, Any]) -> dict[str, Any]:
    """One ``StatusOutcome`` as the API shows it."""
    band = item.get("value_band")
    return {
        "outcome": item["outcome"],
        "detail": item.get("detail"),
        "value_band": None
        if band is None
        else {
            "usd_per_carat": band["usd_per_carat"],
            "low": band.get("low"),
            "high": band["high"],
            "hs_code": band.get("hs_code"),
        },
    }


def _copy(band: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if band is None else dict(band)
