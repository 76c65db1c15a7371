"""``kpgw demo`` runs to its summary (short mode) and the summary matches the topics."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.demo.run import collect
from gateway.demo.summary import summarise
from gateway.kafka.topics import delete_topics
from gateway.settings import load_settings
from tests.kafka.helpers import free_port_pair

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_demo_short_summary_matches_the_topics(kafka_bootstrap: str, tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.json"
    env = {
        **os.environ,
        "KPGW_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "KPGW_HTTP_PORT": str(free_port_pair()),
        "COLUMNS": "160",
    }
    env.pop("KPGW_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--short", "--summary-json", str(summary_file)],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Certificates by partner pair" in out
    assert "Every certificate ended as generated" in out, out[-3000:]
    assert "Traceback" not in result.stderr
    written = json.loads(summary_file.read_text())
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=written["prefix"])
    try:
        outcomes, announced, dead = asyncio.run(collect(settings))
        again = summarise(outcomes, announced, dead).as_dict()
        assert written["pairs"] == again["pairs"]
        assert written["outcomes"] == again["outcomes"]
        assert written["dead_letters"] == again["dead_letters"]
        assert sum(p["announced"] for p in written["pairs"].values()) > 10
        assert any(p["matched"] for p in written["pairs"].values())
        assert written["fraud_signals"], "the demo's faults include fraud signals"
        assert written["surprises"] == []
        # The gateway stops with the demo (no --serve), but a script still learns its URLs.
        assert written["ingress_url"].startswith("http://127.0.0.1:")
        assert written["dashboard_url"] == written["ingress_url"] + "/dashboard"
    finally:
        asyncio.run(delete_topics(settings))
