"""An operator command against a broker that accepts connections and never answers (a
hung broker) ends with exit 2 and one line, within the admin request timeout, not after
aiokafka's 40 s default (an operator review)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from gateway.kafka.clients import ADMIN_REQUEST_TIMEOUT_MS


@pytest.fixture
def silent_broker() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for connection in held:
            connection.close()


def test_dlq_stats_against_a_hung_broker_fails_promptly(silent_broker: str) -> None:
    env = {**os.environ, "KPGW_KAFKA_BOOTSTRAP": silent_broker}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "dlq", "stats"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert "Kafka is not reachable" in result.stderr.splitlines()[-1]
    assert elapsed < ADMIN_REQUEST_TIMEOUT_MS / 1000 + 15  # not aiokafka's 40 s
