"""A deliberately plain adapter for tests of the generator, the CLI and the benchmark that
must not depend on the real formats: every canonical field is one element, in dataclass
order, checked by a small XSD. Registered under test-only names by ``register``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from adapters import registry as adapter_registry
from adapters.contract import Adapted, AdapterContext, RootName
from gateway.events import (
    CertificateIssued,
    CertificateVoided,
    HsLine,
    ImportConfirmed,
    Party,
    Payload,
)
from gateway.registry import ParticipantRegistry

ROOTS: dict[str, type[Any]] = {
    "Certificate": CertificateIssued,
    "Confirmation": ImportConfirmed,
    "Void": CertificateVoided,
}
_PARTY = ("name", "address", "country")
_LINE = ("hs_code", "carats", "value_usd", "origin")


def _fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    return list(dataclasses.fields(cls))


def _schema_text(namespace: str) -> bytes:
    def leaf(name: str) -> str:
        return f'<xs:element name="{name}" type="xs:string" minOccurs="0"/>'

    def complex_(name: str, parts: tuple[str, ...], many: bool = False) -> str:
        inner = "".join(leaf(part) for part in parts)
        occurs = ' minOccurs="0" maxOccurs="unbounded"' if many else ' minOccurs="0"'
        return (
            f'<xs:element name="{name}"{occurs}><xs:complexType><xs:sequence>{inner}'
            "</xs:sequence></xs:complexType></xs:element>"
        )

    roots = []
    for root, cls in ROOTS.items():
        children = []
        for item in _fields(cls):
            if item.name in ("exporter", "importer"):
                children.append(complex_(item.name, _PARTY))
            elif item.name == "lines":
                children.append(complex_("line", _LINE, many=True))
            else:
                children.append(leaf(item.name))
        roots.append(
            f'<xs:element name="{root}"><xs:complexType><xs:sequence>{"".join(children)}'
            '</xs:sequence><xs:attribute name="id" type="xs:string" use="required"/>'
            "</xs:complexType></xs:element>"
        )
    return (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="{namespace}" elementFormDefault="qualified">'
        f"{''.join(roots)}</xs:schema>"
    ).encode()


class PlainAdapter:
    version = "test-1"

    def __init__(self, name: str) -> None:
        self.name = name
        self.namespace = f"urn:kpgw:test:{name}"
        self._schema: etree.XMLSchema | None = None

    def detects(self, root: RootName) -> bool:
        return root.namespace == self.namespace and root.local in ROOTS

    def schema(self, root: RootName) -> etree.XMLSchema | None:
        if self._schema is None:
            self._schema = etree.XMLSchema(etree.fromstring(_schema_text(self.namespace)))
        return self._schema

    def render(self, payload: Payload, *, message_id: str, registry: ParticipantRegistry) -> bytes:
        root_name = next(name for name, cls in ROOTS.items() if isinstance(payload, cls))
        root = etree.Element(f"{{{self.namespace}}}{root_name}", nsmap={"t": self.namespace})
        root.set("id", message_id)
        for item in _fields(type(payload)):
            value = getattr(payload, item.name)
            if value is None:
                continue
            if isinstance(value, Party):
                self._group(root, item.name, value, _PARTY)
            elif item.name == "lines":
                for line in value:
                    self._group(root, "line", line, _LINE)
            else:
                self._leaf(root, item.name, value)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _leaf(self, parent: etree._Element, name: str, value: object) -> None:
        element = etree.SubElement(parent, f"{{{self.namespace}}}{name}")
        element.text = value.isoformat() if isinstance(value, date) else str(value)

    def _group(self, parent: etree._Element, name: str, value: Any, parts: tuple[str, ...]) -> None:
        group = etree.SubElement(parent, f"{{{self.namespace}}}{name}")
        for part in parts:
            if getattr(value, part) is not None:
                self._leaf(group, part, getattr(value, part))

    def translate(self, document: etree._Element, context: AdapterContext) -> Adapted:
        cls = ROOTS[etree.QName(document).localname]
        values: dict[str, Any] = {}
        lines: list[HsLine] = []
        for child in document:
            name = etree.QName(child).localname
            if name in ("exporter", "importer"):
                values[name] = Party(**self._parts(child))
            elif name == "line":
                parts = self._parts(child)
                lines.append(
                    HsLine(
                        parts["hs_code"],
                        Decimal(parts["carats"]),
                        Decimal(parts["value_usd"]),
                        parts.get("origin"),
                    )
                )
            else:
                values[name] = self._typed(cls, name, child.text or "")
        if "lines" in {item.name for item in _fields(cls)}:
            values["lines"] = tuple(lines)
        payload: Payload = cls(**values)
        day = getattr(payload, "issue_date", None) or getattr(payload, "date_of_receipt", None)
        day = day or getattr(payload, "voided_on")  # noqa: B009
        return Adapted(
            format=self.name,
            adapter_version=self.version,
            payload=payload,
            message_id=str(document.get("id")),
            occurred_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
            authority=getattr(payload, "authority", None),
        )

    def _parts(self, element: etree._Element) -> dict[str, str]:
        return {etree.QName(child).localname: child.text or "" for child in element}

    @staticmethod
    def _typed(payload_type: type[Any], name: str, text: str) -> Any:
        annotation = str(next(item.type for item in _fields(payload_type) if item.name == name))
        if "date" in annotation:
            return date.fromisoformat(text)
        if "Decimal" in annotation:
            return Decimal(text)
        if "int" in annotation:
            return int(text)
        return text


ADAPTER = PlainAdapter("plainxml")
SECOND = PlainAdapter("plainxml2")
NAMES = {"plainxml": f"{__name__}:ADAPTER", "plainxml2": f"{__name__}:SECOND"}


@contextmanager
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the plain adapters the only built-ins of ``adapters.registry`` for one test,
    so the test does not depend on the real formats' state."""
    monkeypatch.setattr(adapter_registry, "BUILTIN", dict(NAMES))
    adapter_registry.adapters.cache_clear()
    try:
        yield
    finally:
        adapter_registry.adapters.cache_clear()


def mixed_registry(registry: ParticipantRegistry) -> ParticipantRegistry:
    """The registry with every participant speaking ``plainxml``, except the ``ru_fts``
    speakers, who speak ``plainxml2``: a two-format world for ``--format mixed``."""
    participants = {
        code: participant.model_copy(
            update={"format": "plainxml2" if participant.format == "ru_fts" else "plainxml"}
        )
        for code, participant in registry.participants.items()
    }
    return registry.model_copy(update={"participants": participants})
