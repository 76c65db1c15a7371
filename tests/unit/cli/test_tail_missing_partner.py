"""``kpgw tail partner.P`` for a partner topic ``topics create`` would not make: it said
"create the topics with kpgw topics create", which creates nothing for such a participant,
so the advice ran in a circle (a partner authority's walkthrough: GB is a participant in
no enabled pair of the example registry)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import cli, tail_cmd
from gateway.errors import EnvironmentProblem


@pytest.fixture
def no_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    """No topic exists; the generic refusal is the one ``require_topic`` gives."""

    async def partition_count(*_args: Any, **_kwargs: Any) -> int:
        return 0

    async def require_topic(_settings: Any, topic: str) -> int:
        raise EnvironmentProblem(f"topic {topic} does not exist (create the topics)")

    monkeypatch.setattr(tail_cmd, "partition_count", partition_count)
    monkeypatch.setattr(tail_cmd, "require_topic", require_topic)
    monkeypatch.delenv("KPGW_PARTNERS_FILE", raising=False)
    monkeypatch.setenv("KPGW_TOPIC_PREFIX", "kp.")


@pytest.mark.usefixtures("no_topics")
@pytest.mark.parametrize("topic", ["partner.GB", "kp.partner.GB"])
def test_a_participant_in_no_pair_has_no_partner_topic_and_is_told_why(topic: str) -> None:
    result = CliRunner().invoke(cli, ["tail", topic, "--max", "1"])
    assert result.exit_code == 2, result.output
    assert "topic kp.partner.GB does not exist: GB is in no enabled pair" in result.stderr
    assert "[[pairs]]" in result.stderr
    assert "create the topics" not in result.stderr


@pytest.mark.usefixtures("no_topics")
def test_a_member_state_is_sent_to_its_participant_topic() -> None:
    result = CliRunner().invoke(cli, ["tail", "partner.BE", "--max", "1"])
    assert result.exit_code == 2, result.output
    assert "BE is a member state of EU, whose topic kp.partner.EU it reads" in result.stderr


@pytest.mark.usefixtures("no_topics")
def test_a_code_that_is_no_participant_is_named_so() -> None:
    result = CliRunner().invoke(cli, ["tail", "partner.KE", "--max", "1"])
    assert result.exit_code == 2, result.output
    assert "KE is not a participant in the participant registry" in result.stderr


@pytest.mark.usefixtures("no_topics")
@pytest.mark.parametrize("topic", ["no.such.topic", "partner.EU"])
def test_other_missing_topics_keep_the_generic_advice(topic: str) -> None:
    """EU is in pairs: its topic is missing only because the topics were not created."""
    result = CliRunner().invoke(cli, ["tail", topic, "--max", "1"])
    assert result.exit_code == 2, result.output
    assert "create the topics" in result.stderr


@pytest.mark.usefixtures("no_topics")
def test_a_lower_case_code_is_given_its_upper_case_topic() -> None:
    result = CliRunner().invoke(cli, ["tail", "partner.eu", "--max", "1"])
    assert result.exit_code == 2, result.output
    assert "participant codes are upper case, kp.partner.EU" in result.stderr
