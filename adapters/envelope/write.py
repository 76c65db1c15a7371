"""Canonical payload -> hub envelope around the payload rendered by the inner format."""

from __future__ import annotations

from lxml import etree

from adapters import registry as adapter_registry
from adapters.envelope import profile
from adapters.xmlsafe import parse
from gateway.events import CertificateIssued, CertificateVoided, Payload
from gateway.registry import ParticipantRegistry


def default_inner_format() -> str:
    """uncefact when its adapter is installed, else ru_fts."""
    available = adapter_registry.adapters()
    return (
        profile.DEFAULT_INNER_FORMAT
        if profile.DEFAULT_INNER_FORMAT in available
        else profile.FALLBACK_INNER_FORMAT
    )


def render(
    payload: Payload,
    *,
    message_id: str,
    registry: ParticipantRegistry,
    inner_format: str | None = None,
    recipient: str | None = None,
) -> bytes:
    """Wrap ``payload`` rendered in ``inner_format``. ``message_id`` becomes the
    hubDeliveryNumber (and the inner document's id); ``recipient`` overrides To, which a
    cancellation cannot supply itself."""
    inner_adapter = adapter_registry.get(inner_format or default_inner_format())
    inner = parse(inner_adapter.render(payload, message_id=message_id, registry=registry)).root
    root = etree.Element(profile.TAG, nsmap={profile.PREFIX: profile.NAMESPACE})
    certificate_type, status = profile.type_and_status(payload)
    _leaf(root, profile.FROM, _sender_code(payload))
    _leaf(root, profile.TO, recipient or _recipient_code(payload, registry))
    _leaf(root, profile.CERTIFICATE_TYPE_TAG, certificate_type)
    _leaf(root, profile.CERTIFICATE_STATUS_TAG, status)
    _leaf(root, profile.NUMBER, payload.certificate_number)
    _leaf(root, profile.DELIVERY_NUMBER, message_id)
    etree.SubElement(root, profile.CONTENT).append(inner)
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _sender_code(payload: Payload) -> str:
    """From: the sending participant, as its member state when the payload names one."""
    if isinstance(payload, CertificateIssued):
        if payload.issuing_participant == payload.exporting_participant:
            return payload.exporting_member_state or payload.issuing_participant
        return payload.issuing_participant
    if isinstance(payload, CertificateVoided):
        return payload.voiding_participant
    return payload.confirming_member_state or payload.confirming_participant


def _recipient_code(payload: Payload, registry: ParticipantRegistry) -> str:
    if isinstance(payload, CertificateIssued):
        return payload.importing_member_state or payload.importing_participant
    if isinstance(payload, CertificateVoided):
        return profile.UNKNOWN_RECIPIENT
    prefix = payload.certificate_number[:2]
    return registry.participant_of(prefix) or prefix


def _leaf(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text
