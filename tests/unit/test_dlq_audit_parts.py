"""A replay's audit split into parts that fit kp.dlq.audit (found by a review: one record
listing every letter of a bulk replay, ~60,000 letters, outgrew the topic's 1 MiB, the
broker refused it and the whole replay was rolled back)."""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import codec
from gateway.dlq.audit import AuditTopicTooSmall, audit_parts, part_size
from gateway.dlq.replay import ReplayReport, _audit_bytes, _ChunkFailed, _raise_refused, _stopped
from gateway.errors import EnvironmentProblem
from gateway.ingress.dashboard import DashboardState

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TOPIC = "kp.dlq.audit"


def replay_fields(**changes: Any) -> dict[str, Any]:
    return {
        "replay_id": "0b4f6f5e-2f5c-4c52-a3a5-6f1c2f0b7e11",
        "operator": "ops",
        "at": AT,
        "filter": json.dumps({"reason": ["PAIR_NOT_ENABLED"]}),
        "dry_run": False,
        "selected": 0,
        "replayed": 0,
        "skipped": 0,
        "result": "ok",
        **changes,
    }


def coordinates(count: int) -> list[str]:
    return [f"dlq/{n % 3}/{1_000_000 + n}" for n in range(count)]


def test_a_bulk_replay_is_audited_in_parts_that_each_fit_and_list_every_letter_once() -> None:
    letters = coordinates(5000)  # ~80 kB of coordinates
    parts = audit_parts(replay_fields(replayed=5000), letters, 16_384, topic=TOPIC)
    assert len(parts) > 1
    assert [x for part in parts for x in part["dead_letters"]] == letters  # once, in order
    assert [(x["part"], x["parts"]) for x in parts] == [(n, len(parts)) for n in range(1, 6)]
    assert all(part_size(x) <= 16_384 for x in parts)
    # Every part is the replay's: the same fields but its share of the letters.
    shared = [{k: v for k, v in x.items() if k not in ("dead_letters", "part")} for x in parts]
    assert all(x == {**replay_fields(replayed=5000), "parts": len(parts)} for x in shared)


def test_parts_are_filled_so_the_next_letter_would_not_fit() -> None:
    letters = coordinates(3000)
    parts = audit_parts(replay_fields(), letters, 8_000, topic=TOPIC)
    for part, after in itertools.pairwise(parts):
        fuller = {**part, "dead_letters": [*part["dead_letters"], after["dead_letters"][0]]}
        # Unused: at most the slack kept for the varints and the widest part numbers.
        assert part_size(fuller) > 8_000 - 30


def test_a_replay_that_fits_is_one_record_as_before() -> None:
    letters = coordinates(40)
    (only,) = audit_parts(replay_fields(replayed=40), letters, 1024 * 1024, topic=TOPIC)
    assert (only["part"], only["parts"], only["dead_letters"]) == (1, 1, letters)


def test_a_replay_that_re_sent_nothing_is_one_record_without_letters() -> None:
    (only,) = audit_parts(replay_fields(result="nothing to replay"), [], 2000, topic=TOPIC)
    assert (only["part"], only["parts"], only["dead_letters"]) == (1, 1, [])


def test_a_topic_too_small_for_one_letter_is_said_before_anything_is_sent() -> None:
    with pytest.raises(AuditTopicTooSmall) as caught:
        audit_parts(replay_fields(), coordinates(2), 220, topic=TOPIC)
    said = caught.value.message
    assert said.startswith(f"{TOPIC} takes records of at most 220 bytes (max.message.bytes)")
    assert "nothing was re-sent" in said
    assert f"--entity-name {TOPIC} --add-config max.message.bytes=1048576" in said
    assert isinstance(caught.value, EnvironmentProblem)  # exit 2, one sentence


@settings(max_examples=80, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=600),
    limit=st.integers(min_value=600, max_value=20_000),
    filter_ids=st.lists(st.from_regex(r"[0-9]{1,2}-[0-9]{1,9}", fullmatch=True), max_size=8),
)
def test_parts_always_fit_and_audit_each_letter_exactly_once(
    count: int, limit: int, filter_ids: list[str]
) -> None:
    fields = replay_fields(filter=json.dumps({"id": filter_ids}), replayed=count)
    letters = coordinates(count)
    parts = audit_parts(fields, letters, limit, topic=TOPIC)
    assert [x for part in parts for x in part["dead_letters"]] == letters
    assert all(part_size(x) <= limit for x in parts)
    assert all(x["dead_letters"] for x in parts) or len(parts) == 1
    for part in parts:  # what the broker gets decodes to what was meant
        assert codec.decode(codec.encode("DlqAudit", part)) == part


def test_records_written_before_parts_read_as_the_one_part_of_their_replay() -> None:
    """DlqAudit v1 records (on kp.dlq.audit for 5 years) decode as part 1 of 1."""
    (v1_path,) = [p for p in codec.released_paths("DlqAudit") if p.stem == "v1"]
    v1 = fastavro.parse_schema(json.loads(v1_path.read_text("utf-8")))
    record = {**replay_fields(replayed=2), "dead_letters": ["dlq/0/1", "dlq/2/7"]}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v1, record)
    data = codec.MAGIC + codec.fingerprint(v1) + body.getvalue()
    assert codec.decode(data, "DlqAudit") == {**record, "part": 1, "parts": 1}


def test_a_v1_reader_reads_a_part_as_a_record_of_that_replay() -> None:
    """A gateway that knows v2's schema but reads with v1 (a partner's tool) gets the part's
    letters and ignores the part numbers."""
    (v1_path,) = [p for p in codec.released_paths("DlqAudit") if p.stem == "v1"]
    v1 = fastavro.parse_schema(json.loads(v1_path.read_text("utf-8")))
    part = audit_parts(replay_fields(replayed=900), coordinates(900), 4000, topic=TOPIC)[1]
    data = codec.encode("DlqAudit", part)
    writer = codec.registry().current("DlqAudit").schema
    read = fastavro.schemaless_reader(io.BytesIO(data[10:]), writer, v1)
    assert read == {k: v for k, v in part.items() if k not in ("part", "parts")}


def test_the_dashboard_counts_every_part_of_a_replay_as_replayed() -> None:
    state = DashboardState()
    letters = coordinates(700)
    state.dead_reasons.update(dict.fromkeys(letters, "XSD_VIOLATION"))
    state.dead_reasons["dlq/0/5"] = "XSD_VIOLATION"  # never replayed
    for part in audit_parts(replay_fields(replayed=700), letters, 3000, topic=TOPIC):
        state.replay(part)
    assert state.replayed == set(letters)
    assert state.snapshot(0)["dead_letters"]["pending"] == 1


def test_a_refused_audit_is_named_not_taken_for_a_refused_letter() -> None:
    parts = audit_parts(replay_fields(replayed=900), coordinates(900), 4000, topic=TOPIC)
    refused = RuntimeError("MessageSizeTooLargeError")
    with pytest.raises(_ChunkFailed) as caught:
        _raise_refused([], [refused], TOPIC, 4000, parts)
    said = _stopped(ReplayReport("r", "ops", False, chunks=1), [], 0, caught.value).message
    assert said.startswith(f"{TOPIC} refused 1 of the {len(parts)} audit record(s) of this chunk")
    assert "the replay was rolled back and re-sent nothing" in said
    assert "re-sent record(s)" not in said
    with pytest.raises(EnvironmentProblem, match=r"refused 2 re-sent record\(s\)"):
        _raise_refused([refused, refused], [], TOPIC, 4000, parts)


def test_a_replay_audited_in_one_record_is_written_as_v1_for_gateways_not_yet_upgraded() -> None:
    """A gateway of the version before parts knows only v1's fingerprint: the usual replay
    (one record) stays readable by it; only a bulk replay's parts need v2."""
    (v1_path,) = [p for p in codec.released_paths("DlqAudit") if p.stem == "v1"]
    v1 = fastavro.parse_schema(json.loads(v1_path.read_text("utf-8")))
    (single,) = audit_parts(replay_fields(replayed=2), ["dlq/0/1", "dlq/2/7"], 4000, topic=TOPIC)
    data = _audit_bytes(single)
    assert data[2:10] == codec.fingerprint(v1)
    assert fastavro.schemaless_reader(io.BytesIO(data[10:]), v1, v1) == {
        k: v for k, v in single.items() if k not in ("part", "parts")
    }
    assert codec.decode(data, "DlqAudit") == single
    parts = audit_parts(replay_fields(replayed=900), coordinates(900), 4000, topic=TOPIC)
    assert len(parts) > 1
    assert all(codec.writer_of(_audit_bytes(x)).version == "current" for x in parts)
