"""Synchronous validation uses the translator's code and maps its verdicts to statuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.errors import Finding, MessageRejected, UnsafeXml
from gateway.ingress.problems import Problem
from gateway.ingress.validation import judge, problem_for
from gateway.registry import ParticipantRegistry
from tests.kafka.helpers import certificate, confirmation, render, with_hs

NOW = datetime(2026, 4, 1, tzinfo=UTC)  # after the documents it judges


def test_valid_documents_give_their_verdict(example_registry: ParticipantRegistry) -> None:
    cert = certificate("RU0700001")
    verdict = judge(render(cert), "RU", example_registry, NOW)
    assert (verdict.format, verdict.kind, verdict.certificate_id) == (
        "uncefact",
        "certificate",
        "RU0700001",
    )
    assert verdict.message_id
    assert judge(render(confirmation(cert)), "EU", example_registry, NOW).kind == "confirmation"


@pytest.mark.parametrize(
    ("body", "sender", "status", "code"),
    [
        (b"hello", "RU", 400, "NOT_XML"),
        (b"<a><b></a>", "RU", 400, "NOT_WELL_FORMED"),
        (b"<Invoice xmlns='urn:x'/>", "RU", 422, "UNKNOWN_FORMAT"),
        (render(certificate("RU0700002")), "BW", 403, "UNAUTHORISED_SENDER"),
        (render(with_hs(certificate("RU0700003"), "7102.29")), "RU", 422, "NOT_KP_GOODS"),
    ],
)
def test_refusals_map_to_statuses(
    example_registry: ParticipantRegistry, body: bytes, sender: str, status: int, code: str
) -> None:
    with pytest.raises(Problem) as caught:
        judge(body, sender, example_registry, NOW)
    assert caught.value.status == status
    assert code in [finding.code for finding in caught.value.findings]


def test_every_rule_finding_is_listed(example_registry: ParticipantRegistry) -> None:
    bad = with_hs(certificate("RU0700004", importer="KE", importer_state=None), "7102.29")
    with pytest.raises(Problem) as caught:
        judge(render(bad), "RU", example_registry, NOW)
    assert len(caught.value.findings) >= 2
    assert caught.value.detail.startswith(f"{len(caught.value.findings)} findings")


def test_size_refusal_is_413_and_bare_errors_get_a_finding() -> None:
    too_large = UnsafeXml("big", findings=(Finding("DOCUMENT_TOO_LARGE", "big"),))
    assert problem_for(too_large).status == 413
    bare = problem_for(MessageRejected("mapping broke"))
    assert bare.status == 422 and bare.findings[0].code == "MESSAGE_REJECTED"
