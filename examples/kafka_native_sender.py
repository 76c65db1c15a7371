#!/usr/bin/env python3
"""Send national XML documents straight into ``kp.inbound``, as a customs system with Kafka
access does instead of the HTTP API, and wait for each one's verdict on ``kp.status``.

A runnable example for national customs IT teams (docs/kafka-native-senders.md). It needs
nothing from the gateway: only aiokafka and, for ``--wait``, fastavro and the published,
self-contained Avro schema files (``schemas/avro/released/<Name>/vN.avsc``, or the files
``kpgw schemas export DIR`` writes)::

    pip install aiokafka fastavro
    python examples/kafka_native_sender.py --sender RU FILE... [--bootstrap 127.0.0.1:9092] \\
        [--topic-prefix kp.] [--format ru_fts] [--compression gzip] \\
        [--wait --schemas DIR [--timeout SECONDS] [--settle SECONDS]]

What it shows:

- The record: the document's bytes unchanged as the value (never compressed by hand: the
  producer's ``compression.type`` does that, and every consumer undoes it), the key
  ``<sender>:<message id>``, and the headers ``kpgw-sender`` (required: the participant
  code, which must be the document's issuer for a certificate or a cancellation, its
  confirming participant for a confirmation), ``kpgw-tracking-id`` (the id its status is
  kept under on ``kp.status``), ``content-type`` and, with ``--format``, ``kpgw-format``.
  Each header once, UTF-8. The record's timestamp is the reception time the date rules
  use (``kpgw-received-at`` would override it).
- Idempotence: the tracking id (and the message id in the key) is derived from the sender
  and the document's SHA-256, so sending a file again is the same message; the gateway
  makes one event of the same bytes from the same sender in any case. ``acks=all`` and the
  idempotent producer keep the broker from losing or doubling a record.
- The verdict: ``kp.status`` is keyed by tracking id, compacted, Avro single-object encoded
  (``C3 01``, the CRC-64-AVRO fingerprint of the writer schema, the body). A record whose
  headers the gateway cannot use (``INVALID_INBOUND_HEADER``) has its status under its
  coordinates ``<topic>/<partition>/<offset>``, which the produce acknowledgement gives:
  the example looks under both. Only statuses written since the send are read (Kafka's
  time index), so it stays quick on a topic of months.

stdout: one JSON object per file: ``file``, ``tracking_id``, ``key``, ``partition``,
``offset``, ``coordinates``; with ``--wait`` also ``status`` (the last one seen: TRANSLATED
or DEAD_LETTERED from the translator, then ANNOUNCED, MATCHED, ... from the router within
``--settle`` seconds), ``reason``, ``detail`` (the findings, with line and path) and
``certificate_id``. stderr: diagnostics. Exit status: 0 every document was translated (or
sent, without ``--wait``), 1 one was dead-lettered, 2 usage or environment error (no such
file, no broker, no schemas), or ``--timeout`` passed before a verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import struct
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

EXIT_OK, EXIT_DEAD_LETTERED, EXIT_USAGE = 0, 1, 2
MAGIC = b"\xc3\x01"
#: Any fixed namespace: the same sender and bytes always give the same tracking id.
TRACKING_NAMESPACE = uuid.UUID("5b0c3f8e-2a71-4d8e-9c43-8f5e6a0d1b27")


class Unusable(Exception):
    """The environment, not a document: no schemas, no topic."""


@dataclass
class Sent:
    file: str
    tracking_id: str
    key: str
    partition: int
    offset: int
    coordinates: str
    status: dict[str, Any] | None = None

    def line(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "file": self.file,
            "tracking_id": self.tracking_id,
            "key": self.key,
            "partition": self.partition,
            "offset": self.offset,
            "coordinates": self.coordinates,
        }
        if self.status is not None:
            for field in ("status", "reason", "detail", "certificate_id"):
                line[field] = self.status.get(field)
        return line


def tracking_id_for(sender: str, document: bytes) -> str:
    return str(uuid.uuid5(TRACKING_NAMESPACE, f"{sender}:{hashlib.sha256(document).hexdigest()}"))


def record_headers(
    sender: str, tracking_id: str, format_hint: str | None
) -> list[tuple[str, bytes]]:
    headers = [
        ("kpgw-sender", sender.encode("utf-8")),
        ("kpgw-tracking-id", tracking_id.encode("utf-8")),
        ("content-type", b"application/xml"),
    ]
    if format_hint:
        headers.append(("kpgw-format", format_hint.encode("utf-8")))
    return headers


async def send(args: argparse.Namespace, files: list[Path]) -> list[Sent]:
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type=args.compression,
        max_request_size=3 * 1024 * 1024,  # documents up to the gateway's 2 MiB
    )
    await producer.start()
    topic = f"{args.topic_prefix}inbound"
    sent: list[Sent] = []
    try:
        for path in files:
            document = path.read_bytes()
            tracking_id = tracking_id_for(args.sender, document)
            key = f"{args.sender}:{tracking_id}"
            metadata = await producer.send_and_wait(
                topic,
                document,
                key=key.encode("utf-8"),
                headers=record_headers(args.sender, tracking_id, args.format),
            )
            coordinates = f"{topic}/{metadata.partition}/{metadata.offset}"
            sent.append(
                Sent(str(path), tracking_id, key, metadata.partition, metadata.offset, coordinates)
            )
    finally:
        await producer.stop()
    return sent


# --- reading kp.status ----------------------------------------------------------------------

_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _crc64_table()


def fingerprint(parsed_schema: Any) -> bytes:
    """CRC-64-AVRO of the schema's Parsing Canonical Form, little-endian (the Avro
    specification's "Schema Fingerprints")."""
    from fastavro.schema import to_parsing_canonical_form

    fp = _EMPTY
    for byte in to_parsing_canonical_form(parsed_schema).encode("utf-8"):
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return struct.pack("<Q", fp)


def status_schemas(directory: Path) -> dict[bytes, Any]:
    """Every released DeliveryStatus version under ``directory``, by fingerprint."""
    import fastavro

    schemas = {}
    for path in sorted(directory.rglob("*.avsc")):
        raw = json.loads(path.read_text("utf-8"))
        if isinstance(raw, dict) and raw.get("name", "").endswith("DeliveryStatus"):
            parsed = fastavro.parse_schema(raw, named_schemas={})
            schemas[fingerprint(parsed)] = parsed
    return schemas


def decode_status(value: bytes | None, schemas: dict[bytes, Any]) -> dict[str, Any] | None:
    import fastavro

    if value is None or value[:2] != MAGIC or value[2:10] not in schemas:
        return None  # not a status this example knows (a newer schema: export it again)
    writer = schemas[value[2:10]]
    record = fastavro.schemaless_reader(io.BytesIO(value[10:]), writer, writer)
    return record if isinstance(record, dict) else None


async def wait(args: argparse.Namespace, sent: list[Sent], since_ms: int) -> bool:
    """Follow kp.status until each message has the translator's verdict, then ``--settle``
    seconds more for the router's; False when ``--timeout`` passed first."""
    schemas = status_schemas(args.schemas)
    if not schemas:
        raise Unusable(f"no DeliveryStatus schema under {args.schemas}")
    by_key = {m.tracking_id: m for m in sent} | {m.coordinates: m for m in sent}
    topic = f"{args.topic_prefix}status"
    check = AIOKafkaConsumer(bootstrap_servers=args.bootstrap)
    await check.start()
    try:
        if topic not in await check.topics():
            raise Unusable(f"no topic {topic} (is --topic-prefix right?)")
    finally:
        await check.stop()
    # No group: the consumer is given every partition of the topic and commits nothing.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=args.bootstrap,
        isolation_level="read_committed",  # the gateway writes in transactions
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await consumer.start()
    deadline = time.monotonic() + args.timeout
    try:
        while not consumer.assignment() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        partitions = sorted(consumer.assignment())
        # The ends first: a status written after them is read whatever the time index said
        # (seek_to_end would take the end when the first fetch happens, maybe after it).
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
        for tp in partitions:
            start = starts.get(tp)
            consumer.seek(tp, ends[tp] if start is None else min(start.offset, ends[tp]))
        settle_until: float | None = None
        while time.monotonic() < (settle_until or deadline):
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    message = by_key.get((record.key or b"").decode("utf-8", "replace"))
                    status = decode_status(record.value, schemas)
                    if message is not None and status is not None:
                        message.status = status
            if settle_until is None and all(
                m.status is not None and m.status["status"] != "ACCEPTED" for m in sent
            ):
                settle_until = time.monotonic() + args.settle
        return all(m.status is not None for m in sent)
    finally:
        await consumer.stop()


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--sender", required=True, help="your participant code (kpgw-sender)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic-prefix", default="kp.")
    parser.add_argument("--format", help="adapter name (kpgw-format): skips detection")
    parser.add_argument("--compression", choices=["gzip", "snappy", "lz4", "zstd"])
    parser.add_argument("--wait", action="store_true", help="follow kp.status for each verdict")
    parser.add_argument("--schemas", type=Path, help="the released Avro schemas (for --wait)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.wait and args.schemas is None:
        parser.error("--wait needs --schemas DIR")
    return args


async def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    since_ms = int(time.time() * 1000) - 60_000  # the broker's clock may be a little behind
    try:
        sent = await send(args, args.files)
        complete = await wait(args, sent, since_ms) if args.wait else True
    except KafkaError as exc:
        print(f"Kafka: {exc!r}", file=sys.stderr)
        return EXIT_USAGE
    except Unusable as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    for message in sent:
        print(json.dumps(message.line(), ensure_ascii=False), flush=True)
    if not complete:
        print(f"no verdict within {args.timeout:g} s", file=sys.stderr)
        return EXIT_USAGE
    dead = any(m.status is not None and m.status["status"] == "DEAD_LETTERED" for m in sent)
    return EXIT_DEAD_LETTERED if dead else EXIT_OK


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
