"""Bytes of one inbound record -> one canonical ``CertificateEvent``, or an error with
findings. Pure: the translator worker, the ingress's synchronous validation and the
``validate``/``translate`` commands all call this one function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapters.contract import Adapted
from adapters.pipeline import adapt
from gateway import rules
from gateway.errors import Finding, GatewayError, UnauthorisedSender
from gateway.events import (
    CertificateEvent,
    EventSource,
    deterministic_event_id,
    kind_of,
    raw_sha256,
    to_millis,
    utc,
)
from gateway.registry import ParticipantRegistry
from gateway.text import describe, off_one_line

UNAUTHORISED_SENDER = "UNAUTHORISED_SENDER"


@dataclass(frozen=True, slots=True)
class InboundMeta:
    """What the inbound record's headers say (DESIGN.md section 2)."""

    sender: str | None
    received_at: datetime
    tracking_id: str | None = None
    message_id: str | None = None
    format_hint: str | None = None


def check_sender(
    adapted: Adapted, sender: str | None, registry: ParticipantRegistry | None = None
) -> None:
    """A participant may send only certificates it issued, voids of them, and confirmations
    it gave. ``sender`` None means the caller trusts the source (a local file)."""
    if sender is None:
        return
    entitled = adapted.payload.sender
    if sender != entitled:
        kind = type(adapted.payload).__name__
        message = (
            f"{sender} may not send this {kind} for {adapted.payload.certificate_number}: "
            f"only {entitled} may"
        )
        if sender.strip().upper() == entitled:
            # A Kafka-native producer's own spelling: the ingress writes codes as the
            # registry has them. Still refused: the sender is an identity, not a guess.
            message += f" (participant codes are upper case: kpgw-sender {entitled})"
        elif registry is not None:
            message += _sender_note(sender, registry)
        raise UnauthorisedSender(message, findings=(Finding(UNAUTHORISED_SENDER, message),))


def _sender_note(sender: str, registry: ParticipantRegistry) -> str:
    """Why a Kafka-native ``kpgw-sender`` that is no participant code is refused: a member
    state's system (BE) sends as its participant (EU), and a code the registry lacks is
    nobody's. "BE may not send this ImportConfirmed ...: only EU may" left a Belgian
    system's team, and the operators reading the dead letter, to guess why (a walkthrough:
    300 letters from an unknown kpgw-sender all read as a wrong issuer)."""
    code = sender.strip().upper()
    if registry.get(code) is not None:
        return ""
    owner = registry.participant_of(code)
    if owner is not None:
        return f" ({code} is a member state of {owner}: its systems send as kpgw-sender {owner})"
    return f" ({sender} is no participant of the registry)"


#: The longest message id a document may carry: it is the default Idempotency-Key and a
#: header of every inbound record (``gateway.translator.inbound.MAX_ID_CHARS``).
MAX_MESSAGE_ID_CHARS = 200


def _source_texts(adapted: Adapted) -> list[Finding]:
    """TEXT_TOO_LONG for the document's own message id and issuing authority, which the
    event carries beside the payload (the payload's texts are ``rules``' to judge)."""
    found = (
        rules.text_too_long("message_id", adapted.message_id, MAX_MESSAGE_ID_CHARS),
        _message_id_characters(adapted.message_id),
        rules.text_too_long("source.authority", adapted.authority, rules.TEXT_LIMITS["authority"]),
        rules.control_character("source.authority", adapted.authority),
    )
    return [finding for finding in found if finding is not None]


def _message_id_characters(message_id: str) -> Finding | None:
    """The message id becomes a header and the default idempotency key: no line breaks or
    tabs either (an envelope's delivery number is any text the hub schema allows)."""
    found = off_one_line(message_id)
    if found is None:
        return None
    at, character = found
    if character not in "\t\n\r":
        return rules.control_character("message_id", message_id)
    message = (
        f"message_id contains {describe(character)} at character {at + 1}: a message id is "
        "one line of text (it becomes a header and the default idempotency key)"
    )
    return Finding(rules.TEXT_CONTROL_CHARACTER, message, path="message_id")


def translate(raw: bytes, meta: InboundMeta, registry: ParticipantRegistry) -> CertificateEvent:
    adapted = adapt(raw, registry, format_hint=meta.format_hint)
    try:
        check_sender(adapted, meta.sender, registry)
        rules.check(
            adapted.payload,
            registry,
            received_on=utc(meta.received_at).date(),
            document_time=rules.DocumentTime(
                adapted.occurred_at, adapted.occurred_at_exact, meta.received_at
            ),
            also=_source_texts(adapted),  # every finding at once, the KP rules' first
        )
    except GatewayError as exc:
        exc.adapter = exc.adapter or adapted.format  # the DLQ's kpgw-adapter
        exc.certificate_id = exc.certificate_id or adapted.payload.certificate_number
        exc.document_kind = exc.document_kind or kind_of(adapted.payload)
        raise
    return to_event(raw, adapted, meta)


def to_event(raw: bytes, adapted: Adapted, meta: InboundMeta) -> CertificateEvent:
    digest = raw_sha256(raw)
    sender = meta.sender or adapted.payload.sender
    return CertificateEvent(
        event_id=deterministic_event_id(sender, digest, adapted.payload),
        certificate_id=adapted.payload.certificate_number,
        # Whole milliseconds, as kp.events holds them (Avro timestamp-millis): a document
        # time of 10:00:00.123456 made an event other than the one the router decodes.
        occurred_at=to_millis(adapted.occurred_at),
        received_at=to_millis(meta.received_at),
        source=EventSource(
            participant=sender,
            authority=adapted.authority,
            adapter=adapted.format,
            adapter_version=adapted.adapter_version,
            message_id=meta.message_id or adapted.message_id,
            raw_sha256=digest,
            tracking_id=meta.tracking_id,
        ),
        payload=adapted.payload,
    )
