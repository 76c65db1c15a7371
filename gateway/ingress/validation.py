"""Synchronous validation with the translator's own code (``gateway.translation.translate``:
hardened parse, detection, XSD, mapping, sender check, KP rules), so a sender learns of a
broken document at once. The translator's later judgement is still the one that counts.

Exceptions map to HTTP statuses: the body is not (safe) XML -> 400; the authenticated
participant may not send it -> 403; anything else wrong with the document -> 422 with every
finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.errors import Finding, MessageRejected, NotXml, UnauthorisedSender, UnsafeXml
from gateway.events import kind_of
from gateway.ingress.problems import Problem
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta, translate

TOO_LARGE = "DOCUMENT_TOO_LARGE"


@dataclass(frozen=True, slots=True)
class Verdict:
    format: str
    kind: str  # certificate | confirmation | void
    certificate_id: str
    message_id: str


def judge(
    raw: bytes, participant: str, registry: ParticipantRegistry, received_at: datetime
) -> Verdict:
    """The verdict on a valid document, or a ``Problem`` (400, 403, 413 or 422)."""
    meta = InboundMeta(sender=participant, received_at=received_at)
    try:
        event = translate(raw, meta, registry)
    except MessageRejected as exc:
        raise problem_for(exc) from None
    return Verdict(
        format=event.source.adapter,
        kind=kind_of(event.payload),
        certificate_id=event.certificate_id,
        message_id=event.source.message_id,
    )


def problem_for(exc: MessageRejected) -> Problem:
    findings = exc.findings or (Finding(exc.code, exc.message),)
    if any(finding.code == TOO_LARGE for finding in findings):
        return Problem("body-too-large", exc.message, findings)
    if isinstance(exc, NotXml | UnsafeXml):
        return Problem("not-xml", exc.message, findings)
    if isinstance(exc, UnauthorisedSender):
        return Problem("forbidden-sender", exc.message, findings)
    count = len(findings)
    detail = f"{count} finding{'s' if count != 1 else ''}: {exc.message}"
    return Problem("invalid-document", detail, findings)
