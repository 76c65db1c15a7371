"""``kpgw kafka up|status|down``: which broker they act on (no broker is started here).

Every test points KPGW_HOME at its own folder, so no pid file of a real broker on this
machine is ever found, whatever the command under test would choose."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli
from gateway.kafka.broker import local_port

PORT = 39461  # nothing listens here: these tests never reach the network


@pytest.fixture
def home(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    clean_env.setenv("KPGW_HOME", str(tmp_path))
    return tmp_path


def kafka(*args: str, bootstrap: str | None = None) -> Result:
    env = {"KPGW_KAFKA_BOOTSTRAP": bootstrap} if bootstrap else {}
    return CliRunner().invoke(cli, ["kafka", *args], env=env)


@pytest.fixture
def fake_broker(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own whose pid is in the pid file of port PORT, as
    ``kafka up`` leaves it."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    folder = home / "kafka" / str(PORT)
    folder.mkdir(parents=True)
    (folder / "broker.pid").write_text(str(process.pid))
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("bootstrap", "port"),
    [
        ("127.0.0.1:9480", 9480),
        ("localhost:9480", 9480),
        ("LOCALHOST:9480", 9480),
        ("127.0.0.1:9480,localhost:9480", 9480),
        ("127.0.0.1:9480,127.0.0.1:9482", None),
        ("kafka-1.example.org:9092", None),
        ("127.0.0.1:9480,kafka-1.example.org:9092", None),
        ("10.0.0.5:9092", None),
        ("[::1]:9092", None),
    ],
)
def test_local_port_only_for_one_broker_on_loopback(bootstrap: str, port: int | None) -> None:
    assert local_port(bootstrap) == port


def test_status_looks_at_the_configured_bootstrap_port(home: Path) -> None:
    human = kafka("status", bootstrap=f"127.0.0.1:{PORT}")
    machine = kafka("status", "--json", bootstrap=f"localhost:{PORT}")
    assert human.exit_code == machine.exit_code == 1, human.output
    assert human.stdout == f"not running (port {PORT})\n"
    assert json.loads(machine.stdout)["bootstrap"] == f"127.0.0.1:{PORT}"


def test_9092_when_nothing_is_configured(home: Path) -> None:
    result = kafka("status")
    assert result.exit_code == 1
    assert result.stdout == "not running (port 9092)\n"


def test_an_explicit_port_wins(home: Path) -> None:
    result = kafka("status", "--port", str(PORT), bootstrap="127.0.0.1:9480")
    assert result.stdout == f"not running (port {PORT})\n"
    remote = kafka("down", "--port", str(PORT), bootstrap="kafka-1.example.org:9092")
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == f"no broker was running on port {PORT}\n"


def test_down_stops_the_broker_of_the_configured_port(
    home: Path, fake_broker: subprocess.Popen[bytes]
) -> None:
    result = kafka("down", bootstrap=f"127.0.0.1:{PORT}")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"stopped the broker on port {PORT}\n"
    assert fake_broker.wait(timeout=10) is not None


@pytest.mark.parametrize("command", ["up", "down", "status"])
def test_a_bootstrap_elsewhere_needs_an_explicit_port(home: Path, command: str) -> None:
    result = kafka(command, bootstrap="kafka-1.example.org:9092")
    assert result.exit_code == 2
    assert "kafka-1.example.org:9092 (KPGW_KAFKA_BOOTSTRAP) is not a single broker" in (
        result.stderr
    )
    assert "--port" in result.stderr
    assert not (home / "kafka").exists()  # nothing looked up, nothing started


def test_a_configured_port_out_of_range_needs_an_explicit_port(home: Path) -> None:
    result = kafka("status", bootstrap="127.0.0.1:80")
    assert result.exit_code == 2
    assert "has port 80, outside 1024-65534" in result.stderr


def test_the_help_says_where_the_port_comes_from() -> None:
    for command in ("up", "down", "status"):
        text = " ".join(kafka(command, "--help").output.split())
        assert "Default: the port of KPGW_KAFKA_BOOTSTRAP" in text


def test_a_broker_of_another_data_dir_on_the_port_is_named(
    home: Path, fake_broker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    """``kpgw demo --port P`` starts its broker with the default data dir; ``kafka status``
    and ``kafka down`` with another ``--data-dir`` then said "not running" / "no broker was
    running on port P" while that broker ran there, and ``kafka up`` blamed "another
    program" for the port."""
    other = str(tmp_path / "mine")
    where = f"has its data in {home / 'kafka' / str(PORT)} (pid {fake_broker.pid})"
    status = kafka("status", "--port", str(PORT), "--data-dir", other)
    assert status.exit_code == 1 and where in status.stdout, status.output
    down = kafka("down", "--port", str(PORT), "--data-dir", other)
    assert down.exit_code == 0 and where in down.stdout, down.output
    assert fake_broker.poll() is None  # not stopped: it is not the one asked for
    assert f"kpgw kafka down --port {PORT}" in down.stdout


def test_up_names_the_broker_holding_the_port(
    home: Path,
    fake_broker: subprocess.Popen[bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("gateway.kafka.broker.port_free", lambda port: False)
    up = kafka("up", "--port", str(PORT), "--data-dir", str(tmp_path / "mine"))
    assert up.exit_code == 2
    assert f"held by kpgw's local broker that has its data in {home / 'kafka' / str(PORT)}" in (
        up.stderr
    )
    assert "another program" not in up.stderr


def test_down_of_a_broker_with_its_own_data_dir_leaves_no_folder_in_kpgw_home(
    home: Path, tmp_path: Path
) -> None:
    """``kafka up --data-dir D`` leaves a pointer to D under KPGW_HOME for later commands
    on the port; ``kafka down`` removed the pointer but left its empty folder, one per port
    ever used (the test suite left a hundred)."""
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (data_dir / "broker.pid").write_text(str(process.pid))
        pointer = home / "kafka" / str(PORT) / "data-dir"
        pointer.parent.mkdir(parents=True)
        pointer.write_text(str(data_dir))
        down = kafka("down", "--port", str(PORT))  # no --data-dir: the pointer finds it
        assert down.exit_code == 0, down.output
        assert process.wait(timeout=10) is not None
        assert not (home / "kafka" / str(PORT)).exists()
        assert data_dir.exists()  # the broker's data stays
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
