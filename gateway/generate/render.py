"""Canonical payloads -> document bytes, through the adapter registry and contract only.

``--format F`` writes every document in F; ``mixed`` lets every sender speak the format
the participant registry gives it (RU the FTS document, the EU UN/CEFACT, AE and IN the
hub envelope). Missing adapters are reported before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from adapters import registry as adapter_registry
from adapters.contract import Adapter, RootName
from adapters.pipeline import adapt
from adapters.xmlsafe import parse
from gateway.errors import EnvironmentProblem, GatewayError, MessageRejected
from gateway.generate.faults import PlannedDocument
from gateway.registry import ParticipantRegistry

MIXED = "mixed"
#: The element inserted to break a document's schema on purpose.
UNEXPECTED_ELEMENT = "KpgwUnexpectedElement"


class RendererUnavailable(EnvironmentProblem):
    """A format the generation needs has no adapter in this installation, or its adapter
    cannot write a kind of document."""

    code = "RENDERER_UNAVAILABLE"


class Renderer:
    """Renders planned documents in the chosen format (or each sender's)."""

    def __init__(self, registry: ParticipantRegistry, fmt: str, senders: Iterable[str]):
        self.registry = registry
        self.format = fmt
        self._adapters = adapter_registry.adapters()
        needed: dict[str, list[str]] = {}
        for sender in sorted(set(senders)):
            needed.setdefault(self.format_of(sender), []).append(sender)
        missing = sorted(name for name in needed if name not in self._adapters)
        if missing:
            available = ", ".join(sorted(self._adapters)) or "none"
            detail = "; ".join(
                f"{name}" + (f" (spoken by {', '.join(needed[name])})" if fmt == MIXED else "")
                for name in missing
            )
            raise RendererUnavailable(
                f"no adapter can render format {detail} in this installation; "
                f"available formats: {available}"
            )

    def format_of(self, sender: str) -> str:
        if self.format != MIXED:
            return self.format
        participant = self.registry.get(sender)
        if participant is None:
            raise RendererUnavailable(f"{sender} is not in the participant registry")
        return participant.format

    def render(self, document: PlannedDocument) -> tuple[str, bytes]:
        """(format name, bytes) of one planned document."""
        name = self.format_of(document.sender)
        adapter = self._adapters[name]
        try:
            content = adapter.render(
                document.payload, message_id=document.message_id, registry=self.registry
            )
        except (NotImplementedError, GatewayError) as exc:
            raise RendererUnavailable(
                f"the {name} adapter cannot render a {document.kind} ({type(exc).__name__}: {exc})"
            ) from exc
        if document.break_schema:
            content = break_schema(content, self._adapters.values())
        return name, content

    def carries(self, document: PlannedDocument, content: bytes) -> bool:
        """True when ``content`` adapts back to exactly the planned payload: the format can
        express what the document says (a format that computes a certificate's totals from
        its lines cannot carry totals that do not sum)."""
        try:
            return adapt(content, self.registry).payload == document.payload
        except MessageRejected:
            return False


def break_schema(content: bytes, adapters: Iterable[Adapter]) -> bytes:
    """Insert an element no profile schema allows as the first child of the first element
    that an adapter validates with a schema: the document itself, or the document inside
    an envelope whose own header is checked otherwise."""
    root = parse(content).root
    candidates = list(adapters)
    target = root
    for element in root.iter(etree.Element):
        name = RootName.of(element)
        if any(a.detects(name) and a.schema(name) is not None for a in candidates):
            target = element
            break
    namespace = etree.QName(target).namespace
    unexpected = etree.Element(
        f"{{{namespace}}}{UNEXPECTED_ELEMENT}" if namespace else UNEXPECTED_ELEMENT
    )
    unexpected.text = "not part of the profile"
    target.insert(0, unexpected)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
