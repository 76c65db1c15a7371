"""Repeatable free text is bounded: a document with thousands of notes, or one huge note,
gets one precise finding (``TOO_MANY_NOTES``, ``NOTE_TOO_LONG``) instead of being carried
through with its notes ignored; a KP note whose value is split over several ram:Content
elements is refused instead of read from its first one. The generator stays within the
bounds."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from lxml import etree

from adapters.pipeline import adapt
from adapters.ru_fts.profile import MAX_NOTES
from adapters.uncefact.profile import MAX_DOCUMENT_NOTES, MAX_LINE_NOTES, MAX_NOTE_CHARS
from gateway.errors import MappingFailed
from gateway.generate.corpus import GenerateOptions, generate
from gateway.registry import ParticipantRegistry
from tests.kafka.helpers import certificate, confirmation, render

DOCUMENT_NOTE = b"<ram:IncludedSPSNote>"
LINE_NOTE = b"<ram:AdditionalInformationSPSNote>"


def note(tag: bytes, content: str, code: str = "REMARK") -> bytes:
    name = tag[1:-1]
    return (
        tag
        + f"<ram:Content>{content}</ram:Content><ram:SubjectCode>{code}</ram:SubjectCode>"
        "</".encode()
        + name
        + b">"
    )


def with_notes(document: bytes, tag: bytes, *notes: bytes) -> bytes:
    """``document`` with ``notes`` before its first ``tag`` element."""
    assert tag in document
    return document.replace(tag, b"".join(notes) + tag, 1)


def refused(document: bytes, registry: ParticipantRegistry) -> list[tuple[str, str | None]]:
    with pytest.raises(MappingFailed) as caught:
        adapt(document, registry)
    return [(f.code, f.path) for f in caught.value.findings]


CERT = render(certificate("RU0140001"))


def test_too_many_document_notes(example_registry: ParticipantRegistry) -> None:
    kp_notes = CERT.count(DOCUMENT_NOTE)
    room = [note(DOCUMENT_NOTE, "seals checked")] * (MAX_DOCUMENT_NOTES - kp_notes)
    adapt(with_notes(CERT, DOCUMENT_NOTE, *room), example_registry)  # at the bound
    [(code, path)] = refused(
        with_notes(CERT, DOCUMENT_NOTE, *room, note(DOCUMENT_NOTE, "one more")), example_registry
    )
    assert code == "TOO_MANY_NOTES"
    assert path is not None and path.endswith(f"ram:IncludedSPSNote[{MAX_DOCUMENT_NOTES + 1}]")
    many = with_notes(CERT, DOCUMENT_NOTE, *[note(DOCUMENT_NOTE, "x" * 100)] * 5000)
    with pytest.raises(
        MappingFailed, match=r"5,00\d notes \(ram:IncludedSPSNote\) where at most 30"
    ):
        adapt(many, example_registry)


def test_too_many_notes_on_a_trade_line(example_registry: ParticipantRegistry) -> None:
    extra = [note(LINE_NOTE, "remark")] * MAX_LINE_NOTES  # with the line's own KP note: one over
    [(code, path)] = refused(with_notes(CERT, LINE_NOTE, *extra), example_registry)
    assert code == "TOO_MANY_NOTES" and path is not None
    assert path.endswith(f"ram:AdditionalInformationSPSNote[{MAX_LINE_NOTES + 1}]")


def test_a_huge_note_is_refused(example_registry: ParticipantRegistry) -> None:
    adapt(
        with_notes(CERT, DOCUMENT_NOTE, note(DOCUMENT_NOTE, "y" * MAX_NOTE_CHARS)), example_registry
    )
    for huge in (
        note(DOCUMENT_NOTE, "y" * (MAX_NOTE_CHARS + 1)),
        note(DOCUMENT_NOTE, "y" * 1_500_000),
        # as many ram:Content as accepted (TOO_MANY_ELEMENTS beyond), together too long
        DOCUMENT_NOTE
        + b"<ram:Content>%s</ram:Content>" % (b"abc" * 67) * 10
        + b"</ram:IncludedSPSNote>",
    ):
        [(code, path)] = refused(with_notes(CERT, DOCUMENT_NOTE, huge), example_registry)
        assert code == "NOTE_TOO_LONG" and path is not None
        assert path.endswith("ram:IncludedSPSNote[1]")


def test_a_kp_note_split_over_several_contents_is_refused(
    example_registry: ParticipantRegistry,
) -> None:
    """Before, the first ram:Content was read and the rest ignored without a word."""
    split = CERT.replace(
        b"<ram:Content>2026-05-01</ram:Content>",
        b"<ram:Content>2026-05-01</ram:Content><ram:Content>2026-06-01</ram:Content>",
    )
    assert split != CERT
    with pytest.raises(MappingFailed, match="given in 2 ram:Content elements; give it in one"):
        adapt(split, example_registry)


def test_too_many_russian_notes(example_registry: ParticipantRegistry) -> None:
    for document in (
        render(certificate("RU0140002"), "ru_fts"),
        render(
            confirmation(
                certificate("BE0140003", exporter="EU", importer="RU", importer_state=None)
            ),
            "ru_fts",
        ),
    ):
        root_end = document.rindex(b"</")
        prefix = document[root_end + 2 : document.index(b":", root_end)]
        notes = [b"<%s:Note>remark</%s:Note>" % (prefix, prefix)] * (MAX_NOTES + 1)
        noted = document[:root_end] + b"".join(notes) + document[root_end:]
        [(code, path)] = refused(noted, example_registry)
        assert code == "TOO_MANY_NOTES"
        assert path is not None and path.endswith(f"Note[{MAX_NOTES + 1}]")


@pytest.mark.parametrize("faults", [0.0, 1.0])
def test_the_generator_writes_no_document_over_the_bounds(
    example_registry: ParticipantRegistry, faults: float
) -> None:
    options = GenerateOptions(pairs=150, seed=7, faults=faults, base_date=date(2026, 3, 2))
    checked = 0
    for story in generate(options, example_registry):
        for file in story.files:
            root = etree.fromstring(file.content)
            per_parent = Counter(
                (id(element.getparent()), etree.QName(element).localname)
                for element in root.iter()
                if isinstance(element.tag, str)
                and etree.QName(element).localname
                in ("IncludedSPSNote", "AdditionalInformationSPSNote", "Note")
            )
            bounds = {
                "IncludedSPSNote": MAX_DOCUMENT_NOTES,
                "AdditionalInformationSPSNote": MAX_LINE_NOTES,
                "Note": MAX_NOTES,
            }
            assert all(count <= bounds[name] for (_, name), count in per_parent.items())
            for element in root.iter("{*}Content", "{*}Note"):
                assert len(element.text or "") <= MAX_NOTE_CHARS
            checked += 1
    assert checked >= 150
