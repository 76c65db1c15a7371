"""Readable paths to elements for findings, one rule for every adapter and the schema step:
``/env:Envelope/env:Content/rsm:SPSCertificate/.../ram:IncludedSPSTradeLineItem[2]/...``.
Always from the document's root (an envelope's content included), each step with the
sender's own prefix (the format's conventional one where it wrote none), and a position
only among same-named siblings (``[1]`` when there are several)."""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree


def path_of(element: etree._Element, prefixes: Mapping[str, str] | None = None) -> str:
    """Each step with the prefix the sender wrote on that element (wherever it declared
    it); where it wrote none (a default namespace), ``prefixes`` (namespace URI -> prefix)
    may name one, such as the format's conventional ``ram`` ("" or none: no prefix)."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        qname = etree.QName(node)
        prefix = node.prefix or (prefixes.get(qname.namespace or "") if prefixes else None)
        step = f"{prefix}:{qname.localname}" if prefix else qname.localname
        parent = node.getparent()
        if parent is not None:
            same = list(parent.iterchildren(node.tag))
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))
