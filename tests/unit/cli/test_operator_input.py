"""Operators' input is taken as meant, or refused with a reason (found by an operations
review): filters in the codes' own case, tokens only for participants, a missing registry
named as such."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.cli.dlq_cmd import _filter
from gateway.cli.tail_cmd import record_json
from gateway.errors import ConfigurationError
from gateway.registry.watch import RegistryWatcher


def test_dlq_filters_match_codes_in_any_case() -> None:
    selection = _filter(("not_kp_goods",), (" za", "(none)"), (), None, None)
    assert selection.reasons == ("NOT_KP_GOODS",)
    # As typed too (a refused lower-case sender); "(none)" is how dlq stats labels none.
    assert selection.senders == ("ZA", "za", "")


def test_a_token_is_minted_only_for_a_participant() -> None:
    refused = CliRunner().invoke(cli, ["registry", "token", "XX"])
    assert refused.exit_code == 2
    assert "not a participant" in refused.output
    minted = CliRunner().invoke(cli, ["registry", "token", "ru"])
    assert minted.exit_code == 0
    assert "kpgw_ru_" in minted.output and 'token_hashes = ["sha256:' in minted.output


def test_a_missing_registry_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read participant registry"):
        RegistryWatcher(tmp_path / "participants.toml")


def test_spring_binary_headers_read_as_numbers_in_tail_and_dlq_show() -> None:
    record = SimpleNamespace(
        topic="kp.dlq",
        partition=0,
        offset=3,
        timestamp=1,
        key=b"k",
        value=b"<x/>",
        headers=[
            ("kafka_dlt-original-partition", struct.pack(">i", 5)),
            ("kafka_dlt-original-offset", struct.pack(">q", 42)),
            ("kafka_dlt-original-timestamp", struct.pack(">q", 1_767_225_600_000)),
            ("kpgw-reason", b"XSD_VIOLATION"),
        ],
    )
    headers = record_json(record)["headers"]
    assert headers == {
        "kafka_dlt-original-partition": 5,
        "kafka_dlt-original-offset": 42,
        "kafka_dlt-original-timestamp": 1_767_225_600_000,
        "kpgw-reason": "XSD_VIOLATION",
    }


def test_tail_gives_each_record_its_time_and_times_to_the_millisecond() -> None:
    """``kpgw tail`` showed a record's time as epoch milliseconds only, and the times in
    its value with microseconds ("...T14:54:17.682000Z") though events carry
    milliseconds."""
    from datetime import timedelta

    from gateway.events import to_json

    record = SimpleNamespace(
        topic="kp.status", partition=0, offset=1, timestamp=1_796_007_566_242, key=None,
        value=None, headers=[],
    )  # fmt: skip
    shown = record_json(record)
    assert shown["timestamp"] == 1_796_007_566_242  # kept for scripts
    assert shown["time"] == "2026-11-30T02:59:26.242Z"
    moment = datetime(2026, 12, 10, 14, 54, 17, tzinfo=UTC)
    assert to_json(moment) == "2026-12-10T14:54:17Z"
    assert to_json(moment + timedelta(microseconds=682_999)) == "2026-12-10T14:54:17.682Z"


@pytest.mark.parametrize(
    ("timestamp", "time"),
    [(-(10**15), "1970-01-01T00:00:00Z"), (10**15, "9999-12-31T23:59:59.999Z")],
)
def test_tail_shows_a_record_stamped_outside_the_calendar(timestamp: int, time: str) -> None:
    """A producer may stamp a record with any negative timestamp (the broker keeps it):
    its time made ``kpgw tail`` fail whole ("year -29719 is out of range"), as ``kpgw dlq
    list`` did; it is shown as the dead letters' times are (``record_instant``)."""
    record = SimpleNamespace(
        topic="kp.inbound", partition=0, offset=1, timestamp=timestamp, key=None,
        value=None, headers=[],
    )  # fmt: skip
    shown = record_json(record)
    assert (shown["timestamp"], shown["time"]) == (timestamp, time)


def test_an_inverted_time_window_is_refused() -> None:
    with pytest.raises(click.BadParameter, match="is not before --until"):
        _filter((), (), (), datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def test_a_replay_without_a_filter_asks_for_all() -> None:
    """Checked before Kafka is contacted: nothing is read, nothing sent."""
    refused = CliRunner().invoke(cli, ["dlq", "replay"])
    assert refused.exit_code == 2
    assert "re-sends every dead letter" in refused.output and "--all" in refused.output


@pytest.mark.parametrize(
    "arguments",
    [
        ["dlq", "show", "foo"],
        ["dlq", "replay", "--id", "0-4", "--id", "kp.inbound/0/4", "--dry-run"],
    ],
)
def test_a_malformed_dead_letter_id_is_a_usage_error(arguments: list[str]) -> None:
    """Exit 2 with the expected shape, before any broker is asked (it exited 1, as for a
    dead letter that is not there)."""
    refused = CliRunner().invoke(cli, arguments)
    assert refused.exit_code == 2
    assert "ids look like 0-42" in refused.output


def test_a_token_request_is_answered_with_what_to_do_next() -> None:
    """``kpgw registry token BE`` said "BE is not a participant", where ``validate --sender
    BE`` names EU; a suspended participant's token was minted without a word; and nothing
    said where the hash line goes (a second ``token_hashes`` key breaks the file)."""
    member_state = CliRunner().invoke(cli, ["registry", "token", "be"])
    assert member_state.exit_code == 2
    assert "BE is a member state of EU" in member_state.stderr
    assert "kpgw registry token EU" in member_state.stderr
    suspended = CliRunner().invoke(cli, ["registry", "token", "VE"])
    assert suspended.exit_code == 0 and "kpgw_ve_" in suspended.stdout
    assert "VE is suspended" in suspended.stderr
    minted = CliRunner().invoke(cli, ["registry", "token", "RU"])
    assert minted.stdout.count("\n") == 2  # the two lines scripts read, unchanged
    assert "[participants.RU]" in minted.stderr and "token_hashes" in minted.stderr
    assert "suspended" not in minted.stderr


@pytest.mark.parametrize("command", ["send", "status"])
@pytest.mark.parametrize("url", ["127.0.0.1:8080", "localhost:8080", "ftp://127.0.0.1:8080"])
def test_a_url_without_http_is_a_usage_error(command: str, url: str, tmp_path: Path) -> None:
    """``kpgw send --url 127.0.0.1:8080`` failed per file with 'not sent:
    NonHttpUrlClientError: 127.0.0.1:8080/v1/messages', which does not say what to fix."""
    document = tmp_path / "certificate.xml"
    document.write_bytes(b"<r/>")
    argument = str(document) if command == "send" else "a-tracking-id"
    result = CliRunner().invoke(cli, [command, "--url", url, "--token", "t", argument])
    assert result.exit_code == 2
    assert "--url" in result.stderr and "http://" in result.stderr
    assert "NonHttpUrlClientError" not in result.output


@pytest.mark.parametrize("option", ["--log-format", "--log-level"])
def test_a_group_option_after_the_command_is_placed_for_the_user(option: str) -> None:
    """``kpgw run --log-format json`` said only "No such option '--log-format'", which
    ``kpgw --help`` lists: it is kpgw's own option and goes before the command."""
    value = "json" if option == "--log-format" else "debug"
    result = CliRunner().invoke(cli, ["dlq", "stats", option, value])
    assert result.exit_code == 2
    assert f"kpgw {option} {value} dlq stats" in result.stderr
