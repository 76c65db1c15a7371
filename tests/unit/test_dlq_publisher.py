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

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder

from gateway.dlq import headers as h
from gateway.dlq import publisher as publisher_module
from gateway.dlq.headers import (
    MAX_DEAD_LETTER_BYTES,
    Failure,
    Origin,
    dlq_headers,
    fitted,
    letter_size,
    smallest_dead_letter_bytes,
)
from gateway.dlq.publisher import DeadLetterPublisher
from gateway.errors import DeadLetterTooLarge, DeadLetterTopicTooSmall, Finding, SchemaViolation
from gateway.kafka.outbox import DeliveryFailed
from gateway.kafka.transactional import is_transient
from gateway.metrics import DEAD_LETTER_TOPIC_TOO_SMALL
from tests.log_capture import captured

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ORIGIN = Origin("kp.inbound", 3, 99, 0, "kpgw-translator")
MANY = SchemaViolation(
    "the document does not follow the schema",
    findings=tuple(
        Finding("XSD_VIOLATION", f"element {n} is not expected " + "x" * 400, line=n, path="/a")
        for n in range(50)
    ),
)


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    def append(self, *, timestamp: None, key: Any, value: Any, headers: Any) -> object:
        self.records.append((key, value, headers))
        return object()


class _Broker:
    """A producer in front of a topic whose limit is ``max_bytes`` (as the broker judges
    a record batch: here, ``letter_size``, which is exact; the unit test below checks it)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.taken: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.refused = 0

    def create_batch(self) -> _Batch:
        return _Batch()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        [letter] = batch.records  # a letter alone in its batch
        if letter_size(*letter) > self.max_bytes:
            self.refused += 1
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


def test_a_dead_letter_with_nothing_left_to_cut_holds_its_partition_said_precisely() -> None:
    """A kp.dlq of a few hundred bytes, its config unreadable: not a loop of halvings but
    ``DeadLetterTopicTooSmall`` (transient: the record is never lost), said with the size
    needed and the command that fixes it, and flagged for /metrics and /readyz. Before,
    the broker's own MessageSizeTooLargeError was retried with a line that named neither."""
    broker = _Broker(max_bytes=300)
    publisher = DeadLetterPublisher("kp.dlq", limit=10_000, component="translator")

    async def until_held() -> tuple[list[str], BaseException]:
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
            except (DeadLetterTooLarge, DeadLetterTopicTooSmall) as exc:
                outcomes.append(type(exc).__name__)
                if isinstance(exc, DeadLetterTopicTooSmall):
                    return outcomes, exc
        raise AssertionError(f"the halvings did not end: {outcomes}")

    with captured("gateway.dlq.publisher") as logs:
        outcomes, held = asyncio.run(until_held())
    assert outcomes[0] == "DeadLetterTooLarge" and outcomes[-1] == "DeadLetterTopicTooSmall"
    wrapped = DeliveryFailed("1 of 2 batches were not written")
    wrapped.__cause__ = held
    assert is_transient(wrapped)
    [line] = [e for e in logs if e["event"] == "dead_letter_topic_too_small"]
    assert line["needed_bytes"] > 300 and line["topic"] == "kp.dlq"
    assert "--entity-name kp.dlq --add-config max.message.bytes=4194304" in line["fix"]
    assert ("translator", "kp.dlq") in DEAD_LETTER_TOPIC_TOO_SMALL
    # The limit raised by the operator: the next retry is written, the flag goes.
    broker.max_bytes = 4 * 1024 * 1024
    assert asyncio.run(_publish_until_taken(publisher, broker)) <= 2
    assert ("translator", "kp.dlq") not in DEAD_LETTER_TOPIC_TOO_SMALL


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


def test_a_letters_size_is_its_record_batch_as_the_producer_frames_it() -> None:
    """The broker compares ``max.message.bytes`` with the record batch: the letter's key,
    value and headers plus their framing and the batch's header. Before, only the bytes
    themselves were counted: a letter cut to a topic's limit exactly was still refused."""
    cases = [
        (None, None, []),
        (b"k", b"v" * 300, [("a", b"b"), ("\u00e9t\u00e9", b"x" * 200)]),
        (b"k" * 200, None, [("h", b"")] * 130),
        (b"x", b"y" * 70_000, [("n", b"z" * 20_000)]),
    ]
    for key, value, headers in cases:
        batch = BatchBuilder(16_384, 0, is_transactional=True)
        assert batch.append(timestamp=None, key=key, value=value, headers=headers) is not None
        assert letter_size(key, value, headers) == len(batch._build())


class _Config:
    """kp.dlq's max.message.bytes as DescribeConfigs answers it (None: unreadable)."""

    def __init__(self, broker: _Broker | None) -> None:
        self.broker = broker
        self.reads = 0

    async def __call__(self) -> int | None:
        self.reads += 1
        return None if self.broker is None else self.broker.max_bytes


def test_the_limit_read_from_the_topic_cuts_the_first_letter_to_fit() -> None:
    """Before, every process learnt a small kp.dlq by refusals (and a retry of the batch
    each) after every restart; now it reads the topic's limit and the first letter fits."""
    broker = _Broker(max_bytes=20_000)
    config = _Config(broker)
    publisher = DeadLetterPublisher("kp.dlq", read_limit=config)
    asyncio.run(publisher.start())
    assert (publisher.limit, publisher.limit_source) == (20_000, "config")
    assert asyncio.run(_publish_until_taken(publisher, broker)) == 1
    assert broker.refused == 0 and letter_size(*broker.taken[0]) <= 20_000
    # A publisher not started reads it before its first letter all the same.
    late = DeadLetterPublisher("kp.dlq", read_limit=_Config(broker))
    assert asyncio.run(_publish_until_taken(late, broker)) == 1
    assert broker.refused == 0


def test_a_limit_lowered_at_run_time_is_read_again_after_the_refusal() -> None:
    broker = _Broker(max_bytes=50_000)
    config = _Config(broker)
    publisher = DeadLetterPublisher("kp.dlq", read_limit=config)
    asyncio.run(publisher.start())
    broker.max_bytes = 3_000  # kafka-configs --alter, while the gateway runs
    assert asyncio.run(_publish_until_taken(publisher, broker)) == 2  # one refusal, no more
    assert (publisher.limit, publisher.limit_source) == (3_000, "config")  # not halved


def test_a_limit_raised_at_run_time_stops_the_cutting(monkeypatch: pytest.MonkeyPatch) -> None:
    broker = _Broker(max_bytes=20_000)
    publisher = DeadLetterPublisher("kp.dlq", read_limit=_Config(broker))
    asyncio.run(publisher.start())
    broker.max_bytes = 1_000_000
    monkeypatch.setattr(publisher_module, "REREAD_S", 0.0)  # a minute later
    asyncio.run(_publish_until_taken(publisher, broker))
    assert publisher.limit == 1_000_000
    (_, value, _), *_ = broker.taken
    assert value is not None  # the document kept


def test_without_the_describe_configs_right_the_limit_is_learnt_by_halving() -> None:
    broker = _Broker(max_bytes=30_000)
    publisher = DeadLetterPublisher("kp.dlq", read_limit=_Config(None))
    asyncio.run(publisher.start())
    assert publisher.limit_source == "default"
    assert asyncio.run(_publish_until_taken(publisher, broker)) <= 4
    assert publisher.limit_source == "refusal"


def test_a_topic_read_as_too_small_holds_the_letter_without_sending_it() -> None:
    """No letter sent to be refused: the config says it cannot fit. The batch is retried
    (transient), the config read again at each retry, until it is raised."""
    broker = _Broker(max_bytes=900)
    config = _Config(broker)
    publisher = DeadLetterPublisher("kp.dlq", component="router", read_limit=config)
    asyncio.run(publisher.start())

    async def once() -> Any:
        delivery = await publisher.publish(
            broker,
            key=b"k",
            value=b"v",
            headers=[],
            origin=ORIGIN,
            failure=Failure.of(MANY, stage="router"),
            now=NOW,
        )
        return await delivery

    with captured("gateway.dlq.publisher") as logs:
        for _ in range(3):
            with pytest.raises(DeadLetterTopicTooSmall, match="at most 900 bytes") as held:
                asyncio.run(once())
    assert broker.refused == 0 and broker.taken == []
    assert config.reads == 4  # at start-up, then at each retry
    lines = [e for e in logs if e["event"] == "dead_letter_topic_too_small"]
    assert len(lines) == 1  # once a minute, not at every retry
    assert lines[0]["max_message_bytes"] == 900 and lines[0]["needed_bytes"] > 900
    assert "kafka-configs" in str(held.value)
    assert "router" in {component for component, _ in DEAD_LETTER_TOPIC_TOO_SMALL}
    broker.max_bytes = 10_000
    asyncio.run(once())
    assert len(broker.taken) == 1 and ("router", "kp.dlq") not in DEAD_LETTER_TOPIC_TOO_SMALL


def test_every_letter_fits_a_topic_of_the_smallest_dead_letter() -> None:
    limit = smallest_dead_letter_bytes(["kp.inbound", "kp.events"], ["kp.translator"])
    assert 2_000 < limit < 8_000
    failure = Failure.of(ValueError("Ж" * 5_000), stage="translator")
    failure = Failure(
        **{**{s: getattr(failure, s) for s in Failure.__slots__}, "findings": MANY.findings}
    )
    origin = Origin("kp.inbound", 5, 10**12, 0, "kp.translator")
    full = dlq_headers([("kpgw-sender", b"RU" * 5000)], origin, failure, NOW)
    assert letter_size(*fitted(b"k" * 500, b"v" * 10**6, full, origin, limit)) <= limit


def test_a_letter_reads_the_limit_once_even_when_the_topic_is_too_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A letter whose last read is stale and that does not fit even cut reads the limit
    once, not twice in a row: each read is an admin client's round trips (up to ~20 s
    with a slow broker), inside the worker's transaction."""
    broker = _Broker(max_bytes=900)
    config = _Config(broker)
    publisher = DeadLetterPublisher("kp.dlq", component="translator", read_limit=config)
    asyncio.run(publisher.start())
    monkeypatch.setattr(publisher_module, "REREAD_S", 0.0)  # the last read is stale

    async def once() -> Any:
        return await publisher.publish(
            broker,
            key=b"k",
            value=b"v" * 5_000,
            headers=[],
            origin=ORIGIN,
            failure=Failure.of(MANY, stage="translator"),
            now=NOW,
        )

    with pytest.raises(DeadLetterTopicTooSmall):
        asyncio.run(once())
    DEAD_LETTER_TOPIC_TOO_SMALL.pop(("translator", "kp.dlq"), None)
    assert config.reads == 2  # at start-up, then once for this letter
