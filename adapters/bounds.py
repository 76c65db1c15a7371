"""Bounds on repeated elements. A profile schema that says ``maxOccurs="unbounded"`` (the
official UN/CEFACT one does almost everywhere) let a 2 MB document carry tens of thousands
of copies of an element the gateway does not even read: 47,000 FTS ``Characteristics`` or
40,000 envelope ``Forwarding`` entries were accepted, costing a hundred times the time and
memory of a real document. Each format names the elements it bounds with a generous limit
(about ten times what a real document carries) and why; this module finds every parent
that holds more, so that the refusal points at the first copy too many.

HS lines and notes are bounded where the mapping reads them (``TOO_MANY_LINES``,
``TOO_MANY_NOTES``); what is bounded here is repeated by the schema, never read, or read
once (``TOO_MANY_ELEMENTS``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from lxml import etree

#: The finding of every bound here, in every format (docs/findings.md).
TOO_MANY_ELEMENTS = "TOO_MANY_ELEMENTS"


@dataclass(frozen=True, slots=True)
class Bound:
    """At most ``limit`` copies of one element under one parent. ``why`` ends the finding's
    message: what the element is for, and what to send instead."""

    limit: int
    why: str


@dataclass(frozen=True, slots=True)
class Excess:
    """A parent holding more copies of an element than its bound allows."""

    first_too_many: etree._Element
    count: int
    bound: Bound
    #: Set when the bound is on all the elements inside this one (``descendants``).
    inside: etree._Element | None = None

    def message(self, prefixes: Mapping[str, str] | None = None) -> str:
        """``47,587 kpc:Characteristics in one kpc:DiamondsInfo where at most 20 are
        accepted: ...``, in the sender's prefixes (``prefixes`` where it wrote none)."""
        element = self.first_too_many
        if self.inside is not None:
            what = f"elements inside {name_of(self.inside, prefixes)}"
        else:
            parent = element.getparent()
            where = "" if parent is None else f" in one {name_of(parent, prefixes)}"
            what = f"{name_of(element, prefixes)}{where}"
        return (
            f"{self.count:,} {what} where at most {self.bound.limit} are accepted: {self.bound.why}"
        )


def excesses(root: etree._Element, bounds: Mapping[str, Bound]) -> list[Excess]:
    """Every (parent, element) pair of ``root``'s tree over the bound of its element's Clark
    name, in document order. libxml2 finds the first copies too many and counts them (one
    XPath each), after a cheaper test, so neither a real document (microseconds) nor one of
    150,000 copies (milliseconds) makes a Python object per element."""
    if not bounds or not _possible(root, bounds):
        return []
    compiled = _compiled(tuple(bounds.items()))
    found: list[Excess] = []
    hits = compiled.first_too_many(root)
    for element in hits if isinstance(hits, list) else ():
        if isinstance(element, etree._Element):
            tag: str = element.tag
            count = compiled.siblings[tag](element)
            found.append(
                Excess(element, int(count) if isinstance(count, float) else 0, bounds[tag])
            )
    return found


def descendants(element: etree._Element, bound: Bound) -> Excess | None:
    """The elements inside ``element`` (at any depth) when there are more than the bound:
    for content the schema does not describe (``processContents="skip"``), counted by
    libxml2."""
    hits = _NTH_DESCENDANT(element, n=bound.limit + 1)
    first = hits[0] if isinstance(hits, list) and hits else None
    if not isinstance(first, etree._Element):
        return None
    count = _COUNT_DESCENDANTS(element)
    return Excess(first, int(count) if isinstance(count, float) else 0, bound, inside=element)


_COUNT_DESCENDANTS = etree.XPath("count(descendant::*)")
_NTH_DESCENDANT = etree.XPath("(descendant::*)[$n]")


def _possible(root: etree._Element, bounds: Mapping[str, Bound]) -> bool:
    """Whether some element occurs more often in the whole tree than its bound allows under
    one parent: the cheap test that spares a real document the XPath (a few copies to
    look at, picked in C), and stops at the first copy past the bound in any other."""
    seen: dict[str, int] = {}
    for element in root.iter(*bounds):
        tag: str = element.tag
        count = seen.get(tag, 0) + 1
        if count > bounds[tag].limit:
            return True
        seen[tag] = count
    return False


@dataclass(frozen=True, slots=True)
class _Compiled:
    #: every copy that is its parent's ``limit + 1``-th of its name, in document order
    first_too_many: etree.XPath
    #: by Clark name: how many copies the element's parent holds
    siblings: Mapping[str, etree.XPath]


@cache
def _compiled(bounds: tuple[tuple[str, Bound], ...]) -> _Compiled:
    names: dict[str, str] = {}  # Clark name -> the XPath name, with a made-up prefix
    prefixes: dict[str, str] = {}  # namespace URI -> that prefix
    for clark, _ in bounds:
        qname = etree.QName(clark)
        names[clark] = qname.localname
        if qname.namespace:
            prefix = prefixes.setdefault(qname.namespace, f"b{len(prefixes)}")
            names[clark] = f"{prefix}:{qname.localname}"
    namespaces = {prefix: uri for uri, prefix in prefixes.items()}
    return _Compiled(
        etree.XPath(
            " | ".join(f".//{names[clark]}[{bound.limit + 1}]" for clark, bound in bounds),
            namespaces=namespaces,
        ),
        {
            clark: etree.XPath(f"count(../{names[clark]})", namespaces=namespaces)
            for clark, _ in bounds
        },
    )


def name_of(element: etree._Element, prefixes: Mapping[str, str] | None = None) -> str:
    """``kpc:Characteristics``: the element's name with the prefix the sender wrote, else the
    format's conventional one from ``prefixes`` (namespace URI -> prefix)."""
    qname = etree.QName(element)
    prefix = element.prefix or (prefixes.get(qname.namespace or "") if prefixes else None)
    return f"{prefix}:{qname.localname}" if prefix else qname.localname
