"""The KP profile schemas (``schemas/xsd/uncefact/``), compiled once on first use."""

from __future__ import annotations

from functools import cache

from lxml import etree

from adapters import xsd
from adapters.uncefact.profile import PREFIXES
from gateway.resources import xsd_dir

CERTIFICATE_XSD = "SPSCertificate_17p0_KP.xsd"
ACKNOWLEDGEMENT_XSD = "SPSAcknowledgement_17p0_KP.xsd"


@cache
def profile_schema(filename: str) -> etree.XMLSchema:
    return xsd.compile_schema(xsd_dir() / "uncefact" / filename)


def certificate_schema() -> etree.XMLSchema:
    return profile_schema(CERTIFICATE_XSD)


def acknowledgement_schema() -> etree.XMLSchema:
    return profile_schema(ACKNOWLEDGEMENT_XSD)


def validate(schema: etree.XMLSchema, root: etree._Element) -> None:
    """Raise ``SchemaViolation`` (XSD_VIOLATION findings) naming elements with the sender's
    own prefixes, or the conventional ``rsm``/``ram``/``udt`` where the sender used none."""
    if schema.validate(root):
        return
    xsd.raise_violations(schema, xsd.sender_prefixes(root, PREFIXES), root=root)
