"""What a replay sends back: the translator must read the replayed record as it read the
original, even when a Kafka-native sender left the reception time and tracking id to the
record's own metadata (found by an operations review: a certificate dated in the future
passed the date rule on replay, because the replay's timestamp became its reception time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from gateway.dlq import headers as dlq
from gateway.dlq.replay import replay_headers
from gateway.dlq.store import DeadLetter, DlqFilter
from gateway.translator.inbound import Inbound, inbound_headers

RECEIVED = datetime(2026, 3, 2, 8, 15, 30, 250_000, tzinfo=UTC)
RECEIVED_MS = int(RECEIVED.timestamp() * 1000)
REPLAYED_MS = RECEIVED_MS + 9 * 86_400_000  # nine days later


def dead_letter(original: list[tuple[str, bytes]], key: bytes | None) -> DeadLetter:
    failure = dlq.Failure(
        stage="translator",
        reason="DATE_IN_FUTURE",
        exception_fqcn="gateway.errors.BusinessRuleViolation",
        message="issued after it was received",
    )
    origin = dlq.Origin("kp.inbound", 1, 17, RECEIVED_MS, "kp.translator")
    headers = dlq.dlq_headers(original, origin, failure, datetime(2026, 3, 2, 9, tzinfo=UTC))
    record = SimpleNamespace(
        partition=0,
        offset=42,
        timestamp=RECEIVED_MS + 1000,
        key=key,
        value=b"<x/>",
        headers=headers,
    )
    return DeadLetter.of(record)


def as_translator_reads(letter: DeadLetter, headers: list[tuple[str, bytes]]) -> Inbound:
    return Inbound.of(letter.key, headers, REPLAYED_MS, "kp.inbound/0/99")


def test_a_kafka_native_record_keeps_its_reception_time_and_tracking_id() -> None:
    letter = dead_letter([(dlq.SENDER, b"RU")], key=None)
    original = Inbound.of(None, [(dlq.SENDER, b"RU")], RECEIVED_MS, "kp.inbound/1/17")
    replayed = as_translator_reads(letter, replay_headers(letter, "r-1"))
    assert replayed.received_at == original.received_at == RECEIVED
    assert replayed.tracking_id == original.tracking_id == "kp.inbound/1/17"


def test_a_keyed_record_keeps_its_key_as_tracking_id() -> None:
    letter = dead_letter([(dlq.SENDER, b"RU")], key=b"RU:0042")
    headers = replay_headers(letter, "r-1")
    assert dlq.header(headers, dlq.TRACKING_ID) is None  # the key still names it
    assert as_translator_reads(letter, headers).tracking_id == "RU:0042"


# The last one is ISO 8601 but falls outside the calendar once in UTC: the translator
# refuses it, so the replay must not keep it.
@pytest.mark.parametrize("garbage", [b"", b"yesterday", b"  ", b"9999-12-31T23:59:59-12:00"])
def test_an_unreadable_reception_time_is_replaced_by_the_one_the_translator_used(
    garbage: bytes,
) -> None:
    letter = dead_letter([(dlq.SENDER, b"RU"), (dlq.RECEIVED_AT, garbage)], key=b"RU:1")
    replayed = as_translator_reads(letter, replay_headers(letter, "r-1"))
    assert replayed.received_at == RECEIVED
    assert not replayed.header_problems


def test_headers_the_sender_gave_are_sent_back_unchanged() -> None:
    original = inbound_headers(
        sender="ZA",
        message_id="m-1",
        tracking_id="t-1",
        received_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    letter = dead_letter(original, key=b"ZA:m-1")
    headers = replay_headers(letter, "r-1")
    assert headers[: len(original)] == original
    assert [name for name, _ in headers[len(original) :]] == [
        dlq.REPLAY_ID,
        dlq.REPLAYED_FROM,
    ]
    replayed = as_translator_reads(letter, headers)
    assert (replayed.received_at, replayed.tracking_id) == (datetime(2026, 3, 1, tzinfo=UTC), "t-1")


def test_a_replay_sends_back_every_original_header_in_order() -> None:
    original = [
        (dlq.SENDER, b"RU"),
        ("x-trace", b"first"),
        (dlq.SENDER, b"BW"),
        ("x-trace", b"second"),
        ("x-binary", b"\xff\xfe\x00RU"),
        (dlq.RECEIVED_AT, b"2026-03-02T08:15:30Z"),
    ]
    letter = dead_letter(original, key=b"RU:1")
    headers = replay_headers(letter, "r-1")
    assert headers == [
        *original,
        (dlq.REPLAY_ID, b"r-1"),
        (dlq.REPLAYED_FROM, b"dlq/0/42"),
    ]


def test_a_replay_adds_no_sender_the_record_did_not_have() -> None:
    """Dead-lettering writes an empty kpgw-sender when the record had none (so every
    letter has one); a replay sent it back as if the sender had written it."""
    original = [("x-trace", b"a"), (dlq.RECEIVED_AT, b"2026-03-02T08:15:30Z")]
    letter = dead_letter(original, key=b"RU:1")
    assert dlq.header_values(letter.headers, dlq.SENDER) == [b""]
    headers = replay_headers(letter, "r-1")
    assert headers[:-2] == original
    assert [name for name, _ in headers[-2:]] == [dlq.REPLAY_ID, dlq.REPLAYED_FROM]
    # An empty one the sender wrote itself is the record's, and goes back.
    own = replay_headers(dead_letter([(dlq.SENDER, b""), *original], key=b"RU:1"), "r-1")
    assert own[:-2] == [(dlq.SENDER, b""), *original]


def test_a_reception_time_followed_by_a_blank_one_is_kept_on_replay() -> None:
    """The translator reads the sender's time stamp (a blank value counts as none); the
    replay looked at the last value only and replaced both with the record's timestamp."""
    given = b"2026-03-01T10:00:00Z"
    original = [(dlq.SENDER, b"RU"), (dlq.RECEIVED_AT, given), (dlq.RECEIVED_AT, b"")]
    letter = dead_letter(original, key=b"RU:1")
    headers = replay_headers(letter, "r-1")
    assert headers[:3] == original
    replayed = as_translator_reads(letter, headers)
    assert replayed.received_at == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_a_tracking_id_followed_by_a_blank_one_is_kept_on_replay() -> None:
    original = [(dlq.SENDER, b"RU"), (dlq.TRACKING_ID, b"t-7"), (dlq.TRACKING_ID, b" ")]
    letter = dead_letter(original, key=None)
    headers = replay_headers(letter, "r-1")
    assert dlq.header_values(headers, dlq.TRACKING_ID) == [b"t-7", b" "]
    assert as_translator_reads(letter, headers).tracking_id == "t-7"


def test_conflicting_reception_times_go_back_as_they_were() -> None:
    """Not one of them chosen: the translator refuses the conflict again, as the sender
    must give one time stamp (the replay prediction says so before anything is sent)."""
    original = [
        (dlq.SENDER, b"RU"),
        (dlq.RECEIVED_AT, b"2026-03-01T10:00:00Z"),
        (dlq.RECEIVED_AT, b"yesterday"),
    ]
    letter = dead_letter(original, key=b"RU:1")
    headers = replay_headers(letter, "r-1")
    assert headers[:3] == original
    assert as_translator_reads(letter, headers).header_problems


def test_the_audit_filter_says_when_a_replay_was_forced() -> None:
    """An operator review: a --force replay's audit record read like any other."""
    selection = DlqFilter(ids=("0-0",))
    assert "force" not in json.loads(selection.as_json())
    assert json.loads(selection.as_json(force=True))["force"] is True


@pytest.mark.parametrize("timestamp_ms", [-1, -(10**15), 2**62])
def test_a_dead_letter_with_any_timestamp_is_read_and_filtered(timestamp_ms: int) -> None:
    """A record on kp.dlq keeps any negative timestamp a producer wrote: one of year -29719
    raised ValueError in DeadLetter.of, so `kpgw dlq list`, `stats`, `show` and `replay`
    failed whole with a traceback, whatever the filter."""
    record = SimpleNamespace(
        partition=0, offset=7, timestamp=timestamp_ms, key=b"k", value=b"<x/>", headers=[]
    )
    letter = DeadLetter.of(record)
    assert letter.timestamp.tzinfo is UTC
    assert DlqFilter(since=RECEIVED).matches(letter) is (timestamp_ms > 0)
    json.dumps(letter.summary(), default=str)
