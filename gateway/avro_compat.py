"""Avro schema compatibility (the resolution rules of the Avro specification).

``full_transitive_problems(current, released)`` is what the schema registry would call
FULL_TRANSITIVE: the current schema reads data written with every released version
(backward) and every released version reads data written with the current one (forward).
Decimal scale and precision are also held fixed: Avro would "resolve" a changed scale
silently into wrong amounts.
"""

from __future__ import annotations

from typing import Any

_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}
_NAMED = {"record", "enum", "fixed", "error"}
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _fullname(schema: dict[str, Any], namespace: str | None) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


class _Names:
    """Named types of one schema, so string references resolve to their definitions."""

    def __init__(self, schema: Any) -> None:
        self.types: dict[str, tuple[dict[str, Any], str | None]] = {}
        self._collect(schema, None)

    def _collect(self, schema: Any, namespace: str | None) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self._collect(branch, namespace)
        elif isinstance(schema, dict):
            kind = schema.get("type")
            if kind in _NAMED:
                full = _fullname(schema, namespace)
                space = full.rpartition(".")[0] or None
                self.types[full] = (schema, space)
                for field in schema.get("fields", []):
                    self._collect(field["type"], space)
            elif kind == "array":
                self._collect(schema["items"], namespace)
            elif kind == "map":
                self._collect(schema["values"], namespace)
            elif isinstance(kind, dict | list):
                self._collect(kind, namespace)

    def resolve(self, schema: Any, namespace: str | None) -> tuple[Any, str | None]:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            full = schema if "." in schema else f"{namespace}.{schema}" if namespace else schema
            if full in self.types:
                return self.types[full]
            if schema in self.types:
                return self.types[schema]
        if isinstance(schema, dict) and isinstance(schema.get("type"), dict | list):
            return self.resolve(schema["type"], namespace)
        if isinstance(schema, dict) and schema.get("type") in _NAMED:
            full = _fullname(schema, namespace)
            return schema, full.rpartition(".")[0] or None
        return schema, namespace


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    kind = schema.get("type")
    return kind if isinstance(kind, str) else "union"


def problems(reader: Any, writer: Any) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer`` (empty when it can)."""
    checker = _Checker(_Names(reader), _Names(writer))
    checker.check(reader, None, writer, None, "")
    return checker.found


class _Checker:
    def __init__(self, reader_names: _Names, writer_names: _Names) -> None:
        self.r = reader_names
        self.w = writer_names
        self.found: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    def check(self, reader: Any, rns: str | None, writer: Any, wns: str | None, path: str) -> None:
        reader, rns = self.r.resolve(reader, rns)
        writer, wns = self.w.resolve(writer, wns)
        rk, wk = _kind(reader), _kind(writer)
        if wk == "union":
            for branch in writer:
                if not self._readable(reader, rns, branch, wns, path):
                    self.found.append(f"{path or '/'}: writer branch {_label(branch)} not readable")
            return
        if rk == "union":
            if not any(self._readable(branch, rns, writer, wns, path) for branch in reader):
                self.found.append(f"{path or '/'}: no reader branch reads {_label(writer)}")
            return
        if rk in _PRIMITIVES or wk in _PRIMITIVES:
            if rk not in _PROMOTIONS.get(wk, {wk}):
                self.found.append(f"{path or '/'}: {wk} cannot be read as {rk}")
            self._logical(reader, writer, path)
            return
        if rk != wk:
            self.found.append(f"{path or '/'}: {wk} cannot be read as {rk}")
            return
        if rk == "record":
            self._record(reader, rns, writer, wns, path)
        elif rk == "enum":
            self._enum(reader, writer, path)
        elif rk == "array":
            self.check(reader["items"], rns, writer["items"], wns, f"{path}[]")
        elif rk == "map":
            self.check(reader["values"], rns, writer["values"], wns, f"{path}{{}}")
        elif rk == "fixed" and reader.get("size") != writer.get("size"):
            self.found.append(
                f"{path or '/'}: fixed size {writer.get('size')} vs {reader.get('size')}"
            )

    def _readable(
        self, reader: Any, rns: str | None, writer: Any, wns: str | None, path: str
    ) -> bool:
        before = len(self.found)
        self.check(reader, rns, writer, wns, path)
        ok = len(self.found) == before
        del self.found[before:]
        return ok

    def _logical(self, reader: Any, writer: Any, path: str) -> None:
        rl = reader.get("logicalType") if isinstance(reader, dict) else None
        wl = writer.get("logicalType") if isinstance(writer, dict) else None
        if rl != wl:
            self.found.append(f"{path or '/'}: logical type {wl} cannot be read as {rl}")
        elif rl == "decimal" and (
            reader.get("scale", 0) != writer.get("scale", 0)
            or reader.get("precision") != writer.get("precision")
        ):
            self.found.append(f"{path or '/'}: decimal precision/scale changed")

    def _record(
        self,
        reader: dict[str, Any],
        rns: str | None,
        writer: dict[str, Any],
        wns: str | None,
        path: str,
    ) -> None:
        rname, wname = _fullname(reader, rns), _fullname(writer, wns)
        aliases = {rname, *reader.get("aliases", [])}
        if wname not in aliases and wname.rpartition(".")[2] not in aliases:
            self.found.append(f"{path or '/'}: record {wname} cannot be read as {rname}")
            return
        if (rname, wname) in self._seen:  # recursive types: assume compatible on re-entry
            return
        self._seen.add((rname, wname))
        written = {field["name"]: field for field in writer.get("fields", [])}
        for field in reader.get("fields", []):
            names = [field["name"], *field.get("aliases", [])]
            source = next((written[name] for name in names if name in written), None)
            where = f"{path}.{field['name']}" if path else field["name"]
            if source is None:
                if "default" not in field:
                    self.found.append(f"{where}: new field without a default")
                continue
            self.check(field["type"], rns, source["type"], wns, where)
        self._seen.discard((rname, wname))

    def _enum(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        missing = set(writer.get("symbols", [])) - set(reader.get("symbols", []))
        if missing and "default" not in reader:
            self.found.append(
                f"{path or '/'}: enum symbols {sorted(missing)} unknown to the reader"
            )


def _label(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema.get("name") or schema.get("type"))
    return str(schema)


def full_transitive_problems(current: Any, released: list[tuple[str, Any]]) -> list[str]:
    found: list[str] = []
    for label, old in released:
        found += [f"backward vs {label}: {p}" for p in problems(current, old)]
        found += [f"forward vs {label}: {p}" for p in problems(old, current)]
    return found
