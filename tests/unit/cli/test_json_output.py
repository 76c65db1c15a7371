"""``--json`` on every command an operator scripts (an on-call operator review: ``send``,
``status``, ``topics check`` and ``registry check`` had none): with it, stdout holds JSON
and nothing else; without it, lines for people; the exit code is the same either way."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli, topics_cmd
from gateway.kafka.topics import ConfigChange, ProblemKind, TopicProblem, TopicReport
from gateway.registry.model import hash_token
from tests.unit.cli.ingress_stub import ingress_stub


def _json_lines(result: Result) -> list[dict[str, Any]]:
    """stdout as JSON lines; fails on any line that is not one."""
    return [json.loads(line) for line in result.stdout.splitlines()]


async def _kpgw(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


_PROBLEM = {
    "type": "urn:kpgw:problem:invalid-document",
    "title": "The document is invalid",
    "status": 422,
    "detail": "1 finding",
    "findings": [
        {"code": "PAIR_NOT_ENABLED", "message": "RU->ZZ is not enabled", "line": 7, "path": "/a"}
    ],
}


async def test_send_speaks_to_people_or_in_json_with_the_same_exit_code(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_bytes(b"<good/>")
    bad.write_bytes(b"<bad/>")
    async with ingress_stub() as stub:
        accepted = (202, {"tracking_id": "t-1", "status_url": "/v1/messages/t-1"})
        base = ("send", "--url", stub.url, "--token", "t")
        stub.posts = [accepted, (422, _PROBLEM)]
        human = await _kpgw(*base, str(good), str(bad))
        stub.posts = [accepted, (422, _PROBLEM)]
        machine = await _kpgw(*base, "--json", str(good), str(bad))
        stub.posts = [(401, {"title": "Unauthorized", "status": 401})]
        refused = await _kpgw(*base, str(good))
    assert human.exit_code == machine.exit_code == 1, human.output
    assert human.stdout.splitlines() == [
        f"{good}: accepted, tracking id t-1",
        f"{bad}: refused (422) The document is invalid: 1 finding",
        "  PAIR_NOT_ENABLED (line 7, /a): RU->ZZ is not enabled",
    ]
    lines = _json_lines(machine)
    assert [(x["file"], x["status"]) for x in lines] == [(str(good), 202), (str(bad), 422)]
    assert lines[1]["problem"]["findings"][0]["code"] == "PAIR_NOT_ENABLED"
    # Both shapes share file, status and a top-level word: tracking_id or title.
    assert lines[0]["tracking_id"] == "t-1" and "title" not in lines[0]
    assert lines[1]["title"] == "The document is invalid"
    assert refused.exit_code == 2  # the call, not the document
    assert refused.stdout == f"{good}: not taken (401) Unauthorized\n"


def test_a_transient_refusal_says_to_send_again_later() -> None:
    """With the broker down, ``kpgw send`` said "not taken (503) ... the message broker is
    unreachable" and no next step (walkthrough)."""
    from gateway.cli.send_cmd import describe

    problem = {"title": "Service Unavailable", "detail": "the message broker is unreachable"}
    said = describe({"file": "c.xml", "status": 503, "problem": problem, "attempts": 3})
    assert said == [
        "c.xml: not taken (503) Service Unavailable: the message broker is unreachable "
        "(after 3 attempts); nothing was kept: send it again later (--retries waits and "
        "retries)"
    ]


async def test_status_speaks_to_people_or_in_json_with_the_same_exit_code() -> None:
    async with ingress_stub() as stub:
        stub.statuses["t-1"] = [
            {
                "status": "discrepancy",
                "reason": "MATCHED_WITH_DISCREPANCIES",
                "detail": None,
                "certificate_id": "RU0650001",
                "differences": [
                    {
                        "outcome": "MATCHED_WITH_DISCREPANCIES",
                        "field": "parcels",
                        "certificate": "3",
                        "confirmation": "2",
                    }
                ],
                "updated_at": "2026-03-02T10:15:30Z",
            }
        ]
        base = ("status", "--url", stub.url, "--token", "t")
        human = await _kpgw(*base, "t-1", "t-2")
        machine = await _kpgw(*base, "--json", "t-1", "t-2")
        stub.statuses["t-3"] = [{"status": "accepted"}]
        waited = await _kpgw(*base, "--json", "--wait", "--timeout", "0.3", "t-3")
        waited_human = await _kpgw(*base, "--wait", "--timeout", "0.3", "t-3")
    assert human.exit_code == machine.exit_code == 1, human.output  # t-2 is unknown
    assert human.stdout.splitlines() == [
        "t-1: discrepancy MATCHED_WITH_DISCREPANCIES, certificate RU0650001, "
        "at 2026-03-02T10:15:30Z",
        "  parcels: certificate 3, confirmation 2 (MATCHED_WITH_DISCREPANCIES)",
        "t-2: unknown to this participant (404): no message t-2 of ZA is known",
    ]
    assert [(x["tracking_id"], x["http_status"]) for x in _json_lines(machine)] == [
        ("t-1", 200),
        ("t-2", 404),
    ]
    assert waited.exit_code == waited_human.exit_code == 2
    assert _json_lines(waited)[0]["timed_out"] is True  # the why is on stderr
    assert "had no final answer within --timeout" in waited.stderr
    assert waited_human.stdout == "t-3: accepted (still so at --timeout)\n"


@pytest.mark.parametrize(
    ("problems", "code"),
    [
        ([], 0),
        (
            [
                TopicProblem(
                    "kp.events", "has 12 partitions, expected 6", kind=ProblemKind.PARTITIONS
                )
            ],
            1,
        ),
    ],
)
def test_topics_check_json(
    problems: list[TopicProblem], code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def check(*_args: Any, **_kwargs: Any) -> list[TopicProblem]:
        return problems

    monkeypatch.setattr(topics_cmd, "check_topics", check)
    machine = CliRunner().invoke(cli, ["topics", "check", "--json"])
    human = CliRunner().invoke(cli, ["topics", "check"])
    assert machine.exit_code == human.exit_code == code, machine.output
    assert _json_lines(machine) == [
        {
            "ok": not problems,
            "problems": [
                {"topic": x.topic, "problem": x.problem, "kind": "partitions"} for x in problems
            ],
        }
    ]
    assert (
        "kp.events: has 12 partitions" in human.stdout if problems else "all topics" in human.stdout
    )


def test_topics_create_json(monkeypatch: pytest.MonkeyPatch) -> None:
    async def create(*_args: Any, **_kwargs: Any) -> TopicReport:
        return TopicReport(created=["kp.partner.ZA"], existing=["kp.events", "kp.inbound"])

    monkeypatch.setattr(topics_cmd, "create_topics", create)
    machine = CliRunner().invoke(cli, ["topics", "create", "--json"])
    assert machine.exit_code == 0, machine.output
    assert _json_lines(machine) == [
        {
            "created": ["kp.partner.ZA"],
            "existing": ["kp.events", "kp.inbound"],
            "config_problems": [],
            "changed": [],
        }
    ]


WEAK_EVENTS = TopicProblem(
    "opsx.events",
    "retention.ms 3600000 (1 h) is shorter than 3 years: KP record keeping",
    config="retention.ms",
    found="3600000",
    wanted="94867200000",
    why="KP record keeping",
    fix="97459200000",
)
POLICY = TopicProblem(
    "opsx.status",
    "cleanup.policy is compact, expected compact,delete",
    config="cleanup.policy",
    found="compact",
    wanted="compact,delete",
    why="...",
)


def test_topics_create_warns_of_weak_configs_and_names_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It said "0 created, 22 already present" and exit 0 over topics kept an hour: now
    each weak config is a warning (exit code unchanged) and --fix-configs is offered."""
    asked: dict[str, Any] = {}

    async def create(*_args: Any, **kwargs: Any) -> TopicReport:
        asked.update(kwargs)
        return TopicReport(
            created=[],
            existing=["opsx.events", "opsx.status"],
            config_problems=[WEAK_EVENTS, POLICY],
        )

    monkeypatch.setattr(topics_cmd, "create_topics", create)
    human = CliRunner().invoke(cli, ["topics", "create"])
    assert human.exit_code == 0, human.output
    assert asked == {"review_configs": True, "fix_configs": False}
    assert human.stdout == "0 created, 2 already present\n"
    assert f"warning: opsx.events: {WEAK_EVENTS.problem}" in human.stderr
    assert "kpgw topics create --fix-configs raises 1 of these" in human.stderr
    assert "left to you (kafka-configs --alter): cleanup.policy" in human.stderr
    machine = CliRunner().invoke(cli, ["topics", "create", "--json"])
    (report,) = _json_lines(machine)
    assert [(p["topic"], p["config"], p["fix"]) for p in report["config_problems"]] == [
        ("opsx.events", "retention.ms", "97459200000"),
        ("opsx.status", "cleanup.policy", None),
    ]


def test_topics_create_fix_configs_says_what_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def create(*_args: Any, **kwargs: Any) -> TopicReport:
        assert kwargs["fix_configs"] is True
        return TopicReport(
            created=[],
            existing=["opsx.dlq", "opsx.events"],
            changed=[
                ConfigChange("opsx.events", "retention.ms", "3600000", "97459200000"),
                ConfigChange(
                    "opsx.dlq",
                    "max.message.bytes",
                    "1048588",
                    "4194304",
                    "PolicyViolationError: no",
                ),
            ],
        )

    monkeypatch.setattr(topics_cmd, "create_topics", create)
    human = CliRunner().invoke(cli, ["topics", "create", "--fix-configs"])
    assert human.stdout.splitlines() == [
        "changed opsx.events: retention.ms 3600000 (1 h) -> 97459200000 (1128 days)",
        "0 created, 2 already present, 1 config changed",
    ]
    assert "could not change opsx.dlq max.message.bytes to 4194304: PolicyViolationError" in (
        human.stderr
    )
    assert human.exit_code == 2  # asked to fix, and a fix did not happen
    machine = CliRunner().invoke(cli, ["topics", "create", "--fix-configs", "--json"])
    assert machine.exit_code == 2
    assert _json_lines(machine)[0]["changed"][1] == {
        "topic": "opsx.dlq",
        "config": "max.message.bytes",
        "from": "1048588",
        "to": "4194304",
        "error": "PolicyViolationError: no",
    }


def test_registry_check_json(tmp_path: Path) -> None:
    valid = CliRunner().invoke(cli, ["registry", "check", "--json"])  # the shipped example
    assert valid.exit_code == 0
    (report,) = _json_lines(valid)
    assert report["ok"] is True and report["problems"] == []
    assert report["participants"] > 0 and report["enabled_pairs"] > 0
    assert "ZA" in report["demo_token_holders"]
    assert "accept the PUBLIC demo tokens" in valid.stderr  # for people, beside the JSON

    path = tmp_path / "participants.toml"
    path.write_text(
        '[participants.RU]\nname = "Russia"\n[[pairs]]\nexporter = "RU"\nimporter = "ZZ"\n'
    )
    broken = CliRunner().invoke(cli, ["registry", "check", "--json", "--registry", str(path)])
    assert broken.exit_code == 1
    (report,) = _json_lines(broken)
    assert report["ok"] is False and report["registry"] == str(path)
    assert report["problems"][0]["line"] == 5
    assert report["problems"][0]["path"] == "pairs.0.importer"
    missing = CliRunner().invoke(cli, ["registry", "check", "--json", "--registry", "/nowhere"])
    assert missing.exit_code == 2 and missing.stdout == ""


def test_registry_token_json() -> None:
    minted = CliRunner().invoke(cli, ["registry", "token", "za", "--json"])
    assert minted.exit_code == 0, minted.output
    (token,) = _json_lines(minted)
    assert token["participant"] == "ZA"
    assert token["token"].startswith("kpgw_za_")
    assert token["token_hash"] == hash_token(token["token"])
    unknown = CliRunner().invoke(cli, ["registry", "token", "XX", "--json"])
    assert unknown.exit_code == 2 and unknown.stdout == ""


def test_schemas_check_json() -> None:
    machine = CliRunner().invoke(cli, ["schemas", "check", "--json"])
    human = CliRunner().invoke(cli, ["schemas", "check"])
    assert machine.exit_code == human.exit_code == 0, machine.output
    (report,) = _json_lines(machine)
    assert report["ok"] is True
    assert report["schemas"]["CertificateEvent"]["verdict"] == "ok"
    assert report["schemas"]["CertificateEvent"]["released"] >= 1
    assert "CertificateEvent: ok" in human.stdout


def test_kafka_status_json_when_no_broker_runs(tmp_path: Path) -> None:
    args = ["kafka", "status", "--port", "1099", "--data-dir", str(tmp_path)]
    machine = CliRunner().invoke(cli, [*args, "--json"])
    human = CliRunner().invoke(cli, args)
    assert machine.exit_code == human.exit_code == 1
    (state,) = _json_lines(machine)
    assert state == {
        "running": False,
        "answers": False,
        "pid": None,
        "bootstrap": "127.0.0.1:1099",
        "data_dir": str(tmp_path),
    }
    assert human.stdout == "not running (port 1099)\n"


@pytest.mark.parametrize(
    "command",
    [
        ["send"],
        ["status"],
        ["topics", "create"],
        ["topics", "check"],
        ["registry", "check"],
        ["registry", "token"],
        ["schemas", "check"],
        ["kafka", "status"],
        ["dlq", "list"],
    ],
)
def test_every_json_option_is_in_the_help(command: list[str]) -> None:
    assert "--json" in CliRunner().invoke(cli, [*command, "--help"]).output


def test_topics_check_json_names_a_config_found_and_wanted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = TopicProblem(
        "opsx.events",
        "retention.ms 3600000 (1 h) is shorter than 3 years: KP record keeping",
        config="retention.ms",
        found="3600000",
        wanted="94867200000",
        why="KP record keeping",
        fix="97459200000",
    )

    async def check(*_args: Any, **_kwargs: Any) -> list[TopicProblem]:
        return [problem]

    monkeypatch.setattr(topics_cmd, "check_topics", check)
    machine = CliRunner().invoke(cli, ["topics", "check", "--json"])
    assert machine.exit_code == 1
    assert _json_lines(machine)[0]["problems"] == [
        {
            "topic": "opsx.events",
            "problem": problem.problem,
            "kind": "config",
            "config": "retention.ms",
            "found": "3600000",
            "wanted": "94867200000",
            "why": "KP record keeping",
            "fix": "97459200000",
        }
    ]


def test_topics_check_says_what_to_do_about_what_it_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It listed the problems and stopped there: an operator on night duty did not learn
    that ``topics create`` creates a missing topic and ``--fix-configs`` raises a weak
    config, nor what is left to them (a walkthrough). The advice goes to stderr; stdout
    stays the list, and --json is unchanged (each config problem has its ``fix``)."""
    missing = TopicProblem("opsx.partner.ZA", "missing", kind=ProblemKind.MISSING)

    async def check(*_args: Any, **_kwargs: Any) -> list[TopicProblem]:
        return [missing, WEAK_EVENTS, POLICY]

    monkeypatch.setattr(topics_cmd, "check_topics", check)
    human = CliRunner().invoke(cli, ["topics", "check"])
    assert human.exit_code == 1, human.output
    assert human.stdout.splitlines() == [
        "opsx.partner.ZA: missing",
        f"opsx.events: {WEAK_EVENTS.problem}",
        f"opsx.status: {POLICY.problem}",
    ]
    assert human.stderr.splitlines() == [
        "kpgw topics create creates the 1 missing topic(s)",
        "kpgw topics create --fix-configs raises 1 of these to what creation sets (only "
        "those keys; nothing is lowered)",
        "left to you (kafka-configs --alter): cleanup.policy: another cleanup policy changes "
        "what is deleted, not just how long it is kept",
    ]
    machine = CliRunner().invoke(cli, ["topics", "check", "--json"])
    assert machine.stderr == ""
