"""A bulk replay in chunks, each one transaction holding its re-sent letters and the audit
of exactly those (found by a review: one transaction for the whole replay could never
commit past the broker's 60 s timeout: 90,000 letters of 10 kB took 120 s). Chunks of 3
or 4 letters here (``CHUNK_LETTERS``), through the command an operator runs."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from click.testing import CliRunner

from gateway import codec
from gateway.cli import cli
from gateway.dlq import headers as h
from gateway.dlq import replay as replay_module
from gateway.kafka.clients import idempotent_producer
from gateway.settings import Settings
from tests.kafka.helpers import read_until

pytestmark = pytest.mark.kafka


async def dead_letters(settings: Settings, sizes: list[int]) -> list[str]:
    """A dead letter of a kp.inbound record of each size, in this order (one partition),
    as the translator writes them; their ids."""
    inbound = f"{settings.topic_prefix}inbound"
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for n, size in enumerate(sizes):
            origin = h.Origin(inbound, 0, n, 1_772_000_000_000 + n, "kp.translator")
            failure = h.Failure("translator", "PAIR_NOT_ENABLED", "x.PairNotEnabled", "off")
            headers = h.dlq_headers([(h.SENDER, b"RU")], origin, failure, datetime.now(UTC))
            value = b"<x>" + b"a" * max(0, size - 7) + b"</x>"
            await producer.send(
                f"{settings.topic_prefix}dlq",
                value,
                key=f"RU:{n}".encode(),
                headers=headers,
                partition=0,
            )
        await producer.flush()
    finally:
        await producer.stop()
    return [f"0-{n}" for n in range(len(sizes))]


async def kpgw(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, list[Any], str]:
    """``kpgw ARGS --json`` in this process (so the chunk size set here holds)."""
    monkeypatch.setenv("KPGW_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("KPGW_TOPIC_PREFIX", settings.topic_prefix)
    result = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--json"])
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    return result.exit_code, lines, result.stderr


async def audits(settings: Settings, at_least: int) -> list[dict[str, Any]]:
    return [
        codec.decode(x.value, "DlqAudit") for x in await read_until(settings, "dlq.audit", at_least)
    ]


async def replayed_from(settings: Settings, at_least: int) -> Counter[str]:
    """How often each dead letter (``dlq/0/<n>``) was re-sent to kp.inbound, committed."""
    records = await read_until(settings, "inbound", at_least, timeout_s=5)
    return Counter(h.text_header(x.headers, h.REPLAYED_FROM) or "" for x in records)


def audited(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(x for record in records for x in record["dead_letters"])


async def test_a_replay_of_several_chunks_audits_every_letter_exactly_once(
    created_topics: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = created_topics
    monkeypatch.setattr(replay_module, "CHUNK_LETTERS", 4)
    ids = await dead_letters(settings, [200] * 10)
    where = [f"dlq/0/{x.split('-')[1]}" for x in ids]

    code, (report,), said = await kpgw(settings, monkeypatch, "dlq", "replay", "--all")
    assert code == 0, said
    assert (report["replayed"], report["not_replayed"]) == (10, 0)
    assert (report["chunks"], report["chunks_committed"], report["audit_records"]) == (3, 3, 3)
    assert report["result"].startswith("sent;")  # the letters would fail again: still sent

    records = await audits(settings, 3)
    assert len(records) == 3
    # One replay id, parts numbered across the replay, each listing its chunk's letters.
    assert {x["replay_id"] for x in records} == {report["replay_id"]}
    assert [(x["part"], x["parts"]) for x in records] == [(1, 3), (2, 3), (3, 3)]
    assert [x["dead_letters"] for x in records] == [where[:4], where[4:8], where[8:]]
    assert audited(records) == Counter(where) == await replayed_from(settings, 10)
    assert all(x["replayed"] == 10 for x in records)

    # Every reader takes the chunks' records together.
    code, listed, said = await kpgw(settings, monkeypatch, "dlq", "list")
    assert {x["replayed_by"] for x in listed} == {report["replay_id"]}
    assert (await kpgw(settings, monkeypatch, "dlq", "list", "--pending"))[1] == []
    code, (stats,), said = await kpgw(settings, monkeypatch, "dlq", "stats")
    assert (stats["total"], stats["pending"]) == (10, 0)

    # A second full replay re-sends nothing and audits nothing more than that.
    code, (again,), said = await kpgw(settings, monkeypatch, "dlq", "replay", "--all")
    assert code == 0, said
    assert (again["replayed"], again["skipped_already_replayed"]) == (0, 10)
    assert (again["result"], again["chunks"], again["audit_records"]) == ("nothing to replay", 1, 1)
    assert await replayed_from(settings, 11) == Counter(where)
    assert audited(await audits(settings, 4)) == Counter(where)


async def test_a_replay_stopped_at_its_second_chunk_keeps_the_first_and_a_re_run_sends_the_rest(
    created_topics: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second chunk's transaction fails: the broker refuses its audit record (as a
    kp.dlq.audit lowered meanwhile would), after its letters were sent in it; the chunk is
    rolled back. Only that answer is made up: the sends and transactions are the broker's."""
    settings = created_topics
    monkeypatch.setattr(replay_module, "CHUNK_LETTERS", 3)
    ids = await dead_letters(settings, [200] * 7)
    where = [f"dlq/0/{x.split('-')[1]}" for x in ids]
    send_alone = replay_module.send_alone
    calls: list[bytes | None] = []

    async def refused_the_second_time(*args: Any) -> Any:
        calls.append(args[3])
        if len(calls) != 2:
            return await send_alone(*args)
        refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        refused.set_exception(MessageSizeTooLargeError())
        return refused

    monkeypatch.setattr(replay_module, "send_alone", refused_the_second_time)
    code, (report,), said = await kpgw(settings, monkeypatch, "dlq", "replay", "--all")
    assert code == 2, report
    audit = f"{settings.topic_prefix}dlq.audit"
    assert f"{audit} refused 1 of the 1 audit record(s) of this chunk" in said
    assert (
        f"the replay {report['replay_id']} stopped at chunk 2 of 3, which was rolled back" in said
    )
    assert "3 of its 7 dead letters were re-sent and audited (chunks 1 to 1)" in said
    assert "the other 4 were not re-sent" in said
    assert "Running the same command again re-sends only those" in said
    assert (report["replayed"], report["not_replayed"]) == (3, 4)
    assert (report["chunks"], report["chunks_committed"]) == (3, 1)
    assert report["dead_letters"] == ids[:3]
    assert report["result"].startswith("stopped after 3 of 7 dead letters (chunk 2 of 3)")
    # The second chunk's letters were sent in its transaction, and rolled back with it.
    assert len(calls) == 2

    # The first chunk is re-sent and audited, nothing of the second (read_committed).
    (first,) = await audits(settings, 1)
    assert (first["dead_letters"], first["part"], first["parts"]) == (where[:3], 1, 3)
    assert await replayed_from(settings, 4) == Counter(where[:3])
    code, pending, said = await kpgw(settings, monkeypatch, "dlq", "list", "--pending")
    assert [x["id"] for x in pending] == ids[3:]

    # The same command again re-sends only the rest.
    monkeypatch.setattr(replay_module, "send_alone", send_alone)
    code, (rest,), said = await kpgw(settings, monkeypatch, "dlq", "replay", "--all")
    assert code == 0, said
    assert (rest["replayed"], rest["skipped_already_replayed"]) == (4, 3)
    assert rest["dead_letters"] == ids[3:]
    assert await replayed_from(settings, 7) == Counter(where)
    records = await audits(settings, 3)
    assert audited(records) == Counter(where)
    assert [(x["part"], x["parts"]) for x in records[1:]] == [(1, 2), (2, 2)]

    code, (again,), said = await kpgw(settings, monkeypatch, "dlq", "replay", "--all")
    assert (code, again["replayed"], again["skipped_already_replayed"]) == (0, 0, 7)
    assert await replayed_from(settings, 8) == Counter(where)
    assert audited(await audits(settings, 4)) == Counter(where)


async def test_a_replay_interrupted_in_its_second_chunk_says_what_the_first_re_sent(
    created_topics: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C cancels the replay (asyncio's runner cancels the command's task): the chunk in
    flight is aborted, and the operator is told what the chunks before it re-sent and
    audited instead of a bare KeyboardInterrupt (exit 130)."""
    settings = created_topics
    monkeypatch.setattr(replay_module, "CHUNK_LETTERS", 2)
    ids = await dead_letters(settings, [200] * 5)
    where = [f"dlq/0/{x.split('-')[1]}" for x in ids]
    send_alone = replay_module.send_alone
    calls = 0

    async def interrupted_the_second_time(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second chunk's audit, its letters sent in its transaction
            task = asyncio.current_task()
            assert task is not None
            task.cancel()  # what the runner does on SIGINT
            await asyncio.sleep(5)
        return await send_alone(*args)

    monkeypatch.setattr(replay_module, "send_alone", interrupted_the_second_time)
    code, (report,), said = await kpgw(settings, monkeypatch, "dlq", "replay", "--all")
    assert code == 130, said
    error = said.strip().splitlines()[-1]  # a fresh topic's first reads may log before
    assert error.startswith("kpgw: interrupted: the replay "), said
    assert "stopped at chunk 2 of 3, which was rolled back" in error
    assert "2 of its 5 dead letters were re-sent and audited (chunks 1 to 1)" in error
    assert "kpgw dlq list --pending" in error
    assert (report["replayed"], report["not_replayed"]) == (2, 3)
    assert (report["chunks"], report["chunks_committed"]) == (3, 1)
    assert report["dead_letters"] == ids[:2]
    assert report["result"].startswith("stopped after 2 of 5 dead letters (chunk 2 of 3)")
    # The first chunk is re-sent and audited; the second's letters were aborted with it.
    (first,) = await audits(settings, 1)
    assert first["dead_letters"] == where[:2]
    assert await replayed_from(settings, 3) == Counter(where[:2])


async def test_a_replay_interrupted_while_a_chunk_commits_counts_that_chunk_once_committed(
    created_topics: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the broker commits a chunk: aiokafka goes on with the commit, so that
    chunk is re-sent and audited. The replay said it "was rolled back" and counted its
    letters as not re-sent (found by a review); it now waits for the commit's outcome."""
    settings = created_topics
    monkeypatch.setattr(replay_module, "CHUNK_LETTERS", 2)
    ids = await dead_letters(settings, [200] * 5)
    where = [f"dlq/0/{x.split('-')[1]}" for x in ids]
    transactional_producer = replay_module.transactional_producer
    commits = 0

    def interrupted_at_the_second_commit(*args: Any, **kwargs: Any) -> Any:
        producer = transactional_producer(*args, **kwargs)
        replay_task = asyncio.current_task()
        assert replay_task is not None
        commit = producer.commit_transaction

        async def committing() -> None:
            nonlocal commits
            commits += 1
            if commits == 2:
                replay_task.cancel()  # what the runner does on SIGINT, the commit under way
            await commit()

        producer.commit_transaction = committing
        return producer

    monkeypatch.setattr(replay_module, "transactional_producer", interrupted_at_the_second_commit)
    code, (report,), said = await kpgw(settings, monkeypatch, "dlq", "replay", "--all")
    assert code == 130, said
    error = said.strip().splitlines()[-1]
    assert "stopped after chunk 2 of 3: 4 of its 5 dead letters were re-sent" in error, said
    assert "rolled back" not in error
    assert (report["replayed"], report["not_replayed"]) == (4, 1)
    assert (report["chunks"], report["chunks_committed"]) == (3, 2)
    assert report["dead_letters"] == ids[:4]
    assert audited(await audits(settings, 2)) == Counter(where[:4])
    assert await replayed_from(settings, 4) == Counter(where[:4])
