"""Mutated real documents end as an event that obeys the KP rules and survives the Avro
codec, or as documented findings: never an unexpected error, never more findings than a
refusal lists, never a slow document.

The mutations are the classes with which fuzzing found bugs, applied to generated
documents of every built-in format: a leaf's text set to an edge value (a count of
thousands of digits or of leading zeros, a time with microseconds, ...) and an element
repeated many times (a trade line 60 times, past the bounds on repeated elements)."""

from __future__ import annotations

import copy
import functools
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway import codec, rules
from gateway.errors import MessageRejected
from gateway.events import event_from_avro, event_to_avro
from gateway.registry import ParticipantRegistry, load_registry
from gateway.translation import InboundMeta, translate
from tests.unit.generate.helpers import REAL_FORMATS, documents_in

RECEIVED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # after every generated document
DOC = Path(__file__).resolve().parents[3] / "docs" / "findings.md"
#: What one document may take, far above the milliseconds a real one does.
BOUND_S = 1.0
#: Values for a leaf that holds a number or a date, where the schemas let odd forms
#: through: counts of thousands of digits (Python's int() refuses over 4,300), leading
#: zeros (the schemas count significant digits), times finer than milliseconds.
EDGE_TEXTS = (
    "9" * 5000,
    "+" + "0" * 5000 + "7",
    "0" * 30 + "7",
    "2026-01-10T10:00:00.123456Z",
    "2026-01-10T10:00:00.999999+14:00",
    "2026-01-10T24:00:00",
    "1E+999999",
    "\uff11\uff12",  # full-width 12
)
#: Elements a document may repeat (lines, statements, notes, goods, and what the schemas
#: leave unbounded though a real document gives it once: TOO_MANY_ELEMENTS past a bound).
REPEATABLE = frozenset(
    {
        "IncludedSPSTradeLineItem",
        "IncludedSPSConsignmentItem",
        "ReasonInformation",
        "ReferenceSPSReferencedDocument",
        "IncludedSPSNote",
        "Content",
        "SignatorySPSAuthentication",
        "Description",
        "DiamondsInfo",
    }
)
_NUMBER_OR_DATE = re.compile(r"\s*[+-]?[0-9]")


@functools.cache
def _documents() -> tuple[tuple[bytes, str], ...]:
    registry = load_registry()
    return tuple(
        (file.content, file.sender)
        for fmt in REAL_FORMATS
        for story in documents_in(fmt, registry, pairs=2, seed=3)
        for file in story.files
    )


@functools.cache
def _documented_codes() -> frozenset[str]:
    return frozenset(re.findall(r"`([A-Z]+(?:_[A-Z]+)+)`", DOC.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Mutant:
    """One mutation of one generated document, by indices (a short repr for a failure)."""

    document: int
    element: int
    edge_text: int | None  # the element's text becomes EDGE_TEXTS[edge_text]; or, if None,
    copies: int  # the element is repeated this many times

    def build(self) -> tuple[bytes, str]:
        content, sender = _documents()[self.document]
        root = etree.fromstring(content)
        target = _targets(root, edge=self.edge_text is not None)[self.element]
        if self.edge_text is not None:
            target.text = EDGE_TEXTS[self.edge_text]
        for _ in range(self.copies):
            target.addnext(copy.deepcopy(target))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), sender


def _targets(root: etree._Element, *, edge: bool) -> list[etree._Element]:
    """Leaves holding a number or a date (for an edge text), else the repeatable elements;
    any element but the root when a document has none (a void has no lines)."""
    elements = [element for element in root.iter() if isinstance(element.tag, str)][1:]
    if edge:
        found = [e for e in elements if len(e) == 0 and _NUMBER_OR_DATE.match(e.text or "")]
    else:
        found = [e for e in elements if etree.QName(e).localname in REPEATABLE]
    return found or elements


@st.composite
def mutants(draw: st.DrawFn) -> Mutant:
    document = draw(st.integers(0, len(_documents()) - 1))
    edge = draw(st.booleans())
    root = etree.fromstring(_documents()[document][0])
    element = draw(st.integers(0, len(_targets(root, edge=edge)) - 1))
    if edge:
        return Mutant(document, element, draw(st.integers(0, len(EDGE_TEXTS) - 1)), 0)
    return Mutant(document, element, None, draw(st.integers(1, 60)))


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutant=mutants())
def test_a_mutated_document_is_an_event_or_documented_findings(
    example_registry: ParticipantRegistry, mutant: Mutant
) -> None:
    raw, sender = mutant.build()
    meta = InboundMeta(sender=sender, received_at=RECEIVED_AT)
    start = time.perf_counter()
    try:
        event = translate(raw, meta, example_registry)  # anything but a refusal fails
    except MessageRejected as refused:
        findings = refused.findings
        assert 1 <= len(findings) <= rules.MAX_FINDINGS
        assert {finding.code for finding in findings} <= _documented_codes()
        assert all(finding.message for finding in findings)
    else:
        assert rules.findings_for(event.payload, example_registry) == []
        encoded = codec.encode("CertificateEvent", event_to_avro(event))
        assert event_from_avro(codec.decode(encoded, "CertificateEvent")) == event
    assert time.perf_counter() - start < BOUND_S
