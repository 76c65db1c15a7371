"""A wrong topic prefix or topic name is said at once (exit 2), not answered with
"0 dead letters" or a minute of client errors (found by an operations review)."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.kafka.helpers import run_kpgw

pytestmark = pytest.mark.kafka


def _kpgw(kafka_bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    prefix = f"nowhere{uuid.uuid4().hex[:6]}."
    env = {"KPGW_KAFKA_BOOTSTRAP": kafka_bootstrap, "KPGW_TOPIC_PREFIX": prefix}
    return run_kpgw({**env, "KPGW_HTTP_PORT": "0"}, *args)  # a worker's probes: any port


@pytest.mark.parametrize(
    "args",
    [
        ("dlq", "stats"),
        ("dlq", "list", "--json"),
        ("dlq", "replay", "--dry-run"),
        ("dlq", "replay", "--all", "--operator", "ops-anna"),
        ("tail", "no.such.topic", "--idle-timeout", "1"),
    ],
)
def test_a_missing_topic_is_an_environment_error(
    kafka_bootstrap: str, args: tuple[str, ...]
) -> None:
    result = _kpgw(kafka_bootstrap, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("component", ["translator", "router"])
def test_a_worker_refuses_to_start_without_its_topics(kafka_bootstrap: str, component: str) -> None:
    """Found by an SRE review: the translator alone subscribed to a missing topic and idled
    without a word; like the router, it now refuses at once."""
    result = _kpgw(kafka_bootstrap, "run", "--only", component)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"the {component} refuses to start" in result.stderr
    assert "missing" in result.stderr and "Traceback" not in result.stderr
