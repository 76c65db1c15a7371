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
            # Counted from the element back, not by listing every sibling: the first of
            # 150,000 copies too many is the 11th (TOO_MANY_ELEMENTS), found at once.
            position = 1 + sum(1 for _ in node.itersiblings(node.tag, preceding=True))
            if position > 1 or next(node.itersiblings(node.tag), None) is not None:
                step += f"[{position}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))
