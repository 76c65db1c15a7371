"""Compile profile schemas once and turn libxml2's validation errors into findings a customs
developer can act on: prefixed names instead of ``{urn:...}`` clutter, the line, and a
readable path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn, cast

from lxml import etree

from adapters.paths import path_of
from gateway.errors import Finding, SchemaViolation

XSD_VIOLATION = "XSD_VIOLATION"
#: A namespace URI in Clark notation, not a regex quantifier like {10}. Linear: the part
#: before the first colon cannot contain one, so a sender's "{::::..." cannot make the
#: match backtrack quadratically (found by a security review: 45 KB froze the ingress).
_CLARK = re.compile(r"\{([^{}:]*+:[^{}]*+)\}")
#: libxml2 quotes the sender's value in full; a finding needs its start only, and every
#: pattern below then runs on a bounded text.
MAX_MESSAGE_CHARS = 1000


XS = "http://www.w3.org/2001/XMLSchema"
#: id(schema) -> (the schema, the local names of every element its folder's XSDs declare):
#: tells "not part of the profile" apart from "in the wrong place". Schemas are compiled
#: once per process and kept here, so an id is never reused.
_DECLARED: dict[int, tuple[etree.XMLSchema, frozenset[str]]] = {}


def compile_schema(path: Path) -> etree.XMLSchema:
    """Compile a local XSD. Imports and includes resolve relative to ``path`` on disk only."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    document = etree.parse(str(path), parser=parser)
    schema = etree.XMLSchema(document)
    names: set[str] = set()
    for xsd in sorted(path.parent.glob("*.xsd")):
        found = etree.parse(str(xsd), parser=parser).xpath(
            "//xs:element/@name", namespaces={"xs": XS}
        )
        names.update(str(name) for name in cast(list[Any], found))
    _DECLARED[id(schema)] = (schema, frozenset(names))
    return schema


def readable(text: str, prefixes: Mapping[str, str]) -> str:
    """Replace Clark notation with the conventional prefixes of the format; a namespace
    without one is named in full (it is usually the mistake)."""

    def substitute(match: re.Match[str]) -> str:
        prefix = prefixes.get(match.group(1))
        if prefix is None:
            return f"{{{match.group(1)}}}"
        return f"{prefix}:" if prefix else ""  # "": the sender's default namespace

    return _CLARK.sub(substitute, text)


_NOT_EXPECTED = re.compile(
    r"^Element '(?P<element>[^']+)': This element is not expected\. "
    r"Expected is (?:one of )?\( (?P<expected>.+) \)\.$"
)
_MISSING_CHILD = re.compile(
    r"^Element '(?P<element>[^']+)': Missing child element\(s\)\. "
    r"Expected is (?:one of )?\( (?P<expected>.+) \)\.$"
)
_ELEMENT = re.compile(r"^Element '(?P<element>[^']+)'")
_ATOMIC = re.compile(r"is not a valid value of the atomic type '(?P<type>[^']+)'")
_TYPE_HINTS = {
    "decimal": "Write a decimal with a dot and no thousands separator, such as 1250.40.",
    "integer": "Write a whole number, such as 3.",
    "nonNegativeInteger": "Write a whole number, such as 3.",
    "positiveInteger": "Write a whole number from 1, such as 3.",
    "date": "Write a date as YYYY-MM-DD, such as 2026-03-02.",
    "dateTime": "Write a date and time as YYYY-MM-DDThh:mm:ss with a UTC offset, such as "
    "2026-03-02T10:15:00+03:00.",
}
_PATTERN_HINTS = {
    # The profiles' patterns say [0-9], not \d: XSD's \d takes every script's digits.
    "[0-9]{10}": "10 digits, such as 7102310000",
    "[0-9]{4}-[0-9]{2}-[0-9]{2}": "a date as YYYY-MM-DD, such as 2026-03-02 (no time, no offset)",
    "[A-Z]{2}|\\*{1,3}|MIXED": (
        "an ISO 3166-1 code in upper case such as RU, or MIXED, or one to three asterisks"
    ),
    "[A-Z]{2}": "two upper-case letters, an ISO 3166-1 code such as RU",
    # UN/CEFACT DateTimeString: libxml2 names only the last of the two alternatives.
    "\\s*[0-9]{8}([0-9]{4}([0-9]{2})?)?([+\\-][0-9]{4})?\\s*": (
        "an ISO 8601 date or date and time such as 2026-03-02 or 2026-03-02T10:15:00Z "
        "(or the compact 20260302)"
    ),
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}": (
        "a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e"
    ),
}
_PATTERN_VALUE = "[facet 'pattern'] The value '"
_PATTERN_REGEX = "' is not accepted by the pattern '"


def _type_hint(local: str) -> str | None:
    """What to write for a built-in type, or for a format's own leaf type by its name
    (the FTS library's ``DateType``, ``Quantity24Dec3Type``, ``Amount17Dec2Type``...)."""
    if local in _TYPE_HINTS:
        return _TYPE_HINTS[local]
    if "DateTime" in local:
        return _TYPE_HINTS["dateTime"]
    if "Date" in local:
        return _TYPE_HINTS["date"]
    if "Dec" in local or "Amount" in local or "Quantity" in local:
        return _TYPE_HINTS["decimal"]
    return None


def _split(clark: str) -> tuple[str, str]:
    """``{uri}local`` -> (uri, local); a name without a namespace -> ("", name)."""
    if clark.startswith("{"):
        uri, _, local = clark[1:].partition("}")
        return uri, local
    return "", clark


class _Names:
    """Names as the sender reads them: its prefixes, a namespace in full where none is known."""

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes

    def name(self, clark: str) -> str:
        uri, local = _split(clark)
        if not uri:
            return local
        prefix = self.prefixes.get(uri)
        if prefix is None:
            return f"{local} (namespace {uri})"
        return f"{prefix}:{local}" if prefix else local  # "": the default namespace

    def expected(self, entry: str) -> str:
        """One entry of libxml2's "Expected is ( ... )", wildcards in words."""
        if entry.startswith("##other{") and entry.endswith("}*"):
            return f"an element of a namespace other than {entry[8:-2]}"
        if entry == "*":
            return "any element"
        if entry.endswith("}*"):
            uri = entry[1:-2]
            prefix = self.prefixes.get(uri)
            return f"an element of {f'{prefix}:' if prefix else uri}"
        return self.name(entry)

    def listing(self, entries: list[str]) -> str:
        names = [self.expected(entry) for entry in entries]
        return names[0] if len(names) == 1 else "one of " + ", ".join(names)


def explain(
    message: str,
    prefixes: Mapping[str, str],
    element: etree._Element | None = None,
    declared: frozenset[str] | None = None,
) -> str:
    """libxml2's message (Clark names) as a sentence that names the likely cause: a
    namespace that differs (a library version), an element missing before the one libxml2
    names, an element out of order, or one the profile does not have at all."""
    names = _Names(prefixes)
    found = _NOT_EXPECTED.match(message)
    if found is not None:
        return _not_expected(
            names, found["element"], found["expected"].split(", "), element, declared
        )
    found = _MISSING_CHILD.match(message)
    if found is not None:
        tokens = found["expected"].split(", ")
        parent = names.name(found["element"])
        if element is not None:
            for child in element:
                moved = _moved(names, str(child.tag), tokens)
                if moved:
                    return moved
        return (
            f"{parent} is incomplete: {names.listing(tokens)} is missing (add it in the order "
            "of the schema)."
        )
    if "Character content other than whitespace is not allowed" in message:
        texted = _ELEMENT.match(message)
        if texted is not None:
            advice = (
                " Put the document itself there as XML, not escaped (&lt;...), base64-encoded "
                "or in a CDATA section, and without its own <?xml ...?> declaration."
                if _split(texted["element"])[1] == "Content"
                else ""
            )
            return f"{names.name(texted['element'])} holds elements only, not text.{advice}"
    atomic = _ATOMIC.search(message)
    if atomic is not None:
        # The type's namespace is never the sender's mistake: name the type by its local name.
        local = _split(atomic["type"])[1].removeprefix("xs:")
        text = readable(message[: atomic.start()], prefixes) + (
            f"is not a valid value of the type '{local}'{message[atomic.end() :]}"
        )
        hint = _type_hint(local)
        return f"{text} {hint}" if hint else text
    text = readable(message, prefixes)
    # String search, not a regex: the value is the sender's and may hold anything.
    start, middle = message.find(_PATTERN_VALUE), message.rfind(_PATTERN_REGEX)
    if 0 <= start < middle and message.endswith("'."):
        value = message[start + len(_PATTERN_VALUE) : middle]
        hint = _PATTERN_HINTS.get(message[middle + len(_PATTERN_REGEX) : -2])
        if hint is not None:  # a regular expression in words: what to write instead
            named = readable(message[:start], prefixes)
            return f"{named}the value '{value}' is not in the expected form: {hint}."
    return text


def _moved(names: _Names, clark: str, expected: list[str]) -> str | None:
    """The message for an element whose local name is expected here in another namespace
    (a namespace declaration with another library version, or misspelt), else None."""
    uri, local = _split(clark)
    for token in expected:
        wanted_uri, wanted_local = _split(token)
        if wanted_local == local and wanted_uri != uri and not token.endswith("*"):
            return (
                f"{local} is in namespace {uri or '(none)'}, but the profile expects it in "
                f"{wanted_uri or '(none)'}: check the namespace declaration of its prefix "
                "(another library version, or a misspelling)."
            )
    return None


def _not_expected(
    names: _Names,
    clark: str,
    expected: list[str],
    element: etree._Element | None,
    declared: frozenset[str] | None,
) -> str:
    moved = _moved(names, clark, expected)
    if moved:
        return moved
    shown, wanted = names.name(clark), names.listing(expected)
    local = _split(clark)[1]
    if all(token.endswith("*") for token in expected):
        if not _split(clark)[0] and any(token.startswith("##other") for token in expected):
            # An envelope's Content with an element in no namespace: "another namespace"
            # reads as if it qualified (a hub integrator's review).
            return (
                f"{shown} has no namespace; only {wanted} may follow: a document whose "
                "root element is namespace-qualified (such as rsm:SPSCertificate). Put the "
                "document itself here, with its namespace declaration."
            )
        return f"{shown} is not part of the KP profile here; only {wanted} may follow. Remove it."
    if declared is not None and local not in declared:
        return (
            f"{shown} is not part of the KP profile (its schema has no such element); remove "
            f"it. Expected here: {wanted}."
        )
    later = set()
    if element is not None:
        later = {str(sibling.tag) for sibling in element.itersiblings()}
    if later.intersection(expected):
        return (
            f"{shown} is out of order: {wanted} must come before it (the schema fixes the order)."
        )
    if len(expected) == 1:
        return f"{wanted} is missing before {shown} (or {shown} is not allowed here)."
    return (
        f"{shown} is not expected here: {wanted} must come before it (a required element is "
        f"missing, or {shown} is misplaced)."
    )


def validate(
    schema: etree.XMLSchema,
    root: etree._Element,
    prefixes: Mapping[str, str],
    *,
    limit: int = 50,
) -> None:
    """Raise ``SchemaViolation`` listing every error (up to ``limit``) with line and path."""
    if not schema.validate(root):
        raise_violations(schema, prefixes, limit=limit)


def raise_violations(
    schema: etree.XMLSchema,
    prefixes: Mapping[str, str],
    *,
    root: etree._Element | None = None,
    limit: int = 50,
) -> NoReturn:
    """Raise ``SchemaViolation`` for the errors of ``schema``'s last (failed) validation:
    callers that validate themselves build ``prefixes`` only when a document fails. With
    the validated ``root``, each path is rebuilt from the element it names (libxml2 writes
    ``/*/*[10]/*[2]`` for a default namespace)."""
    findings: list[Finding] = []
    declared = _DECLARED.get(id(schema), (None, None))[1]
    omitted: set[tuple[int, str]] = set()  # beyond the limit: counted, not explained
    namespaces: dict[str, str] | None = None  # the document's prefixes, read once if needed
    for entry in cast(Iterable[Any], schema.error_log):
        if len(findings) >= limit:
            omitted.add((entry.line, str(entry.message)))
            continue
        path = entry.path or None
        element = None
        if path and root is not None:
            if namespaces is None:
                namespaces = _declared_prefixes(root)
            element = _element_at(root, path, namespaces)
        if element is not None:
            path = path_of(element, prefixes)
        said = str(entry.message)
        if len(said) > MAX_MESSAGE_CHARS:
            said = said[:MAX_MESSAGE_CHARS] + "... (cut)"
        message = explain(said, prefixes, element, declared)
        finding = Finding(XSD_VIOLATION, message, entry.line or None, path)
        if finding not in findings:  # libxml2 repeats a pattern error once per facet
            findings.append(finding)
    first = findings[0].message if findings else "schema validation failed"
    more = f" ({len(omitted)} more not listed)" if omitted else ""
    raise SchemaViolation(
        f"{len(findings)} schema violation(s){more}; first: {first}", findings=tuple(findings)
    )


def sender_prefixes(
    root: etree._Element, conventional: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Namespace URI -> the prefix the sender gave it, wherever it declared it (the first
    declaration wins), so messages name elements as the sender's document does; else the
    format's ``conventional`` prefix (a default namespace: ``rsm``, as the mapping's
    findings say); else "" for a default namespace (names without a prefix). Read on
    failure only."""
    named: dict[str, str] = {}
    unnamed: set[str] = set()
    for element in root.iter():
        for prefix, uri in element.nsmap.items():
            if uri and prefix:
                named.setdefault(uri, prefix)
            elif uri:
                unnamed.add(uri)
    found = {**(conventional or {}), **named}
    for uri in unnamed:
        found.setdefault(uri, "")
    return found


def _declared_prefixes(root: etree._Element) -> dict[str, str]:
    """Every prefix the document declares, wherever (libxml2's paths use them; a sender
    may declare ``ram`` on the element that first needs it), the first use of a prefix
    winning; computed once per failed validation."""
    found: dict[str, str] = {}
    for element in root.iter():
        for prefix, uri in element.nsmap.items():
            if prefix and uri and prefix not in found:
                found[prefix] = uri
    return found


def _element_at(
    root: etree._Element, path: str, namespaces: dict[str, str]
) -> etree._Element | None:
    """The element libxml2's path names (in the document's own prefixes), or None. When
    ``root`` is a subtree (an envelope's content), libxml2's path starts at it."""
    first, _, rest = path.lstrip("/").partition("/")
    candidates: list[tuple[etree._Element | etree._ElementTree, str]] = []
    if first:
        candidates.append((root, "." + ("/" + rest if rest else "")))
    candidates.append((root.getroottree(), path))
    for context, expression in candidates:
        try:
            found = context.xpath(expression, namespaces=namespaces)
        except (etree.XPathError, TypeError, ValueError):
            continue
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return found[0]
    return None
