"""The adapter contract: every extension point a message format implements, in one place.

An adapter is pure: it receives an already parsed, hardened XML document (never raw bytes
from the network, never Kafka or asyncio) and returns one canonical payload, or raises a
``MessageRejected`` carrying precise findings. It can also render a canonical payload back
into its format, which is how the generator, the property tests and the conformance tests
produce documents.

Pipeline order (``adapters.pipeline``): hardened parse -> detect (root element and
namespace, or the ``kpgw-format`` header) -> XSD validation with the adapter's compiled
profile schema -> ``translate`` -> KP rules (``gateway.rules``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from lxml import etree

from gateway.events import Payload
from gateway.registry import ParticipantRegistry


@dataclass(frozen=True, slots=True)
class RootName:
    """The qualified name of a document's root element, used for format detection."""

    namespace: str | None
    local: str

    @classmethod
    def of(cls, element: etree._Element) -> RootName:
        # The element's Clark name ``{namespace}local`` split by hand: what ``etree.QName``
        # says, without building a QName (this runs once or twice per document).
        tag: str = element.tag
        if cls is RootName:
            found = _ROOT_NAMES.get(tag)
            if found is not None:
                return found
        if tag[:1] == "{":
            namespace, _, local = tag[1:].partition("}")
            name = cls(namespace, local)
        else:
            name = cls(None, tag)
        if cls is RootName and len(_ROOT_NAMES) < _ROOT_NAMES_LIMIT:
            _ROOT_NAMES[tag] = name
        return name

    def __str__(self) -> str:
        return f"{{{self.namespace}}}{self.local}" if self.namespace else self.local


#: RootName by Clark name: the few root elements in use, each built once (immutable).
_ROOT_NAMES: dict[str, RootName] = {}
_ROOT_NAMES_LIMIT = 256


@dataclass(frozen=True, slots=True)
class EnvelopeInfo:
    """What a hub envelope said about its content (checked against the inner document)."""

    sender: str
    recipient: str
    certificate_number: str
    delivery_number: str | None = None


@dataclass(frozen=True, slots=True)
class Adapted:
    """The result of adapting one document."""

    format: str
    adapter_version: str
    payload: Payload
    message_id: str
    """The document's own message id (FTS DocumentID, SPS ID + status, hub delivery number):
    the default idempotency key and part of the inbound record key."""
    occurred_at: datetime
    """When the document says the act happened (issue, confirmation, cancellation), UTC."""
    authority: str | None = None
    envelope: EnvelopeInfo | None = None
    occurred_at_exact: bool = False
    """The document wrote ``occurred_at``'s UTC offset (``Z`` counts): an exact instant,
    held to the gateway's clock within minutes. False: a date, or a time of day in an
    unknown zone, held to it by its day (``gateway.rules.DocumentTime``)."""


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What an adapter may consult: reference data, and a way to hand an inner document
    (an envelope's content) to whichever adapter understands it."""

    registry: ParticipantRegistry
    dispatch: Callable[[etree._Element], Adapted]


@runtime_checkable
class Adapter(Protocol):
    """One national message format."""

    #: Stable short name: the ``kpgw-format`` header value and the CLI's ``--format``.
    name: str
    #: Bumped on any change of mapping; recorded in every event's source.
    version: str

    def detects(self, root: RootName) -> bool:
        """True when a document with this root element is this adapter's format."""
        ...

    def schema(self, root: RootName) -> etree.XMLSchema | None:
        """The compiled profile schema for ``root`` documents (compiled once, cached), or None
        when the adapter validates its content otherwise (the envelope validates its header
        and dispatches the content)."""
        ...

    def translate(self, document: etree._Element, context: AdapterContext) -> Adapted:
        """Map a schema-valid document to its canonical payload; raise ``MessageRejected``
        with findings when it cannot be mapped."""
        ...

    def render(self, payload: Payload, *, message_id: str, registry: ParticipantRegistry) -> bytes:
        """Write a canonical payload in this format (UTF-8 XML bytes)."""
        ...
