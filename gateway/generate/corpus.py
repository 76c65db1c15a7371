"""A corpus of synthetic traffic: scenarios drawn from one seed, rendered, and written with
``manifest.jsonl`` (one line per certificate, files in sending order).

Same options and seed -> byte-identical files: one ``random.Random(seed)`` drives every
draw in a fixed order, nothing reads the wall clock, and dates count from ``base_date``.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from gateway.events import CertificateIssued, DocumentKind, ImportConfirmed, Payload
from gateway.generate.faults import AFTER_EXPIRY_MAX_DAYS, Fault, Scenario, scenario
from gateway.generate.render import Renderer, RendererUnavailable
from gateway.generate.sampling import EXPIRY_DAYS, ISSUE_SPAN_DAYS, RECEIPT_MAX_DAYS, Sampler
from gateway.registry import ParticipantRegistry

DEFAULT_BASE_DATE = date(2026, 1, 5)
#: The latest document date (issue, receipt, cancellation) of a story, in days after the
#: base date: issue dates fall in the ISSUE_SPAN_DAYS from it, receipts up to
#: RECEIPT_MAX_DAYS after issue; with faults, a confirmation up to AFTER_EXPIRY_MAX_DAYS
#: after expiry. The gateway refuses a document dated after its reception
#: (DATE_IN_FUTURE), so a corpus sent today wants a base date this long ago.
LATEST_DAYS = ISSUE_SPAN_DAYS - 1 + RECEIPT_MAX_DAYS
LATEST_DAYS_WITH_FAULTS = ISSUE_SPAN_DAYS - 1 + EXPIRY_DAYS + AFTER_EXPIRY_MAX_DAYS
#: Broken documents whose defect is in the payload (not the bytes): the format must carry it.
BROKEN_PAYLOADS = frozenset(
    {
        Fault.BROKEN_NOT_KP_GOODS,
        Fault.BROKEN_ORIGIN,
        Fault.BROKEN_NUMBER_PREFIX,
        Fault.BROKEN_NUMBER_SERIES,
        Fault.BROKEN_EXPIRY,
        Fault.BROKEN_TOTALS,
    }
)
#: What a broken story becomes when no sender's format can express its defect.
BROKEN_FALLBACKS = (Fault.BROKEN_EXPIRY, Fault.BROKEN_ORIGIN, Fault.BROKEN_SCHEMA)
REDRAWS = 8
MANIFEST = "manifest.jsonl"
DOCUMENTS = "documents"


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    pairs: int
    seed: int
    format: str = "mixed"
    faults: float = 0.0
    base_date: date = DEFAULT_BASE_DATE

    def __post_init__(self) -> None:
        if self.pairs < 0:
            raise ValueError("pairs must be >= 0")
        if not 0.0 <= self.faults <= 1.0:
            raise ValueError("the fault rate is a fraction between 0 and 1")

    @property
    def latest_days(self) -> int:
        """How many days after the base date the latest document date can fall."""
        return LATEST_DAYS_WITH_FAULTS if self.faults > 0 else LATEST_DAYS


def document_date(payload: Payload) -> date:
    """The date a document records its act on (what DATE_IN_FUTURE judges): the issue date,
    the date of receipt, the cancellation date."""
    if isinstance(payload, CertificateIssued):
        return payload.issue_date
    if isinstance(payload, ImportConfirmed):
        return payload.date_of_receipt
    return payload.voided_on


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    path: str
    """Relative to the output directory, with forward slashes."""
    sender: str
    kind: DocumentKind
    format: str
    content: bytes


@dataclass(frozen=True, slots=True)
class GeneratedCertificate:
    """One manifest line: a certificate's story and its rendered files."""

    scenario: Scenario
    files: tuple[GeneratedFile, ...]

    @property
    def certificate_id(self) -> str:
        return self.scenario.certificate_id

    def manifest_line(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "certificate_id": self.scenario.certificate_id,
            # The fault this story carries (None: a clean story), so a reader of the
            # manifest knows what each expected outcome or finding is there to test.
            "fault": str(self.scenario.fault) if self.scenario.fault else None,
            "files": [{"path": f.path, "sender": f.sender, "kind": f.kind} for f in self.files],
            "expected_outcomes": list(self.scenario.expected_outcomes),
        }
        if self.scenario.expected_findings:
            line["expected_findings"] = list(self.scenario.expected_findings)
        return line


@dataclass(slots=True)
class Summary:
    certificates: int = 0
    files: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    #: The latest document date (see :func:`document_date`); None for an empty corpus.
    latest: date | None = None

    def add(self, item: GeneratedCertificate) -> None:
        self.certificates += 1
        self.files += len(item.files)
        self.faults[str(item.scenario.fault or "none")] += 1
        self.formats.update(f.format for f in item.files)
        for document in item.scenario.documents:
            day = document_date(document.payload)
            self.latest = day if self.latest is None else max(self.latest, day)

    def as_dict(self) -> dict[str, Any]:
        return {
            "certificates": self.certificates,
            "files": self.files,
            "faults": dict(sorted(self.faults.items())),
            "formats": dict(sorted(self.formats.items())),
        }


class _FaultDeck:
    """Fault kinds dealt from a shuffled deck, so a small run still sees each kind."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.cards: list[Fault] = []

    def deal(self) -> Fault:
        if not self.cards:
            self.cards = list(Fault)
            self.rng.shuffle(self.cards)
        return self.cards.pop()


def generate(
    options: GenerateOptions, registry: ParticipantRegistry
) -> Iterator[GeneratedCertificate]:
    """Draw, render and yield ``options.pairs`` certificates' stories, lazily (a large run
    never holds more than one in memory). Raises ``RendererUnavailable`` before the first
    one when a needed format has no adapter."""
    rng = random.Random(options.seed)  # noqa: S311 - reproducible test traffic, not secrets
    sampler = Sampler(rng, registry, options.base_date)
    renderer = Renderer(registry, options.format, sampler.exchanging)
    deck = _FaultDeck(rng)
    for _ in range(options.pairs):
        fault = deck.deal() if rng.random() < options.faults else None
        yield _draw(sampler, renderer, fault)


def _draw(sampler: Sampler, renderer: Renderer, fault: Fault | None) -> GeneratedCertificate:
    """One story, rendered. A broken document must say what its fault says once rendered
    (the translator judges the bytes, not our payload): when the sender's format cannot
    express it, draw the story again (another route, another sender), then fall back to
    the next broken kind."""
    wanted = [fault] if fault not in BROKEN_PAYLOADS else [fault, *BROKEN_FALLBACKS]
    for candidate in wanted:
        for _ in range(REDRAWS if candidate in BROKEN_PAYLOADS else 1):
            story = scenario(sampler, candidate)
            item = _render(story, renderer)
            if candidate not in BROKEN_PAYLOADS or renderer.carries(
                story.documents[0], item.files[0].content
            ):
                return item
    raise RendererUnavailable(f"no format in use can express a {fault} document")


def _render(story: Scenario, renderer: Renderer) -> GeneratedCertificate:
    files = []
    for sequence, document in enumerate(story.documents, start=1):
        fmt, content = renderer.render(document)
        name = f"{story.certificate_id}.{sequence}.{document.kind}.{document.sender}.xml"
        files.append(
            GeneratedFile(f"{DOCUMENTS}/{name}", document.sender, document.kind, fmt, content)
        )
    return GeneratedCertificate(story, tuple(files))


def write(
    options: GenerateOptions, registry: ParticipantRegistry, out: Path, *, force: bool = False
) -> Summary:
    """Write the corpus under ``out`` (``manifest.jsonl`` and ``documents/``). An earlier
    corpus there is replaced only with ``force``."""
    manifest, documents = out / MANIFEST, out / DOCUMENTS
    if (manifest.exists() or documents.exists()) and not force:
        raise FileExistsError(f"{out} already holds a generated corpus; pass --force to replace it")
    stories = generate(options, registry)
    first = next(stories, None)  # fail on missing adapters before touching the directory
    if documents.exists():
        shutil.rmtree(documents)
    documents.mkdir(parents=True)
    summary = Summary()
    with manifest.open("wb") as lines:
        for item in _chain(first, stories):
            for generated in item.files:
                (out / generated.path).write_bytes(generated.content)
            lines.write(json.dumps(item.manifest_line(), ensure_ascii=False).encode() + b"\n")
            summary.add(item)
    return summary


def _chain(
    first: GeneratedCertificate | None, rest: Iterator[GeneratedCertificate]
) -> Iterator[GeneratedCertificate]:
    if first is not None:
        yield first
        yield from rest


def read_manifest(out: Path) -> list[dict[str, Any]]:
    """The manifest lines of a written corpus."""
    with (out / MANIFEST).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
