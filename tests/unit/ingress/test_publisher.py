"""The publisher's guarantees that need no broker: it refuses at once when it cannot
deliver, and a dropped producer can send nothing."""

from __future__ import annotations

import asyncio

import pytest

from gateway.ingress.publisher import (
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
