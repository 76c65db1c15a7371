"""A dead letter is named ``0-42`` by ``kpgw dlq list`` and ``dlq/0/42`` by its audit
records (kp.dlq.audit, ``kpgw-replayed-from``): the commands that take an id take both (an
on-call operator review), and say what an id looks like when given anything else."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from gateway.cli import cli, dlq_cmd
from gateway.dlq.store import DeadLetter, DlqFilter, DlqScan


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0-42", "0-42"), ("dlq/0/42", "0-42"), ("kp.dlq/2/7", "2-7"), (" dlq/1/005 ", "1-5")],
)
def test_both_forms_name_the_same_dead_letter(text: str, expected: str) -> None:
    assert dlq_cmd.dead_letter_id(text) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("kp.inbound/0/5", "names a record of kp.inbound, not a dead letter"),
        ("kp.dlq.audit/0/5", "names a record of kp.dlq.audit"),
        ("42", "is no dead letter id"),
        ("0/42", "is no dead letter id"),
        ("dlq-0-42", "is no dead letter id"),
    ],
)
def test_anything_else_is_refused_with_both_forms_named(text: str, said: str) -> None:
    with pytest.raises(click.BadParameter) as refused:
        dlq_cmd.dead_letter_id(text)
    assert said in refused.value.message
    assert "0-42" in refused.value.message and "dlq/0/42" in refused.value.message


def _scan_of_three_partitions(asked: list[DlqFilter]) -> Any:
    """A stand-in for reading kp.dlq: three partitions, none holding the ids asked for."""

    def scan(selection: DlqFilter) -> DlqScan:
        asked.append(selection)
        return DlqScan("kp.dlq", extents={0: (0, 5), 1: (0, 0), 2: (3, 9)})

    return scan


def test_show_takes_the_audit_form(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[DlqFilter] = []
    monkeypatch.setattr(dlq_cmd, "_scan", _scan_of_three_partitions(asked))
    result = CliRunner().invoke(cli, ["dlq", "show", "dlq/0/7"])
    assert result.exit_code == 1, result.output  # not there: judged, not a usage error
    assert [x.ids for x in asked] == [("0-7",)]
    assert "no dead letter 0-7 (partition 0 holds offsets 0-4 so far)" in result.output

    refused = CliRunner().invoke(cli, ["dlq", "show", "kp.inbound/0/7"])
    assert refused.exit_code == 2
    assert "names a record of kp.inbound" in refused.output


def test_replay_takes_the_audit_form(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[DlqFilter] = []
    monkeypatch.setattr(dlq_cmd, "_scan", _scan_of_three_partitions(asked))
    result = CliRunner().invoke(
        cli, ["dlq", "replay", "--dry-run", "--id", "dlq/0/7", "--id", "1-3"]
    )
    assert result.exit_code == 1, result.output
    assert asked[0].ids == ("0-7", "1-3")
    assert "no dead letter 0-7 (partition 0 holds offsets 0-4 so far); 1-3 (" in result.output


@pytest.mark.parametrize(
    ("dead_letter_id", "why"),
    [
        ("9-9", "kp.dlq has no partition 9: it has 3 (0-2)"),
        ("0-5", "partition 0 holds offsets 0-4 so far"),
        ("1-0", "partition 1 holds no dead letter so far"),
        ("2-1", "partition 2 now begins at offset 3: the topic's retention removed older"),
        ("2-4", "offset 4 of partition 2 holds a transaction marker or an aborted write"),
        ("0-2", "it does not match the other filters given"),
    ],
)
def test_an_absent_dead_letter_is_explained(dead_letter_id: str, why: str) -> None:
    """``kpgw dlq show 9-9`` said only "no dead letter 9-9" and how ids look, for an id
    of the right form: an operator could not tell a typo from a letter retention removed."""
    scan = DlqScan("kp.dlq", present={"0-2"}, extents={0: (0, 5), 1: (0, 0), 2: (3, 9)})
    assert scan.why_absent(dead_letter_id).startswith(why)


def test_help_names_both_forms() -> None:
    for command in (["dlq", "show", "--help"], ["dlq", "replay", "--help"]):
        text = " ".join(CliRunner().invoke(cli, command).output.split())
        assert "0-42" in text and "dlq/0/42" in text, command


def test_show_writes_findings_as_send_and_validate_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dlq show`` wrote 'UNAUTHORISED_SENDER:  RU may not ...' (two spaces where a path
    was missing) and 'XSD_VIOLATION: line 3 /a m', where ``kpgw send`` and ``validate``
    write 'XSD_VIOLATION (line 3, /a): m' for the same finding."""
    import json
    from types import SimpleNamespace

    from gateway.dlq.headers import FINDINGS, REASON

    findings = [
        {"code": "UNAUTHORISED_SENDER", "message": "RU may not", "line": None, "path": None},
        {"code": "XSD_VIOLATION", "message": "m", "line": 3, "path": "/a"},
    ]
    record = SimpleNamespace(
        partition=0, offset=7, timestamp=1_772_409_600_000, key=b"k", value=b"<x/>",
        headers=[(REASON, b"XSD_VIOLATION"), (FINDINGS, json.dumps(findings).encode())],
    )  # fmt: skip
    scan = DlqScan("kp.dlq", letters=[DeadLetter.of(record)])
    monkeypatch.setattr(dlq_cmd, "_scan", lambda selection: scan)
    monkeypatch.setattr(dlq_cmd, "_replay_history", dict)
    result = CliRunner().invoke(cli, ["dlq", "show", "0-7"])
    assert result.exit_code == 0, result.output
    assert "UNAUTHORISED_SENDER: RU may not\n" in result.stdout
    assert "XSD_VIOLATION (line 3, /a): m\n" in result.stdout


def test_show_says_a_letter_without_findings_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A router's dead letter (an undecodable event) has a reason and no findings: the
    findings rule stood over nothing, as if they had failed to print (walkthrough)."""
    from types import SimpleNamespace

    from gateway.dlq.headers import REASON

    record = SimpleNamespace(
        partition=0, offset=106, timestamp=1_772_409_600_000, key=b"k", value=b"\x00",
        headers=[(REASON, b"UNDECODABLE_AVRO")],
    )  # fmt: skip
    scan = DlqScan("kp.dlq", letters=[DeadLetter.of(record)])
    monkeypatch.setattr(dlq_cmd, "_scan", lambda selection: scan)
    monkeypatch.setattr(dlq_cmd, "_replay_history", dict)
    result = CliRunner().invoke(cli, ["dlq", "show", "0-106"])
    assert result.exit_code == 0, result.output
    findings = result.stdout.split("findings", 1)[1]
    assert "(none: the reason above is the whole finding)" in findings
