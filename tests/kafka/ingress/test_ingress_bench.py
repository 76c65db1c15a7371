"""``kpgw bench ingress`` runs end to end (tiny sizes; the figures themselves are reported
by the command, not asserted here)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gateway.cli import cli

pytestmark = pytest.mark.kafka


def test_bench_ingress_json(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPGW_KAFKA_BOOTSTRAP", kafka_bootstrap)
    result = CliRunner().invoke(
        cli,
        ["bench", "ingress", "--json", "--requests", "60", "--concurrency", "8", "--rounds", "1"],
    )
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("{")]
    record = json.loads(line)
    assert record["benchmark"] == "ingress" and record["goal_ratio"] == 0.6
    assert record["validation_processes"] == 1  # the default: validation beside the loop
    parts = ("ingress", "bare_produce", "ingress_without_sync_validation")
    for part in (*parts, "ingress_validation_processes_0"):
        figures = record[part]
        assert figures["errors"] == 0
        assert figures["requests_per_s"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
        assert figures["cpu_us_per_request"] > 0
    # Only the default ingress validates in a worker process; the others have none.
    assert record["ingress"]["worker_cpu_us_per_request"] >= 0  # clock ticks: 60 requests
    assert record["bare_produce"]["worker_cpu_us_per_request"] == 0
    assert record["ingress_validation_processes_0"]["worker_cpu_us_per_request"] == 0
    assert record["ratio_to_bare"] > 0 and record["cpu_ratio_to_bare"] > 0
