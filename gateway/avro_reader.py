"""A compiled Avro binary reader: what fastavro's ``schemaless_reader`` gives for a record
read with its own writer schema (``return_record_name=True``,
``return_record_name_override=True``), value for value, about twice as fast for the
gateway's records. The counterpart of ``gateway.avro_writer``.

Each schema is compiled once from fastavro's parsed form into one generated function
(``exec``, as the writer does): every field, nested record, array item and union branch
read inline from the buffer with a local position, so no call, no stream and no per-type
dispatch stands between two fields. It supports null, boolean, int, long, float, double,
string, bytes, enum, fixed, array, map, record and union, and decimal on bytes, date and
timestamp-millis; any other type (another logical type, a recursive record, an array or map
whose items may take no bytes) is refused at compile time (``NotImplementedError``), and
the caller reads that schema with fastavro.

Malformed input raises as fastavro's reader would (the caller turns every exception into
``UndecodableEvent``), and what fastavro accepts is accepted alike, to the value:

- a length or block count beyond the buffer, a negative length, a truncated value: an
  exception, before anything of that size is allocated (arrays and maps grow an item at a
  time, and every item takes at least one byte, so a huge declared count ends at the
  buffer's end);
- invalid UTF-8 (surrogates included): ``UnicodeDecodeError``;
- varints as fastavro's C reader reads them: 64 bits, wrapping, with no limit on their
  length;
- a union branch or enum symbol index as a Python list index: ``-1`` is the last one (as
  fastavro's), beyond the list an ``IndexError``;
- a negative block count is followed by the block's size in bytes (ignored);
- decimals through a context of the schema's precision (a value wider than the precision
  is rounded, as fastavro rounds it), instants and dates through the same arithmetic;
- a decimal longer than ``decimal_bytes_limit`` (at least 64 bytes): a ``ValueError``
  (fastavro's reader is given the same bound by ``codec``: unbounded, a megabyte of
  decimal took over a minute to convert, in either reader).

Trailing bytes are not an error: the reader returns where it stopped.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Context
from typing import Any

__all__ = ["Read", "compile_reader", "decimal_bytes_limit", "decimal_too_long"]

#: ``read(data, pos)`` -> (the value at ``pos``, the position after it).
Read = Callable[[bytes, int], tuple[Any, int]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS_SHIFT = date(1970, 1, 1).toordinal()
_MASK64 = (1 << 64) - 1
_PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "string", "bytes"))
_AVRO_TYPES = _PRIMITIVES | {"record", "enum", "fixed", "array", "map", "union", "error"}


def decimal_bytes_limit(precision: int) -> int:
    """The most bytes a bytes-decimal of ``precision`` digits is read from: more than any
    of its values needs (a digit takes under half a byte), and at least 64. Turning an
    integer into a ``Decimal`` takes time quadratic in its length (a megabyte: over a
    minute), so one hostile record on kp.events would stall a router for that long."""
    return max(64, precision)


def decimal_too_long(size: int, precision: int) -> ValueError:
    return ValueError(
        f"a decimal of {size:,} bytes; a decimal of precision {precision} is read from at most "
        f"{decimal_bytes_limit(precision)} bytes"
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The zig-zag varint at ``pos`` and the position after it, as fastavro's C reader
    reads it."""
    byte = data[pos]
    acc = byte & 0x7F
    shift = 7
    pos += 1
    while byte >= 0x80:
        if shift > 56:  # a tenth byte: bits beyond 64 to drop
            return _long_varint(data, pos - 9)
        byte = data[pos]
        pos += 1
        acc |= (byte & 0x7F) << shift
        shift += 7
    return (acc >> 1) ^ -(acc & 1), pos


def _long_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A varint of ten bytes or more, as fastavro's C reader reads it: in 64 bits, where a
    shift counts modulo 64 and bits beyond are lost; no limit on the length."""
    acc = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        acc |= (byte & 0x7F) << (shift & 63)
        if byte < 0x80:
            acc &= _MASK64
            return (acc >> 1) ^ -(acc & 1), pos
        shift += 7


def _length(data: bytes, pos: int) -> tuple[int, int]:
    """A length (of bytes or a string) and the position after it; negative: EOFError."""
    size, pos = _varint(data, pos)
    if size < 0:
        raise EOFError(f"Expected {size} bytes")
    return size, pos


def _count(data: bytes, pos: int) -> tuple[int, int]:
    """A block's item count and the position of its first item (a negative count is
    followed by the block's size in bytes, skipped). A count of -2**63 negates to itself
    in 64 bits: fastavro reads no item."""
    count, pos = _varint(data, pos)
    if count < 0:
        _, pos = _varint(data, pos)
        count = -count if count != -(1 << 63) else count
    return count, pos


def _overrun(size: int) -> EOFError:
    return EOFError(f"the values run {size} bytes past the end")


def compile_reader(schema: Any, named: Mapping[str, Any] | None = None) -> Read:
    """The reader of a fastavro-parsed schema (``named``: the named types it refers to,
    default its own): ``read(data, pos)`` gives the value that starts at ``pos`` and the
    position after it. ``NotImplementedError`` for an unsupported schema."""
    if named is None:
        named = schema.get("__named_schemas", {}) if isinstance(schema, dict) else {}
    try:
        return _Compiler(named).build(schema)
    except (SyntaxError, RecursionError) as exc:  # nested too deep for one function
        raise NotImplementedError(f"schema too deep to compile: {exc}") from exc


class _Compiler:
    """Generates one function's source: each value read into a local variable."""

    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = named
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "_varint": _varint,
            "_length": _length,
            "_count": _count,
            "_overrun": _overrun,
            "EPOCH": _EPOCH,
            "DAYS_SHIFT": _DAYS_SHIFT,
            "timedelta": timedelta,
            "fromordinal": date.fromordinal,
            "from_bytes": int.from_bytes,
            "decimal_too_long": decimal_too_long,
        }
        self.counter = 0
        self.open: list[str] = []  # the records being generated (recursion: refused)

    def build(self, schema: Any) -> Read:
        self.lines = ["def read(data, pos):"]
        self.value(schema, "result", "    ")
        self.emit(
            "    ",
            "if pos > len(data):",
            "    raise _overrun(pos - len(data))",
            "return result, pos",
        )
        exec("\n".join(self.lines), self.namespace)  # noqa: S102 - generated from our schemas
        read: Read = self.namespace["read"]
        return read

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, stem: str, value: Any) -> str:
        name = self.fresh(stem.upper())
        self.namespace[name] = value
        return name

    def emit(self, indent: str, *lines: str) -> None:
        self.lines += [indent + line for line in lines]

    def resolve(self, schema: Any) -> Any:
        """A named reference's schema; anything else as is."""
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise NotImplementedError(f"unknown named type {schema}")
            return self.named[schema]
        return schema

    def value(self, schema: Any, target: str, indent: str) -> None:
        """Source reading a value of ``schema`` at ``pos`` into ``target``."""
        if isinstance(schema, list):
            self.union(schema, target, indent)
            return
        schema = self.resolve(schema)
        if isinstance(schema, str):
            self.primitive(schema, target, indent)
            return
        kind = schema["type"]
        logical = schema.get("logicalType")
        if kind in {"record", "error"}:
            self.record(schema, target, indent)
        elif logical is not None:
            self.logical(f"{kind}-{logical}", schema, target, indent)
        elif kind == "enum":
            symbols = self.constant("symbols", list(schema["symbols"]))
            index = self.fresh("i")
            self.long(index, indent)
            self.emit(indent, f"{target} = {symbols}[{index}]")
        elif kind == "fixed":
            self.emit(indent, f"end = pos + {int(schema['size'])}")
            self.emit(indent, f"{target} = data[pos:end]", "pos = end")
        elif kind in ("array", "map"):
            self.repeated(kind, schema, target, indent)
        elif kind in _PRIMITIVES:
            self.primitive(kind, target, indent)
        else:
            raise NotImplementedError(f"Avro type {kind}")

    def primitive(self, kind: str, target: str, indent: str) -> None:
        if kind == "null":
            self.emit(indent, f"{target} = None")
        elif kind == "boolean":
            self.emit(indent, f"{target} = data[pos] != 0", "pos += 1")
        elif kind in ("int", "long"):
            self.long(target, indent)
        elif kind in ("float", "double"):
            unpack = struct.Struct("<f" if kind == "float" else "<d").unpack_from
            width = 4 if kind == "float" else 8
            self.emit(indent, f"{target} = {self.constant(kind, unpack)}(data, pos)[0]")
            self.emit(indent, f"pos += {width}")
        elif kind == "string":
            self.raw(indent)
            self.emit(indent, f"{target} = data[pos:end].decode()", "pos = end")
        elif kind == "bytes":
            self.raw(indent)
            self.emit(indent, f"{target} = data[pos:end]", "pos = end")
        else:
            raise NotImplementedError(f"Avro type {kind}")

    def long(self, target: str, indent: str) -> None:
        """A varint into ``target``: one byte inline, longer ones by ``_varint``."""
        self.emit(
            indent,
            "byte = data[pos]",
            "if byte < 0x80:",
            f"    {target} = (byte >> 1) ^ -(byte & 1)",
            "    pos += 1",
            "else:",
            f"    {target}, pos = _varint(data, pos)",
        )

    def raw(self, indent: str) -> None:
        """A length: ``pos`` its bytes' start, ``end`` their end. Not checked against the
        buffer here: a slice stops at its end, ``pos`` only grows, so the first read after
        an overrun fails (``IndexError``) and the function's last check catches the rest."""
        self.emit(
            indent,
            "byte = data[pos]",
            "if not byte & 0x81:  # a length under 64 in one byte",
            "    pos += 1",
            "    end = pos + (byte >> 1)",
            "elif not byte & 1 and data[pos + 1] < 0x80:  # under 8,192 in two",
            "    end = pos + 2 + (((byte & 0x7F) | (data[pos + 1] << 7)) >> 1)",
            "    pos += 2",
            "else:",
            "    length, pos = _length(data, pos)",
            "    end = pos + length",
        )

    def logical(self, kind: str, schema: dict[str, Any], target: str, indent: str) -> None:
        if kind == "bytes-decimal":
            context = Context(prec=schema["precision"])
            create = self.constant("create", context.create_decimal)
            ctx = self.constant("context", context)
            scale = int(schema.get("scale", 0))
            precision = int(schema["precision"])
            self.raw(indent)
            self.emit(
                indent,
                f"if end - pos > {decimal_bytes_limit(precision)}:",
                f"    raise decimal_too_long(end - pos, {precision})",
                f"{target} = {create}(from_bytes(data[pos:end], 'big', signed=True))"
                f".scaleb({-scale}, {ctx})",
                "pos = end",
            )
        elif kind == "long-timestamp-millis":
            self.long(target, indent)
            self.emit(indent, f"{target} = EPOCH + timedelta(0, 0, 0, {target})")
        elif kind == "int-date":
            self.long(target, indent)
            self.emit(indent, f"{target} = fromordinal({target} + DAYS_SHIFT)")
        else:
            raise NotImplementedError(f"Avro logical type {kind}")

    def record(self, schema: dict[str, Any], target: str, indent: str) -> None:
        name = schema["name"]
        if name in self.open:
            raise NotImplementedError(f"a recursive record ({name})")
        self.open.append(name)
        fields = []
        for field in schema["fields"]:
            local = self.fresh("f")
            self.value(field["type"], local, indent)
            fields.append(f"{field['name']!r}: {local}")
        self.open.pop()
        self.emit(indent, f"{target} = {{{', '.join(fields)}}}")

    def repeated(self, kind: str, schema: dict[str, Any], target: str, indent: str) -> None:
        """An array or map: blocks of items until a zero count. Each item must take a byte
        at least, so that a huge count ends at the buffer's end, as an error."""
        items = schema["items" if kind == "array" else "values"]
        if kind == "array" and self.may_be_empty(items):
            raise NotImplementedError(f"an array of {items!r}: items may take no bytes")
        count, item, key = self.fresh("count"), self.fresh("item"), self.fresh("key")
        self.emit(
            indent,
            f"{target} = {'[]' if kind == 'array' else '{}'}",
            "while True:",
            f"    {count}, pos = _count(data, pos)",
            f"    if {count} == 0:",
            "        break",
            f"    for _ in range({count}):",
        )
        inner = indent + "        "
        if kind == "map":
            self.primitive("string", key, inner)
        self.value(items, item, inner)
        if kind == "array":
            self.emit(inner, f"{target}.append({item})")
        else:
            self.emit(inner, f"{target}[{key}] = {item}")

    def may_be_empty(self, schema: Any) -> bool:
        """Whether a value of ``schema`` may be encoded in no bytes."""
        if isinstance(schema, list):
            return False  # the branch index takes a byte
        schema = self.resolve(schema)
        if isinstance(schema, str):
            return schema == "null"
        kind = schema["type"]
        if kind in ("record", "error"):
            if schema["name"] in self.open:
                return True  # recursive: refused later anyway
            self.open.append(schema["name"])
            empty = all(self.may_be_empty(field["type"]) for field in schema["fields"])
            self.open.pop()
            return empty
        if kind == "fixed":
            return int(schema["size"]) == 0
        return bool(kind == "null")

    def union(self, branches: list[Any], target: str, indent: str) -> None:
        """The branch index (a Python list index, as fastavro's: -1 is the last), then
        the branch. A record (or named reference) in a union of several is given as
        ``(name, value)``, as fastavro's ``return_record_name`` does."""
        records = sum(1 for branch in branches if self.record_like(branch))
        index = self.fresh("u")
        if branches == ["null", "string"]:  # the common optional text: inline first byte
            self.emit(
                indent,
                "byte = data[pos]",
                "if byte == 0:",
                f"    {target} = None",
                "    pos += 1",
                "elif byte == 2:",
                "    pos += 1",
            )
            self.primitive("string", target, indent + "    ")
            self.emit(indent, "else:")
            indent += "    "
        self.long(index, indent)
        self.emit(indent, f"if {index} < 0:", f"    {index} += {len(branches)}")
        for position, branch in enumerate(branches):
            self.emit(indent, f"{'if' if position == 0 else 'elif'} {index} == {position}:")
            self.value(branch, target, indent + "    ")
            if records > 1 and self.record_like(branch):
                name = self.resolve(branch)["name"]
                self.emit(indent, f"    {target} = ({name!r}, {target})")
        self.emit(
            indent,
            "else:",
            f"    raise IndexError(f'union branch {{{index}}} of {len(branches)}')",
        )

    def record_like(self, branch: Any) -> bool:
        """What fastavro counts as a record in a union: a record, or any named reference."""
        if isinstance(branch, str):
            return branch not in _AVRO_TYPES
        return isinstance(branch, dict) and bool(branch["type"] == "record")
