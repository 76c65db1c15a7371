"""The ``uncefact`` adapter: the KP profile of UN/CEFACT D17A (docs/formats/uncefact-kp.md).

Order inside ``translate``: first decide whether the document is a KP document at all (an
SPSCertificate shares its root with every phytosanitary, sanitary and veterinary certificate
in the world), then validate it against the KP profile schema, then map it. That is why
``schema()`` returns None: the pipeline's generic schema step would bury a phytosanitary
certificate under dozens of XSD_VIOLATION findings where one NOT_KP_DOCUMENT says it all.
"""

from __future__ import annotations

from lxml import etree

from adapters.contract import Adapted, AdapterContext, RootName
from adapters.uncefact import profile
from adapters.uncefact.read import EXCHANGED_DOCUMENT, read_certificate
from adapters.uncefact.read_ack import (
    ACK_DOCUMENT,
    REFERENCE,
    TYPE_CODE,
    kp_references,
    read_acknowledgement,
)
from adapters.uncefact.reader import DocumentReader, kid, kid_text, line_of, path_of
from adapters.uncefact.schemas import acknowledgement_schema, certificate_schema, validate
from adapters.uncefact.write import render_certificate, render_void
from adapters.uncefact.write_ack import render_acknowledgement
from gateway.errors import Finding, MappingFailed, UnknownFormat
from gateway.events import CertificateIssued, CertificateVoided, ImportConfirmed, Payload
from gateway.registry import ParticipantRegistry

CERTIFICATE = RootName(profile.RSM_CERTIFICATE, profile.CERTIFICATE_ROOT)
ACKNOWLEDGEMENT = RootName(profile.RSM_ACKNOWLEDGEMENT, profile.ACKNOWLEDGEMENT_ROOT)
_CERTIFICATE_TAG = str(CERTIFICATE)  # Clark names: comparing tags spares a RootName
_ACKNOWLEDGEMENT_TAG = str(ACKNOWLEDGEMENT)
_TYPE_CODE = profile.ram("TypeCode")


def _kind(code: str) -> str:
    known = profile.OTHER_TYPE_CODES.get(code)
    return f"{code} ({known})" if known else code


def _not_kp(message: str, where: etree._Element) -> MappingFailed:
    message = (
        f"{message}; the gateway accepts Kimberley Process documents only "
        f"(TypeCode {profile.KP_TYPE_CODE}, {profile.DOCS})"
    )
    finding = Finding(profile.NOT_KP_DOCUMENT, message, line_of(where), path_of(where))
    return MappingFailed(message, findings=(finding,))


def refuse_other_certificates(root: etree._Element) -> None:
    """An SPS certificate of another kind (TypeCode 851 phytosanitary, ...) is not ours."""
    document = kid(root, EXCHANGED_DOCUMENT)
    type_code = None if document is None else kid(document, _TYPE_CODE)
    code = (type_code.text or "").strip() if type_code is not None else None
    if type_code is not None and code and code != profile.KP_TYPE_CODE:
        raise _not_kp(f"this SPS certificate has TypeCode {_kind(code)}", type_code)


def refuse_other_acknowledgements(root: etree._Element) -> None:
    """An acknowledgement that refers only to certificates of another kind is not ours."""
    document = kid(root, ACK_DOCUMENT)
    references = [] if document is None else list(document.iterchildren(REFERENCE))
    if references and not kp_references(references):
        codes = ", ".join(_kind(kid_text(ref, TYPE_CODE) or "") for ref in references)
        where = kid(references[0], TYPE_CODE)
        raise _not_kp(
            f"this SPS acknowledgement refers to documents of type {codes}",
            references[0] if where is None else where,
        )


class UncefactAdapter:
    """UN/CEFACT SPSCertificate / SPSAcknowledgement 17, KP profile."""

    name = profile.NAME
    version = profile.VERSION

    def detects(self, root: RootName) -> bool:
        return root in (CERTIFICATE, ACKNOWLEDGEMENT)

    def schema(self, root: RootName) -> etree.XMLSchema | None:
        # Validated inside translate, after the KP-document check (module docstring).
        del root
        return None

    def translate(self, document: etree._Element, context: AdapterContext) -> Adapted:
        tag = document.tag
        if tag == _CERTIFICATE_TAG:
            refuse_other_certificates(document)
            validate(certificate_schema(), document)
            return read_certificate(document, DocumentReader(context.registry))
        if tag == _ACKNOWLEDGEMENT_TAG:
            refuse_other_acknowledgements(document)
            validate(acknowledgement_schema(), document)
            return read_acknowledgement(document, DocumentReader(context.registry))
        root = RootName.of(document)
        message = (
            f"the uncefact format reads rsm:{profile.CERTIFICATE_ROOT} and "
            f"rsm:{profile.ACKNOWLEDGEMENT_ROOT} (D17A), not {root}"
        )
        line = line_of(document) or 1
        raise UnknownFormat(message, findings=(Finding("UNKNOWN_FORMAT", message, line, "/"),))

    def render(self, payload: Payload, *, message_id: str, registry: ParticipantRegistry) -> bytes:
        # The SPS documents have no message id element: the id is derived from the
        # document (certificate number and status), so ``message_id`` is not written.
        del message_id
        if isinstance(payload, CertificateIssued):
            return render_certificate(payload)
        if isinstance(payload, ImportConfirmed):
            return render_acknowledgement(payload)
        if isinstance(payload, CertificateVoided):
            return render_void(payload, registry)
        raise TypeError(f"not a canonical payload: {type(payload).__name__}")
