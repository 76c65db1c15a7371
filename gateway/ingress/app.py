"""The ingress HTTP service (DESIGN.md section 6): the aiohttp application factory, a
``serve`` context manager (tests, benchmarks, the demo) and ``run_ingress`` for
``kpgw run [--only ingress]``."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.ingress import handlers
from gateway.ingress.auth import server_ssl_context
from gateway.ingress.exposure import LOOPBACK, refuse_unsafe_exposure
from gateway.ingress.problems import Problem, from_http_exception
from gateway.ingress.protocol import ProblemAppRunner
from gateway.ingress.service import Ingress
from gateway.listen import start_site
from gateway.logs import MALFORMED_REQUEST
from gateway.runtime import StopRequest
from gateway.settings import Settings

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: This request's id (each aiohttp request runs in its own task, so its own context).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("kpgw_request_id", default="")


class RedactMalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse with the parser's message, which quotes the
    offending line: a malformed ``Authorization`` line (a stray CR from a token file, a space
    before the colon) would put a token in the logs (DESIGN.md section 7). The line keeps
    the fact and the error's class, not the quote."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = MALFORMED_REQUEST  # logged at info (gateway.logs)
            record.args = (type(error).__name__, error.code)
            record.exc_info = None
            record.exc_text = None
        return True


_SERVER_LOG = logging.getLogger("aiohttp.server")


def redact_server_log() -> None:
    if not any(isinstance(f, RedactMalformedRequests) for f in _SERVER_LOG.filters):
        _SERVER_LOG.addFilter(RedactMalformedRequests())


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def new_request_id() -> str:
    """A fresh id for this request: in ``REQUEST_ID`` (a problem's ``instance`` names it)
    and in the log context of its lines."""
    request_id = str(uuid.uuid4())
    REQUEST_ID.set(request_id)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return request_id


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The request id alone, on every answer (``X-Request-Id``), for an application without
    the ingress's metrics: the operations endpoints of a worker-only process
    (``gateway.ops_http``). Outside ``problems``, so a problem answer carries it too."""
    request_id = new_request_id()
    try:
        response = await handler(request)
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        structlog.contextvars.clear_contextvars()


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id (as ``request_ids``), per-request log context, metrics."""
    started = time.perf_counter()
    request_id = new_request_id()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        request.app[handlers.INGRESS].metrics.observe(
            _route(request), request.method, status, elapsed
        )
        structlog.contextvars.clear_contextvars()


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as application/problem+json (RFC 9457)."""
    instance = f"urn:uuid:{REQUEST_ID.get() or uuid.uuid4()}"
    try:
        return await handler(request)
    except Problem as problem:
        # remote: the socket's peer (no proxy header is trusted), so that repeated 401s
        # from one address (token guessing) show in the log; the token never does.
        log.info(
            "request_refused",
            status=problem.status,
            problem=problem.slug,
            route=_route(request),
            remote=request.remote,
        )
        return problem.response(instance)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        served = [resource.canonical for resource in request.app.router.resources()]
        refusal = from_http_exception(exc, request.method, request.rel_url.raw_path, served)
        return refusal.response(instance)
    except Exception:
        log.exception("request_failed", route=_route(request))
        return Problem("internal", "an internal error occurred; it has been logged").response(
            instance
        )


def create_app(ingress: Ingress) -> web.Application:
    app = web.Application(
        middlewares=[observe, problems],
        client_max_size=ingress.settings.ingress.max_body_bytes + 1,
    )
    app[handlers.INGRESS] = ingress
    app[handlers.OPENAPI] = handlers.openapi_document()
    handlers.add_routes(app)

    async def background(_: web.Application) -> AsyncIterator[None]:
        async with ingress.running():
            yield

    app.cleanup_ctx.append(background)
    return app


@dataclass(frozen=True, slots=True)
class RunningIngress:
    url: str
    ingress: Ingress


@contextlib.asynccontextmanager
async def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: tuple[str, ...] = (),
) -> AsyncIterator[RunningIngress]:
    """Run an ingress until the block ends; ``port=0`` picks a free port. ``workers``: the
    components running in this process beside it, whose readiness /readyz shows."""
    redact_server_log()
    ingress = Ingress.build(settings, workers)
    bind_host = host or settings.http_host
    refuse_unsafe_exposure(settings, ingress.registry(), bind_host)
    ssl_context = server_ssl_context(settings.ingress)
    # auto_decompress off: a compressed body is refused (415), never inflated on the loop.
    # The request deadline bounds a request's head too (a slowloris), as it does its body.
    runner = ProblemAppRunner(
        create_app(ingress),
        access_log=None,
        shutdown_timeout=5.0,
        auto_decompress=False,
        head_deadline_s=settings.ingress.request_deadline_s,
    )
    await runner.setup()
    try:
        bind_port = settings.http_port if port is None else port
        site = web.TCPSite(runner, bind_host, bind_port, ssl_context=ssl_context)
        await start_site(site, bind_host, bind_port, "the ingress")
        bound_port = runner.addresses[0][1]
        scheme = "https" if ssl_context is not None else "http"
        url = f"{scheme}://{bind_host}:{bound_port}"
        log.info("ingress_listening", url=url, mutual_tls=ingress.auth.mutual_tls)
        if ssl_context is None and bind_host not in LOOPBACK:
            # Legitimate behind a TLS-terminating proxy, so not refused; but said, since
            # otherwise every participant's token crosses the network readable.
            log.warning(
                "ingress_plain_http_off_loopback",
                url=url,
                detail="participants' bearer tokens and the operator tokens travel in "
                "clear unless a TLS-terminating proxy is in front; else set "
                "KPGW_INGRESS__TLS_CERTFILE and KPGW_INGRESS__TLS_KEYFILE",
            )
        yield RunningIngress(url, ingress)
    finally:
        await runner.cleanup()


async def run_ingress(
    settings: Settings, stop: asyncio.Event, *, workers: tuple[str, ...] = ()
) -> None:
    """``kpgw run [--only ingress]``: serve on ``KPGW_HTTP_HOST``:``KPGW_HTTP_PORT`` until
    ``stop`` is set, then drain for ``KPGW_INGRESS__DRAIN_SECONDS``. ``workers``: the other
    components ``kpgw run`` runs in this process."""
    async with serve(settings, workers=workers) as running:
        await stop.wait()
        await drain(running.ingress, settings.ingress.drain_seconds, stop)


async def drain(ingress: Ingress, seconds: float, stop: asyncio.Event) -> None:
    """Fail /readyz but keep serving for ``seconds``: a load balancer or Kubernetes takes a
    few probe periods to stop routing to an instance, and requests it still routes here
    must not meet a closed port. A second signal (``StopRequest.urgent``) cuts it short."""
    if seconds <= 0:
        return
    ingress.draining = True
    log.info("ingress_draining", seconds=seconds)
    urgent = stop.urgent if isinstance(stop, StopRequest) else asyncio.Event()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(urgent.wait(), seconds)
    log.info("ingress_drained", cut_short=urgent.is_set())
