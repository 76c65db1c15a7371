"""Dead-letter publishing, shared by the translator and the router.

The publisher writes with the caller's producer, so inside a worker's transaction the dead
letter, the status update and the input offset commit together (exactly once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from gateway.dlq.headers import MAX_DEAD_LETTER_BYTES, Failure, Origin, dlq_headers, fitted
from gateway.text import audit_text

log = structlog.get_logger(__name__)


class Sender(Protocol):
    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, **kwargs: Any
    ) -> Any: ...


class DeadLetterPublisher:
    def __init__(self, topic: str, limit: int = MAX_DEAD_LETTER_BYTES) -> None:
        self.topic = topic
        self.limit = limit

    async def publish(
        self,
        producer: Sender,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        origin: Origin,
        failure: Failure,
        now: datetime | None = None,
    ) -> Any:
        """Send the dead letter; returns its delivery future, which the caller must check
        before its transaction commits (``Outbox.watch``)."""
        moment = now or datetime.now(UTC)
        key, value, written = fitted(
            key, value, dlq_headers(headers, origin, failure, moment), origin, self.limit
        )
        delivery = await producer.send(self.topic, value=value, key=key, headers=written)
        log.warning(
            "dead_lettered",
            reason=failure.reason,
            stage=failure.stage,
            attempts=failure.attempts,
            original_topic=origin.topic,
            original_partition=origin.partition,
            original_offset=origin.offset,
            # The message may quote the document (a field's value): bounded, escaped.
            message=audit_text(failure.message),
        )
        return delivery
