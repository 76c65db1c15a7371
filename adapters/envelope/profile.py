"""The kpgw hub envelope (ePhyto style): namespace, header names, the compiled header schema,
and what CertificateType/CertificateStatus say for each kind of payload."""

from __future__ import annotations

from functools import cache

from lxml import etree

from adapters import bounds, paths
from adapters.xsd import compile_schema
from gateway.events import CertificateIssued, CertificateVoided, ImportConfirmed, Payload
from gateway.resources import xsd_dir

NAMESPACE = "urn:kpgw:hub:envelope:1"
PREFIX = "env"
ROOT = "Envelope"
FORMAT = "envelope"
VERSION = "1"
#: The inner format the envelope carries unless told otherwise (falls back to ru_fts while
#: the uncefact adapter is not installed).
DEFAULT_INNER_FORMAT = "uncefact"
FALLBACK_INNER_FORMAT = "ru_fts"
#: To of a rendered cancellation when the caller does not name the recipient: a cancellation
#: does not name the importing participant (ISO 3166-1 user-assigned "unknown").
UNKNOWN_RECIPIENT = "ZZ"

CERTIFICATE_TYPE = "KP-CERTIFICATE"
CONFIRMATION_TYPE = "KP-IMPORT-CONFIRMATION"
STATUS_ISSUED = "70"
STATUS_CANCELLED = "40"

# Stable finding codes of this adapter.
FROM_MISMATCH = "ENVELOPE_FROM_MISMATCH"
TO_MISMATCH = "ENVELOPE_TO_MISMATCH"
NUMBER_MISMATCH = "ENVELOPE_NUMBER_MISMATCH"
TYPE_MISMATCH = "ENVELOPE_TYPE_MISMATCH"
STATUS_MISMATCH = "ENVELOPE_STATUS_MISMATCH"
UNKNOWN_FORMAT = "UNKNOWN_FORMAT"
TOO_MANY_ELEMENTS = bounds.TOO_MANY_ELEMENTS


def q(local: str) -> str:
    return f"{{{NAMESPACE}}}{local}"


TAG = q(ROOT)
FROM = q("From")
TO = q("To")
CERTIFICATE_TYPE_TAG = q("CertificateType")
CERTIFICATE_STATUS_TAG = q("CertificateStatus")
NUMBER = q("NPPOCertificateNumber")
DELIVERY_NUMBER = q("hubDeliveryNumber")
CONTENT = q("Content")
FORWARDING = q("Forwarding")

#: Forwarding entries of one envelope (the header schema leaves them unbounded; not mapped):
#: a copy goes to a box or two (the EU's TRACES, a ministry), not to thousands.
FORWARDINGS = bounds.Bound(
    20, "copies go to a few other boxes; forwardings are not mapped, so give the few you need"
)


@cache
def schema() -> etree.XMLSchema:
    """The compiled header schema (compiled once per process)."""
    return compile_schema(xsd_dir() / "envelope" / "HubEnvelope.xsd")


def type_and_status(payload: Payload) -> tuple[str, str]:
    """(CertificateType, CertificateStatus) an envelope carrying ``payload`` must say."""
    if isinstance(payload, CertificateIssued):
        return CERTIFICATE_TYPE, STATUS_ISSUED
    if isinstance(payload, CertificateVoided):
        return CERTIFICATE_TYPE, STATUS_CANCELLED
    if isinstance(payload, ImportConfirmed):
        return CONFIRMATION_TYPE, STATUS_ISSUED
    raise TypeError(f"not a canonical payload: {type(payload).__name__}")


def normalise_number(number: str) -> str:
    """Certificate numbers compare without whitespace and case."""
    return "".join(number.split()).upper()


def line_of(element: etree._Element) -> int | None:
    line: object = element.sourceline
    return line if isinstance(line, int) else None


def path_of(element: etree._Element) -> str:
    """A readable path in the sender's prefixes (``/env:Envelope/env:From``)."""
    return paths.path_of(element)
