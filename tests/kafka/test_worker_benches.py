"""``kpgw bench translator`` and ``kpgw bench router`` run end to end on the real broker
(tiny sizes: the figures are the commands' output, not asserted; their consistency is)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import cli

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _run(args: list[str], kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KPGW_KAFKA_BOOTSTRAP", kafka_bootstrap)
    result = CliRunner().invoke(cli, ["bench", *args, "--json"])
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("{")]
    return result.exit_code, json.loads(line)


def test_bench_translator_json(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    exit_code, record = _run(["translator", "--documents", "60"], kafka_bootstrap, monkeypatch)
    assert exit_code == 0
    assert record["benchmark"] == "translator" and record["goal_ratio"] == 0.7
    assert record["records"] == record["processed"] == record["events"] == 60
    before, after = record["adapter_only_before_after"]
    assert record["adapter_only_docs_per_s"] == pytest.approx((before + after) / 2, rel=0.01)
    assert record["ratio_to_adapter_only"] == pytest.approx(
        record["worker_records_per_s"] / record["adapter_only_docs_per_s"], rel=0.01
    )
    assert 0 < record["worker_cpu_share"] <= 2
    assert record["worker_cpu_us_per_record"] > 0
    # Wall time inside the worker (CPU time above): no order between them on a busy machine.
    assert record["translate_and_encode_us_per_record_in_worker"] > 0


def test_bench_router_json(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    exit_code, record = _run(
        ["router", "--events", "200", "--pending", "200"], kafka_bootstrap, monkeypatch
    )
    assert record["benchmark"] == "router" and record["events"] == 200
    assert record["router_events_per_s"] > 0 and record["passthrough_events_per_s"] > 0
    assert record["restored_states"] == record["pending_certificates"] == 200
    assert record["heap_bytes_per_pending_certificate"] > 0
    goals_met = record["ratio_ok"] and record["restore_ok"]
    assert exit_code == (0 if goals_met else 1)  # a missed goal is exit 1, as documented
