"""Readable paths to elements for findings, one rule for every adapter and the schema step:
``/env:Envelope/env:Content/rsm:SPSCertificate/.../ram:IncludedSPSTradeLineItem[2]/...``.
Always from the document's root (an envelope's content included), each step with a prefix,
and a position only among same-named siblings (``[1]`` when there are several)."""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree


def path_of(element: etree._Element, prefixes: Mapping[str, str] | None = None) -> str:
    """``prefixes`` (namespace URI -> prefix) names the format's own namespaces; any other
    step takes the prefix the sender wrote (none in a default namespace)."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        qname = etree.QName(node)
        namespace = qname.namespace or ""
        prefix = prefixes.get(namespace) if prefixes and namespace in prefixes else node.prefix
        step = f"{prefix}:{qname.localname}" if prefix else qname.localname
        parent = node.getparent()
        if parent is not None:
            same = list(parent.iterchildren(node.tag))
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))
