"""``kpgw bench ingress`` counts the validation workers' CPU time, read from ``/proc``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.bench.ingress import Load, process_cpu_s

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc only")
def test_another_process_cpu_time_is_read() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", BURN + "print('done', flush=True)\ntime.sleep(30)\n"],
        stdout=subprocess.PIPE,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == b"done\n"
            assert 0.25 <= process_cpu_s(child.pid) < 5.0
        finally:
            child.kill()


def test_a_process_that_is_gone_counts_nothing() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    time.sleep(0.05)
    assert process_cpu_s(child.pid) == 0.0


def test_the_summary_gives_cpu_per_request() -> None:
    load = Load(2.0, [0.01, 0.02, 0.03, 0.04], 0, cpu_s=0.002, worker_cpu_s=0.001)
    summary = load.summary()
    assert summary["cpu_us_per_request"] == 500
    assert summary["worker_cpu_us_per_request"] == 250
    assert summary["requests_per_s"] == 2.0
