"""``Idempotency-Key``: the same key and body give the original 202 again; the same key
with another body gives 409. It works across ingress instances and restarts:

- The tracking id is derived, not drawn: ``uuid5(participant, key)``. Every instance and
  every restart computes the same id for the same key, so a replayed 202 is identical.
- The key's body digest comes from ``kp.inbound`` itself: every instance materialises
  ``tracking id -> (sender, sha256 of the record value, received at)`` from the committed
  records' ``kpgw-tracking-id`` headers (``TopicMirror``), and records its own acks at once.
  No extra topic, and only what the broker acknowledged counts.
- Without the header, the key is the document's own message id (``Adapted.message_id``)
  with the body's SHA-256 (the digest alone without synchronous validation): an identical
  re-send is idempotent, and a different document under the same message id is a new
  message, not a 409. A certificate number issued again with other content must reach the
  router, which reports it to both partners as ``CONFLICTING_REISSUE`` (a re-used
  certificate is one of the frauds the platform exists to catch); the router ignores a
  re-send whose bytes differ but whose content does not. Only an explicit key used for
  another body is a 409.

The window, honestly: a key is remembered as long as ``kp.inbound`` keeps the record
(retention 30 days, ``INBOUND_RETENTION_DAYS``); later the same key is accepted again,
under the same tracking id. Each instance forgets its keys on the same schedule, so a
long-running ingress holds 30 days of keys, not every key it ever saw. Two
instances receiving the same key within the mirror's lag (one transaction commit plus a
fetch, typically well under a second) may both accept: with the same body that is two
records with the same tracking id and the same event id, which the translator and router
treat as one; with different bodies the 409 is missed and the router sees both documents
(a ``CONFLICTING_REISSUE`` when the certificate numbers match). Within one instance a
per-key lock serialises requests, so there the rule is exact. An instance answers POST
only after its mirror has caught up with the topic (503 ``not-ready`` before that).
Once both records are in every instance's view, every instance takes the earlier one in
the topic (time stamp, then partition and offset) as the original, so they answer alike
from then on: the other body is a 409 everywhere (before, each instance kept its own
acceptance and they disagreed for good: a scale-out review).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.errors import Finding
from gateway.events import raw_sha256, uuid5_text
from gateway.ingress.position import TopicPosition
from gateway.ingress.problems import Problem
from gateway.kafka.topics import INBOUND_RETENTION_DAYS
from gateway.translator.inbound import Inbound

TRACKING_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:kpgw:tracking-id")
_TRACKING_NAMESPACE_BYTES = TRACKING_NAMESPACE.bytes
MAX_KEY_CHARS = 200
TRACKING_HEADER = "kpgw-tracking-id"


def tracking_id_for(participant: str, key: str) -> str:
    """Deterministic: the same participant and key give the same id everywhere."""
    return uuid5_text(_TRACKING_NAMESPACE_BYTES, f"{participant}\x1f{key}")


def idempotency_key(header: str | Sequence[str] | None, message_id: str | None, digest: str) -> str:
    """The caller's ``Idempotency-Key`` (``header``: its value, or every value it was given),
    else the document's message id and digest, else its digest (module docstring)."""
    if header is not None and not isinstance(header, str):
        given = list(dict.fromkeys(value.strip() for value in header))
        if len(given) > 1:  # the first was taken without a word: which one did the client mean?
            message = (
                f"Idempotency-Key is given {len(given)} times with different values; give it once"
            )
            raise Problem("bad-request", message, (Finding("INVALID_IDEMPOTENCY_KEY", message),))
        header = given[0] if given else None
    if header is not None:
        key = header.strip()
        if not key or len(key) > MAX_KEY_CHARS or not key.isprintable() or not key.isascii():
            message = f"Idempotency-Key must be 1-{MAX_KEY_CHARS} printable ASCII characters"
            raise Problem("bad-request", message, (Finding("INVALID_IDEMPOTENCY_KEY", message),))
        return key
    return f"{message_id}|sha256:{digest}" if message_id else f"sha256:{digest}"


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the ingress (any instance) accepted under a tracking id."""

    sender: str
    sha256: str
    received_at: datetime
    message_id: str | None
    #: Where the record is in kp.inbound: the earlier of two under one key is the original.
    position: TopicPosition | None = None


class IdempotencyIndex:
    """Acceptances by (sender, tracking id). The sender is part of the key because a
    Kafka-native sender writes its own ``kpgw-tracking-id``: a record claiming another
    participant's (predictable) tracking id must not answer that participant's requests
    with 409 or hide its messages (found by a security review)."""

    #: Acceptances remembered between two sweeps of those older than the retention.
    SWEEP_EVERY = 10_000

    def __init__(
        self,
        retention: timedelta = timedelta(days=INBOUND_RETENTION_DAYS),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._entries: dict[tuple[str, str], Accepted] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.retention = retention
        self.clock = clock
        self._since_sweep = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, tracking_id: str, sender: str) -> Accepted | None:
        entry = self._entries.get((sender, tracking_id))
        if entry is None or entry.received_at < self.clock() - self.retention:
            return None  # aged out: kp.inbound no longer holds it either
        return entry

    def remember(self, tracking_id: str, entry: Accepted) -> None:
        """The earliest acceptance in the topic under a tracking id is the original; a
        later one does not replace it (unless it aged past the retention: the key is then
        new again), an earlier one does (another instance's, seen through the mirror)."""
        self._since_sweep += 1
        if self._since_sweep >= self.SWEEP_EVERY:
            self.sweep()
        if entry.received_at < self.clock() - self.retention:
            return  # Kafka deletes whole segments, so aged records still arrive
        known = self.get(tracking_id, entry.sender)
        if known is None or (
            entry.position is not None
            and known.position is not None
            and entry.position.before(known.position)
        ):
            self._entries[(entry.sender, tracking_id)] = entry

    def sweep(self) -> int:
        """Forget the acceptances older than the retention; how many went."""
        self._since_sweep = 0
        oldest = self.clock() - self.retention
        aged = [key for key, entry in self._entries.items() if entry.received_at < oldest]
        for key in aged:
            del self._entries[key]
        return len(aged)

    def apply(self, record: Any) -> None:
        """One committed ``kp.inbound`` record (the mirror's callback)."""
        headers = record.headers or ()
        tracking = [value for name, value in headers if name == TRACKING_HEADER]
        if not tracking:
            return  # a Kafka-native sender without a tracking id: nothing to look up
        coordinates = f"{record.topic}/{record.partition}/{record.offset}"
        inbound = Inbound.of(record.key, headers, record.timestamp, coordinates)
        sender = inbound.sender or ""
        position = TopicPosition.of(record)
        known = self.get(inbound.tracking_id, sender)
        if known is not None and (known.position is None or not position.before(known.position)):
            return  # known already (typically this instance's own record)
        entry = Accepted(
            sender=sender,
            sha256=raw_sha256(record.value or b""),
            received_at=inbound.received_at,
            message_id=inbound.message_id,
            position=position,
        )
        self.remember(inbound.tracking_id, entry)

    def replay(self, tracking_id: str, sender: str, digest: str) -> Accepted | None:
        """The original acceptance when this is a re-send of the same body; a 409
        ``Problem`` when the key was used for another body; None when the key is new."""
        entry = self.get(tracking_id, sender)
        if entry is None:
            return None
        if entry.sha256 != digest:
            message = (
                "this Idempotency-Key (or document message id) was already used for a "
                "different body; send a new message id or key"
            )
            raise Problem(
                "idempotency-conflict", message, (Finding("IDEMPOTENCY_KEY_REUSED", message),)
            )
        return entry

    @contextlib.asynccontextmanager
    async def lock(self, tracking_id: str, deadline: float) -> AsyncIterator[None]:
        """Serialise requests for one tracking id within this instance; waiting for the
        lock past ``deadline`` (event loop time) raises ``TimeoutError``."""
        lock, users = self._locks.get(tracking_id, (asyncio.Lock(), 0))
        self._locks[tracking_id] = (lock, users + 1)
        try:
            if lock.locked():
                async with asyncio.timeout_at(deadline):
                    await lock.acquire()
            else:
                await lock.acquire()  # free: returns at once
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[tracking_id]
            if users <= 1:
                del self._locks[tracking_id]
            else:
                self._locks[tracking_id] = (lock, users - 1)
