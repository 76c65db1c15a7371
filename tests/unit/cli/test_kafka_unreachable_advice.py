"""A command that cannot reach Kafka names the broker it asked and what to check: the bare
aiokafka error ("Unable to bootstrap from [('127.0.0.1', 9971, <AddressFamily.AF_INET:
2>)]") left an operator on night duty, mid-outage, to work out which setting named it and
what to do next (a walkthrough)."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError

from gateway.cli.common import EXIT_USAGE, environment_errors


def _failure(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    # The sentence for people: an earlier test of this process may have asked for JSON.
    monkeypatch.setattr("gateway.logs._explicit_json", [False])
    with pytest.raises(SystemExit) as exited, environment_errors():
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9971)]")
    assert exited.value.code == EXIT_USAGE
    return capsys.readouterr().err


def test_a_local_broker_is_named_with_the_command_that_checks_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KPGW_KAFKA_BOOTSTRAP", "127.0.0.1:9971")
    said = _failure(monkeypatch, capsys)
    assert said.startswith("kpgw: Kafka is not reachable or refused the request (")
    assert "asked 127.0.0.1:9971 (KPGW_KAFKA_BOOTSTRAP)" in said
    assert "kpgw kafka status" in said and "run the command again" in said


def test_a_remote_cluster_is_named_with_what_to_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KPGW_KAFKA_BOOTSTRAP", "broker-1.customs.example:9093")
    said = _failure(monkeypatch, capsys)
    assert "asked broker-1.customs.example:9093 (KPGW_KAFKA_BOOTSTRAP)" in said
    assert "KPGW_KAFKA_SECURITY__*" in said and "kpgw kafka status" not in said
