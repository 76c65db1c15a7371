"""Compile profile schemas once and turn libxml2's validation errors into findings a customs
developer can act on: prefixed names instead of ``{urn:...}`` clutter, the line, and a
readable path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn, cast

from lxml import etree

from adapters.paths import path_of
from gateway.errors import Finding, SchemaViolation

XSD_VIOLATION = "XSD_VIOLATION"
_CLARK = re.compile(r"\{([^{}]*:[^{}]*)\}")  # a namespace URI, not a regex quantifier like {10}


def compile_schema(path: Path) -> etree.XMLSchema:
    """Compile a local XSD. Imports and includes resolve relative to ``path`` on disk only."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    document = etree.parse(str(path), parser=parser)
    return etree.XMLSchema(document)


def readable(text: str, prefixes: Mapping[str, str]) -> str:
    """Replace Clark notation with the conventional prefixes of the format."""

    def substitute(match: re.Match[str]) -> str:
        prefix = prefixes.get(match.group(1))
        return f"{prefix}:" if prefix else ""

    return _CLARK.sub(substitute, text)


def _explain(message: str) -> str:
    """libxml2 says what is wrong; add what to do where the fix is not obvious."""
    if "This element is not expected. Expected is" in message:
        return message.replace(
            "This element is not expected. Expected is",
            "This element is not allowed here (the schema fixes the element order). Expected is",
        )
    if "Missing child element(s)" in message:
        return message + " Add the missing element(s) in schema order."
    if "is not a valid value of the atomic type" in message or "facet" in message:
        return message + " Check the value's format (dates YYYY-MM-DD, decimals with a dot)."
    return message


def validate(
    schema: etree.XMLSchema,
    root: etree._Element,
    prefixes: Mapping[str, str],
    *,
    limit: int = 50,
) -> None:
    """Raise ``SchemaViolation`` listing every error (up to ``limit``) with line and path."""
    if not schema.validate(root):
        raise_violations(schema, prefixes, limit=limit)


def raise_violations(
    schema: etree.XMLSchema,
    prefixes: Mapping[str, str],
    *,
    root: etree._Element | None = None,
    limit: int = 50,
) -> NoReturn:
    """Raise ``SchemaViolation`` for the errors of ``schema``'s last (failed) validation:
    callers that validate themselves build ``prefixes`` only when a document fails. With
    the validated ``root``, each path is rebuilt from the element it names (libxml2 writes
    ``/*/*[10]/*[2]`` for a default namespace)."""
    findings: list[Finding] = []
    for entry in cast(Iterable[Any], schema.error_log):
        if len(findings) >= limit:
            break
        message = _explain(readable(entry.message, prefixes))
        path = entry.path or None
        if path and root is not None:
            element = _element_at(root, path)
            if element is not None:
                path = path_of(element, prefixes)
        findings.append(Finding(XSD_VIOLATION, message, entry.line or None, path))
    first = findings[0].message if findings else "schema validation failed"
    raise SchemaViolation(
        f"{len(findings)} schema violation(s); first: {first}", findings=tuple(findings)
    )


def _element_at(root: etree._Element, path: str) -> etree._Element | None:
    """The element libxml2's path names (in the document's own prefixes), or None. When
    ``root`` is a subtree (an envelope's content), libxml2's path starts at it."""
    namespaces = {prefix: uri for prefix, uri in root.nsmap.items() if prefix and uri}
    first, _, rest = path.lstrip("/").partition("/")
    candidates: list[tuple[etree._Element | etree._ElementTree, str]] = []
    if first:
        candidates.append((root, "." + ("/" + rest if rest else "")))
    candidates.append((root.getroottree(), path))
    for context, expression in candidates:
        try:
            found = context.xpath(expression, namespaces=namespaces)
        except (etree.XPathError, TypeError, ValueError):
            continue
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return found[0]
    return None
