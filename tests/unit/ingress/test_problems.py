"""RFC 9457 documents."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from gateway.errors import Finding
from gateway.ingress.problems import KINDS, PROBLEM_JSON, Problem, from_http_exception


def test_document_has_every_member_and_the_findings() -> None:
    problem = Problem(
        "invalid-document", "2 findings", (Finding("XSD_VIOLATION", "bad", 12, "/a/b"),)
    )
    document = problem.document("urn:uuid:1")
    assert document == {
        "type": "urn:kpgw:problem:invalid-document",
        "title": "The document is invalid",
        "status": 422,
        "detail": "2 findings",
        "instance": "urn:uuid:1",
        "findings": [{"code": "XSD_VIOLATION", "message": "bad", "line": 12, "path": "/a/b"}],
    }
    response = problem.response("urn:uuid:1")
    assert response.status == 422 and response.content_type == PROBLEM_JSON
    assert isinstance(response.body, bytes) and json.loads(response.body) == document


def test_headers_travel_and_unknown_kinds_are_refused() -> None:
    response = Problem("rate-limited", "slow down", headers={"Retry-After": "3"}).response("x")
    assert response.headers["Retry-After"] == "3"
    with pytest.raises(ValueError, match="unknown problem kind"):
        Problem("teapot", "no")


def test_every_kind_is_an_error_status() -> None:
    assert all(400 <= status < 600 and title for status, title in KINDS.values())


def test_aiohttp_errors_become_problems() -> None:
    assert from_http_exception(web.HTTPNotFound(), "GET", "/x").status == 404
    not_allowed = from_http_exception(web.HTTPMethodNotAllowed("PUT", ["GET"]), "PUT", "/x")
    assert not_allowed.status == 405 and not_allowed.headers["Allow"] == "GET"
    assert from_http_exception(web.HTTPRequestEntityTooLarge(10, 20), "POST", "/x").status == 413


def test_a_wrong_url_is_answered_with_what_to_fix() -> None:
    """``kpgw send --url http://host/api`` was told "Not found: Not Found": nothing said
    which path was asked for or where the API is."""
    served = ["/v1/messages", "/v1/openapi.yaml", "/healthz"]
    missing = from_http_exception(web.HTTPNotFound(), "POST", "/api/v1/messages", served)
    assert missing.detail == (
        "no such path: POST /api/v1/messages; check the base URL: this server's paths are "
        "/v1/messages, /v1/openapi.yaml, /healthz (the API's operations: GET /v1/openapi.yaml)"
    )
    assert not missing.detail.startswith("no message")  # kpgw status's unknown message
    # A worker's operations server has no API: its own paths, nothing of the ingress's.
    worker = from_http_exception(web.HTTPNotFound(), "GET", "/v1/messages", ["/healthz"])
    assert worker.detail.endswith("this server's paths are /healthz")
    endless = from_http_exception(web.HTTPNotFound(), "GET", "/" + "a" * 5000)
    assert len(endless.detail) < 600
    not_allowed = from_http_exception(
        web.HTTPMethodNotAllowed("PUT", ["POST"]), "PUT", "/v1/messages"
    )
    assert not_allowed.detail == "PUT is not allowed on /v1/messages; it takes POST"


def test_a_finding_quoting_megabytes_is_cut_in_the_answer() -> None:
    """A 2 MB attribute quoted by its finding, and again in the detail, was a 4 MB 422
    (a security review)."""
    quoted = "the value 'x" + "x" * 2_000_000 + "' is not a unit code"
    problem = Problem("invalid-document", quoted, (Finding("XSD_VIOLATION", quoted, 3, "/a"),))
    document = problem.document("urn:uuid:1")
    assert len(document["detail"]) < 2100 and document["detail"].endswith(" more)")
    (finding,) = document["findings"]
    assert len(finding["message"]) < 1100 and finding["line"] == 3 and finding["path"] == "/a"
