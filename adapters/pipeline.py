"""Untrusted bytes -> canonical payload: hardened parse, detect, validate, translate."""

from __future__ import annotations

from lxml import etree

from adapters import registry as adapter_registry
from adapters import xsd
from adapters.contract import Adapted, AdapterContext, RootName
from adapters.xmlsafe import DEFAULT_MAX_BYTES, parse
from gateway.errors import Finding, GatewayError, UnknownFormat
from gateway.registry import ParticipantRegistry


def adapt(
    raw: bytes,
    registry: ParticipantRegistry,
    *,
    format_hint: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Adapted:
    """Adapt one document; raise a ``MessageRejected`` subclass with findings otherwise."""
    document = parse(raw, max_bytes=max_bytes)
    return adapt_element(document.root, registry, format_hint=format_hint)


def adapt_element(
    root: etree._Element, registry: ParticipantRegistry, *, format_hint: str | None = None
) -> Adapted:
    name = RootName.of(root)
    line = getattr(root, "sourceline", None)
    line = line if isinstance(line, int) else 1
    adapter = (
        adapter_registry.get(format_hint)
        if format_hint
        else adapter_registry.detect(name, line=line)
    )
    if format_hint and not adapter.detects(name):
        # One answer for a hint that contradicts the document, whichever adapter it names
        # (each would otherwise fail in its own way: schema, mapping or format findings).
        message = (
            f"the format hint says {format_hint}, but the document's root element {name} "
            f"is not one the {format_hint} adapter reads"
        )
        finding = Finding(UnknownFormat.code, message, line, "/")
        error = UnknownFormat(message, findings=(finding,))
        error.adapter = adapter.name
        raise error
    try:
        schema = adapter.schema(name)
        if schema is not None and not schema.validate(root):
            xsd.raise_violations(schema, xsd.sender_prefixes(root), root=root)
        return adapter.translate(root, _context(registry))
    except GatewayError as exc:
        if exc.adapter is None:  # an envelope's inner adapter has set it already
            exc.adapter = adapter.name
        raise


#: The context of the registry in use (one at a time: a new registry replaces it).
_CONTEXT: list[AdapterContext] = []


def _context(registry: ParticipantRegistry) -> AdapterContext:
    current = _CONTEXT[0] if _CONTEXT else None
    if current is not None and current.registry is registry:
        return current

    def dispatch(inner: etree._Element) -> Adapted:
        return adapt_element(inner, registry)

    context = AdapterContext(registry=registry, dispatch=dispatch)
    _CONTEXT[:] = [context]
    return context
