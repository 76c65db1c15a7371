"""``kpgw kafka up|status|down`` as a user runs them, on a second broker with its own port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kafka.helpers import free_port_pair

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


PORT = int(os.environ.get("KPGW_TEST_SECOND_BROKER_PORT", "0")) or free_port_pair()


def kpgw(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Path]:
    folder = tmp_path / "broker"
    yield folder
    kpgw("kafka", "down", "--port", str(PORT), "--data-dir", str(folder))


def test_up_status_down_as_a_user_runs_them(data_dir: Path) -> None:
    args = ("--port", str(PORT), "--data-dir", str(data_dir))
    stopped = kpgw("kafka", "status", *args)
    assert stopped.returncode == 1 and "not running" in stopped.stdout

    first = kpgw("kafka", "up", *args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"127.0.0.1:{PORT}"
    pid = (data_dir / "broker.pid").read_text().strip()

    again = kpgw("kafka", "up", *args)  # up twice leaves one broker
    assert again.returncode == 0 and "already running" in again.stderr
    assert (data_dir / "broker.pid").read_text().strip() == pid

    status = kpgw("kafka", "status", *args)
    assert status.returncode == 0 and f"running (pid {pid})" in status.stdout
    # Later commands need not repeat --data-dir (found by a partner-consumer review).
    by_port = kpgw("kafka", "status", "--port", str(PORT))
    assert by_port.returncode == 0 and f"running (pid {pid})" in by_port.stdout

    down = kpgw("kafka", "down", *args)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert kpgw("kafka", "status", *args).returncode == 1
    assert "no broker was running" in kpgw("kafka", "down", *args).stdout


def test_port_in_use_is_one_clear_sentence(tmp_path: Path, kafka_bootstrap: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", PORT + 5))
        squatter.listen()
        result = kpgw("kafka", "up", "--port", str(PORT + 5), "--data-dir", str(tmp_path / "b"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"kpgw: port {PORT + 5} on 127.0.0.1 is already in use by another program; "
        "choose another with --port"
    )
    assert "Traceback" not in result.stderr


def test_missing_java_is_one_clear_sentence(tmp_path: Path, kafka_bootstrap: str) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "KPGW_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "kafka",
            "up",
            "--port",
            str(free_port_pair()),
            "--data-dir",
            str(tmp_path / "b"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "was not found on PATH" in result.stderr and "Traceback" not in result.stderr


def test_failed_download_is_one_clear_sentence(tmp_path: Path, kafka_bootstrap: str) -> None:
    # A Maven that cannot reach any repository (offline, empty local repository).
    settings = tmp_path / "settings.xml"
    settings.write_text(
        f"<settings><localRepository>{tmp_path / 'm2'}</localRepository><offline>true</offline></settings>"
    )
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    mvn = fake_bin / "mvn"
    mvn.write_text(f'#!/bin/sh\nexec /usr/bin/mvn -s {settings} "$@"\n')
    mvn.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "KPGW_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "kafka",
            "up",
            "--port",
            str(free_port_pair()),
            "--data-dir",
            str(tmp_path / "b"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "could not download Apache Kafka" in result.stderr and "Traceback" not in result.stderr
