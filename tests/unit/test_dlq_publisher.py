"""The dead-letter publisher when kp.dlq refuses a letter as too large (its
``max.message.bytes`` below what the gateway creates it with): it learns a lower limit and
fails the delivery with a transient error, so the transaction is retried with a letter that
fits; the reason code and the coordinates are in every cut letter. (The whole story on the
real broker: tests/kafka/test_dlq_limits.py.)"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from gateway.dlq import headers as h
from gateway.dlq.headers import (
    MAX_DEAD_LETTER_BYTES,
    Failure,
    Origin,
    dlq_headers,
    fitted,
    letter_size,
)
from gateway.dlq.publisher import DeadLetterPublisher
from gateway.errors import DeadLetterTooLarge, Finding, SchemaViolation
from gateway.kafka.outbox import DeliveryFailed
from gateway.kafka.transactional import is_transient

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ORIGIN = Origin("kp.inbound", 3, 99, 0, "kpgw-translator")
MANY = SchemaViolation(
    "the document does not follow the schema",
    findings=tuple(
        Finding("XSD_VIOLATION", f"element {n} is not expected " + "x" * 400, line=n, path="/a")
        for n in range(50)
    ),
)


class _Broker:
    """A producer in front of a topic whose limit is ``max_bytes`` (as the broker judges
    a record: here, its key, value and headers)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.taken: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, **record: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        letter = (record["key"], record["value"], record["headers"])
        if letter_size(*letter) > self.max_bytes:
            future.set_exception(MessageSizeTooLargeError())
        else:
            self.taken.append(letter)
            future.set_result(None)
        return future


async def _publish_until_taken(publisher: DeadLetterPublisher, broker: _Broker) -> int:
    """Publish as a worker does, retrying the transaction while the error is transient;
    returns the number of attempts."""
    for attempt in range(1, 30):
        delivery = await publisher.publish(
            broker,
            key=b"RU:m-1",
            value=b"<x>" + b"y" * 200_000 + b"</x>",
            headers=[("kpgw-sender", b"RU")],
            origin=ORIGIN,
            failure=Failure.of(MANY, stage="translator"),
            now=NOW,
        )
        try:
            await delivery
        except DeadLetterTooLarge as exc:
            wrapped = DeliveryFailed("1 of 2 batches were not written")
            wrapped.__cause__ = exc
            assert is_transient(wrapped)  # the worker retries it as it retries an outage
            continue
        return attempt
    raise AssertionError("never taken")


def test_a_refused_dead_letter_teaches_the_publisher_to_cut_smaller() -> None:
    broker = _Broker(max_bytes=30_000)
    publisher = DeadLetterPublisher("kp.dlq")
    attempts = asyncio.run(_publish_until_taken(publisher, broker))
    assert attempts <= 4  # halvings from 4 MiB: the letter's own size, then half of it
    [(key, value, written)] = broker.taken
    assert value is None and key == b"RU:m-1"
    assert h.text_header(written, h.REASON) == "XSD_VIOLATION"
    assert h.int_header(written, h.ORIGINAL_OFFSET) == 99
    assert (h.text_header(written, h.VALUE_OMITTED) or "").endswith(
        "the original record is kp.inbound/3/99"
    )
    assert publisher.limit < MAX_DEAD_LETTER_BYTES
    # The next one is cut at once to what was learnt: no refusal, no retry.
    assert asyncio.run(_publish_until_taken(publisher, broker)) == 1


def test_a_dead_letter_with_nothing_left_to_cut_fails_as_refused() -> None:
    """A kp.dlq of a few hundred bytes: the broker's own error, not a loop of halvings."""
    broker = _Broker(max_bytes=300)
    publisher = DeadLetterPublisher("kp.dlq", limit=10_000)

    async def until_given_up() -> list[str]:
        outcomes = []
        for _ in range(10):
            delivery = await publisher.publish(
                broker,
                key=b"k",
                value=b"v" * 20_000,
                headers=[],
                origin=ORIGIN,
                failure=Failure.of(MANY, stage="translator"),
                now=NOW,
            )
            try:
                await delivery
            except (DeadLetterTooLarge, MessageSizeTooLargeError) as exc:
                outcomes.append(type(exc).__name__)
                if isinstance(exc, MessageSizeTooLargeError):
                    return outcomes
        raise AssertionError(f"the halvings did not end: {outcomes}")

    outcomes = asyncio.run(until_given_up())
    assert outcomes[0] == "DeadLetterTooLarge" and outcomes[-1] == "MessageSizeTooLargeError"


def test_a_cut_letter_says_what_was_left_out() -> None:
    failure = Failure.of(ValueError("boom " * 2000), stage="router", reason="POISON_PILL")
    failure = Failure(
        **{**{s: getattr(failure, s) for s in Failure.__slots__}, "findings": MANY.findings}
    )
    full = dlq_headers([("x-junk", b"j" * 50_000)], ORIGIN, failure, NOW)
    key, value, cut = fitted(b"k", b"<x/>" * 1000, full, ORIGIN, 30_000)
    left = h.text_header(cut, h.LEFT_OUT) or ""
    assert left.startswith("the stack trace; all but 4,096 bytes of 1 header value(s)")
    assert left.endswith("40 of 50 findings (the first 10 kept)")
    assert value is not None and letter_size(key, value, cut) <= 30_000
    # The last resort: one finding, 256 bytes of the message; never the reason.
    key, value, cut = fitted(b"k", b"<x/>" * 1000, full, ORIGIN, 2_000)
    assert letter_size(key, value, cut) <= 2_000
    assert len(json.loads(h.header(cut, h.FINDINGS) or b"")) == 1
    assert len(h.header(cut, h.EXCEPTION_MESSAGE) or b"") == 256
    assert h.text_header(cut, h.REASON) == "POISON_PILL"
    assert (h.text_header(cut, h.LEFT_OUT) or "").endswith("49 of 50 findings (the first 1 kept)")
    assert h.header(fitted(b"k", b"v", full, ORIGIN, 10**9)[2], h.LEFT_OUT) is None


def test_a_message_cut_in_a_letter_stays_utf8_text() -> None:
    """A message quoting a Russian document is Cyrillic, two bytes a letter: cut at a byte
    count, the header ended in half a character, and a strict reader (a Java consumer's
    ``new String(..., UTF_8)`` aside) failed on it."""
    failure = Failure.of(SchemaViolation("x" + "Ж" * 900), stage="translator")
    full = dlq_headers([("kpgw-sender", b"RU")], ORIGIN, failure, NOW)
    _, _, cut = fitted(b"k", b"<x/>" * 1000, full, ORIGIN, 1_500)
    message = h.header(cut, h.EXCEPTION_MESSAGE) or b""
    assert 250 <= len(message) <= 256
    assert message.decode("utf-8") == ("x" + "Ж" * 900).encode()[: len(message)].decode()
    trace = "Ж" * 9_000  # over the 16 KiB kept of a stack trace, at an odd byte
    failure = Failure(
        **{**{s: getattr(failure, s) for s in Failure.__slots__}, "stacktrace": "x" + trace}
    )
    kept = h.header(dlq_headers([], ORIGIN, failure, NOW), h.EXCEPTION_STACKTRACE) or b""
    assert kept.decode("utf-8").startswith("xЖ") and len(kept) <= 16 * 1024
