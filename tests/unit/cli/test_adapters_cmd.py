"""``kpgw validate`` and ``kpgw translate``: exit codes 0/1/2 and the JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli
from gateway.generate import GenerateOptions, read_manifest, write
from gateway.registry import ParticipantRegistry
from tests.unit.generate.helpers import PLAIN

VALIDATE_KEYS = {"file", "ok", "format", "kind", "certificate_id", "findings"}
FINDING_KEYS = {"code", "message", "line", "path"}


def run(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def lines(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def corpus(fmt: str, registry: ParticipantRegistry, tmp_path: Path) -> dict[str, list[Path]]:
    """Generated files by what they should do: 'valid' and 'broken' (+ the sender)."""
    write(GenerateOptions(pairs=40, seed=21, format=fmt, faults=0.6), registry, tmp_path)
    found: dict[str, list[Path]] = {"valid": [], "broken": []}
    for line in read_manifest(tmp_path):
        group = "broken" if "expected_findings" in line else "valid"
        found[group].extend(tmp_path / entry["path"] for entry in line["files"])
    return found


def test_validate_valid_files_exit_0_with_one_json_line_each(
    fmt: str, corpus: dict[str, list[Path]]
) -> None:
    files = [str(path) for path in corpus["valid"][:6]]
    result = run("validate", "--json", *files)
    assert result.exit_code == 0, result.output
    records = lines(result)
    assert [record["file"] for record in records] == files
    for record in records:
        assert set(record) == VALIDATE_KEYS
        assert record["ok"] is True
        assert record["findings"] == []
        assert record["kind"] in ("certificate", "confirmation", "void")
        assert record["format"] == fmt
        assert str(record["certificate_id"]) in str(record["file"])


def test_validate_invalid_file_exits_1_with_its_findings(
    fmt: str, corpus: dict[str, list[Path]]
) -> None:
    valid, broken = corpus["valid"][0], corpus["broken"][0]
    result = run("validate", "--json", str(valid), str(broken))
    assert result.exit_code == 1, result.output
    good, bad = lines(result)
    assert good["ok"] is True
    assert bad["ok"] is False
    # Known when the document was read before it was refused (a KP rule), else null.
    assert bad["kind"] in (None, "certificate", "confirmation", "void")
    assert (bad["kind"] is None) == (bad["certificate_id"] is None)
    assert bad["findings"]
    for finding in bad["findings"]:  # type: ignore[attr-defined]
        assert set(finding) == FINDING_KEYS
        assert finding["code"]
        assert finding["message"]


def test_unreadable_file_exits_2_but_every_file_is_reported(
    fmt: str, corpus: dict[str, list[Path]], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-file.xml"
    result = run("validate", "--json", str(corpus["valid"][0]), str(missing))
    assert result.exit_code == 2
    first, second = lines(result)
    assert first["ok"] is True
    assert second["file"] == str(missing)
    assert second["findings"][0]["code"] == "UNREADABLE_FILE"  # type: ignore[index]


def test_validate_table_output(fmt: str, corpus: dict[str, list[Path]]) -> None:
    result = run("validate", str(corpus["valid"][0]), str(corpus["broken"][0]))
    assert result.exit_code == 1
    assert "valid" in result.stdout
    assert "invalid" in result.stdout
    assert "1 valid, 1 invalid" in result.stdout


def test_sender_is_checked(registry: ParticipantRegistry, plain: None, tmp_path: Path) -> None:
    write(GenerateOptions(pairs=1, seed=1, format=PLAIN), registry, tmp_path)
    entry = read_manifest(tmp_path)[0]["files"][0]
    path = str(tmp_path / entry["path"])
    other = "CA" if entry["sender"] != "CA" else "BW"
    assert run("validate", "--sender", entry["sender"].lower(), path).exit_code == 0
    result = run("validate", "--json", "--sender", other, path)
    assert result.exit_code == 1
    refused = lines(result)[0]
    assert refused["findings"][0]["code"] == "UNAUTHORISED_SENDER"  # type: ignore[index]
    # Read before it was refused: the sender learns which certificate and what kind.
    assert (refused["kind"], refused["certificate_id"]) == (
        entry["kind"],
        read_manifest(tmp_path)[0]["certificate_id"],
    )
    unknown = run("validate", "--sender", "KE", path)
    assert unknown.exit_code == 2
    assert "KE" in unknown.stderr
    member_state = run("validate", "--sender", "BE", path)
    assert member_state.exit_code == 2
    assert "BE is a member state of EU: use --sender EU" in member_state.stderr


def test_format_override(registry: ParticipantRegistry, plain: None, tmp_path: Path) -> None:
    write(GenerateOptions(pairs=1, seed=1, format=PLAIN), registry, tmp_path)
    path = str(tmp_path / read_manifest(tmp_path)[0]["files"][0]["path"])
    assert run("validate", "--format", PLAIN, path).exit_code == 0
    wrong = run("validate", "--json", "--format", "plainxml2", path)
    assert wrong.exit_code == 1
    assert lines(wrong)[0]["format"] == "plainxml2"
    unknown = run("validate", "--format", "nope", path)
    assert unknown.exit_code == 2
    assert "unknown format 'nope'" in unknown.stderr


def test_usage_and_environment_errors_exit_2(plain: None, tmp_path: Path) -> None:
    assert run("validate").exit_code == 2  # no FILE
    broken = tmp_path / "participants.toml"
    broken.write_text("[participants.RU\n", encoding="utf-8")
    document = tmp_path / "d.xml"
    document.write_bytes(b"<r/>")
    result = run("validate", "--registry", str(broken), str(document))
    assert result.exit_code == 2
    assert "TOML" in result.stderr


def test_hostile_bytes_are_findings_not_crashes(plain: None, tmp_path: Path) -> None:
    cases = {
        "empty.xml": (b"", "EMPTY_DOCUMENT"),
        "json.xml": (b'{"a": 1}', "NOT_XML"),
        "dtd.xml": (b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///x">]><r>&x;</r>', "DTD_FORBIDDEN"),
        "unknown.xml": (b"<unknown/>", "UNKNOWN_FORMAT"),
    }  # fmt: skip
    paths = []
    for name, (content, _) in cases.items():
        (tmp_path / name).write_bytes(content)
        paths.append(str(tmp_path / name))
    result = run("validate", "--json", *paths)
    assert result.exit_code == 1
    codes = [record["findings"][0]["code"] for record in lines(result)]  # type: ignore[index]
    assert codes == [code for _, code in cases.values()]


def test_stdin_is_read_for_dash(registry: ParticipantRegistry, plain: None, tmp_path: Path) -> None:
    write(GenerateOptions(pairs=1, seed=1, format=PLAIN), registry, tmp_path)
    content = (tmp_path / read_manifest(tmp_path)[0]["files"][0]["path"]).read_bytes()
    result = run("validate", "--json", "-", stdin=content)
    assert result.exit_code == 0
    assert lines(result)[0]["file"] == "-"


# --- translate -----------------------------------------------------------------------------------


def test_translate_prints_the_canonical_event(fmt: str, corpus: dict[str, list[Path]]) -> None:
    files = [str(path) for path in corpus["valid"][:3]]
    result = run("translate", "--json", "--received-at", "2026-06-01T10:00:00", *files)
    assert result.exit_code == 0, result.output
    events = lines(result)
    assert len(events) == 3
    for event in events:
        assert event["event_type"] in (
            "CERTIFICATE_ISSUED",
            "IMPORT_CONFIRMED",
            "CERTIFICATE_VOIDED",
        )
        assert event["received_at"] == "2026-06-01T10:00:00Z"
        assert event["source"]["adapter"] == fmt  # type: ignore[index]
        payload = event["payload"]
        assert isinstance(payload, dict)
        for key in ("total_carats", "total_value_usd"):
            if payload.get(key) is not None:
                assert isinstance(payload[key], str)  # decimals as strings
        for line in payload.get("lines", []):
            assert isinstance(line["carats"], str)
            assert isinstance(line["value_usd"], str)
    again = run("translate", "--json", "--received-at", "2026-06-01T10:00:00", *files)
    assert again.stdout == result.stdout


def test_translate_indents_by_default_and_reports_failures_on_stderr(
    fmt: str, corpus: dict[str, list[Path]]
) -> None:
    valid, broken = str(corpus["valid"][0]), str(corpus["broken"][0])
    result = run("translate", valid, broken)
    assert result.exit_code == 1
    event = json.loads(result.stdout)
    assert event["certificate_id"]
    assert result.stdout.startswith("{\n  ")
    assert broken in result.stderr
    assert valid not in result.stderr
    assert run("translate", valid, str(Path(valid).with_name("missing.xml"))).exit_code == 2


FIXTURE = Path(__file__).parents[2] / "fixtures" / "uncefact" / "certificate_bw_eu_be.xml"


@pytest.mark.parametrize(
    ("received_at", "exit_code"),
    [
        ("2026-02-27T07:20:00.000Z", 0),  # issued 07:30Z: a clock 10 minutes fast
        ("2026-02-27T09:20:00+02:00", 0),
        ("2026-02-27T07:00:00Z", 1),  # 30 minutes: refused, DATE_IN_FUTURE
        ("2026-02-27", 1),
    ],
)
def test_received_at_takes_the_time_stamps_the_gateway_writes(
    received_at: str, exit_code: int
) -> None:
    """A time review: only naive forms were accepted, so a dead letter's kpgw-received-at
    (2026-03-02T10:15:30.123Z) could not be pasted to judge its document again."""
    result = run("validate", "--json", "--received-at", received_at, str(FIXTURE))
    assert result.exit_code == exit_code, result.output
    if exit_code:
        assert [f["code"] for f in lines(result)[0]["findings"]] == ["DATE_IN_FUTURE"]  # type: ignore[union-attr]


def test_received_at_that_is_no_time_stamp_is_a_usage_error() -> None:
    result = run("validate", "--received-at", "yesterday", str(FIXTURE))
    assert result.exit_code == 2
    assert "'yesterday' is not an ISO 8601 date or time" in result.output


def test_piped_table_keeps_codes_and_paths_whole(
    plain: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Piped (a CI log, ``| less``), Rich assumed 80 columns: the findings column got 12
    and a code came out as 'TRUNCATED_DO' / 'CUMENT', the file's path cut likewise."""
    monkeypatch.chdir(tmp_path)
    broken = Path("documents") / "RU1886030.1.certificate.RU.xml"
    broken.parent.mkdir()
    broken.write_bytes(b"<r>\n<a>1</a>\n<b>12")
    result = run("validate", str(broken))
    assert result.exit_code == 1
    assert "TRUNCATED_DOCUMENT" in result.stdout and str(broken) in result.stdout


def test_a_narrow_terminal_lists_the_findings_under_the_table_with_codes_whole(
    plain: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an 80-column terminal the findings column, squeezed beside five others, folded
    a code ('UNAUTHORISED' / '_SENDER'): the findings now follow the table, a line each,
    wrapped between words (found by a walkthrough)."""
    from gateway.cli import adapters_cmd

    monkeypatch.setattr(adapters_cmd, "_table_width", lambda: 80)
    monkeypatch.chdir(tmp_path)
    broken = Path("RU1886030.xml")
    broken.write_bytes(b"<r>\n<a>1</a>\n<b>12")
    result = run("validate", str(broken))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80
    assert any(x.startswith(f"{broken}: TRUNCATED_DOCUMENT") for x in lines), result.stdout
    assert "finding(s)" in result.stdout
    assert "0 valid, 1 invalid" in result.stdout
    monkeypatch.setattr(adapters_cmd, "_table_width", lambda: 160)  # room: in the table
    wide = run("validate", str(broken)).stdout
    assert "findings" in wide and not any(x.startswith(f"{broken}:") for x in wide.splitlines())


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_file_larger_than_any_document_is_not_read_whole(tmp_path: Path) -> None:
    """`kpgw validate /dev/zero` read without end while its memory grew (a disk image or a
    device named by mistake likewise)."""
    result = run("validate", "--json", "/dev/zero")
    assert result.exit_code == 1
    (judged,) = lines(result)
    finding = judged["findings"][0]  # type: ignore[index]
    assert finding["code"] == "DOCUMENT_TOO_LARGE"
    assert "larger than 2,097,152 bytes" in finding["message"]
    piped = run("validate", "--json", "-", stdin=b" " * (3 * 1024 * 1024))
    assert "the standard input is larger than" in lines(piped)[0]["findings"][0]["message"]  # type: ignore[index]
