"""The operations endpoints of a worker-only process: readiness from the workers' health,
and the refusal to expose open metrics off loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.errors import ConfigurationError
from gateway.ops_http import Operations, refuse_open_metrics, worker_checks
from gateway.registry.watch import RegistryWatcher
from gateway.settings import Settings
from tests.kafka.helpers import registry_copy


def test_a_component_is_ready_when_its_workers_joined_and_hold_nothing() -> None:
    assert worker_checks("router", []) == {"router": False}  # not built yet
    assert worker_checks("router", [{"joined": False, "held": []}]) == {"router": False}
    assert worker_checks("router", [{"joined": True, "held": []}]) == {"router": True}
    restoring = worker_checks("router", [{"joined": True, "held": [3, 1]}])
    assert restoring == {"router": False, "router_restoring_partitions": [1, 3]}


async def test_without_a_broker_nothing_is_ready() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1")
    operations = Operations(settings, ("translator",), lambda component: ("inbound",))
    report = await operations.readiness()
    assert report == {
        "ready": False,
        "checks": {"broker": False, "topics": False, "translator": False},
    }
    assert await operations.readiness() is report  # probes within a second share a check


def test_open_metrics_are_refused_off_loopback() -> None:
    refuse_open_metrics(Settings(), "127.0.0.1")
    with pytest.raises(ConfigurationError, match="KPGW_INGRESS__METRICS_TOKEN"):
        refuse_open_metrics(Settings(), "0.0.0.0")
    settings = Settings()
    settings.ingress.metrics_token = SecretStr("t")
    refuse_open_metrics(settings, "0.0.0.0")


async def test_a_failed_registry_reload_is_listed_without_failing_readiness(
    tmp_path: Path,
) -> None:
    """A deleted registry file left /readyz as it was: nothing said it (operations review).
    It does not fail readiness, since the previous registry keeps working."""
    path = registry_copy(tmp_path)
    watcher = RegistryWatcher(path)
    settings = Settings(kafka_bootstrap="127.0.0.1:1")
    operations = Operations(settings, ("translator",), lambda component: ("inbound",))
    assert "registry_reload_failed" not in await operations._check()

    path.unlink()
    watcher.current()
    report = await operations._check()
    assert report["registry_reload_failed"] == [str(path)]
    assert report["checks"] == {"broker": False, "topics": False, "translator": False}
