"""The operations endpoints of a process that runs workers without the ingress
(``kpgw run --only translator``, ``--only router``): an orchestrator needs a liveness and a
readiness probe and Prometheus a ``/metrics`` for every process, not only for the one that
serves the HTTP API. When the ingress runs in the process it serves these itself (its
``/readyz`` shows these same checks of the workers beside it under ``workers``:
``gateway.readiness``).

- ``GET /healthz``: the process and its event loop answer.
- ``GET /readyz``: the broker answers, the component's topics exist, and each component's
  worker joined its consumer group with no partition held back (a router restoring its
  state is not ready yet); 503 otherwise, with the checks that failed. A registry file
  this process could not reload is listed (``registry_reload_failed``) without failing it.
- ``GET /metrics``: the pipeline metrics of the process (``gateway.metrics``), with the
  consumer lag sampled here; behind ``KPGW_INGRESS__METRICS_TOKEN`` when set.

Bound to ``KPGW_HTTP_HOST``:``KPGW_HTTP_PORT`` (``0`` picks a free port, logged); off
loopback it refuses to start without a metrics token, as the ingress does. It takes the
ingress's TLS files too (``KPGW_INGRESS__TLS_CERTFILE``, ``..._KEYFILE``): set, it serves
HTTPS with them, so the metrics token does not cross the network in clear where the
ingress's does not; unset, plain HTTP, with a warning off loopback as the ingress's.

Answered as the ingress answers: every answer carries ``X-Request-Id``, every error is a
problem document (one aiohttp's HTTP parser refuses too, quoting nothing of the request),
and a malformed request is logged without its header lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.errors import ConfigurationError
from gateway.ingress.app import problems, redact_server_log, request_ids
from gateway.ingress.auth import server_ssl_context
from gateway.ingress.dashboard import check_operator
from gateway.ingress.exposure import LOOPBACK, open_metrics_problems
from gateway.ingress.handlers import expect_continue
from gateway.ingress.protocol import ProblemAppRunner
from gateway.ingress.service import READY_CACHE_S, READY_TIMEOUT_S, broker_topics
from gateway.kafka.clients import wait_bounded
from gateway.listen import start_site
from gateway.metrics import pipeline_metrics
from gateway.probe import SharedCheck
from gateway.readiness import TopicsOf, component_topics, components_checks, verdict
from gateway.registry.watch import RegistryWatcher, polled, readiness_note
from gateway.settings import Settings

log = structlog.get_logger(__name__)
STOP_GRACE_S = 2.0


@dataclass(eq=False)
class Operations:
    settings: Settings
    components: tuple[str, ...]
    topics_of: TopicsOf
    readiness: SharedCheck = field(init=False)

    def __post_init__(self) -> None:
        self.readiness = SharedCheck(self._check, READY_CACHE_S)

    async def _check(self) -> dict[str, Any]:
        found = await broker_topics(self.settings, READY_TIMEOUT_S)
        checks = components_checks(
            self.components, found, self.settings.topic_prefix, self.topics_of
        )
        return {"ready": verdict(checks), "checks": checks, **readiness_note()}


OPERATIONS = web.AppKey("operations", Operations)


def _json(document: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(document).encode(), content_type="application/json"
    )


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    report = await request.app[OPERATIONS].readiness()
    return _json(report, 200 if report["ready"] else 503)


async def metrics(request: web.Request) -> web.Response:
    check_operator(request, request.app[OPERATIONS].settings.ingress.metrics_token, "/metrics")
    body: bytes = generate_latest(pipeline_metrics().registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(operations: Operations) -> web.Application:
    # As the ingress's: every answer, a problem too, carries its X-Request-Id.
    app = web.Application(middlewares=[request_ids, problems], client_max_size=1024)
    app[OPERATIONS] = operations
    get = functools.partial(app.router.add_get, allow_head=False, expect_handler=expect_continue)
    get("/healthz", healthz)
    get("/readyz", readyz)
    get("/metrics", metrics)
    return app


def refuse_open_metrics(settings: Settings, host: str) -> None:
    problems = open_metrics_problems(settings, host)
    if problems:
        raise ConfigurationError(
            f"refusing to serve on {host} (not loopback): {problems[0]} (or set "
            "KPGW_INGRESS__ALLOW_INSECURE_OFF_LOOPBACK=true behind a port bound to loopback)"
        )


@contextlib.asynccontextmanager
async def serve_operations(settings: Settings, components: Sequence[str]) -> AsyncIterator[str]:
    """Serve the endpoints, sample the consumer lag and poll the registry file (the
    readiness of a router reads it) until the block ends; yields the base URL. HTTPS
    with the ingress's TLS files when they are set (a file that cannot be loaded is a
    ``ConfigurationError`` naming its setting, before anything starts)."""
    refuse_open_metrics(settings, settings.http_host)
    ssl_context = server_ssl_context(settings.ingress)
    registry = RegistryWatcher(settings.partners_file)
    operations = Operations(settings, tuple(components), component_topics(settings, registry))
    # As the ingress's: a request aiohttp's parser refuses (a malformed Authorization line
    # carries the metrics token) is a problem that quotes nothing, and logged without it.
    redact_server_log()
    runner = ProblemAppRunner(create_app(operations), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    stop = asyncio.Event()
    lag = asyncio.create_task(pipeline_metrics().sample_lag(settings, stop), name="lag")
    try:
        async with polled(registry):
            site = web.TCPSite(
                runner, settings.http_host, settings.http_port, ssl_context=ssl_context
            )
            await start_site(
                site, settings.http_host, settings.http_port, "the operations endpoints"
            )
            scheme = "https" if ssl_context is not None else "http"
            url = f"{scheme}://{settings.http_host}:{runner.addresses[0][1]}"
            log.info("operations_listening", url=url, components=list(components))
            if ssl_context is None and settings.http_host not in LOOPBACK:
                log.warning(  # as the ingress says it: legitimate behind a TLS proxy
                    "operations_plain_http_off_loopback",
                    url=url,
                    detail="the metrics token travels in clear unless a TLS-terminating "
                    "proxy is in front; else set KPGW_INGRESS__TLS_CERTFILE and "
                    "KPGW_INGRESS__TLS_KEYFILE",
                )
            yield url
    finally:
        stop.set()
        # Bounded: the sampler's consumer close runs inside it, and wait_for would wait for
        # that close after cancelling (up to CLIENT_STOP_S more).
        await wait_bounded(lag, STOP_GRACE_S)
        await runner.cleanup()
