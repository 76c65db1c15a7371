"""The OpenAPI document against the running server (an equivalent of schemathesis, table
driven): every documented (path, method, status) is produced by a real request, every
produced one is documented, each body validates against its documented schema, names no
property the schema does not (a generated client refuses those), and each documented
header is present."""

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
from gateway.kafka.broker import port_free
from gateway.registry.loader import example_registry_path
from gateway.settings import Settings
from tests.kafka.helpers import certificate, render, with_hs
from tests.kafka.ingress.conftest import Client, Reply, started
from tests.openapi_shapes import undocumented

pytestmark = pytest.mark.kafka
SPEC: dict[str, Any] = yaml.safe_load(openapi_document())
DOCUMENTED = {
    (path, method, int(status))
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    for status in operation["responses"]
}
CERT = render(certificate("RU0630001"))
OTHER_BODY = render(certificate("RU0630001", carats="1600.000", value="155000.00"))
LARGE = CERT.replace(b"</rsm:SPSCertificate>", b"<!--" + b"x" * 9000 + b"--></rsm:SPSCertificate>")
INVALID = render(with_hs(certificate("RU0630002"), "7102.29"))
STATUS = "/v1/messages/{tracking_id}"
OPERATOR_TOKEN = "operator-token-for-the-contract-test"  # only the "limited" ingress has one
METRICS_TOKEN = "metrics-token-for-the-contract-test"  # the "limited" ingress's /metrics
Call = Callable[[Client, dict[str, str]], Awaitable[Reply]]


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
    ("dead", ("/v1/messages", "post", 503), lambda c, m: c.send(CERT)),
    ("dead", ("/v1/validate", "post", 503), lambda c, m: c.validate(_slowly(CERT))),
    ("dead", (STATUS, "get", 503), lambda c, m: c.status(m["tracking_id"])),
    ("dead", ("/readyz", "get", 503), lambda c, m: c.request("GET", "/readyz")),
]


def _response(path: str, method: str, status: int) -> dict[str, Any]:
    response: dict[str, Any] = SPEC["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def _check_against_spec(expected: tuple[str, str, int], reply: Reply) -> None:
    response = _response(*expected)
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
    produced: set[tuple[str, str, int]] = set()
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
            _check_against_spec(expected, reply)
            produced.add(expected)
    assert produced == DOCUMENTED, {
        "documented, never produced": sorted(DOCUMENTED - produced),
        "produced, not documented": sorted(produced - DOCUMENTED),
    }
    seen = main.seen | limited.seen | dead.seen
    assert {item for item in seen if item[0] in SPEC["paths"]} <= DOCUMENTED
