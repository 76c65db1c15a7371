"""The OpenAPI document ships inside the package, is valid OpenAPI 3.1, documents every
problem the handlers can raise, and gives client generators what they need (a customs IT
team generates its client from it with OpenAPI Generator: docs/generated-clients.md)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from gateway.demo_tokens import demo_token
from gateway.errors import Finding
from gateway.events import DocumentKind
from gateway.ingress.dashboard import SERIES
from gateway.ingress.handlers import openapi_document
from gateway.ingress.problems import KINDS, TYPE_BASE, Problem
from gateway.ingress.status import STATES
from gateway.registry import ParticipantRegistry
from tests.conftest import REPO_ROOT
from tests.openapi_shapes import component, inline_object_schemas, resolve, spec, undocumented

SPEC = spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
OPERATIONS = [
    (path, method, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
]


def test_the_document_is_valid_openapi_3_1() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    spec = yaml.safe_load(openapi_document())
    assert spec["openapi"].startswith("3.1")
    validator.validate(spec)


def test_demo_tokens_match_the_example_registry(example_registry: ParticipantRegistry) -> None:
    holders = [code for code, p in example_registry.participants.items() if p.token_hashes]
    assert holders
    for code in holders:
        assert example_registry.participant_for_token(demo_token(code)) == code
    assert demo_token("ru") == demo_token("RU")


def test_every_operation_has_a_unique_operation_id() -> None:
    """Generators name methods after it (else after the path: ``v1MessagesPost``)."""
    ids = [operation.get("operationId") for _, _, operation in OPERATIONS]
    assert None not in ids
    assert len(set(ids)) == len(ids)


def test_xml_request_bodies_are_bytes_not_text() -> None:
    """Found generating a Java client: with ``{type: string}`` the method took a String, the
    client sent it as UTF-8 with ``charset=utf-8``, and a UTF-16 or windows-1251 document
    (which the gateway reads by its own declaration) was refused with 415, with no way to
    send its bytes; the Python client refused bytes outright. ``format: binary`` gives a
    File (Java), bytes (Python), a Blob (TypeScript)."""
    bodies = [
        resolve(operation["requestBody"], SPEC)
        for _, _, operation in OPERATIONS
        if "requestBody" in operation
    ]
    assert bodies
    for body in bodies:
        assert set(body["content"]) == {"application/xml", "text/xml"}
        for media in body["content"].values():
            assert media["schema"] == {"type": "string", "format": "binary"}


def test_one_bearer_scheme_serves_participants_and_operators() -> None:
    """Found generating a Java client: with two ``http bearer`` schemes (participant and
    operator), ``ApiClient.setBearerToken`` filled whichever its HashMap gave first, the
    operator's, and every participant call went out without a token (401)."""
    schemes = SPEC["components"]["securitySchemes"]
    bearer = [
        name
        for name, scheme in schemes.items()
        if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
    ]
    assert bearer == ["bearerAuth"]
    used = {
        name
        for requirements in [SPEC["security"]]
        + [operation.get("security", []) for _, _, operation in OPERATIONS]
        for requirement in requirements
        for name in requirement
    }
    assert used == set(schemes)


def test_no_model_is_named_after_where_it_sits() -> None:
    """Found generating a Java client: inline object schemas became models named
    ``MessageStatus404Response`` (with ``type`` and ``status`` typed Object, from an allOf
    of consts), ``Healthz200Response``, ``DashboardDataDeadLettersNewestInner``."""
    assert inline_object_schemas(SPEC) == []


def test_every_response_declares_the_request_id_the_server_sends() -> None:
    """It was declared on the 202 only, though every answer carries it (a generated
    client's docs and header accessors follow the document)."""
    undeclared = [
        (path, method, status)
        for path, method, operation in OPERATIONS
        for status, response in operation["responses"].items()
        if resolve(response, SPEC).get("headers", {}).get("X-Request-Id")
        != {"$ref": "#/components/headers/RequestId"}
    ]
    assert undeclared == []


def test_every_operation_declares_the_problems_it_does_not_list() -> None:
    """A 500, an Expect header other than 100-continue, a wrong base URL: problem
    documents any operation may answer. ``default`` says so (OpenAPI Generator keeps the
    2xx as the return type and throws its ApiException for it, as for a listed error)."""
    other = SPEC["components"]["responses"]["OtherProblem"]
    assert other["content"] == {"application/problem+json": {"schema": component("Problem")}}
    for status in ("500", "100-continue", "404"):
        assert status in other["description"]
    missing = [
        operation["operationId"]
        for _, _, operation in OPERATIONS
        if operation["responses"].get("default") != {"$ref": "#/components/responses/OtherProblem"}
    ]
    assert missing == []


def test_the_enums_list_every_value_the_server_sends() -> None:
    """A generated enum refuses a value it does not list (Java's ``fromValue`` throws)."""
    status = SCHEMAS["MessageStatus"]["properties"]["status"]["enum"]
    assert set(status) == set(STATES.values())
    assert SCHEMAS["ValidationResult"]["properties"]["kind"]["enum"] == list(get_args(DocumentKind))
    series = SCHEMAS["Throughput"]["properties"]["series"]["items"]["enum"]
    assert series == list(SERIES)


def test_the_problem_type_names_every_kind_and_the_document_matches_the_schema() -> None:
    schema = SCHEMAS["Problem"]
    assert "enum" not in schema["properties"]["type"]  # a later kind must still read
    description = schema["properties"]["type"]["description"]
    assert TYPE_BASE in description
    assert [slug for slug in KINDS if slug not in description] == []
    document = Problem("invalid-document", "1 finding", (Finding("X", "y", 3, "/a"),)).document(
        "urn:uuid:00000000-0000-0000-0000-000000000000"
    )
    assert set(document) == set(schema["required"])
    assert set(document["findings"][0]) == set(SCHEMAS["Finding"]["required"])
    assert undocumented(document, component("Problem"), SPEC) == []


@pytest.mark.slow
def test_the_wheel_carries_the_openapi_document(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("kpgw-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("gateway/ingress/openapi.yaml") == openapi_document()
