"""Dead-letter publishing, shared by the translator and the router.

The publisher writes with the caller's producer, so inside a worker's transaction the dead
letter, the status update and the input offset commit together (exactly once).

A dead letter is cut to fit ``kp.dlq``: to its ``max.message.bytes``, read from the
broker before the first letter (``gateway.dlq.limit``; 4 MiB as ``kpgw topics create``
makes it) and measured as the broker does, on the record batch, which holds this letter
alone. A letter the broker still refuses (``MessageSizeTooLargeError``: the config was
lowered since, or it could not be read) fails the delivery with ``DeadLetterTooLarge``, a
transient error, so the worker aborts and retries the batch (a letter cannot be sent again
inside the same transaction: the refused batch left a gap in the idempotent producer's
sequence numbers); the limit is read again meanwhile, or, when it cannot be, learnt by
halving the refused size. Every cut letter keeps the reason code and the coordinates, and
``kpgw-value-omitted`` says where a left-out document is.

A ``kp.dlq`` too small for even the smallest letter (the reason and coordinates, at most one
finding and 256 bytes of the message) holds the record's partition: the batch is retried,
nothing is lost, until the topic's limit is raised. That is said precisely once a minute
(``dead_letter_topic_too_small``: the topic, its limit, the size needed and the
``kafka-configs`` command), on ``/metrics`` (``kpgw_dlq_topic_too_small``) and in the
component's ``/readyz``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
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
from gateway.errors import DeadLetterTooLarge, DeadLetterTopicTooSmall
from gateway.kafka.outbox import murmur2
from gateway.metrics import DEAD_LETTER_TOPIC_TOO_SMALL
from gateway.text import audit_text

log = structlog.get_logger(__name__)

#: Reads the dead-letter topic's ``max.message.bytes`` (None: it cannot be read).
LimitReader = Callable[[], Awaitable[int | None]]
#: A letter that needs cutting reads the limit again when it was read longer ago than
#: this: a ``max.message.bytes`` raised at run time stops cutting within a minute.
REREAD_S = 60.0
#: The too-small error is logged at most this often per topic (the batch is retried
#: every few seconds until the config is raised).
TOO_SMALL_LOG_S = 60.0
#: What an operator runs to raise it (and what ``kpgw topics create`` gives kp.dlq).
RECOMMENDED_BYTES = 4 * 1024 * 1024


class Sender(Protocol):
    def create_batch(self) -> Any: ...

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any: ...

    async def partitions_for(self, topic: str) -> Any: ...


async def send_alone(
    producer: Sender, topic: str, key: bytes | None, value: bytes | None, headers: Headers
) -> Any:
    """Send one record in a record batch of its own (its delivery future): the producer's
    ``send`` packs records into batches of up to 16 KiB, which a topic refuses as a whole
    when its limit is below the batch although each record fits. Its partition as the
    default partitioner chooses (murmur2 of the key; any, without one)."""
    batch = producer.create_batch()
    batch.append(timestamp=None, key=key, value=value, headers=headers)
    partitions = sorted(await producer.partitions_for(topic))
    if key is None:
        partition = partitions[time.monotonic_ns() % len(partitions)]
    else:
        partition = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
    return await producer.send_batch(batch, topic, partition=partition)


def raise_command(topic: str, limit: int = RECOMMENDED_BYTES) -> str:
    """The command that raises ``topic``'s record limit."""
    return (
        "kafka-configs --bootstrap-server <broker> --alter --entity-type topics "
        f"--entity-name {topic} --add-config max.message.bytes={limit}"
    )


class DeadLetterPublisher:
    def __init__(
        self,
        topic: str,
        limit: int = MAX_DEAD_LETTER_BYTES,
        *,
        component: str = "",
        read_limit: LimitReader | None = None,
    ) -> None:
        self.topic = topic
        self.component = component
        #: The size (of its record batch) dead letters are cut to.
        self.limit = limit
        #: Where ``limit`` comes from: ``default`` (nothing read), ``config`` (the topic's
        #: max.message.bytes), ``refusal`` (half a letter the broker refused).
        self.limit_source = "default"
        self._read_limit = read_limit
        self._read_at: float | None = None
        self._too_small_said_at: float | None = None

    async def start(self) -> None:
        """Read the topic's limit before the first dead letter (a worker's start-up)."""
        await self.refresh()

    async def refresh(self) -> bool:
        """Read the topic's limit again; True when it could be read."""
        if self._read_limit is None:
            return False
        found = await self._read_limit()
        self._read_at = time.monotonic()
        if found is None:
            return False
        limit = min(found, MAX_DEAD_LETTER_BYTES)  # the producer sends no larger request
        if (limit, "config") != (self.limit, self.limit_source):
            log.info(
                "dead_letter_limit_read", topic=self.topic, max_message_bytes=found, limit=limit
            )
        self.limit, self.limit_source = limit, "config"
        return True

    def _stale(self) -> bool:
        return self._read_limit is not None and (
            self._read_at is None or time.monotonic() - self._read_at > REREAD_S
        )

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
        with ``DeadLetterTooLarge`` and the retried transaction's letter is cut smaller.
        ``DeadLetterTopicTooSmall`` (transient: the batch is retried) when the topic's
        limit, as read, is below the smallest this letter can be cut to."""
        moment = now or datetime.now(UTC)
        full = dlq_headers(headers, origin, failure, moment)
        # Each read is an admin client's round trips inside the caller's transaction: at
        # most one per letter.
        read = self._read_at is None or (
            letter_size(key, value, full) > self.limit and self._stale()
        )
        if read:
            await self.refresh()  # never read (no ``start``), or before cutting: raised?
        letter = fitted(key, value, full, origin, self.limit)
        if letter_size(*letter) > self.limit and self.limit_source == "config":
            if not read:
                await self.refresh()  # raised since? (read at each retry while held)
                letter = fitted(key, value, full, origin, self.limit)
            if letter_size(*letter) > self.limit:
                self._raise_too_small(letter_size(*letter), origin)
        delivery = await self._send(producer, letter)
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

    async def _send(
        self, producer: Sender, letter: tuple[bytes | None, bytes | None, Headers]
    ) -> Any:
        """The letter in a record batch of its own: several letters in one batch (the
        producer's ``send`` fills batches up to 16 KiB) would be refused together by a
        topic whose limit each of them fits. Its partition as the default partitioner
        chooses (murmur2 of the key; any, without one)."""
        return await send_alone(producer, self.topic, *letter)

    def _raise_too_small(self, needed: int, origin: Origin, refused: int | None = None) -> None:
        """Say (once a minute) that the topic cannot hold this letter, flag it for
        /metrics and /readyz, and raise ``DeadLetterTopicTooSmall``."""
        if refused is None or self.limit_source == "config":
            limit = f"of at most {self.limit:,} bytes (max.message.bytes)"
        else:  # its config unreadable: what the refusal says
            limit = f"smaller than {refused:,} bytes (it refused one; max.message.bytes unread)"
        detail = (
            f"{self.topic} takes records {limit} and the "
            f"smallest dead letter of {origin.topic}/{origin.partition}/{origin.offset} "
            f"needs {needed:,}: its partition is held (nothing is lost) until the limit is "
            f"raised: {raise_command(self.topic)}"
        )
        moment = time.monotonic()
        DEAD_LETTER_TOPIC_TOO_SMALL[(self.component, self.topic)] = (moment, detail)
        if self._too_small_said_at is None or moment - self._too_small_said_at > TOO_SMALL_LOG_S:
            self._too_small_said_at = moment
            log.error(
                "dead_letter_topic_too_small",
                topic=self.topic,
                max_message_bytes=self.limit if self.limit_source == "config" else None,
                needed_bytes=needed,
                original=f"{origin.topic}/{origin.partition}/{origin.offset}",
                fix=raise_command(self.topic),
                detail=detail,
            )
        raise DeadLetterTopicTooSmall(detail)

    def _taking_letters_again(self) -> None:
        """A letter was acknowledged: clear the too-small flag, if it was set."""
        if DEAD_LETTER_TOPIC_TOO_SMALL.pop((self.component, self.topic), None) is not None:
            self._too_small_said_at = None
            log.info("dead_letter_topic_takes_letters_again", topic=self.topic)
            if self.limit_source == "refusal":  # learnt while too small: learn afresh
                self.limit, self.limit_source = MAX_DEAD_LETTER_BYTES, "default"

    async def _delivered(
        self,
        delivery: Any,
        letter: tuple[bytes | None, bytes | None, Headers],
        whole: tuple[bytes | None, bytes | None, Headers],
        origin: Origin,
    ) -> Any:
        """The broker's acknowledgement of ``letter``; refused as too large, the limit read
        again (or, unreadable, half the refused size learnt) and ``DeadLetterTooLarge``
        (retry the transaction) while cutting can make the letter smaller."""
        try:
            acknowledged = await delivery
        except MessageSizeTooLargeError as exc:
            refused = letter_size(*letter)
            smallest = letter_size(*fitted(*whole, origin, 0))
            if not (await self.refresh() and self.limit < refused):
                # Unreadable, or read as large enough (the broker judged otherwise).
                self.limit = min(self.limit, refused // 2)
                self.limit_source = "refusal"
            if smallest >= refused:  # nothing left to cut
                try:
                    self._raise_too_small(smallest, origin, refused)
                except DeadLetterTopicTooSmall as too_small:
                    raise too_small from exc
            where = f"{origin.topic}/{origin.partition}/{origin.offset}"
            log.warning(
                "dead_letter_too_large_will_cut",
                topic=self.topic,
                refused_bytes=refused,
                limit_bytes=self.limit,
                limit_source=self.limit_source,
                original=where,
                detail=f"{self.topic} refused the dead letter (its max.message.bytes is lower "
                "than `kpgw topics create` sets): the batch is retried with every dead "
                f"letter cut to {self.limit:,} bytes; `kpgw topics check` says what to set",
            )
            raise DeadLetterTooLarge(
                f"{self.topic} refused a {refused:,}-byte dead letter of {where} as too "
                f"large; it is cut to {self.limit:,} bytes at the retry"
            ) from exc
        self._taking_letters_again()
        return acknowledged
