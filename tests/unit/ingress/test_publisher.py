"""The publisher's guarantees that need no broker: it refuses at once when it cannot
deliver, and a dropped producer can send nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.ingress.position import TopicPosition
from gateway.ingress.publisher import (
    LINGER_S,
    BrokerUnavailable,
    InboundPublisher,
    LaneState,
    OutboundRecord,
    hard_close,
)
from gateway.kafka.clients import transactional_producer
from gateway.settings import load_settings

RECORD = OutboundRecord(b"RU:m-1", b"<doc/>", [])


async def test_not_started_or_broker_down_fails_at_once() -> None:
    publisher = InboundPublisher(load_settings(kafka_bootstrap="127.0.0.1:1"))
    loop = asyncio.get_running_loop()
    with pytest.raises(BrokerUnavailable, match="not running"):
        await publisher.publish(RECORD, loop.time() + 5)
    publisher._tasks.append(asyncio.create_task(asyncio.sleep(0)))  # pretend it runs
    for lane in publisher.lanes:
        lane.state = LaneState.DOWN
    started = loop.time()
    with pytest.raises(BrokerUnavailable, match="unreachable") as caught:
        await publisher.publish(RECORD, loop.time() + 5)
    assert loop.time() - started < 0.1 and caught.value.retry_after_s >= 1
    assert publisher.queue.empty()  # nothing was even queued
    await publisher.close()


async def test_transactional_ids_are_unique_per_instance() -> None:
    settings = load_settings()
    first, second = InboundPublisher(settings), InboundPublisher(settings)
    ids = [lane.transactional_id for lane in (*first.lanes, *second.lanes)]
    assert len(ids) == 2 * len(first.lanes) and len(set(ids)) == len(ids)


async def test_two_lanes_overlap_transactions_without_splitting_the_queue_further() -> None:
    # Each transaction costs the ingress ~1 ms of CPU whatever it holds; with validation
    # in a worker process verdicts arrive one at a time, and 4 lanes carried ~6 requests
    # per transaction against ~10 for 2 (docs/performance.md, session 15).
    assert len(InboundPublisher(load_settings()).lanes) == 2


async def test_hard_close_of_a_producer_that_never_started() -> None:
    producer = transactional_producer(load_settings(kafka_bootstrap="127.0.0.1:1"), "t-1")
    await hard_close(producer)  # no warning, no hang


def gathering_publisher() -> tuple[InboundPublisher, list[list[bytes]]]:
    """A publisher whose one lane is connected and delivers without a broker: each group it
    would write in one transaction is recorded."""
    publisher = InboundPublisher(load_settings(), lanes=1)
    transactions: list[list[bytes]] = []
    lane = publisher.lanes[0]

    async def deliver(group: Sequence[Any]) -> None:
        transactions.append([item.record.key for item in group])
        for item in group:
            item.future.set_result(TopicPosition(0, 0, len(transactions)))

    lane.deliver = deliver  # type: ignore[method-assign]
    lane.state = LaneState.CONNECTED
    lane.connected.set()
    publisher._tasks.append(asyncio.create_task(lane.worker()))
    return publisher, transactions


def record(n: int) -> OutboundRecord:
    return OutboundRecord(f"RU:m-{n}".encode(), b"<doc/>", [])


async def test_requests_still_being_validated_share_the_transaction() -> None:
    # Verdicts reach the publisher a few at a time (a worker answers a group); a lane that
    # began a transaction with the first ones split 32 concurrent requests into ~10
    # transactions, each costing the ingress and the broker as much as a full one.
    publisher, transactions = gathering_publisher()
    deadline = asyncio.get_running_loop().time() + 5

    async def validated_then_published(n: int, validation_s: float) -> None:
        with publisher.coming():
            await asyncio.sleep(validation_s)
        await publisher.publish(record(n), deadline)

    try:
        await asyncio.gather(
            validated_then_published(1, 0),
            validated_then_published(2, LINGER_S / 4),
            validated_then_published(3, LINGER_S / 2),
        )
    finally:
        await publisher.close()
    assert transactions == [[b"RU:m-1", b"RU:m-2", b"RU:m-3"]]


async def test_a_lane_waits_for_requests_on_their_way_at_most_linger_s() -> None:
    publisher, transactions = gathering_publisher()
    loop = asyncio.get_running_loop()
    refused = asyncio.Event()

    async def refused_after_a_while() -> None:
        with publisher.coming():  # a validation that takes long, then refuses
            await refused.wait()

    slow = asyncio.create_task(refused_after_a_while())
    await asyncio.sleep(0)  # its validation has begun
    try:
        started = loop.time()
        await publisher.publish(record(1), started + 5)
        waited = loop.time() - started
        refused.set()
        await slow
        await publisher.publish(record(2), loop.time() + 5)  # nothing on its way: at once
    finally:
        await publisher.close()
    assert LINGER_S <= waited < 1
    assert transactions == [[b"RU:m-1"], [b"RU:m-2"]]
