"""The Russian customs (FTS) Kimberley Process documents: the FTS certificate e-document and
kpgw's import confirmation and cancellation in the same conventions (docs/formats/ru-fts.md).
"""

from __future__ import annotations

from lxml import etree

from adapters.contract import Adapted, AdapterContext, RootName
from adapters.ru_fts import profile, read, write
from gateway.events import Payload
from gateway.registry import ParticipantRegistry


class RuFtsAdapter:
    """Adapter for ``urn:customs.ru:Information:SertifDocuments:*`` KP documents."""

    name: str = read.FORMAT
    version: str = read.VERSION

    def detects(self, root: RootName) -> bool:
        return profile.kind_of(root) is not None

    def schema(self, root: RootName) -> etree.XMLSchema | None:
        kind = profile.kind_of(root)
        if kind is None or root.namespace != kind.namespace:
            return None  # another album version: translate() says so precisely
        return profile.schema(kind)

    def translate(self, document: etree._Element, context: AdapterContext) -> Adapted:
        return read.translate(document, context.registry)

    def render(self, payload: Payload, *, message_id: str, registry: ParticipantRegistry) -> bytes:
        return write.render(payload, message_id=message_id, registry=registry)


ADAPTER = RuFtsAdapter()

__all__ = ["ADAPTER", "RuFtsAdapter"]
