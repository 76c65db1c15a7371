"""The OpenAPI document against the running server (an equivalent of schemathesis, table
driven): every documented (path, method, status) is produced by a real request, every
produced one is documented, each body validates against its documented schema, names no
property the schema does not (a generated client refuses those), and each documented
header is present (``X-Request-Id`` on every one). An operation's ``default`` response
stands for the statuses ``DEFAULT_STATUSES`` it does not list, and is produced on each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import SecretStr

from gateway.ingress.handlers import openapi_document
from gateway.ingress.validation import Verdict
from gateway.ingress.validator import Validator
from gateway.kafka.broker import port_free
from gateway.registry.loader import example_registry_path
from gateway.settings import Settings
from tests.kafka.helpers import certificate, render, with_hs
from tests.kafka.ingress.conftest import Client, Reply, started
from tests.openapi_shapes import undocumented

pytestmark = pytest.mark.kafka
SPEC: dict[str, Any] = yaml.safe_load(openapi_document())
DOCUMENTED = {
    (path, method, status)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    for status in operation["responses"]
}
#: What the ``default`` problem response (components/responses/OtherProblem) stands for: an
#: internal error, an Expect header other than 100-continue, a wrong base URL.
DEFAULT_STATUSES = {400, 404, 500}
CERT = render(certificate("RU0630001"))
OTHER_BODY = render(certificate("RU0630001", carats="1600.000", value="155000.00"))
LARGE = CERT.replace(b"</rsm:SPSCertificate>", b"<!--" + b"x" * 9000 + b"--></rsm:SPSCertificate>")
INVALID = render(with_hs(certificate("RU0630002"), "7102.29"))
STATUS = "/v1/messages/{tracking_id}"
OPERATOR_TOKEN = "operator-token-for-the-contract-test"  # only the "limited" ingress has one
METRICS_TOKEN = "metrics-token-for-the-contract-test"  # the "limited" ingress's /metrics
Call = Callable[[Client, dict[str, str]], Awaitable[Reply]]
EXPECT_OTHER = {"Expect": "something-else"}


class _Failing:
    """A running ingress's validator that fails unexpectedly: its 500."""

    def __init__(self, inner: Validator) -> None:
        self.inner = inner

    async def start(self) -> None:
        await self.inner.start()

    def ready(self) -> bool:
        return self.inner.ready()

    async def judge(self, *args: Any, **kwargs: Any) -> Verdict:
        raise RuntimeError("a fault the contract test injected")

    async def close(self) -> None:
        await self.inner.close()


def _failing(call: Call) -> Call:
    async def failing(client: Client, memo: dict[str, str]) -> Reply:
        ingress = client.running.ingress
        working = ingress.validator
        ingress.validator = _Failing(working)
        try:
            return await call(client, memo)
        finally:
            ingress.validator = working

    return failing


def _documented_as(path: str, method: str, status: int) -> str:
    """The response key documenting ``status``: its own, else ``default`` for a status
    that one stands for, else the status (undocumented)."""
    responses = SPEC["paths"][path].get(method, {}).get("responses", {})
    if str(status) in responses or status not in DEFAULT_STATUSES:
        return str(status)
    return "default"


async def _slowly(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 512):
        yield body[start : start + 512]
        await asyncio.sleep(0.3)


#: (which ingress, expected (path, method, status), the request). ``memo`` carries the
#: tracking id of the accepted message to later rows.
TABLE: list[tuple[str, tuple[str, str, int], Call]] = [
    (
        "main",
        ("/v1/messages", "post", 202),
        lambda c, m: c.send(CERT, headers={"Idempotency-Key": "contract-1"}),
    ),
    ("main", ("/v1/messages", "post", 400), lambda c, m: c.send(b"plain text")),
    ("main", ("/v1/messages", "post", 401), lambda c, m: c.send(CERT, None)),
    ("main", ("/v1/messages", "post", 403), lambda c, m: c.send(CERT, "BW")),
    (
        "main",
        ("/v1/messages", "post", 409),
        lambda c, m: c.send(OTHER_BODY, headers={"Idempotency-Key": "contract-1"}),
    ),
    ("main", ("/v1/messages", "post", 413), lambda c, m: c.send(LARGE)),
    ("main", ("/v1/messages", "post", 415), lambda c, m: c.send(CERT, content_type="text/plain")),
    ("main", ("/v1/messages", "post", 422), lambda c, m: c.send(INVALID)),
    ("main", ("/v1/validate", "post", 200), lambda c, m: c.validate(CERT)),
    ("main", ("/v1/validate", "post", 400), lambda c, m: c.validate(b"{}")),
    ("main", ("/v1/validate", "post", 401), lambda c, m: c.validate(CERT, None, token="nope")),
    ("main", ("/v1/validate", "post", 403), lambda c, m: c.validate(CERT, "EU")),
    ("main", ("/v1/validate", "post", 413), lambda c, m: c.validate(LARGE)),
    (
        "main",
        ("/v1/validate", "post", 415),
        lambda c, m: c.validate(CERT, content_type="application/json"),
    ),
    ("main", ("/v1/validate", "post", 422), lambda c, m: c.validate(INVALID)),
    ("main", (STATUS, "get", 200), lambda c, m: c.status(m["tracking_id"])),
    ("main", (STATUS, "get", 401), lambda c, m: c.status(m["tracking_id"], None)),
    ("main", (STATUS, "get", 403), lambda c, m: c.status(m["tracking_id"], "SL")),  # suspended
    ("main", (STATUS, "get", 404), lambda c, m: c.status(m["tracking_id"], "EU")),
    ("main", ("/v1/openapi.yaml", "get", 200), lambda c, m: c.request("GET", "/v1/openapi.yaml")),
    ("main", ("/healthz", "get", 200), lambda c, m: c.request("GET", "/healthz")),
    ("main", ("/readyz", "get", 200), lambda c, m: c.request("GET", "/readyz")),
    ("main", ("/metrics", "get", 200), lambda c, m: c.request("GET", "/metrics")),
    ("main", ("/dashboard", "get", 200), lambda c, m: c.request("GET", "/dashboard")),
    (
        "main",
        ("/dashboard/data.json", "get", 200),
        lambda c, m: c.request("GET", "/dashboard/data.json"),
    ),
    ("limited", ("/dashboard", "get", 401), lambda c, m: c.request("GET", "/dashboard")),
    ("limited", ("/metrics", "get", 401), lambda c, m: c.request("GET", "/metrics")),
    (
        "limited",
        ("/metrics", "get", 200),
        lambda c, m: c.request("GET", "/metrics", token=METRICS_TOKEN),
    ),
    (
        "limited",
        ("/dashboard/data.json", "get", 401),
        lambda c, m: c.request("GET", "/dashboard/data.json", token="participant-or-wrong"),
    ),
    (
        "limited",
        ("/dashboard/data.json", "get", 200),
        lambda c, m: c.request("GET", "/dashboard/data.json", token=OPERATOR_TOKEN),
    ),
    ("limited", ("/v1/messages", "post", 429), lambda c, m: c.send(CERT)),  # after one validate
    ("limited", ("/v1/validate", "post", 429), lambda c, m: c.validate(CERT)),
    # Look-ups of unknown tracking ids have a budget of their own (one a minute here): the
    # first is answered, the second refused.
    ("limited", (STATUS, "get", 404), lambda c, m: c.status("t-unknown-1")),
    ("limited", (STATUS, "get", 429), lambda c, m: c.status("t-unknown-2")),
    ("dead", ("/v1/messages", "post", 503), lambda c, m: c.send(CERT)),
    ("dead", ("/v1/validate", "post", 503), lambda c, m: c.validate(_slowly(CERT))),
    ("dead", (STATUS, "get", 503), lambda c, m: c.status(m["tracking_id"])),
    ("dead", ("/readyz", "get", 503), lambda c, m: c.request("GET", "/readyz")),
    # ``default``: a fault on each POST (500), an Expect header on each GET (400; on a POST
    # that is its documented 400).
    ("main", ("/v1/messages", "post", 500), _failing(lambda c, m: c.send(CERT))),
    ("main", ("/v1/validate", "post", 500), _failing(lambda c, m: c.validate(CERT))),
    ("main", (STATUS, "get", 400), lambda c, m: c.status(m["tracking_id"], headers=EXPECT_OTHER)),
    *[
        (
            "main",
            (path, "get", 400),
            lambda c, m, path=path: c.request("GET", path, headers=EXPECT_OTHER),
        )
        for path in (
            "/v1/openapi.yaml",
            "/healthz",
            "/readyz",
            "/metrics",
            "/dashboard",
            "/dashboard/data.json",
        )
    ],
]


def _response(path: str, method: str, status: str) -> dict[str, Any]:
    response: dict[str, Any] = SPEC["paths"][path][method]["responses"][status]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def _check_against_spec(expected: tuple[str, str, str], reply: Reply) -> None:
    response = _response(*expected)
    assert "X-Request-Id" in response.get("headers", {}), (expected, "not declared")
    for header in response.get("headers", {}):
        assert header in reply.headers, (expected, header)
    content = response.get("content", {})
    assert reply.content_type in content, (expected, reply.content_type)
    schema = content[reply.content_type]["schema"]
    if reply.content_type.endswith("json"):
        validator = Draft202012Validator({**schema, "components": SPEC["components"]})
        errors = [error.message for error in validator.iter_errors(reply.body)]
        assert not errors, (expected, errors, reply.body)
        extra = undocumented(reply.body, schema, SPEC)
        assert not extra, (expected, extra, reply.body)


def _suspended_registry(tmp_path: Path) -> Path:
    text = example_registry_path().read_text()
    assert "[participants.SL]\n" in text
    target = tmp_path / "participants.toml"
    target.write_text(
        text.replace("[participants.SL]\n", '[participants.SL]\nstatus = "suspended"\n')
    )
    return target


async def test_every_documented_response_is_produced_and_matches(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics.model_copy(update={"partners_file": _suspended_registry(tmp_path)})
    port = next(p for p in range(39590, 39600) if port_free(p))
    nowhere = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}"})
    produced: set[tuple[str, str, str]] = set()
    memo: dict[str, str] = {}
    async with (
        started(settings, max_body_bytes=8192) as main,
        started(
            settings,
            rate_limit_per_minute=1,
            dashboard_token=SecretStr(OPERATOR_TOKEN),
            metrics_token=SecretStr(METRICS_TOKEN),
        ) as limited,
        started(nowhere, ready=False, request_deadline_s=1.0) as dead,
    ):
        assert (await limited.validate(CERT)).status == 200  # spends the only token
        clients = {"main": main, "limited": limited, "dead": dead}
        served = await main.request("GET", "/v1/openapi.yaml")
        assert served.body.encode() == openapi_document()
        for name, expected, call in TABLE:
            reply = await call(clients[name], memo)
            assert reply.status == expected[2], (name, expected, reply.status, reply.body)
            if expected == ("/v1/messages", "post", 202):
                memo["tracking_id"] = reply.body["tracking_id"]
            documented = (*expected[:2], _documented_as(*expected))
            _check_against_spec(documented, reply)
            produced.add(documented)
    assert produced == DOCUMENTED, {
        "documented, never produced": sorted(DOCUMENTED - produced),
        "produced, not documented": sorted(produced - DOCUMENTED),
    }
    seen = main.seen | limited.seen | dead.seen
    documented = {(*item[:2], _documented_as(*item)) for item in seen if item[0] in SPEC["paths"]}
    assert documented <= DOCUMENTED
