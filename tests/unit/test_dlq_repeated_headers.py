"""Dead letters whose headers give a name more than once. Kafka headers are a list: a
Kafka-native sender's record may carry ``kpgw-sender`` twice (the translator dead-letters
conflicting ones as INVALID_INBOUND_HEADER and keeps the headers as they were), and
Spring's ``kafka_dlt-*`` repeat when a letter is dead-lettered, replayed and dead-lettered
again. The operator's tools collapsed them into one value per name: `--sender` filtered
and `dlq stats` counted by one of the senders only (the other's filter never showed the
letter), `dlq show --json` printed one value."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from gateway.cli.dlq_cmd import stats_lines
from gateway.cli.tail_cmd import record_json
from gateway.dlq import headers as dlq
from gateway.dlq.store import DeadLetter, DlqFilter, stats

RECEIVED = datetime(2026, 3, 2, 8, 15, 30, tzinfo=UTC)
RECEIVED_MS = int(RECEIVED.timestamp() * 1000)
CONFLICTING = [
    (dlq.SENDER, b"RU"),
    ("x-trace", b"first"),
    (dlq.SENDER, b"BW"),
    ("x-trace", b"second"),
    ("x-binary", b"\xff\xfe\x00RU"),
]


def dead_letter(original: list[tuple[str, bytes]], key: bytes | None = b"RU:1") -> DeadLetter:
    failure = dlq.Failure(
        stage="translator",
        reason="INVALID_INBOUND_HEADER",
        exception_fqcn="gateway.errors.InvalidInboundHeader",
        message="the kpgw-sender header is given 2 times with different values",
    )
    origin = dlq.Origin("kp.inbound", 1, 17, RECEIVED_MS, "kp.translator")
    headers = dlq.dlq_headers(original, origin, failure, RECEIVED + timedelta(hours=1))
    record = SimpleNamespace(
        partition=0, offset=42, timestamp=RECEIVED_MS, key=key, value=b"<x/>", headers=headers
    )
    return DeadLetter.of(record)


def test_a_letter_names_every_sender_it_was_given_once_each() -> None:
    assert dlq.sender_values(CONFLICTING) == ("RU", "BW")
    # As the translator reads them: stripped, a blank one as none, a repeat as one.
    same = [(dlq.SENDER, b"RU"), (dlq.SENDER, b" RU "), (dlq.SENDER, b""), (dlq.SENDER, b"  ")]
    assert dlq.sender_values(same) == ("RU",)
    assert dlq.sender_values([(dlq.SENDER, b"\xffR")]) == ("\ufffdR",)
    letter = dead_letter(CONFLICTING)
    assert letter.senders == ("RU", "BW")
    assert (letter.summary()["sender"], letter.summary()["senders"]) == ("RU, BW", ["RU", "BW"])
    nobody = dead_letter([])
    assert (nobody.senders, nobody.sender, nobody.summary()["senders"]) == ((), "", [])


@pytest.mark.parametrize(("wanted", "selected"), [("RU", True), ("BW", True), ("ZA", False)])
def test_a_conflicting_letter_is_in_each_of_its_senders_filter(wanted: str, selected: bool) -> None:
    """Before, only the last kpgw-sender counted: `--sender RU` missed the letter."""
    assert DlqFilter(senders=(wanted,)).matches(dead_letter(CONFLICTING)) is selected


def test_the_none_filter_selects_only_letters_without_a_sender() -> None:
    none = DlqFilter(senders=("",))  # what `--sender (none)` becomes
    assert none.matches(dead_letter([]))
    assert not none.matches(dead_letter(CONFLICTING))
    assert not none.matches(dead_letter([(dlq.SENDER, b"RU")]))


def test_a_letter_built_with_its_one_sender_has_it_as_its_senders() -> None:
    letter = DeadLetter(
        id="0-1",
        partition=0,
        offset=1,
        timestamp=RECEIVED,
        key=None,
        value=None,
        headers=(),
        reason="X",
        stage="translator",
        sender="RU",
        original_topic="kp.inbound",
        original_partition=0,
        original_offset=1,
        message="",
    )
    assert letter.senders == ("RU",)
    assert DlqFilter(senders=("RU",)).matches(letter)


def test_stats_count_a_conflicting_letter_under_each_sender_and_say_how_many() -> None:
    letters = [
        dead_letter(CONFLICTING),
        dead_letter([(dlq.SENDER, b"RU")]),
        dead_letter([]),
    ]
    report = stats(letters, RECEIVED + timedelta(hours=2))
    assert report["total"] == 3
    # As `--sender` selects them: `dlq list --sender RU` lists the 2 counted here.
    assert report["by_sender"] == {"RU": 2, "BW": 1, "(none)": 1}
    assert report["conflicting_senders"] == 1


def test_readable_headers_keep_every_value_in_order() -> None:
    headers = [
        *CONFLICTING,
        (dlq.ORIGINAL_OFFSET, struct.pack(">q", 7)),
        (dlq.ORIGINAL_OFFSET, struct.pack(">q", 42)),  # dead-lettered twice, Spring-style
        ("x-null", None),
    ]
    assert dlq.readable_header_list(headers) == [
        (dlq.SENDER, "RU"),
        ("x-trace", "first"),
        (dlq.SENDER, "BW"),
        ("x-trace", "second"),
        ("x-binary", "\ufffd\ufffd\x00RU"),
        (dlq.ORIGINAL_OFFSET, 7),
        (dlq.ORIGINAL_OFFSET, 42),
        ("x-null", ""),
    ]
    # By name: a name given once keeps its plain value, a repeated one lists its values.
    assert dlq.readable_headers(headers) == {
        dlq.SENDER: ["RU", "BW"],
        "x-trace": ["first", "second"],
        "x-binary": "\ufffd\ufffd\x00RU",
        dlq.ORIGINAL_OFFSET: [7, 42],
        "x-null": "",
    }


def test_tail_json_keeps_a_repeated_header() -> None:
    record = SimpleNamespace(
        topic="kp.inbound", partition=0, offset=1, timestamp=1, key=None, value=b"<x/>",
        headers=CONFLICTING,
    )  # fmt: skip
    assert record_json(record)["headers"][dlq.SENDER] == ["RU", "BW"]


def test_stats_for_people_say_how_many_letters_name_conflicting_senders() -> None:
    letters = [dead_letter(CONFLICTING), dead_letter([(dlq.SENDER, b"\x1b[2JZA")])]
    report = {**stats(letters, RECEIVED), "pending": 2, "failed_again_after_replay": 0}
    lines = stats_lines(report)
    senders = lines[lines.index("sender:") + 1 : lines.index("stage:")]
    assert [line.split() for line in senders] == [
        ["RU", "1"],
        ["BW", "1"],
        ["\\x1b[2JZA", "1"],  # what a sender wrote, escaped: no terminal control
        ["(1", "dead", "letter(s)", "name", "conflicting", "senders", "and", "are", "counted",
         "under", "each)"],
    ]  # fmt: skip


def test_stats_of_no_letter_print_no_bare_headings() -> None:
    """``dlq stats --since`` a date after every letter printed the count, then empty
    "reason:", "sender:", "stage:" and "age:" headings (walkthrough)."""
    report = {**stats([], RECEIVED), "pending": 0, "failed_again_after_replay": 0}
    assert stats_lines(report) == [
        "0 dead letter(s), 0 not replayed yet (--pending), 0 from replays that failed again"
    ]


def test_a_lower_case_sender_is_selected_as_dlq_stats_counts_it() -> None:
    """A Kafka-native record naming ``ru`` is refused and dead-lettered; `dlq stats` counts
    it under ``ru``, but `--sender ru` was upper-cased and selected only RU's letters, so
    that letter could not be selected by sender at all (found by a walkthrough).
    `--sender RU` still selects what stats counts under RU."""
    from gateway.cli.dlq_cmd import _filter

    lower, upper = dead_letter([(dlq.SENDER, b"ru")]), dead_letter([(dlq.SENDER, b"RU")])
    typed_lower = _filter((), ("ru",), (), None, None)
    assert typed_lower.matches(lower) and typed_lower.matches(upper)
    typed_upper = _filter((), ("RU",), (), None, None)
    assert typed_upper.matches(upper) and not typed_upper.matches(lower)
    assert stats([lower, upper], datetime.now(UTC))["by_sender"] == {"ru": 1, "RU": 1}
    assert _filter((), ("(none)",), (), None, None).senders == ("",)
