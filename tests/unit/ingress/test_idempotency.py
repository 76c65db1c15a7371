"""Idempotency keys, deterministic tracking ids, the index materialised from kp.inbound."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gateway.events import raw_sha256
from gateway.ingress.idempotency import (
    TRACKING_NAMESPACE,
    Accepted,
    IdempotencyIndex,
    idempotency_key,
    tracking_id_for,
)
from gateway.ingress.position import TopicPosition
from gateway.ingress.problems import Problem
from gateway.translator.inbound import inbound_headers, inbound_key

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    topic: str = "kp.inbound"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0


def test_tracking_ids_are_deterministic_and_per_participant() -> None:
    first = tracking_id_for("RU", "RU0100001:70")
    assert first == tracking_id_for("RU", "RU0100001:70")
    assert first != tracking_id_for("BW", "RU0100001:70")
    assert first != tracking_id_for("RU", "RU0100001:71")
    assert len(first) == 36
    # RFC 4122 version 5: ids already on kp.inbound stay valid across releases.
    assert first == str(uuid.uuid5(TRACKING_NAMESPACE, "RU\x1fRU0100001:70"))


def test_key_precedence_and_validation() -> None:
    assert idempotency_key(" batch-1 ", "m-1", "abc") == "batch-1"
    assert idempotency_key(None, "m-1", "abc") == "m-1|sha256:abc"
    assert idempotency_key(None, "m-1", "abd") != idempotency_key(None, "m-1", "abc")
    assert idempotency_key(None, None, "abc") == "sha256:abc"
    for bad in ("", "  ", "a\tb", "x" * 201, "ключ"):
        with pytest.raises(Problem) as caught:
            idempotency_key(bad, "m-1", "abc")
        assert caught.value.status == 400


def test_an_idempotency_key_given_twice_with_different_values_is_refused() -> None:
    """The first was taken without a word: the message could be deduplicated against
    another one under a key the client did not mean."""
    assert idempotency_key([], "m-1", "abc") == "m-1|sha256:abc"
    assert idempotency_key(["k-1", " k-1 "], "m-1", "abc") == "k-1"
    with pytest.raises(Problem) as caught:
        idempotency_key(["k-1", "k-2"], "m-1", "abc")
    assert caught.value.status == 400
    assert caught.value.findings[0].code == "INVALID_IDEMPOTENCY_KEY"
    assert "given 2 times with different values" in caught.value.detail


def test_replay_same_body_conflict_other_body() -> None:
    index = IdempotencyIndex(clock=lambda: NOW)
    assert index.replay("t1", "RU", "aaa") is None
    index.remember("t1", Accepted("RU", "aaa", NOW, "m-1"))
    index.remember("t1", Accepted("RU", "bbb", NOW, "m-1"))  # the first one stays
    replay = index.replay("t1", "RU", "aaa")
    assert replay is not None and replay.sender == "RU"
    with pytest.raises(Problem) as caught:
        index.replay("t1", "RU", "bbb")
    assert caught.value.status == 409
    assert caught.value.findings[0].code == "IDEMPOTENCY_KEY_REUSED"


def test_the_index_learns_from_committed_inbound_records() -> None:
    index = IdempotencyIndex(clock=lambda: NOW)
    body = b"<doc/>"
    headers = inbound_headers(sender="EU", message_id="m-9", tracking_id="t9", received_at=NOW)
    index.apply(Record(inbound_key("EU", "m-9"), body, headers))
    entry = index.get("t9", "EU")
    assert entry == Accepted("EU", raw_sha256(body), NOW, "m-9", TopicPosition(0, 0, 0))
    index.apply(Record(b"RU:x", b"<other/>", [("kpgw-sender", b"RU")]))  # no tracking id
    assert len(index) == 1


def test_a_record_claiming_another_senders_tracking_id_changes_nothing_for_it() -> None:
    """Found by a security review: a Kafka-native sender (RU) wrote a record with BW's
    predictable tracking id; BW's next POST with that key got 409 and its status 404."""
    index = IdempotencyIndex(clock=lambda: NOW)
    forged = inbound_headers(sender="RU", message_id="x", tracking_id="t-bw", received_at=NOW)
    index.apply(Record(b"RU:x", b"<forged/>", forged))
    assert index.get("t-bw", "BW") is None
    assert index.replay("t-bw", "BW", "digest-of-bw-body") is None  # a new key: publish
    index.remember("t-bw", Accepted("BW", "digest-of-bw-body", NOW, "CERT-BW"))
    assert index.replay("t-bw", "BW", "digest-of-bw-body") is not None
    assert index.get("t-bw", "RU") == Accepted(
        "RU", raw_sha256(b"<forged/>"), NOW, "x", TopicPosition(0, 0, 0)
    )


async def test_the_lock_serialises_one_key_and_times_out() -> None:
    index = IdempotencyIndex(clock=lambda: NOW)
    loop = asyncio.get_running_loop()
    order: list[str] = []

    async def hold(name: str, seconds: float) -> None:
        async with index.lock("t1", loop.time() + 5):
            order.append(f"{name}-in")
            await asyncio.sleep(seconds)
            order.append(f"{name}-out")

    await asyncio.gather(hold("a", 0.05), hold("b", 0))
    assert order == ["a-in", "a-out", "b-in", "b-out"]
    async with index.lock("t2", loop.time() + 5):
        with pytest.raises(TimeoutError):
            async with index.lock("t2", loop.time() + 0.05):
                pass
    assert not index._locks  # every lock is forgotten once unused


def test_keys_are_forgotten_with_the_inbound_records() -> None:
    """A key lives as long as kp.inbound keeps its record (30 days): then the same key is
    new again, and a long-running ingress does not hold every key it ever saw."""
    clock = [NOW]
    index = IdempotencyIndex(clock=lambda: clock[0])
    index.remember("t1", Accepted("RU", "aaa", NOW, "m-1"))
    index.remember("t2", Accepted("RU", "bbb", NOW + timedelta(days=20), "m-2"))
    clock[0] = NOW + timedelta(days=30, seconds=1)
    assert index.replay("t1", "RU", "zzz") is None  # aged out: no 409 for a new body
    assert index.replay("t2", "RU", "bbb") is not None
    index.remember("t1", Accepted("RU", "zzz", clock[0], "m-1"))  # the key is taken again
    assert index.get("t1", "RU") == Accepted("RU", "zzz", clock[0], "m-1")
    clock[0] = NOW + timedelta(days=51)
    assert index.sweep() == 1 and len(index) == 1


def test_aged_inbound_records_are_not_remembered_and_sweeps_run_by_themselves() -> None:
    index = IdempotencyIndex(clock=lambda: NOW + timedelta(days=31))
    old = inbound_headers(sender="EU", message_id="m-1", tracking_id="t-old", received_at=NOW)
    index.apply(Record(inbound_key("EU", "m-1"), b"<doc/>", old))
    assert len(index) == 0  # Kafka deletes whole segments: such records still arrive
    index.SWEEP_EVERY = 3
    index._entries[("EU", "t-stale")] = Accepted("EU", "x", NOW, None)
    for n in range(3):
        index.remember(f"t{n}", Accepted("EU", "y", NOW + timedelta(days=30), None))
    assert ("EU", "t-stale") not in index._entries


def test_every_instance_takes_the_earlier_record_in_the_topic_as_the_original() -> None:
    """A scale-out review: one key sent with two bodies to two instances at once; each kept
    its own acceptance, so each answered 202 to its body and 409 to the other for good."""
    early, late = TopicPosition(1_000, 3, 7), TopicPosition(1_002, 0, 4)
    headers = inbound_headers(sender="RU", message_id="m", tracking_id="t-k", received_at=NOW)
    first_body, second_body = b"<first/>", b"<second/>"
    views = []
    for own_body, own in ((first_body, early), (second_body, late)):  # instance A, then B
        index = IdempotencyIndex(clock=lambda: NOW)
        index.remember("t-k", Accepted("RU", raw_sha256(own_body), NOW, "m", own))
        for body, position in ((first_body, early), (second_body, late)):  # the mirror
            index.apply(
                Record(
                    b"RU:m",
                    body,
                    headers,
                    partition=position.partition,
                    offset=position.offset,
                    timestamp=position.timestamp_ms,
                )
            )
        views.append(index)
    for index in views:
        assert index.replay("t-k", "RU", raw_sha256(first_body)) is not None
        with pytest.raises(Problem):
            index.replay("t-k", "RU", raw_sha256(second_body))


def test_in_one_partition_the_offset_decides_whatever_the_clocks_say() -> None:
    """A code review: two instances' clocks may disagree; within a partition the record
    the translator reads first is the one with the lower offset."""
    earlier_offset_later_clock = TopicPosition(2_000, 1, 5)
    later_offset_earlier_clock = TopicPosition(1_000, 1, 9)
    assert earlier_offset_later_clock.before(later_offset_earlier_clock)
    assert not later_offset_earlier_clock.before(earlier_offset_later_clock)
    assert TopicPosition(1_000, 0, 9).before(TopicPosition(2_000, 1, 5))  # across: the clock
