"""Hub envelope -> the canonical payload of its content, after checking that the header says
what the content says (sender, recipient, certificate number, kind)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from adapters.bounds import excesses
from adapters.contract import Adapted, AdapterContext, EnvelopeInfo
from adapters.envelope import profile
from gateway.errors import Finding, MappingFailed, MessageRejected, UnknownFormat
from gateway.events import CertificateIssued, ImportConfirmed, Payload
from gateway.registry import ParticipantRegistry


class EnvelopeMismatch(MessageRejected):
    """The envelope header contradicts the document it carries."""

    code = "ENVELOPE_MISMATCH"


@dataclass(frozen=True, slots=True)
class Header:
    sender: etree._Element
    recipient: etree._Element
    certificate_type: etree._Element
    certificate_status: etree._Element
    number: etree._Element
    delivery_number: str | None
    content: etree._Element | None

    @classmethod
    def of(cls, document: etree._Element) -> Header:
        found: dict[object, etree._Element] = {}
        for child in document:  # one pass; the first of each, as ``find`` would return
            tag = child.tag
            if tag in _HEADER_TAGS and tag not in found:
                found[tag] = child
        delivery = found.get(profile.DELIVERY_NUMBER)
        return cls(
            sender=_required(found, profile.FROM),
            recipient=_required(found, profile.TO),
            certificate_type=_required(found, profile.CERTIFICATE_TYPE_TAG),
            certificate_status=_required(found, profile.CERTIFICATE_STATUS_TAG),
            number=_required(found, profile.NUMBER),
            delivery_number=None if delivery is None else (_text(delivery) or None),
            content=found.get(profile.CONTENT),
        )


_HEADER_TAGS = frozenset(
    {
        profile.FROM,
        profile.TO,
        profile.CERTIFICATE_TYPE_TAG,
        profile.CERTIFICATE_STATUS_TAG,
        profile.NUMBER,
        profile.DELIVERY_NUMBER,
        profile.CONTENT,
    }
)


def translate(document: etree._Element, context: AdapterContext) -> Adapted:
    header = Header.of(document)
    _bounded(document)
    inner = _content(header.content)
    try:
        adapted = context.dispatch(inner)
    except UnknownFormat as exc:
        message = f"the envelope's Content: {exc.message}"
        finding = Finding(
            profile.UNKNOWN_FORMAT, message, profile.line_of(inner), profile.path_of(inner)
        )
        raise UnknownFormat(message, findings=(finding,)) from None
    registry = context.registry
    sender = _participant(_text(header.sender), registry)
    recipient = _participant(_text(header.recipient), registry)
    number = profile.normalise_number(_text(header.number))
    findings = tuple(
        _mismatches(
            header, adapted.payload, registry, sender=sender, recipient=recipient, number=number
        )
    )
    if findings:
        raise EnvelopeMismatch(
            f"the envelope header contradicts its content: {findings[0].message}",
            findings=findings,
        )
    # dataclasses.replace(adapted, ...) spelled out: every field of Adapted, in order.
    return Adapted(
        format=profile.FORMAT,
        adapter_version=f"{profile.FORMAT}/{profile.VERSION}+{adapted.format}/{adapted.adapter_version}",
        payload=adapted.payload,
        message_id=header.delivery_number or adapted.message_id,
        occurred_at=adapted.occurred_at,
        authority=adapted.authority,
        envelope=EnvelopeInfo(
            sender=sender,
            recipient=recipient,
            certificate_number=number,
            delivery_number=header.delivery_number,
        ),
        occurred_at_exact=adapted.occurred_at_exact,
    )


def _bounded(document: etree._Element) -> None:
    """TOO_MANY_ELEMENTS for a header repeating an element beyond its bound, before the
    content is read (``adapters.bounds``)."""
    found = excesses(document, {profile.FORWARDING: profile.FORWARDINGS})
    if found:
        findings = tuple(
            _finding(profile.TOO_MANY_ELEMENTS, excess.message(), excess.first_too_many)
            for excess in found
        )
        raise MappingFailed(f"the envelope header: {findings[0].message}", findings=findings)


def counterparty(payload: Payload, registry: ParticipantRegistry) -> str | None:
    """The participant an envelope carrying ``payload`` must be addressed to, when the
    payload says: the importer of a certificate, the issuer (the number's prefix) of the
    certificate a confirmation confirms. A cancellation does not name its recipient."""
    if isinstance(payload, CertificateIssued):
        return payload.importing_participant
    if isinstance(payload, ImportConfirmed):
        return registry.participant_of(payload.certificate_number[:2])
    return None


def _mismatches(
    header: Header,
    payload: Payload,
    registry: ParticipantRegistry,
    *,
    sender: str,
    recipient: str,
    number: str,
) -> Iterable[Finding]:
    """``sender``, ``recipient`` and ``number`` are the header's, normalised."""
    if sender != payload.sender:
        yield _finding(
            profile.FROM_MISMATCH,
            f"From is {_as_given(header.sender, sender)}, but the {_kind(payload)} inside is "
            f"sent by {payload.sender}",
            header.sender,
        )
    expected = counterparty(payload, registry)
    if expected is not None and recipient != expected:
        yield _finding(
            profile.TO_MISMATCH,
            f"To is {_as_given(header.recipient, recipient)}, but the {_kind(payload)} inside "
            f"is for {expected}",
            header.recipient,
        )
    if number != payload.certificate_number:
        yield _finding(
            profile.NUMBER_MISMATCH,
            f"NPPOCertificateNumber is {number}, but the {_kind(payload)} inside is about "
            f"{payload.certificate_number}",
            header.number,
        )
    certificate_type, status = profile.type_and_status(payload)
    if not _same_code(_text(header.certificate_type), certificate_type):
        yield _finding(
            profile.TYPE_MISMATCH,
            f"CertificateType is {_text(header.certificate_type)}, but a {_kind(payload)} "
            f"travels as {certificate_type}",
            header.certificate_type,
        )
    if not _same_code(_text(header.certificate_status), status):
        yield _finding(
            profile.STATUS_MISMATCH,
            f"CertificateStatus is {_text(header.certificate_status)}, but a {_kind(payload)} "
            f"travels with status {status}",
            header.certificate_status,
        )


def _same_code(written: str | None, expected: str) -> bool:
    """A numeric code as its value: the schema types them xs:int, so "070" is 70."""
    if written is not None and written.isdigit() and expected.isdigit():
        return int(written) == int(expected)
    return written == expected


def _content(content: etree._Element | None) -> etree._Element:
    if content is None:  # pragma: no cover - the header schema requires it
        raise MessageRejected(f"{profile.CONTENT} is missing from the envelope")
    inner = next(content.iterchildren(etree.Element), None)
    if inner is None:  # pragma: no cover - the header schema requires one element
        raise UnknownFormat("the envelope's Content is empty")
    return inner


def _participant(code: str, registry: ParticipantRegistry) -> str:
    return registry.participant_of(code) or code


def _kind(payload: Payload) -> str:
    return {
        "CertificateIssued": "certificate",
        "ImportConfirmed": "import confirmation",
        "CertificateVoided": "cancellation",
    }[type(payload).__name__]


def _finding(code: str, message: str, element: etree._Element) -> Finding:
    return Finding(code, message, profile.line_of(element), profile.path_of(element))


def _required(found: dict[object, etree._Element], tag: str) -> etree._Element:
    element = found.get(tag)
    if element is None:  # pragma: no cover - the header schema requires it
        raise MessageRejected(f"{tag} is missing from the envelope")
    return element


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _as_given(element: etree._Element, participant: str) -> str:
    """The header's text, and the participant it was read as when that differs ("BE (EU)");
    not "AE (AE)"."""
    given = _text(element)
    return given if given == participant else f"{given} ({participant})"
