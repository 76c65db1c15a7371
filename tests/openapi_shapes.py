"""What client generators (OpenAPI Generator's Java, Python, TypeScript) need of the ingress's
OpenAPI document, as checks the tests share.

A generated model knows only the properties its schema names: the Java client's default
(okhttp-gson) refuses a response with another one ("The field `x` in the JSON string is not
defined in the `DashboardData` properties"), since the generator reads a schema without
``additionalProperties`` as closed. JSON Schema reads it as open, so validating a response
against its schema does not catch a property the document forgot: ``undocumented`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from gateway.ingress.handlers import openapi_document


def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(openapi_document())
    return document


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` (to a component, of any kind) followed."""
    while "$ref" in schema:
        *_, kind, name = schema["$ref"].split("/")
        schema = document["components"][kind][name]
    return schema


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def undocumented(
    body: Any, schema: dict[str, Any], document: dict[str, Any], where: str = "$"
) -> list[str]:
    """Where ``body`` has a property that ``schema`` does not name (and allows no other)."""
    schema = resolve(schema, document)
    parts = [schema, *(resolve(s, document) for s in schema.get("allOf", []))]
    for key in ("oneOf", "anyOf"):
        branches = [resolve(s, document) for s in schema.get(key, [])]
        parts += [b for b in branches if (b.get("type") == "null") == (body is None)][:1]
    found: list[str] = []
    if isinstance(body, dict):
        open_ended = [p["additionalProperties"] for p in parts if "additionalProperties" in p]
        for name, value in body.items():
            named = [p["properties"][name] for p in parts if name in p.get("properties", {})]
            if not named and not open_ended:
                found.append(f"{where}.{name}")
            for inner in named + [extra for extra in open_ended if isinstance(extra, dict)]:
                found += undocumented(value, inner, document, f"{where}.{name}")
    elif isinstance(body, list):
        for items in [p["items"] for p in parts if "items" in p]:
            for index, value in enumerate(body):
                found += undocumented(value, items, document, f"{where}[{index}]")
    return found


def inline_object_schemas(document: dict[str, Any]) -> list[str]:
    """Object schemas with properties that are not a component of their own (nor a branch
    of one's ``allOf``): generators name such a model after where it sits
    (``messageStatus_404_response``, ``DashboardData_dead_letters_newest_inner``)."""
    return [
        "/".join(path)
        for path, node in _nodes(document, ())
        if isinstance(node.get("properties"), dict)
        and not (len(path) == 3 and path[:2] == ("components", "schemas"))
        and not (len(path) == 5 and path[:2] == ("components", "schemas") and path[3] == "allOf")
    ]


def _nodes(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _nodes(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, str(index)))
