"""Dead-letter publishing, shared by the translator and the router.

The publisher writes with the caller's producer, so inside a worker's transaction the dead
letter, the status update and the input offset commit together (exactly once).

A dead letter is cut to 4 MiB (what ``kpgw topics create`` gives kp.dlq) before it is sent.
A kp.dlq created with a smaller ``max.message.bytes`` refuses a larger one
(``MessageSizeTooLargeError``): the publisher then learns to cut every dead letter to half
the refused size and fails the delivery with ``DeadLetterTooLarge``, a transient error, so
the worker aborts and retries the batch, whose dead letter is cut smaller this time (a
letter cannot be sent again inside the same transaction: the refused batch left a gap in
the idempotent producer's sequence numbers). The limit is learnt from the broker, with no
topic configuration read, a few halvings at most; every cut letter keeps the reason code
and the coordinates, and ``kpgw-value-omitted`` says where a left-out document is."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from aiokafka.errors import MessageSizeTooLargeError

from gateway.dlq.headers import (
    MAX_DEAD_LETTER_BYTES,
    Failure,
    Headers,
    Origin,
    dlq_headers,
    fitted,
    letter_size,
)
from gateway.errors import DeadLetterTooLarge
from gateway.text import audit_text

log = structlog.get_logger(__name__)


class Sender(Protocol):
    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, **kwargs: Any
    ) -> Any: ...


class DeadLetterPublisher:
    def __init__(self, topic: str, limit: int = MAX_DEAD_LETTER_BYTES) -> None:
        self.topic = topic
        #: The size dead letters are cut to: lowered when the broker refused one.
        self.limit = limit

    async def publish(
        self,
        producer: Sender,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
        origin: Origin,
        failure: Failure,
        now: datetime | None = None,
    ) -> Any:
        """Send the dead letter; returns its delivery future, which the caller must check
        before its transaction commits (``Outbox.watch``); refused as too large, it fails
        with ``DeadLetterTooLarge`` and the retried transaction's letter is cut smaller."""
        moment = now or datetime.now(UTC)
        full = dlq_headers(headers, origin, failure, moment)
        letter = fitted(key, value, full, origin, self.limit)
        delivery = await producer.send(
            self.topic, value=letter[1], key=letter[0], headers=letter[2]
        )
        delivery = asyncio.ensure_future(
            self._delivered(delivery, letter, (key, value, full), origin)
        )
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

    async def _delivered(
        self,
        delivery: Any,
        letter: tuple[bytes | None, bytes | None, Headers],
        whole: tuple[bytes | None, bytes | None, Headers],
        origin: Origin,
    ) -> Any:
        """The broker's acknowledgement of ``letter``; refused as too large, a lower limit
        learnt and ``DeadLetterTooLarge`` (retry the transaction) while cutting can make the
        letter smaller."""
        try:
            return await delivery
        except MessageSizeTooLargeError as exc:
            refused = letter_size(*letter)
            smaller = refused // 2
            cut = letter_size(*fitted(*whole, origin, smaller))
            where = f"{origin.topic}/{origin.partition}/{origin.offset}"
            if cut >= refused:  # nothing left to cut: the topic's limit is absurdly low
                log.error(
                    "dead_letter_topic_too_small",
                    topic=self.topic,
                    refused_bytes=refused,
                    original=where,
                    detail=f"{self.topic} refused a {refused:,}-byte dead letter with "
                    "nothing left to cut; raise its max.message.bytes (`kpgw topics check`)",
                )
                raise
            self.limit = min(self.limit, smaller)
            log.warning(
                "dead_letter_too_large_will_cut",
                topic=self.topic,
                refused_bytes=refused,
                limit_bytes=self.limit,
                original=where,
                detail=f"{self.topic} refused the dead letter (its max.message.bytes is lower "
                "than `kpgw topics create` sets): the batch is retried with every dead "
                f"letter cut to {self.limit:,} bytes; `kpgw topics check` says what to set",
            )
            raise DeadLetterTooLarge(
                f"{self.topic} refused a {refused:,}-byte dead letter of {where} as too "
                f"large; it is cut to {self.limit:,} bytes at the retry"
            ) from exc
