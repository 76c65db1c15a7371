"""``kpgw bench adapters``: documents per second per format on generated documents, on one
core, through the whole translation path (hardened parse, detection, XSD validation,
mapping, sender check, KP rules: ``gateway.translation.translate``), against a bare hardened
``lxml.etree.fromstring`` of the same bytes in the same run.

The goal (issue 3, item 10): at least 5,000 UN/CEFACT documents per second per core, and at
most 5x the bare parse.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from adapters import registry as adapter_registry
from adapters import xmlsafe
from gateway.errors import MessageRejected
from gateway.generate import GenerateOptions, RendererUnavailable, generate
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta, translate

GOAL_DOCS_PER_S = 5000
GOAL_RATIO_TO_BARE_PARSE = 5.0
BENCHMARK = "adapters"
RECEIVED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # after every generated document


def hardened_parser() -> etree.XMLParser:
    """The options of ``adapters.xmlsafe`` (DESIGN.md section 10), nothing else: the bare
    parse is that parser without the checks around it."""
    return xmlsafe.hardened_parser()


@dataclass(frozen=True, slots=True)
class Document:
    sender: str
    content: bytes


def corpus(
    fmt: str, documents: int, registry: ParticipantRegistry, seed: int = 0
) -> list[Document]:
    """``documents`` valid generated documents in ``fmt`` (certificates and confirmations)."""
    options = GenerateOptions(pairs=(documents + 1) // 2, seed=seed, format=fmt)
    found = [
        Document(item.sender, item.content)
        for story in generate(options, registry)
        for item in story.files
    ]
    return found[:documents]


@contextmanager
def one_core() -> Iterator[None]:
    """Pin the process to one CPU while measuring (Linux), so a rate is per core even if a
    library were to start threads; the previous affinity is restored."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def rate(
    work: Callable[[Document], object], documents: Sequence[Document], seconds: float
) -> float:
    """Documents per second of ``work``, over whole passes through ``documents`` until at
    least ``seconds`` have passed."""
    done = 0
    start = time.perf_counter()
    while True:
        for document in documents:
            work(document)
        done += len(documents)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def paired_rates(
    baseline: Callable[[Document], object],
    work: Callable[[Document], object],
    documents: Sequence[Document],
    seconds: float,
) -> tuple[float, float]:
    """Documents per second of ``baseline`` and of ``work``, measured in alternating whole
    passes until ``work`` has run at least ``seconds``. On a shared machine the load changes
    from second to second; measuring one rate after the other let such a change land on one
    side only, alternating makes both rates see the same load, so their ratio is stable."""
    done = 0
    baseline_time = work_time = 0.0
    while work_time < seconds:
        start = time.perf_counter()
        for document in documents:
            baseline(document)
        middle = time.perf_counter()
        for document in documents:
            work(document)
        work_time += time.perf_counter() - middle
        baseline_time += middle - start
        done += len(documents)
    return done / baseline_time, done / work_time


def measure(
    fmt: str, documents: int, seconds: float, registry: ParticipantRegistry, seed: int = 0
) -> dict[str, Any]:
    """One result object for ``fmt``; ``error`` instead of rates when it cannot run."""
    try:
        docs = corpus(fmt, documents, registry, seed)
    except RendererUnavailable as exc:
        return {"benchmark": BENCHMARK, "format": fmt, "error": exc.message}

    def full(document: Document) -> object:
        meta = InboundMeta(sender=document.sender, received_at=RECEIVED_AT)
        return translate(document.content, meta, registry)

    parser = hardened_parser()

    def bare(document: Document) -> object:
        return etree.fromstring(document.content, parser)

    for document in docs:  # warm caches (compiled schemas) and prove every document passes
        try:
            full(document)
        except MessageRejected as exc:
            return {
                "benchmark": BENCHMARK,
                "format": fmt,
                "error": f"a generated document does not translate: {exc.reason}: {exc.message}",
            }
    with one_core():
        bare_rate, full_rate = paired_rates(bare, full, docs, seconds)
        floor_bare_rate, floor_rate = paired_rates(bare, read_every_element, docs, seconds)
    return {
        "benchmark": BENCHMARK,
        "format": fmt,
        "docs_per_s": round(full_rate, 1),
        "bare_parse_docs_per_s": round(bare_rate, 1),
        "ratio_to_bare_parse": round(bare_rate / full_rate, 2),
        # What any Python adapter pays at least: the checked parse and one look at each
        # element (tag and text), no schema, no mapping. The goal's 5x must fit the
        # schema validation, the mapping, the rules and the event on top of this.
        "floor_ratio_to_bare_parse": round(floor_bare_rate / floor_rate, 2),
        "documents": len(docs),
        "goal_docs_per_s": GOAL_DOCS_PER_S,
    }


def read_every_element(document: Document) -> object:
    """The hardened parse with its checks, then every element's tag and text once."""
    root = xmlsafe.parse(document.content).root
    return [(element.tag, element.text) for element in root.iter()]


def run(
    registry: ParticipantRegistry,
    *,
    documents: int = 1000,
    seconds: float = 2.0,
    formats: Sequence[str] = (),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One result per format (every installed adapter unless ``formats`` names some)."""
    names = list(formats) or sorted(adapter_registry.adapters())
    return [measure(name, documents, seconds, registry, seed) for name in names]
