"""Avro single-object encoding for every record the gateway writes to Kafka.

Wire format (Avro specification, "Single object encoding"): the two bytes ``C3 01``, the
8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing canonical form,
then the Avro binary body. A partner in any language decodes it with the published
``.avsc`` files alone. Schemas are parsed once per process; decoding finds the writer
schema by fingerprint among the current and every released version, then resolves it to
the reader schema the caller asks for. A record written with the current schema of its
name and read as such is read by the compiled reader (``gateway.avro_reader``, about twice
as fast), any other with fastavro.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastavro
import fastavro.read
from fastavro.schema import load_schema, to_parsing_canonical_form

from gateway.avro_reader import Read, compile_reader, decimal_bytes_limit, decimal_too_long
from gateway.avro_writer import Encoded, Write, compile_writer
from gateway.errors import UndecodableEvent
from gateway.resources import avro_dir

__all__ = ["MAGIC", "Encoded", "decode", "decode_with_body", "encode", "encode_body", "registry"]

_FASTAVRO_DECIMAL = fastavro.read.LOGICAL_READERS["bytes-decimal"]


def _bounded_decimal(data: bytes, writer_schema: Any = None, reader_schema: Any = None) -> Any:
    """fastavro's decimal reader behind the compiled reader's bound (``decimal_bytes_limit``):
    both readers refuse a decimal too long, quickly, where both took over a minute for a
    megabyte of one."""
    precision = int(writer_schema["precision"])
    if len(data) > decimal_bytes_limit(precision):
        raise decimal_too_long(len(data), precision)
    return _FASTAVRO_DECIMAL(data, writer_schema, reader_schema)


# fastavro's documented hook for logical types; nothing else in the process reads decimals
# from outside (kp.events is the only Avro read from a topic).
fastavro.read.LOGICAL_READERS["bytes-decimal"] = _bounded_decimal

MAGIC = b"\xc3\x01"
NAMESPACE = "kpgw.events"
#: The top-level records written to topics; other .avsc files are their named parts.
TOP_LEVEL = (
    "CertificateEvent",
    "Outcome",
    "PartnerNotification",
    "DeliveryStatus",
    "DlqAudit",
    "RouterState",
)

_EMPTY = 0xC15D213AA4D7A795
_CRC64_TABLE: list[int] = []


def _crc64_table() -> list[int]:
    if not _CRC64_TABLE:
        for i in range(256):
            fp = i
            for _ in range(8):
                fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
            _CRC64_TABLE.append(fp)
    return _CRC64_TABLE


def crc64_avro(data: bytes) -> int:
    """The Rabin CRC-64 the Avro specification names CRC-64-AVRO."""
    table = _crc64_table()
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(schema: Any) -> bytes:
    """Little-endian 8-byte fingerprint of a parsed schema's canonical form."""
    canonical = to_parsing_canonical_form(schema)
    return struct.pack("<Q", crc64_avro(canonical.encode()))


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    name: str
    version: str  # "current" or the released version label, e.g. "1"
    schema: Any  # fastavro parsed schema
    fingerprint: bytes


def _load(path: Path) -> Any:
    return fastavro.parse_schema(load_schema(str(path), _write_hint=False))


def released_paths(name: str, root: Path | None = None) -> list[Path]:
    """Released versions of one top-level schema, oldest first."""
    folder = (root or avro_dir()) / "released" / name
    if not folder.is_dir():
        return []
    return sorted(folder.glob("v*.avsc"), key=lambda p: int(p.stem[1:]))


def expanded_schema(name: str, root: Path | None = None) -> dict[str, Any]:
    """The current schema of ``name`` with every named type inlined (a self-contained .avsc)."""
    path = (root or avro_dir()) / f"{NAMESPACE}.{name}.avsc"
    return cast(dict[str, Any], load_schema(str(path), _write_hint=False))


class SchemaRegistry:
    """Every known writer schema, indexed by fingerprint; built once per process."""

    def __init__(self, root: Path | None = None, names: tuple[str, ...] = TOP_LEVEL) -> None:
        root = root or avro_dir()
        self._current: dict[str, SchemaVersion] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for name in names:
            path = root / f"{NAMESPACE}.{name}.avsc"
            if not path.exists():
                continue
            schema = _load(path)
            current = SchemaVersion(name, "current", schema, fingerprint(schema))
            self._current[name] = current
            self._by_fingerprint[current.fingerprint] = current
            for released in released_paths(name, root):
                rschema = fastavro.parse_schema(json.loads(released.read_text("utf-8")))
                version = SchemaVersion(name, released.stem[1:], rschema, fingerprint(rschema))
                self._by_fingerprint.setdefault(version.fingerprint, version)

    def current(self, name: str) -> SchemaVersion:
        try:
            return self._current[name]
        except KeyError:
            raise KeyError(f"no Avro schema named {name!r} in {avro_dir()}") from None

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(fp)

    def names(self) -> list[str]:
        return list(self._current)


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry()


@cache
def _writer(name: str) -> Write:
    return compile_writer(registry().current(name).schema)


@cache
def _reader(name: str) -> Read | None:
    """The compiled reader of ``name``'s current schema, or None (read with fastavro)."""
    try:
        return compile_reader(registry().current(name).schema)
    except NotImplementedError:
        return None


def encode(name: str, record: Mapping[str, Any] | Encoded) -> bytes:
    """Single-object encode ``record`` with the current schema of ``name``: fastavro's
    bytes, written by the compiled writer (``gateway.avro_writer``), which copies an
    :class:`Encoded` value as is where its named type goes."""
    out = bytearray(MAGIC)
    out += registry().current(name).fingerprint
    _writer(name)(out, record)
    return bytes(out)


@cache
def _released_writer(name: str, version: str) -> tuple[bytes, Write]:
    path = avro_dir() / "released" / name / f"v{version}.avsc"
    schema = fastavro.parse_schema(json.loads(path.read_text("utf-8")))
    return fingerprint(schema), compile_writer(schema)


def encode_released(name: str, version: str, record: Mapping[str, Any]) -> bytes:
    """Single-object encode ``record`` with released version ``version`` of ``name``
    (fields it does not have are left out): for a record the older schema can say whole,
    so that a gateway of that version, not yet upgraded, still reads it."""
    fp, write = _released_writer(name, version)
    out = bytearray(MAGIC)
    out += fp
    write(out, record)
    return bytes(out)


def encode_body(name: str, record: Mapping[str, Any]) -> Encoded:
    """``record`` encoded once with ``name``'s current schema, to be spliced later."""
    out = bytearray()
    _writer(name)(out, record)
    return Encoded(registry().current(name).schema["name"], bytes(out))


def writer_of(data: bytes) -> SchemaVersion:
    """The writer schema of a single-object encoded record, or UndecodableEvent."""
    if len(data) < 10 or data[:2] != MAGIC:
        raise UndecodableEvent("not Avro single-object encoded (no C3 01 marker)")
    version = registry().by_fingerprint(data[2:10])
    if version is None:
        raise UndecodableEvent(f"unknown writer schema fingerprint {data[2:10].hex()}")
    return version


def newer_writer(value: bytes | None) -> str | None:
    """The writer fingerprint (hex) of a single-object encoded value whose schema this
    version does not know (a newer gateway wrote it), else None (a known schema, or no
    single-object marker at all: not a newer writer's, corrupt if anything)."""
    if value is None or len(value) < 10 or value[:2] != MAGIC:
        return None
    if registry().by_fingerprint(value[2:10]) is not None:
        return None
    return value[2:10].hex()


def decode(data: bytes, name: str | None = None) -> dict[str, Any]:
    """Decode with the writer schema found by fingerprint, resolved to ``name``'s current
    schema (default: the writer's own name)."""
    return _read(data, name)[0]


def _read(data: bytes, name: str | None) -> tuple[dict[str, Any], bool]:
    """The record, and whether it was written with the reader's schema and read to its end."""
    writer = writer_of(data)
    reader = registry().current(name or writer.name)
    compiled = _reader(reader.name) if writer is reader else None
    if compiled is not None:
        data = bytes(data)  # a copy only of a bytearray or a memoryview
        try:
            record, end = compiled(data, 10)
        except Exception as exc:
            raise UndecodableEvent(f"corrupt Avro body for {writer.name}: {exc!r}") from exc
        return record, end == len(data)
    stream = io.BytesIO(data)
    stream.seek(10)
    try:
        record = fastavro.schemaless_reader(
            stream,
            writer.schema,
            None if writer is reader else reader.schema,  # the same: nothing to resolve
            return_record_name=True,
            return_record_name_override=True,
        )
    except Exception as exc:
        raise UndecodableEvent(f"corrupt Avro body for {writer.name}: {exc}") from exc
    if not isinstance(record, dict):
        raise UndecodableEvent(f"{writer.name} did not decode to a record")
    return record, writer is reader and stream.tell() == len(data)


def decode_with_body(data: bytes, name: str) -> tuple[dict[str, Any], Encoded | None]:
    """:func:`decode` ``data`` as ``name``, and its body as :class:`Encoded` when it was
    written with ``name``'s current schema and the decoder read all of it (else None)."""
    record, whole = _read(data, name)
    return record, Encoded(registry().current(name).schema["name"], data[10:]) if whole else None
