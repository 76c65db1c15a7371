"""A bulk replay in chunks, each its own transaction with the audit of exactly its letters
(found by a review: one transaction for the whole replay could never commit past the
broker's 60 s timeout: 90,000 letters of 10 kB took 120 s). The pure cutting, the audit's
numbering across the replay, and what a replay that stopped part-way says."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import codec
from gateway.cli.dlq_cmd import _say_replayed
from gateway.dlq import headers as h
from gateway.dlq.audit import part_size
from gateway.dlq.chunks import CHUNK_BYTES, CHUNK_LETTERS, chunk_audits, chunk_bounds
from gateway.dlq.replay import (
    TRANSACTION_TIMEOUT_S,
    ReplayReport,
    _audit_bytes,
    _ChunkFailed,
    _stopped,
)
from gateway.dlq.store import DeadLetter
from tests.unit.test_dlq_audit_parts import replay_fields as audit_fields

TOPIC = "kp.dlq.audit"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def replay_fields(replayed: int) -> dict[str, Any]:
    """A replay's audit fields (``test_dlq_audit_parts``'s) that re-sent ``replayed``."""
    return audit_fields(selected=replayed, replayed=replayed)


def letters(count: int) -> list[DeadLetter]:
    origin = h.Origin("kp.inbound", 0, 0, 1_772_000_000_000, "kp.translator")
    failure = h.Failure("translator", "PAIR_NOT_ENABLED", "x.PairNotEnabled", "off")
    headers = h.dlq_headers([(h.SENDER, b"RU")], origin, failure, AT)
    return [
        DeadLetter.of(
            SimpleNamespace(
                partition=0, offset=n, timestamp=0, key=None, value=b"<x/>", headers=headers
            )
        )
        for n in range(count)
    ]


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=5_000), max_size=300),
    max_letters=st.integers(min_value=1, max_value=40),
    max_bytes=st.integers(min_value=1, max_value=20_000),
)
def test_chunks_cover_every_letter_once_in_order_within_both_bounds(
    sizes: list[int], max_letters: int, max_bytes: int
) -> None:
    bounds = chunk_bounds(sizes, max_letters, max_bytes)
    assert [i for chunk in bounds for i in chunk] == list(range(len(sizes)))
    assert all(chunk for chunk in bounds) or bounds == [range(0)]
    for chunk in bounds:
        assert len(chunk) <= max_letters
        # Over the bytes only as one letter larger than a chunk: it goes alone.
        assert sum(sizes[i] for i in chunk) <= max_bytes or len(chunk) == 1
    # As few as greedy filling gives: a chunk's next letter would have broken a bound.
    for chunk, after in itertools.pairwise(bounds):
        grown = sum(sizes[i] for i in chunk) + sizes[after.start]
        assert len(chunk) == max_letters or grown > max_bytes


def test_no_letter_is_one_empty_chunk_still_audited() -> None:
    assert chunk_bounds([], 10, 100) == [range(0)]
    (only,) = chunk_audits(replay_fields(0), [[]], 4000, topic=TOPIC)
    assert [(x["dead_letters"], x["part"], x["parts"]) for x in only] == [([], 1, 1)]


def test_the_bounds_keep_a_chunk_well_inside_the_transaction_timeout() -> None:
    """Measured: ~2,500 small letters and ~7.5 MB of 10 kB letters re-sent a second."""
    assert CHUNK_LETTERS / 2_500 < TRANSACTION_TIMEOUT_S / 10
    assert CHUNK_BYTES / 7_500_000 < TRANSACTION_TIMEOUT_S / 10
    assert CHUNK_BYTES >= 8 * h.MAX_DEAD_LETTER_BYTES  # the largest letters, 8 a chunk
    with pytest.raises(ValueError, match="room for a letter"):
        chunk_bounds([1], 0, 100)


def test_every_chunk_is_audited_by_records_listing_exactly_its_letters() -> None:
    where = [f"dlq/{n % 3}/{1_000_000 + n}" for n in range(900)]
    chunks = [where[:400], where[400:800], where[800:]]
    audits = chunk_audits(replay_fields(900), chunks, 1_500, topic=TOPIC)
    assert len(audits) == 3
    for chunk, records in zip(chunks, audits, strict=True):
        assert [x for record in records for x in record["dead_letters"]] == chunk
        assert all(part_size(x) <= 1_500 for x in records)
    # Numbered across the replay: a reader sees one that stopped as parts 1..k of parts.
    numbered = [(x["part"], x["parts"]) for records in audits for x in records]
    assert numbered == [(n, len(numbered)) for n in range(1, len(numbered) + 1)]
    assert {x["replay_id"] for records in audits for x in records} == {
        replay_fields(0)["replay_id"]
    }


def test_only_a_replay_audited_in_one_record_in_all_is_written_as_v1() -> None:
    """One chunk of one part is the usual replay, readable by gateways before parts; a
    chunk of one part in a replay of several chunks is part k of n: v2."""
    (single,) = chunk_audits(replay_fields(2), [["dlq/0/1", "dlq/2/7"]], 4000, topic=TOPIC)
    assert codec.writer_of(_audit_bytes(single[0])).version == "1"
    several = chunk_audits(replay_fields(2), [["dlq/0/1"], ["dlq/2/7"]], 4000, topic=TOPIC)
    assert [len(x) for x in several] == [1, 1]
    assert {codec.writer_of(_audit_bytes(x[0])).version for x in several} == {"current"}


def test_a_replay_stopped_after_some_chunks_says_what_was_and_was_not_re_sent() -> None:
    todo = letters(10)
    report = ReplayReport("r-1", "ops", False, replayed=todo, chunks=4, chunks_committed=2)
    stopped = _stopped(report, todo, 6, _ChunkFailed("the broker refused 1 re-sent record(s)"))
    said = stopped.message
    assert said.startswith("the broker refused 1 re-sent record(s): the replay r-1 stopped at")
    assert "chunk 3 of 4, which was rolled back" in said
    assert "6 of its 10 dead letters were re-sent and audited (chunks 1 to 2)" in said
    assert "the other 4 were not re-sent" in said
    assert "Running the same command again re-sends only those" in said
    assert stopped.report is report
    assert (report.replayed, report.not_replayed) == (todo[:6], todo[6:])
    shown = report.as_dict()
    assert (shown["replayed"], shown["not_replayed"]) == (6, 4)
    assert (shown["chunks"], shown["chunks_committed"]) == (4, 2)
    assert shown["dead_letters"] == [x.id for x in todo[:6]]
    assert shown["result"].startswith("stopped after 6 of 10 dead letters (chunk 3 of 4)")


def test_a_replay_stopped_at_its_first_chunk_says_it_re_sent_nothing() -> None:
    todo = letters(3)
    report = ReplayReport("r-1", "ops", False, replayed=todo, chunks=2)
    failed = _ChunkFailed("another kpgw dlq replay started while this one ran and took over", "x.")
    said = _stopped(report, todo, 0, failed).message
    assert said == (
        "another kpgw dlq replay started while this one ran and took over: the replay was "
        "rolled back and re-sent nothing. x."
    )
    assert (report.replayed, report.not_replayed) == ([], todo)


def test_the_summary_says_a_replay_went_in_chunks(capsys: pytest.CaptureFixture[str]) -> None:
    todo = letters(9)
    report = ReplayReport("r-1", "ops", False, selected=todo, replayed=todo, chunks=3)
    report.audit_records, report.chunks_committed = 3, 3
    _say_replayed(report, TOPIC)
    said = capsys.readouterr().out.splitlines()
    assert (
        said[0]
        == "replayed 9 of 9 selected dead letter(s); 0 skipped as already replayed; replay id r-1"
    )
    assert said[-2:] == [
        "re-sent in 3 chunks, each audited in its own transaction",
        f"audit on {TOPIC}, in 3 records: ok",
    ]
