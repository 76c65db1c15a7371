"""A replay cancelled (Ctrl-C) while a chunk's commit is on its way: aiokafka goes on with
the commit whatever its caller does, so whether that chunk was re-sent is the commit's
outcome, not "rolled back" (found by a review). ``_transaction`` waits for it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, ProducerFenced

from gateway.dlq import replay


class _Context:
    def __init__(self, producer: _Producer) -> None:
        self.producer = producer

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> None:
        self.producer.aborted = True


class _Producer:
    """A commit that takes ``seconds``, then ends as ``ends`` (None: committed)."""

    def __init__(self, seconds: float, ends: BaseException | None) -> None:
        self.seconds, self.ends = seconds, ends
        self.aborted = False

    def transaction(self) -> _Context:
        return _Context(self)

    async def commit_transaction(self) -> None:
        await asyncio.sleep(self.seconds)
        if self.ends is not None:
            raise self.ends


async def _interrupted_while_committing(producer: _Producer) -> replay._CommitInterrupted:
    async def chunk() -> None:
        async with replay._transaction(producer):
            pass

    task = asyncio.create_task(chunk())
    await asyncio.sleep(0.05)  # the commit is under way
    task.cancel()
    with pytest.raises(replay._CommitInterrupted) as raised:
        await task
    return raised.value


@pytest.mark.parametrize(
    ("ends", "committed"),
    [(None, True), (ProducerFenced(), False), (KafkaTimeoutError(), None)],
    ids=["committed", "fenced", "failed"],
)
async def test_the_commits_outcome_is_waited_for(
    ends: BaseException | None, committed: bool | None
) -> None:
    raised = await _interrupted_while_committing(_Producer(0.2, ends))
    assert raised.committed is committed


async def test_a_commit_still_running_after_the_wait_is_not_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay, "COMMIT_WAIT_S", 0.1)
    raised = await _interrupted_while_committing(_Producer(0.5, None))
    assert raised.committed is None


async def test_cancelled_before_the_commit_the_chunk_is_aborted() -> None:
    producer = _Producer(0, None)

    async def chunk() -> None:
        async with replay._transaction(producer):
            await asyncio.sleep(10)

    task = asyncio.create_task(chunk())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert producer.aborted


def test_the_message_of_an_unknown_commit_says_it_is_not_known() -> None:
    report = replay.ReplayReport(replay_id="r", operator="o", dry_run=False, chunks=3)
    report.chunks_committed = 1
    todo: list[Any] = list(range(5))
    stopped = replay._stopped(
        report, todo, 2, replay._INTERRUPTED, replay.ReplayInterrupted, unsure=2
    )
    assert isinstance(stopped, replay.ReplayInterrupted)
    assert "stopped at chunk 2 of 3 while the broker committed it" in stopped.message
    assert "whether its 2 dead letters were re-sent and audited is not known" in stopped.message
    assert "2 of its 5 were (chunks 1 to 1), the other 1 were not re-sent" in stopped.message
    assert "rolled back" not in stopped.message


async def test_a_commit_that_fails_other_than_by_a_fence_is_not_called_rolled_back() -> None:
    """A timeout or a lost connection while the broker answers the commit: the commit may
    have gone through. The replay stops (not interrupted: exit 2) and says it is not known;
    a fence is still a rollback, for the chunk's own handling to name."""

    async def chunk(producer: _Producer) -> None:
        async with replay._transaction(producer):
            pass

    with pytest.raises(replay._CommitInterrupted) as raised:
        await chunk(_Producer(0, KafkaTimeoutError()))
    assert raised.value.committed is None
    assert isinstance(raised.value.failure, KafkaTimeoutError)
    with pytest.raises(ProducerFenced):
        await chunk(_Producer(0, ProducerFenced()))

    report = replay.ReplayReport(replay_id="r", operator="o", dry_run=False, chunks=3)
    report.chunks_committed = 1
    todo: list[Any] = list(range(5))
    with pytest.raises(replay.ReplayStopped) as stopped:
        replay._interrupted_at_commit(report, todo, 2, todo[2:4], raised.value)
    assert not isinstance(stopped.value, replay.ReplayInterrupted)
    message = stopped.value.message
    assert message.startswith("the broker's answer to the commit of chunk 2 failed (")
    assert "whether its 2 dead letters were re-sent and audited is not known" in message
    assert "rolled back" not in message
