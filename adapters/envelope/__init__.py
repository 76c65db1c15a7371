"""The kpgw hub envelope (ePhyto style): a header checked against the document it carries,
and the document itself handed to whichever adapter understands it
(docs/formats/envelope.md)."""

from __future__ import annotations

from lxml import etree

from adapters.contract import Adapted, AdapterContext, RootName
from adapters.envelope import profile, read, write
from gateway.events import Payload
from gateway.registry import ParticipantRegistry


class EnvelopeAdapter:
    """Adapter for ``{urn:kpgw:hub:envelope:1}Envelope``."""

    name: str = profile.FORMAT
    version: str = profile.VERSION

    def detects(self, root: RootName) -> bool:
        return root.namespace == profile.NAMESPACE and root.local == profile.ROOT

    def schema(self, root: RootName) -> etree.XMLSchema | None:
        return profile.schema()

    def translate(self, document: etree._Element, context: AdapterContext) -> Adapted:
        return read.translate(document, context)

    def render(
        self,
        payload: Payload,
        *,
        message_id: str,
        registry: ParticipantRegistry,
        inner_format: str | None = None,
        recipient: str | None = None,
    ) -> bytes:
        return write.render(
            payload,
            message_id=message_id,
            registry=registry,
            inner_format=inner_format,
            recipient=recipient,
        )


ADAPTER = EnvelopeAdapter()

__all__ = ["ADAPTER", "EnvelopeAdapter"]
