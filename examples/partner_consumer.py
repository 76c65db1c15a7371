#!/usr/bin/env python3
"""Read a participant's kpgw notifications (``kp.partner.<P>``) and print them as JSON lines.

A runnable example for importing and exporting authorities (docs/partners.md). It needs
nothing from the gateway: only aiokafka, fastavro and the published, self-contained Avro
schema files (``schemas/avro/released/<Name>/vN.avsc``, or the files ``kpgw schemas export
DIR`` writes)::

    pip install aiokafka fastavro
    python examples/partner_consumer.py SCHEMA_DIR --participant EU \\
        [--bootstrap 127.0.0.1:9092] [--topic-prefix kp.] [--group kp.partner.EU.my-app] \\
        [--from-beginning] [--max N] [--idle-timeout SECONDS] [--text]

What it shows:

- Avro single-object encoding: ``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint
  of the writer schema's Parsing Canonical Form, then the Avro body. The fingerprints are
  computed here from the schema files; the writer schema is looked up by fingerprint.
- ``read_committed``: the gateway writes in Kafka transactions; records of aborted
  transactions must stay invisible.
- At-least-once processing: offsets are committed only after the notifications were handled
  (printed), so a crash re-delivers them; ``notification_id`` makes handling idempotent
  (this example remembers ids in memory; a real consumer keeps them with its data).

stdout: one JSON object per notification, with ``topic``, ``partition``, ``offset``,
``key``, ``timestamp``, ``schema``, ``fingerprint`` and ``notification`` (the decoded record:
decimals as strings with their exact scale, timestamps ISO-8601 UTC, dates ISO-8601, a union
branch that is a record as ``{"<full record name>": {...}}``, as in Avro's JSON encoding);
with ``--text``, one line for people instead (``describe``: the certificate, the route, the
parties, parcels, carats and dollars, dates, the due time, the outcome and its differences).
stderr: diagnostics. Exit status: 0 done, 1 a record could not be decoded (reported on stderr;
the consumer stops before it and does not commit it, so the next run with the newer schema
files resumes there), 2 usage or environment error (no schemas, no broker, no such topic).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import ssl
import struct
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import fastavro
from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from fastavro.schema import to_parsing_canonical_form

MAGIC = b"\xc3\x01"
EXIT_OK, EXIT_UNDECODABLE, EXIT_USAGE = 0, 1, 2
PASSWORD_ENV = "KPGW_PARTNER_SASL_PASSWORD"  # noqa: S105 - a variable name, not a secret

# --- CRC-64-AVRO (the Avro specification's "Schema Fingerprints" reference code) ---------

_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(parsed_schema: Any) -> bytes:
    """The 8 bytes that follow ``C3 01``: CRC-64-AVRO of the Parsing Canonical Form, LE."""
    canonical = to_parsing_canonical_form(parsed_schema)
    return struct.pack("<Q", crc64_avro(canonical.encode("utf-8")))


# --- schemas ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriterSchema:
    name: str  # full record name, e.g. kpgw.events.PartnerNotification
    path: Path
    parsed: Any  # fastavro's parsed schema
    fingerprint: bytes


def load_schemas(directory: Path) -> tuple[dict[bytes, WriterSchema], list[Path]]:
    """Every self-contained ``.avsc`` under ``directory`` (recursively), by fingerprint; and
    the files skipped (not JSON, or naming types they do not define)."""
    schemas: dict[bytes, WriterSchema] = {}
    skipped: list[Path] = []
    for path in sorted(directory.rglob("*.avsc")):
        try:
            raw = json.loads(path.read_text("utf-8"))
            parsed = fastavro.parse_schema(raw, named_schemas={})
        except Exception:  # noqa: BLE001 - any unusable file is reported and skipped
            skipped.append(path)
            continue
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            skipped.append(path)
            continue
        found = WriterSchema(str(parsed["name"]), path, parsed, fingerprint(parsed))
        schemas.setdefault(found.fingerprint, found)  # the same schema twice: one is enough
    return schemas, skipped


class UndecodableRecord(Exception):
    pass


def decode(value: bytes | None, schemas: Mapping[bytes, WriterSchema]) -> tuple[WriterSchema, Any]:
    """Decode one single-object encoded value with its writer schema, found by fingerprint."""
    if value is None:
        raise UndecodableRecord("the record has no value")
    if len(value) < 10 or value[:2] != MAGIC:
        raise UndecodableRecord("not Avro single-object encoded (no C3 01 marker)")
    writer = schemas.get(value[2:10])
    if writer is None:
        raise UndecodableRecord(
            f"unknown writer schema fingerprint {value[2:10].hex()}: "
            "get the gateway's newer .avsc files"
        )
    try:
        record = fastavro.schemaless_reader(
            io.BytesIO(value[10:]),
            writer.parsed,
            None,
            return_record_name=True,  # a union of records says which branch it holds
            return_record_name_override=True,  # ... but ["null", Record] gives the record
        )
    except Exception as exc:  # fastavro raises many kinds on a corrupt body
        raise UndecodableRecord(f"corrupt Avro body for {writer.name}: {exc!r}") from exc
    return writer, record


def jsonable(value: Any) -> Any:
    """Decoded Avro -> JSON-ready: decimals exact as strings, times ISO-8601 UTC."""
    if isinstance(value, Decimal):
        return format(value, "f")  # keeps the schema's scale: 1520.350, 147474.00
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).isoformat(timespec="milliseconds")
        return moment.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return {value[0]: jsonable(value[1])}  # (record name, record): a union branch
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


# --- one line for people (--text) -------------------------------------------------------


def _branch(payload: Any) -> tuple[str, dict[str, Any]]:
    """The payload union's record name (short) and fields: fastavro gives ``(name, record)``
    with ``return_record_name``; ``event.event_type`` says the same."""
    if isinstance(payload, tuple):
        name, fields = payload
        return str(name).rsplit(".", 1)[-1], dict(fields)
    return "", dict(payload or {})


def _participant(code: Any, member_state: Any) -> str:
    return f"{code}/{member_state}" if member_state else str(code)


def _goods(fields: Mapping[str, Any]) -> str:
    """Parcels, carats and US dollars: the totals, else the lines (a confirmation may give
    lines only); decimals exactly as written."""
    parts = [] if fields.get("parcels") is None else [f"{fields['parcels']} parcel(s)"]
    if fields.get("total_carats") is not None:
        parts.append(f"{jsonable(fields['total_carats'])} ct")
    if fields.get("total_value_usd") is not None:
        parts.append(f"USD {jsonable(fields['total_value_usd'])}")
    if fields.get("total_carats") is None:
        parts += [
            f"{line['hs_code']} {jsonable(line['carats'])} ct"
            + ("" if line.get("value_usd") is None else f" USD {jsonable(line['value_usd'])}")
            for line in fields.get("lines") or ()
        ]
    return ", ".join(parts)


#: What a difference's two values are, by the outcome that found it (docs/partners.md,
#: "Reading differences"): the columns are named certificate and confirmation, but a
#: duplicate compares two confirmations, a re-issue two certificates, a void its date.
DIFFERENCE_LABELS: dict[str, tuple[str, str | None]] = {
    "CONFLICTING_REISSUE": ("original certificate", "re-issued certificate"),
    "DUPLICATE_CONFIRMATION": ("first confirmation", "later confirmation"),
    "CONFIRMED_AFTER_EXPIRY": ("certificate valid until", "received"),
    "CONFIRMED_AFTER_VOID": ("voided on", "received"),
    "VOIDED_AFTER_RECEIPT": ("voided on", "received"),
    "VALUE_PER_CARAT_OUT_OF_BAND": ("certificate", None),
}


def _difference(kind: str, difference: Mapping[str, Any]) -> str:
    """One difference, each value named by what it is; a value a document does not give is
    said so."""
    first, second = DIFFERENCE_LABELS.get(kind, ("certificate", "confirmation"))
    if kind == "WRONG_DESTINATION" and difference["field"] == "confirming_participant":
        first, second = "certificate's importer", "confirmed by"
    labelled = [(first, difference["certificate"])]
    if second is not None:
        labelled.append((second, difference["confirmation"]))
    values = [
        f"not on the {label}" if value is None else f"{label} {value}" for label, value in labelled
    ]
    return f"{difference['field']}: {', '.join(values)}"


def describe(notification: Mapping[str, Any]) -> str:
    """What a customs officer reads first: the certificate, who, what, when, and what the
    gateway decided. Dates are the documents' own calendar days; times are UTC."""
    kind = notification.get("notification_type")
    certificate = notification.get("certificate_id")
    head = f"{certificate} {kind}"
    event = notification.get("event") or {}
    name, fields = _branch(event.get("payload"))
    if kind == "SHIPMENT_ANNOUNCED" and name == "CertificateIssued":
        exporter, importer = fields["exporter"], fields["importer"]
        source = _participant(fields["exporting_participant"], fields["exporting_member_state"])
        target = _participant(fields["importing_participant"], fields["importing_member_state"])
        due = notification.get("confirmation_due")
        if due is not None:
            awaited = f"confirm receipt by {jsonable(due)}"
        elif "confirmation_due" in notification:
            awaited = "no confirmation awaited"
        else:  # written with PartnerNotification v1, before the field existed
            awaited = "due time not in this record"
        return (
            f"{head}: {source} -> {target}; "
            f"exporter {exporter['name']!r}, importer {importer['name']!r}; "
            f"{_goods(fields)}; origin {fields['origin']}; "
            f"issued {jsonable(fields['issue_date'])}, "
            f"valid to {jsonable(fields['expiry_date'])}; "
            f"{awaited}"
        )
    if kind == "CERTIFICATE_VOIDED" and name == "CertificateVoided":
        return (
            f"{head}: voided on {jsonable(fields['voided_on'])} by "
            f"{fields['voiding_participant']}: {fields['reason']}; do not release goods under it"
        )
    if kind == "IMPORT_CONFIRMED" and name == "ImportConfirmed":
        confirming = _participant(
            fields["confirming_participant"], fields.get("confirming_member_state")
        )
        return (
            f"{head}: {confirming} received it on {jsonable(fields['date_of_receipt'])}; "
            f"{_goods(fields)}; wait for the OUTCOME"
        )
    outcome = notification.get("outcome")
    if kind == "OUTCOME" and outcome:
        pair = outcome["pair"]
        text = f"{head} {outcome['outcome']} ({pair['exporter']} -> {pair['importer']})"
        differences = "; ".join(
            _difference(str(outcome["outcome"]), d) for d in outcome.get("differences") or ()
        )
        details = [part for part in (differences, outcome.get("detail")) if part]
        return text + (f": {' | '.join(details)}" if details else "")
    return f"{head}: a notification this program does not know; update the schema files"


# --- Kafka --------------------------------------------------------------------------------


class RewindOnce(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka has no types
    """--from-beginning: the first time a partition is assigned, read it from its start
    (whatever the group committed); later rebalances keep the committed positions."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.rewound: set[Any] = set()

    async def on_partitions_revoked(self, revoked: Sequence[Any]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Sequence[Any]) -> None:
        fresh = [tp for tp in assigned if tp not in self.rewound]
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)
            self.rewound.update(fresh)


def connection_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = ssl.create_default_context(cafile=args.ssl_cafile)
    if args.security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = args.sasl_mechanism
        options["sasl_plain_username"] = args.sasl_username
        options["sasl_plain_password"] = os.environ.get(PASSWORD_ENV, "")
    return options


@dataclass(slots=True)
class Progress:
    printed: int = 0
    duplicates: int = 0
    undecodable: int = 0


def output_line(record: Any, writer: WriterSchema, notification: Any) -> str:
    line = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": None if record.key is None else record.key.decode("utf-8", "replace"),
        "timestamp": jsonable(datetime.fromtimestamp(record.timestamp / 1000, UTC)),
        "schema": writer.name,
        "fingerprint": writer.fingerprint.hex(),
        "notification": jsonable(notification),
    }
    return json.dumps(line, ensure_ascii=False)


def handle(
    record: Any,
    schemas: Mapping[bytes, WriterSchema],
    seen: set[str],
    progress: Progress,
    text: bool = False,
) -> bool:
    """Print one notification once (a JSON line, or with ``text`` a line for people): a
    redelivered notification_id is skipped. False when the record cannot be decoded: it is
    not handled, so its offset must not be committed."""
    try:
        writer, notification = decode(record.value, schemas)
    except UndecodableRecord as exc:
        progress.undecodable += 1
        where = f"{record.topic}/{record.partition}/{record.offset}"
        print(
            f"partner_consumer: stopped at {where}: {exc}. Fetch the newer schema files and "
            "run again: the group resumes at this record (nothing after it was committed).",
            file=sys.stderr,
        )
        return False
    notification_id = (
        notification.get("notification_id") if isinstance(notification, dict) else None
    )
    if notification_id is not None and notification_id in seen:
        progress.duplicates += 1
        return True
    line = describe(notification) if text else output_line(record, writer, notification)
    print(line, flush=True)
    if notification_id is not None:
        seen.add(str(notification_id))
    progress.printed += 1
    return True


async def consume(args: argparse.Namespace, schemas: Mapping[bytes, WriterSchema]) -> int:
    topic = f"{args.topic_prefix}partner.{args.participant}"
    group = args.group or f"{args.topic_prefix}partner.{args.participant}.example-consumer"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=group,
        client_id=f"{group}-{os.getpid()}",
        isolation_level="read_committed",  # the gateway writes in transactions
        enable_auto_commit=False,  # commit after handling: at least once
        auto_offset_reset="earliest",  # a new group reads everything still retained
        **connection_options(args),
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()  # what start() opened before it failed
        print(
            f"partner_consumer: cannot connect to {args.bootstrap} (no broker there, or "
            f"--security-protocol does not match its listener): {exc!r}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    progress = Progress()
    try:
        if topic not in await consumer.topics():  # checked first: never auto-create it
            print(
                f"partner_consumer: topic {topic} does not exist (or your principal has no "
                "Describe right on it)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if args.from_beginning:
            consumer.subscribe([topic], listener=RewindOnce(consumer))
        else:
            consumer.subscribe([topic])
        print(f"partner_consumer: reading {topic} as group {group}", file=sys.stderr)
        await read(consumer, args, schemas, progress, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await consumer.stop()
    print(
        f"partner_consumer: {progress.printed} notifications, {progress.duplicates} duplicates "
        f"skipped, {progress.undecodable} undecodable",
        file=sys.stderr,
    )
    return EXIT_UNDECODABLE if progress.undecodable else EXIT_OK


async def read(
    consumer: Any,
    args: argparse.Namespace,
    schemas: Mapping[bytes, WriterSchema],
    progress: Progress,
    stop: asyncio.Event,
) -> None:
    seen: set[str] = set()
    assigned = False
    last_activity = time.monotonic()
    while not stop.is_set():
        if args.max is not None and progress.printed >= args.max:
            return
        if args.idle_timeout is not None and time.monotonic() - last_activity > args.idle_timeout:
            return
        batches = await consumer.getmany(timeout_ms=200, max_records=100)
        if not assigned and consumer.assignment():
            assigned, last_activity = True, time.monotonic()  # joining the group is not idling
        handled: dict[Any, int] = {}
        undecodable = False
        for tp, records in batches.items():
            for record in records:
                if args.max is not None and progress.printed >= args.max:
                    break
                if not handle(record, schemas, seen, progress, args.text):
                    # Never skip a notification: stop before it, so a run with the newer
                    # schema files resumes here, in the certificate's order.
                    undecodable = True
                    break
                handled[tp] = record.offset + 1
                last_activity = time.monotonic()
            if undecodable:
                break
        if handled:
            await consumer.commit(handled)  # only what was handled (--max may stop mid-batch)
        if undecodable:
            return


# --- command line -------------------------------------------------------------------------


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Print a participant's kpgw notifications (kp.partner.<P>) as JSON lines."
    )
    parser.add_argument(
        "schemas",
        type=Path,
        help="directory of self-contained .avsc files (searched recursively)",
    )
    parser.add_argument("--participant", required=True, help="your KP participant code, e.g. EU")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KPGW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument("--topic-prefix", default="kp.", help="the gateway's topic prefix")
    parser.add_argument(
        "--group", help="consumer group (default <prefix>partner.<P>.example-consumer)"
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="re-read every retained notification, whatever the group committed",
    )
    parser.add_argument("--max", type=int, help="stop after N notifications")
    parser.add_argument(
        "--idle-timeout", type=float, help="stop after S seconds without a new record"
    )
    parser.add_argument(
        "--security-protocol",
        default="PLAINTEXT",
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
    )
    parser.add_argument(
        "--sasl-mechanism",
        default="SCRAM-SHA-512",
        choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
    )
    parser.add_argument(
        "--sasl-username", help=f"SASL user; the password is read from ${PASSWORD_ENV}"
    )
    parser.add_argument("--ssl-cafile", help="CA bundle that signed the broker's certificate")
    parser.add_argument(
        "--text",
        action="store_true",
        help="one line for people per notification instead of JSON",
    )
    args = parser.parse_args(argv)
    if not args.participant.isalnum():
        parser.error("--participant is a participant code such as EU or RU")
    if args.max is not None and args.max < 1:
        parser.error("--max must be at least 1")
    # Refused here rather than by the broker, whose refusal reads like "no broker".
    if args.security_protocol.startswith("SASL_"):
        if not args.sasl_username:
            parser.error(f"--security-protocol {args.security_protocol} needs --sasl-username")
        if not os.environ.get(PASSWORD_ENV, "").strip():
            parser.error(f"--security-protocol {args.security_protocol} needs ${PASSWORD_ENV}")
    elif args.sasl_username:
        parser.error("--sasl-username needs --security-protocol SASL_SSL or SASL_PLAINTEXT")
    if args.ssl_cafile and args.security_protocol not in {"SSL", "SASL_SSL"}:
        parser.error("--ssl-cafile needs --security-protocol SSL or SASL_SSL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    if not args.schemas.is_dir():
        print(f"partner_consumer: {args.schemas} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    schemas, skipped = load_schemas(args.schemas)
    names = sorted({s.name for s in schemas.values()})
    print(
        f"partner_consumer: {len(schemas)} writer schemas ({', '.join(names)}); "
        f"{len(skipped)} files skipped (not self-contained)",
        file=sys.stderr,
    )
    if not schemas:
        return EXIT_USAGE
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(consume(args, schemas))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
