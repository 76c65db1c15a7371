"""Findings speak the sender's document (docs/findings.md): an integrator's review found
paths in two prefix styles for one document, raw libxml2 paths when prefixes were declared
on child elements, namespaces in Clark notation in messages about a default namespace,
raw pattern text, and an unknown format placed on line 1 whatever its root's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.pipeline import adapt
from gateway.errors import MessageRejected
from gateway.registry import ParticipantRegistry

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CERT = (FIXTURES / "uncefact" / "certificate_bw_eu_be.xml").read_text()


def _findings(document: bytes, registry: ParticipantRegistry) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        adapt(document, registry)
    return caught.value


def _with_prefixes(text: str) -> str:
    return (
        text.replace("rsm:", "cert:")
        .replace("xmlns:rsm=", "xmlns:cert=")
        .replace("ram:", "r:")
        .replace("xmlns:ram=", "xmlns:r=")
    )


def test_mapping_and_schema_findings_use_the_senders_prefixes(
    example_registry: ParticipantRegistry,
) -> None:
    mapping = _with_prefixes(CERT).replace(
        "<udt:DateTimeString>2026-02-27T09:30:00+02:00",
        '<udt:DateTimeString format="203">20260227',
        1,
    )
    (finding,) = _findings(mapping.encode(), example_registry).findings
    assert finding.code == "KP_FIELD_INVALID"
    assert finding.path is not None and finding.path.startswith("/cert:SPSCertificate/cert:")
    assert "/r:IssueDateTime/udt:DateTimeString" in finding.path
    schema = _with_prefixes(CERT).replace("<r:ID>BW</r:ID>", "<r:ID>bw</r:ID>", 1)
    (finding,) = _findings(schema.encode(), example_registry).findings
    assert finding.code == "XSD_VIOLATION"
    assert finding.path is not None and finding.path.startswith("/cert:SPSCertificate/cert:")


def test_prefixes_declared_on_child_elements_still_give_a_readable_path(
    example_registry: ParticipantRegistry,
) -> None:
    document = (FIXTURES / "review" / "ack_prefixes_declared_on_children.xml").read_bytes()
    finding = _findings(document, example_registry).findings[0]
    assert finding.path == "/rsm:SPSAcknowledgement/rsm:SPSAcknowledgementDocument/ram:StatusCode"
    assert "*" not in finding.path


def test_a_default_namespace_is_not_spelled_out_in_messages(
    example_registry: ParticipantRegistry,
) -> None:
    document = (FIXTURES / "review" / "fts_default_namespace_decimal_comma.xml").read_bytes()
    finding = _findings(document, example_registry).findings[0]
    assert finding.path == "/KimberleyProcessCertificate/DiamondsInfo[1]/TotalWeight"
    assert "{" not in finding.message and finding.message.startswith("Element 'TotalWeight'")
    assert "Write a decimal with a dot" in finding.message


@pytest.mark.parametrize(
    ("old", "new", "hint"),
    [
        (
            "IssueDate>2026-02-27<",
            "IssueDate>2026-02-27+03:00<",
            "YYYY-MM-DD",
        ),
        (
            "ExtractingCountry>RU<",
            "ExtractingCountry>ru<",
            "MIXED",
        ),
    ],
)
def test_fts_patterns_are_explained(
    example_registry: ParticipantRegistry, old: str, new: str, hint: str
) -> None:
    source = (FIXTURES / "ru_fts" / "certificate_ru_be.xml").read_text(encoding="utf-8")
    assert old in source
    finding = _findings(source.replace(old, new, 1).encode(), example_registry).findings[0]
    assert "is not in the expected form" in finding.message and hint in finding.message
    assert "[facet" not in finding.message


def test_an_unknown_format_is_found_on_its_root_elements_line(
    example_registry: ParticipantRegistry,
) -> None:
    document = (
        '<?xml version="1.0"?>\n<!-- exported -->\n<?xml-stylesheet href="x.xsl"?>\n'
        '<Certificate xmlns="urn:example:other"/>'
    )
    (finding,) = _findings(document.encode(), example_registry).findings
    assert (finding.code, finding.line) == ("UNKNOWN_FORMAT", 4)


def test_path_and_message_name_an_element_alike(example_registry: ParticipantRegistry) -> None:
    """A code review: with `xmlns:r` declared on the child elements, the path said
    r:StatusCode and the message ram:StatusCode."""
    source = (FIXTURES / "review" / "ack_prefixes_declared_on_children.xml").read_text()
    document = source.replace("xmlns:ram=", "xmlns:r=").replace("ram:", "r:").encode()
    finding = _findings(document, example_registry).findings[0]
    assert finding.path is not None and finding.path.endswith("/r:StatusCode")
    assert finding.message.startswith("r:StatusCode is out of order")
