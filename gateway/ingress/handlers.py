"""The calls of DESIGN.md section 6. Order of checks on a POST: authenticate (401/403),
rate limit (429), content type (415), size (413, before and while reading), then the
document (400/403/422), the idempotency key (409), and the broker's acknowledgement
(202, or 503 with nothing accepted). Logs carry participant and tracking id, never a token
and never the document."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_urldispatcher import _default_expect_handler as _aiohttp_expect_handler

from gateway.events import raw_sha256
from gateway.ingress import dashboard_view, validation
from gateway.ingress.dashboard import check_operator, is_operator
from gateway.ingress.idempotency import Accepted, idempotency_key, tracking_id_for
from gateway.ingress.limits import (
    check_charset,
    check_content_encoding,
    check_content_type,
    check_not_compressed,
    read_body,
)
from gateway.ingress.position import TopicPosition
from gateway.ingress.problems import UNKNOWN_MESSAGE, Problem, retry_after
from gateway.ingress.publisher import (
    BrokerUnavailable,
    DeadlineExceeded,
    OutboundRecord,
    RecordTooLarge,
)
from gateway.ingress.service import Ingress
from gateway.text import audit_text
from gateway.translator.inbound import inbound_headers, inbound_key

log = structlog.get_logger(__name__)
INGRESS = web.AppKey("ingress", Ingress)
OPENAPI = web.AppKey("openapi", bytes)
NOT_READY_RETRY_S = 2.0
#: How long a status lookup that finds nothing waits for the views to reach the topics' end.
READ_TO_END_S = 1.0


def _json(document: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(document, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def status_url(tracking_id: str) -> str:
    return f"/v1/messages/{tracking_id}"


def _participant(request: web.Request, ingress: Ingress) -> str:
    """Authenticate (401/403) and put the participant in the log context."""
    identity = ingress.auth.authenticate(request)
    structlog.contextvars.bind_contextvars(participant=identity.participant)
    return identity.participant


@contextlib.contextmanager
def _refusals_counted(ingress: Ingress, participant: str) -> Iterator[None]:
    """Every refusal of an authenticated participant's document counted once, by problem
    type (``kpgw_ingress_refused_messages_total``). Only validation's, the compressed body's
    and the broker's were: a participant held back by the rate limit (429), sending
    oversized or non-XML bodies (413, 415) or reusing a key (409) showed nowhere per
    participant (a customs security walkthrough)."""
    try:
        yield
    except Problem as problem:
        ingress.metrics.refused.labels(participant, problem.slug).inc()
        raise


async def _document(
    request: web.Request, ingress: Ingress, participant: str, deadline: float
) -> bytes:
    """Rate-limit, check the content type and read the body."""
    ingress.limiter.enforce(participant)
    check_content_type(request.headers.get("Content-Type"))
    check_content_encoding(request.headers.get("Content-Encoding"))
    limit = ingress.settings.ingress.max_body_bytes
    if request.content.is_eof():  # the whole body has arrived: no deadline to watch
        raw = await read_body(request, limit)
    else:
        try:
            async with asyncio.timeout_at(deadline):
                raw = await read_body(request, limit)
        except TimeoutError:
            raise Problem(
                "deadline-exceeded",
                "the body did not arrive within the request deadline",
                headers=retry_after(1),
            ) from None
    check_not_compressed(raw)
    check_charset(request.headers.get("Content-Type"), raw)
    return raw


async def _judge(
    request: web.Request,
    ingress: Ingress,
    participant: str,
    raw: bytes,
    received_at: datetime,
    *,
    deadline: float,
) -> validation.Verdict:
    try:
        return await ingress.validator.judge(raw, participant, received_at, deadline)
    except Problem as problem:
        if problem.slug == "forbidden-sender":
            # Audit trail: who tried to send what, never the document itself.
            log.warning(
                "audit_sender_refused",
                participant=participant,
                remote=request.remote,
                route=request.path,
                body_sha256=raw_sha256(raw),
                body_bytes=len(raw),
                reason=problem.findings[0].code if problem.findings else problem.slug,
                # The message quotes the document's certificate number and issuer: bounded
                # and escaped (repr), so a sender cannot flood or forge log lines.
                finding=audit_text(
                    problem.findings[0].message if problem.findings else problem.detail
                ),
            )
        raise


async def post_message(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    participant = _participant(request, ingress)
    with _refusals_counted(ingress, participant):
        return await _accept(request, ingress, participant)


async def _accept(request: web.Request, ingress: Ingress, participant: str) -> web.Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ingress.settings.ingress.request_deadline_s
    raw = await _document(request, ingress, participant, deadline)
    received_at = datetime.now(UTC)
    digest = raw_sha256(raw)
    message_id: str | None = None
    if ingress.settings.ingress.validate_sync:
        with ingress.publisher.coming():
            verdict = await _judge(
                request, ingress, participant, raw, received_at, deadline=deadline
            )
        message_id = verdict.message_id
    key = idempotency_key(request.headers.getall("Idempotency-Key", []), message_id, digest)
    tracking_id = tracking_id_for(participant, key)
    structlog.contextvars.bind_contextvars(tracking_id=tracking_id)
    if not ingress.inbound_mirror.caught_up.is_set():
        raise Problem(
            "not-ready",
            "the ingress is still reading kp.inbound (idempotency keys); retry shortly",
            headers=retry_after(NOT_READY_RETRY_S),
        )
    try:
        async with ingress.accepted.lock(tracking_id, deadline):
            replayed = ingress.accepted.replay(tracking_id, participant, digest) is not None
            if not replayed:
                position = await _publish(
                    ingress,
                    participant=participant,
                    key=key,
                    message_id=message_id,
                    tracking_id=tracking_id,
                    raw=raw,
                    deadline=deadline,
                )
                ingress.accepted.remember(
                    tracking_id, Accepted(participant, digest, received_at, message_id, position)
                )
    except TimeoutError:
        raise Problem(
            "deadline-exceeded",
            "an earlier request with the same key is still in progress",
            headers=retry_after(1),
        ) from None
    ingress.metrics.accept(participant)
    log.info("message_accepted", replayed=replayed, body_bytes=len(raw))
    url = status_url(tracking_id)
    headers = {"Location": url, "Idempotent-Replayed": "true" if replayed else "false"}
    return _json({"tracking_id": tracking_id, "status_url": url}, 202, **headers)


async def _publish(
    ingress: Ingress,
    *,
    participant: str,
    key: str,
    message_id: str | None,
    tracking_id: str,
    raw: bytes,
    deadline: float,
) -> TopicPosition:
    record = OutboundRecord(
        key=inbound_key(participant, message_id or key),
        value=raw,
        headers=inbound_headers(
            sender=participant,
            message_id=message_id,
            tracking_id=tracking_id,
            received_at=datetime.now(UTC),
        ),
    )
    try:
        return await ingress.publisher.publish(record, deadline)
    except RecordTooLarge as exc:
        raise Problem("body-too-large", str(exc)) from None
    except DeadlineExceeded as exc:
        raise Problem(
            "deadline-exceeded", exc.detail, headers=retry_after(exc.retry_after_s)
        ) from None
    except BrokerUnavailable as exc:
        raise Problem(
            "broker-unavailable", exc.detail, headers=retry_after(exc.retry_after_s)
        ) from None


async def post_validate(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    participant = _participant(request, ingress)
    deadline = asyncio.get_running_loop().time() + ingress.settings.ingress.request_deadline_s
    with _refusals_counted(ingress, participant):
        raw = await _document(request, ingress, participant, deadline)
        verdict = await _judge(
            request, ingress, participant, raw, datetime.now(UTC), deadline=deadline
        )
    return _json(
        {
            "ok": True,
            "format": verdict.format,
            "kind": verdict.kind,
            "certificate_id": verdict.certificate_id,
            "findings": [],
        }
    )


async def get_status(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    identity = ingress.auth.authenticate(request)
    structlog.contextvars.bind_contextvars(participant=identity.participant)
    tracking_id = request.match_info["tracking_id"]
    if not ingress.status_mirror.caught_up.is_set():
        raise Problem(
            "not-ready",
            "the ingress is still reading kp.status; retry shortly",
            headers=retry_after(NOT_READY_RETRY_S),
        )
    found = _lookup(ingress, tracking_id, identity.participant)
    if found is None:
        # Each miss costs two ListOffsets requests to the broker: limited per participant
        # (a budget of its own, beside the documents'), or any participant looping over
        # made-up ids drove the broker at will (a customs security walkthrough).
        ingress.limiter.enforce(
            identity.participant, bucket="lookups", what="look-ups of unknown tracking ids"
        )
        # Accepted a moment ago by another instance? Read both views to the topics' end
        # (bounded) before saying no: behind a load balancer the status URL of a 202 is
        # often asked of another instance at once.
        read = await asyncio.gather(
            ingress.inbound_mirror.read_to_end(READ_TO_END_S),
            ingress.status_mirror.read_to_end(READ_TO_END_S),
        )
        found = _lookup(ingress, tracking_id, identity.participant)
        if found is None and not all(read):
            # Unconfirmed (the broker away or too slow): "unknown" would be a guess, and
            # a final one, since `kpgw status --wait` stops at it. A message another
            # instance accepted just before the broker went away was called unknown.
            raise Problem(
                "not-ready",
                f"this ingress could not read kp.inbound and kp.status to their end just "
                f"now (the broker is unreachable or slow), so it cannot tell whether "
                f"{audit_text(tracking_id)} is a message of {identity.participant}; retry "
                "shortly",
                headers=retry_after(NOT_READY_RETRY_S),
            )
    if found is None:
        raise Problem(
            "unknown-message",
            # Quoted bounded and escaped: a bidirectional override or an escape sequence
            # in the path came back raw in the detail, as did a path of thousands of
            # characters.
            UNKNOWN_MESSAGE.format(
                tracking_id=audit_text(tracking_id), participant=identity.participant
            ),
        )
    return _json(found)


def _lookup(ingress: Ingress, tracking_id: str, participant: str) -> dict[str, Any] | None:
    found = ingress.statuses.lookup(tracking_id, participant, ingress.accepted)
    canonical = _canonical_uuid(tracking_id)
    if found is None and canonical not in (None, tracking_id):
        # The gateway's tracking ids are lower-case UUIDs; UUIDs are case-insensitive on
        # input (RFC 9562) and many systems store them in upper case or with braces.
        found = ingress.statuses.lookup(canonical, participant, ingress.accepted)
    return found


def _canonical_uuid(text: str) -> str | None:
    """``text`` as a lower-case hyphenated UUID, or None when it is no UUID (a Kafka-native
    sender's own tracking id, matched as written)."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    operator = is_operator(request, ingress.settings.ingress.metrics_token)
    if ingress.draining:
        report = await draining_report(ingress)
        return _json(report if operator else yes_or_no(report), 503)
    report = await ingress.readiness()
    return _json(report if operator else yes_or_no(report), 200 if report["ready"] else 503)


def yes_or_no(report: dict[str, Any]) -> dict[str, Any]:
    """/readyz for whoever does not present the metrics token, once one is set: every
    verdict, none of the details. The port is the participants' too, and the details name
    topics (so participants), partitions, a registry file and dead letters' coordinates:
    operators' matters, as /metrics is. A probe needs only the status and the verdicts."""
    kept: dict[str, Any] = {
        key: report[key] for key in ("ready", "draining", "checks") if key in report
    }
    if "workers" in report:
        kept["workers"] = {
            name: {
                "ready": worker["ready"],
                "checks": {k: v for k, v in worker["checks"].items() if isinstance(v, bool)},
            }
            for name, worker in report["workers"].items()
        }
    return kept


async def draining_report(ingress: Ingress) -> dict[str, Any]:
    """/readyz while the ingress drains: not ready, on purpose, so its own checks are left
    out (``checks`` empty). The workers beside it under ``kpgw run`` go on meanwhile,
    stopping (their transactions finish, they leave their groups): ``workers`` shows them
    as ever, so an operator watching a rolling restart sees them finish (one broker check
    a second, shared by every probe, as when not draining)."""
    report: dict[str, Any] = {"ready": False, "draining": True, "checks": {}}
    if ingress.workers:
        report["workers"] = (await ingress.readiness())["workers"]
    return report


async def metrics(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    check_operator(request, ingress.settings.ingress.metrics_token, "/metrics")
    return web.Response(
        body=ingress.metrics.render(), headers={"Content-Type": ingress.metrics.content_type}
    )


async def dashboard(request: web.Request) -> web.Response:
    """The operator's dashboard (``gateway.ingress.dashboard``); its first request starts
    the feed that reads the outcome, partner and dead-letter topics."""
    ingress = request.app[INGRESS]
    check_operator(request, ingress.settings.ingress.dashboard_token)
    ingress.dashboard.ensure_started()
    return web.Response(
        body=dashboard_view.page(),
        content_type="text/html",
        charset="utf-8",
        headers=dashboard_view.headers(),
    )


async def dashboard_data(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    check_operator(request, ingress.settings.ingress.dashboard_token)
    ingress.dashboard.ensure_started()
    # The broker's state from the readiness probe (shared, cached): with the broker away
    # the figures stop moving, and the page must say so rather than "Live" (an SRE review).
    broker = (await ingress.readiness())["checks"]["broker"]
    response = _json(ingress.dashboard.document(broker_reachable=broker))
    response.headers["Cache-Control"] = "no-store"
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/yaml")


def openapi_document() -> bytes:
    """The OpenAPI 3.1 document shipped inside the package (and so inside the wheel)."""
    return resources.files("gateway.ingress").joinpath("openapi.yaml").read_bytes()


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """``Expect: 100-continue`` as aiohttp answers it; any other expectation is a problem
    document, with its ``X-Request-Id`` as every answer. aiohttp's own answer is a
    plain-text 417 quoting the header, given before any middleware runs, so
    ``gateway.ingress.app.problems`` never saw it (nor ``observe``, which sets the id)."""
    if request.headers.get("Expect", "").strip().lower() == "100-continue":
        await _aiohttp_expect_handler(request)  # writes "100 Continue"
        return None
    problem = Problem(
        "bad-request", "the Expect header may only be 100-continue; send the request without it"
    )
    request_id = str(uuid.uuid4())
    response = problem.response(f"urn:uuid:{request_id}")
    response.headers["X-Request-Id"] = request_id
    return response


def add_routes(app: web.Application) -> None:
    # Every route has the Expect handler: a GET's was aiohttp's (a plain-text 417).
    post = functools.partial(app.router.add_post, expect_handler=expect_continue)
    get = functools.partial(app.router.add_get, allow_head=False, expect_handler=expect_continue)
    post("/v1/messages", post_message)
    post("/v1/validate", post_validate)
    get("/v1/messages/{tracking_id}", get_status)
    get("/v1/openapi.yaml", openapi)
    get("/healthz", healthz)
    get("/readyz", readyz)
    get("/metrics", metrics)
    get("/dashboard", dashboard)
    get("/dashboard/data.json", dashboard_data)
