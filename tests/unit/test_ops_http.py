"""The operations endpoints of a worker-only process: readiness from the workers' health,
the refusal to expose open metrics off loopback, and HTTPS with the ingress's TLS files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from gateway import ops_http
from gateway.errors import ConfigurationError
from gateway.metrics import DEAD_LETTER_TOPIC_TOO_SMALL, dead_letter_note
from gateway.ops_http import Operations, refuse_open_metrics, serve_operations
from gateway.readiness import worker_checks
from gateway.registry.watch import RegistryWatcher
from gateway.settings import IngressSettings, Settings
from tests.kafka.helpers import registry_copy
from tests.log_capture import captured
from tests.raw_http import exchange


def test_a_component_is_ready_when_its_workers_joined_and_hold_nothing() -> None:
    assert worker_checks("router", []) == {"router": False}  # not built yet
    assert worker_checks("router", [{"joined": False, "held": []}]) == {"router": False}
    assert worker_checks("router", [{"joined": True, "held": []}]) == {"router": True}
    restoring = worker_checks("router", [{"joined": True, "held": [3, 1]}])
    assert restoring == {"router": False, "router_restoring_partitions": [1, 3]}
    why = "partition(s) 3 (2 states): the changelog holds states a newer router wrote; ..."
    newer = worker_checks("router", [{"joined": True, "held": [3], "newer_states": why}])
    assert newer == {
        "router": False,
        "router_restoring_partitions": [3],
        "router_newer_states": why,
    }


def test_a_worker_whose_dead_letter_does_not_fit_kp_dlq_is_not_ready() -> None:
    """Before, only repeated retry lines in the log said a partition was held on it."""
    detail = "kp.dlq takes records of at most 900 bytes ... max.message.bytes=4194304"
    held = worker_checks("translator", [{"joined": True, "held": [], "dead_letter_topic": detail}])
    assert held == {"translator": False, "translator_dead_letter_topic": detail}


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


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed server.pem/.key for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    folder = tmp_path_factory.mktemp("pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "server.key", "-out", "server.pem", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        cwd=folder, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return folder


def _tls_settings(pem: Path, cert: str = "server.pem") -> Settings:
    return Settings(
        kafka_bootstrap="127.0.0.1:1",
        http_port=0,
        ingress=IngressSettings(
            tls_certfile=pem / cert,
            tls_keyfile=pem / "server.key",
            metrics_token=SecretStr("m" * 32),
        ),
    )


async def test_with_the_ingress_tls_files_the_endpoints_serve_https_only(pem: Path) -> None:
    """They were plain HTTP whatever the TLS settings: a worker-only process sent its
    metrics token in clear where the ingress's went over TLS."""
    trusted = ssl.create_default_context(cafile=str(pem / "server.pem"))
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        serve_operations(_tls_settings(pem), ("translator",)) as url,
        aiohttp.ClientSession(timeout=timeout) as session,
    ):
        assert url.startswith("https://127.0.0.1:")
        async with session.get(f"{url}/healthz", ssl=trusted) as answer:
            assert answer.status == 200
        bearer = {"Authorization": "Bearer " + "m" * 32}
        async with session.get(f"{url}/metrics", ssl=trusted, headers=bearer) as answer:
            assert answer.status == 200
            assert "kpgw_build_info" in await answer.text()
        async with session.get(f"{url}/readyz", ssl=trusted) as answer:
            assert answer.status == 503  # no broker: answered, over TLS
        with pytest.raises(aiohttp.ClientError):  # plain HTTP is not served beside it
            async with session.get(url.replace("https://", "http://") + "/healthz") as answer:
                pytest.fail(f"plain HTTP answered {answer.status}")


async def test_a_tls_file_that_cannot_be_loaded_is_named_before_anything_starts(
    pem: Path,
) -> None:
    with (
        captured("gateway.ops_http") as logs,
        pytest.raises(ConfigurationError, match=r"KPGW_INGRESS__TLS_CERTFILE=.*missing\.pem"),
    ):
        async with serve_operations(_tls_settings(pem, "missing.pem"), ("router",)):
            pytest.fail("the endpoints started")
    assert not [line for line in logs if line["event"] == "operations_listening"]


@pytest.mark.parametrize("tls", [False, True])
async def test_plain_http_off_loopback_is_warned_of(
    pem: Path, monkeypatch: pytest.MonkeyPatch, tls: bool
) -> None:
    """As the ingress's: legitimate behind a TLS-terminating proxy, so not refused, but said.
    (127.0.0.1 taken for an address off loopback: tests bind nothing else.)"""
    monkeypatch.setattr(ops_http, "LOOPBACK", frozenset())
    settings = _tls_settings(pem)
    if not tls:
        settings.ingress.tls_certfile = settings.ingress.tls_keyfile = None
    with captured("gateway.ops_http") as logs:
        async with serve_operations(settings, ("translator",)) as url:
            assert url.startswith("https://" if tls else "http://")
    plain = [line for line in logs if line["event"] == "operations_plain_http_off_loopback"]
    assert bool(plain) is not tls
    if plain:
        assert plain[0]["log_level"] == "warning" and "metrics token" in plain[0]["detail"]


async def test_the_endpoints_stop_within_their_grace_whatever_the_lag_sampler_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lag sampler closes its consumer inside its task; ``wait_for`` waited for that
    close after cancelling it (up to the client stop bound, 10 s more). A sampler that
    ignores its stop and swallows a cancellation (as aiokafka's close can) no longer holds
    the process's shutdown beyond the grace."""

    async def stubborn_sampler(settings: Settings, stop: asyncio.Event) -> None:
        for _ in range(2):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3)

    metrics = ops_http.pipeline_metrics()
    monkeypatch.setattr(metrics, "sample_lag", stubborn_sampler)
    monkeypatch.setattr(ops_http, "STOP_GRACE_S", 0.2)
    settings = Settings(kafka_bootstrap="127.0.0.1:1", http_port=0)
    started = time.monotonic()
    async with serve_operations(settings, ("translator",)):
        pass
    assert time.monotonic() - started < 2.5


def test_the_ingress_notes_a_held_dead_letter_topic_without_failing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under ``kpgw run`` the ingress's /readyz is the process's: it names the topic (the
    ingress still accepts documents, which wait on kp.inbound)."""
    # The flags are the process's: start from none, whatever an earlier test left.
    for key in list(DEAD_LETTER_TOPIC_TOO_SMALL):
        monkeypatch.delitem(DEAD_LETTER_TOPIC_TOO_SMALL, key)
    assert dead_letter_note() == {}
    DEAD_LETTER_TOPIC_TOO_SMALL[("translator", "kp.dlq")] = (time.monotonic(), "too small")
    try:
        assert dead_letter_note() == {"dead_letter_topic_too_small": ["kp.dlq"]}
        # Not renewed by a retry for two minutes (the partition went elsewhere): stale.
        DEAD_LETTER_TOPIC_TOO_SMALL[("translator", "kp.dlq")] = (time.monotonic() - 121, "")
        assert dead_letter_note() == {}
    finally:
        DEAD_LETTER_TOPIC_TOO_SMALL.pop(("translator", "kp.dlq"))


async def test_every_answer_carries_a_request_id_as_the_ingress_s() -> None:
    """The ingress's answers all carry ``X-Request-Id`` (the OpenAPI document says every
    answer does); a worker-only process's answered without one, its problems too (their
    ``instance`` named an id found nowhere else)."""
    settings = Settings(kafka_bootstrap="127.0.0.1:1", http_port=0)
    settings.ingress.metrics_token = SecretStr("m" * 32)
    bearer = {"Authorization": "Bearer " + "m" * 32}
    asked = [
        ("/healthz", {}, 200),
        ("/readyz", {}, 503),  # no broker
        ("/metrics", bearer, 200),
        ("/metrics", {}, 401),
        ("/nowhere", {}, 404),
    ]
    seen: set[str] = set()
    async with (
        serve_operations(settings, ("translator",)) as url,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        for path, headers, status in asked:
            async with session.get(url + path, headers=headers) as answer:
                assert answer.status == status, path
                request_id = answer.headers.get("X-Request-Id", "")
                assert len(request_id) == 36, (path, dict(answer.headers))
                if status >= 400 and path != "/readyz":
                    problem = await answer.json(content_type=None)
                    assert problem["instance"] == f"urn:uuid:{request_id}"
                seen.add(request_id)
    assert len(seen) == len(asked)  # one for each request


TOKEN = "m" * 32


@pytest.mark.parametrize(
    "raw",
    [
        # A space before the colon of the metrics token's line.
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer " + TOKEN.encode() + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: " + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n",
    ],
    ids=["malformed-line", "expect"],
)  # fmt: skip
async def test_a_request_the_server_refuses_is_a_problem_that_quotes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    """aiohttp answered these itself, in plain text quoting the line (a malformed
    ``Authorization`` line: the metrics token, echoed back and logged at error with its
    traceback), without ``X-Request-Id``; the ingress had answered them as problems and kept
    the token out of its log since it serves them (``ProblemAppRunner``,
    ``redact_server_log``)."""
    server_log = logging.getLogger("aiohttp.server")
    monkeypatch.setattr(server_log, "filters", [])  # as in a worker-only process
    settings = Settings(kafka_bootstrap="127.0.0.1:1", http_port=0)
    settings.ingress.metrics_token = SecretStr(TOKEN)
    with caplog.at_level(logging.INFO, logger="aiohttp.server"):
        async with serve_operations(settings, ("translator",)) as url:
            status, headers, body = await exchange(int(url.rpartition(":")[2]), raw)
    assert status == 400  # bad-request, as the ingress answers both
    assert headers["content-type"].startswith("application/problem+json"), body
    problem = json.loads(body)
    assert problem["instance"] == f"urn:uuid:{headers['x-request-id']}"
    assert TOKEN.encode() not in body
    assert TOKEN not in caplog.text
