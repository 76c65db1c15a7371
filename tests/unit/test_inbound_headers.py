"""What a Kafka-native sender's headers can hold that the ingress never writes: a null
header value (Java's ``headers.add(name, null)``), bytes that are not UTF-8, a header given
twice, a binary key. Found by a Kafka-native sender's review: a null ``kpgw-tracking-id``
raised in the translator outside the record's own handling, so the batch failed at every
retry and the partition stopped for good; a non-UTF-8 tracking id or a repeated
``kpgw-sender`` were silently guessed at (the status under an id the sender does not know,
the document judged as the last header's sender)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.dlq import headers as dlq
from gateway.dlq.replay import replay_headers
from gateway.dlq.store import DeadLetter
from gateway.registry import ParticipantRegistry
from gateway.translator.inbound import Inbound
from gateway.translator.worker import translate_record

MOMENT_MS = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)
COORDINATES = "kp.inbound/3/41"
Headers = list[tuple[str, bytes | None]]


def read(headers: Headers, key: bytes | None = b"RU:m-1") -> Inbound:
    return Inbound.of(key, headers, MOMENT_MS, COORDINATES)


@pytest.mark.parametrize(
    "name", ["kpgw-tracking-id", "kpgw-message-id", "kpgw-received-at", "kpgw-format", "x-trace"]
)
def test_a_null_header_value_counts_as_absent(name: str) -> None:
    inbound = read([("kpgw-sender", b"RU"), (name, None)])
    assert inbound.header_problems == ()
    assert (inbound.sender, inbound.tracking_id) == ("RU", "RU:m-1")
    assert inbound.received_at == datetime(2026, 3, 2, tzinfo=UTC)


def test_a_null_sender_is_no_sender() -> None:
    inbound = read([("kpgw-sender", None)])
    assert inbound.sender is None and inbound.header_problems == ()


@pytest.mark.parametrize(
    "name", ["kpgw-sender", "kpgw-tracking-id", "kpgw-message-id", "kpgw-received-at"]
)
def test_a_header_that_is_not_utf8_is_named_not_guessed(name: str) -> None:
    base: Headers = [] if name == "kpgw-sender" else [("kpgw-sender", b"RU")]
    inbound = read([*base, (name, b"\xff\xfeRU-1")])
    assert inbound.tracking_id == COORDINATES  # where the sender can find its status
    (problem,) = inbound.header_problems
    assert problem.startswith(f"the {name} header is not UTF-8 text (byte 1 of 6 is 0xFF)")


@pytest.mark.parametrize("name", ["kpgw-sender", "kpgw-tracking-id", "kpgw-format"])
def test_a_header_given_twice_with_different_values_is_refused(name: str) -> None:
    first, second = (b"ZA", b"RU") if name == "kpgw-sender" else (b"uncefact", b"ru_fts")
    base: Headers = [] if name == "kpgw-sender" else [("kpgw-sender", b"RU")]
    inbound = read([*base, (name, first), ("x-other", b"1"), (name, second)])
    assert inbound.tracking_id == COORDINATES
    assert inbound.sender in (None, "RU") and inbound.sender != "ZA"
    (problem,) = inbound.header_problems
    assert problem.startswith(f"the {name} header is given 2 times with different values")
    assert problem.endswith("give it once")


def test_a_header_repeated_with_one_value_or_an_empty_one_is_fine() -> None:
    inbound = read(
        [
            ("kpgw-sender", b"RU"),
            ("kpgw-sender", b" RU "),
            ("kpgw-tracking-id", b""),
            ("kpgw-tracking-id", b"t-1"),
        ]
    )
    assert inbound.header_problems == ()
    assert (inbound.sender, inbound.tracking_id) == ("RU", "t-1")


def test_a_binary_key_is_refused_only_where_it_would_be_the_tracking_id() -> None:
    binary = b"\x00\x9f\x12\xab" * 4  # e.g. a UUID's 16 bytes
    refused = read([("kpgw-sender", b"RU")], key=binary)
    assert refused.tracking_id == COORDINATES
    assert "the record key is not UTF-8 text" in refused.header_problems[0]
    named = read([("kpgw-sender", b"RU"), ("kpgw-tracking-id", b"t-2")], key=binary)
    assert named.header_problems == () and named.tracking_id == "t-2"


def test_a_null_header_value_is_kept_empty_on_the_dead_letter() -> None:
    """dlq_headers and the size of a letter measured ``len(None)``: a TypeError while
    dead-lettering, the same endless retry as above."""
    failure = dlq.Failure(
        stage="translator", reason="EMPTY_DOCUMENT", exception_fqcn="x", message="empty"
    )
    origin = dlq.Origin("kp.inbound", 1, 17, MOMENT_MS, "kp.translator")
    original: Headers = [("kpgw-sender", b"RU"), ("x-null", None)]
    headers = dlq.dlq_headers(original, origin, failure, datetime(2026, 3, 2, tzinfo=UTC))
    assert ("x-null", b"") in headers
    assert dlq.fitted(b"RU:1", b"", headers, origin, 4096)[2] == headers
    assert dlq.readable_headers([("x-null", None)]) == {"x-null": ""}


def test_a_replay_replaces_the_header_it_pins_rather_than_repeating_it() -> None:
    failure = dlq.Failure(
        stage="translator",
        reason="INVALID_INBOUND_HEADER",
        exception_fqcn="gateway.errors.InvalidInboundHeader",
        message="not a time stamp",
    )
    origin = dlq.Origin("kp.inbound", 1, 17, MOMENT_MS, "kp.translator")
    original: Headers = [("kpgw-sender", b"RU"), ("kpgw-received-at", b"yesterday")]
    headers = dlq.dlq_headers(original, origin, failure, datetime(2026, 3, 2, tzinfo=UTC))
    record = SimpleNamespace(
        partition=0, offset=5, timestamp=MOMENT_MS, key=b"RU:1", value=b"<x/>", headers=headers
    )
    replayed = replay_headers(DeadLetter.of(record), "r-1")
    assert [v for k, v in replayed if k == "kpgw-received-at"] == [b"2026-03-02T00:00:00.000Z"]
    assert Inbound.of(b"RU:1", replayed, MOMENT_MS + 1, "kp.inbound/0/9").header_problems == ()


@pytest.mark.parametrize("name", ["KPGW-Sender", "kpgw_tracking_id", "Kpgw-Received-At"])
def test_a_kpgw_header_in_another_spelling_is_named_not_ignored(name: str) -> None:
    inbound = read([("kpgw-sender", b"RU"), (name, b"t-1")])
    assert inbound.tracking_id == COORDINATES
    (problem,) = inbound.header_problems
    assert problem.startswith(f"the header {name!r} is not read: its name is kpgw-")


def test_other_headers_in_any_spelling_are_ignored() -> None:
    inbound = read([("kpgw-sender", b"RU"), ("Content-Type", b"application/xml"), ("X", b"")])
    assert inbound.header_problems == ()


@pytest.mark.parametrize("timestamp_ms", [-1, -(10**15)])
def test_a_record_timestamp_that_is_no_time_is_refused_without_a_reception_header(
    timestamp_ms: int,
) -> None:
    """A negative timestamp (the broker keeps any) raised ValueError outside the record's
    own handling for one of year -29719: the batch failed at every retry."""
    inbound = Inbound.of(b"RU:m-1", [("kpgw-sender", b"RU")], timestamp_ms, COORDINATES)
    assert inbound.tracking_id == COORDINATES
    (problem,) = inbound.header_problems
    assert problem.startswith(f"the record's timestamp ({timestamp_ms:,} ms) is no time")
    given = [("kpgw-sender", b"RU"), ("kpgw-received-at", b"2026-03-02T10:00:00Z")]
    assert Inbound.of(b"RU:m-1", given, timestamp_ms, COORDINATES).header_problems == ()


@pytest.mark.parametrize("moment", [b"9999-12-31T23:59:59Z", b"0001-01-01T00:00:00Z"])
def test_a_reception_time_the_date_rules_cannot_count_from_is_refused(
    example_registry: ParticipantRegistry, moment: bytes
) -> None:
    """Year 9999's last day was a POISON_PILL ("date value out of range") after three
    logged crashes: the date rules add a day to the day of reception."""
    inbound = read([("kpgw-sender", b"RU"), ("kpgw-received-at", moment)])
    (problem,) = inbound.header_problems
    assert "lies outside the years 1970 to 9998" in problem
    raw = (Path(__file__).parents[1] / "fixtures/ru_fts/cancellation_ru.xml").read_bytes()
    result = translate_record(raw, inbound, example_registry)
    assert result.failure is not None and result.failure.reason == "INVALID_INBOUND_HEADER"


def test_a_replay_of_a_letter_whose_original_timestamp_is_no_time_pins_none() -> None:
    """Any 8 bytes make a timestamp header: one past the calendar failed the replay."""
    failure = dlq.Failure(
        stage="translator", reason="INVALID_INBOUND_HEADER", exception_fqcn="x", message="m"
    )
    origin = dlq.Origin("kp.inbound", 1, 17, MOMENT_MS, "kp.translator")
    headers = dlq.dlq_headers([("kpgw-sender", b"RU")], origin, failure, datetime.now(UTC))
    for ms in (2**62, -(10**15)):
        corrupt = [
            (k, struct.pack(">q", ms) if k == dlq.ORIGINAL_TIMESTAMP else v) for k, v in headers
        ]
        record = SimpleNamespace(
            partition=0, offset=5, timestamp=MOMENT_MS, key=b"RU:1", value=b"<x/>", headers=corrupt
        )
        replayed = replay_headers(DeadLetter.of(record), "r-1")
        assert not [v for k, v in replayed if k == "kpgw-received-at"]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("kpgw-message-id", "m-1\x1b[31m", "U+001B"),
        ("kpgw-message-id", "m-\u202e1", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("kpgw-tracking-id", "t-1\nforged: line", "U+000A"),
        ("kpgw-tracking-id", "t-\t1", "U+0009"),
    ],
)
def test_an_id_that_is_not_one_line_of_printable_text_is_refused(
    example_registry: ParticipantRegistry, name: str, value: str, shown: str
) -> None:
    """The document's own message id with such a character is TEXT_CONTROL_CHARACTER; the
    header's went into the event partners receive (an escape sequence, a bidirectional
    override), and a tracking id into status keys and URLs."""
    inbound = read([("kpgw-sender", b"RU"), (name, value.encode())])
    (problem,) = inbound.header_problems
    assert f"contains {shown}" in problem and "one line of printable text" in problem
    assert inbound.tracking_id == COORDINATES
    raw = (Path(__file__).parents[1] / "fixtures/ru_fts/cancellation_ru.xml").read_bytes()
    result = translate_record(raw, inbound, example_registry)
    assert result.failure is not None and result.failure.reason == "INVALID_INBOUND_HEADER"


def test_a_key_standing_for_the_tracking_id_is_held_to_the_same() -> None:
    inbound = read([("kpgw-sender", b"RU")], key="RU:\u202em-1".encode())
    assert "U+202E" in inbound.header_problems[0]
    named = read([("kpgw-sender", b"RU"), ("kpgw-tracking-id", b"t-1")], key="RU:\u202e".encode())
    assert named.header_problems == ()  # the key is then no id of the gateway's
    assert (
        read([("kpgw-sender", b"RU"), ("kpgw-message-id", "m\u00a01".encode())]).header_problems
        == ()
    )
