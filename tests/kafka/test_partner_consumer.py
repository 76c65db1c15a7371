"""examples/partner_consumer.py, as a partner runs it: a separate process against the real
broker, with only the published .avsc files. The notifications come from the real pipeline
(translator + router in this process) or straight from gateway.codec; what the example
prints must decode equal to what the gateway wrote, decimals exact."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway import codec
from gateway.dlq.store import read_topic_to_end
from gateway.kafka.clients import admin_client, idempotent_producer
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import (
    certificate,
    confirmation,
    produce_inbound,
    read_until,
    registry_copy,
    render,
    running,
)
from tests.kafka.router.support import routing

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "partner_consumer.py"
RELEASED = ROOT / "schemas" / "avro" / "released"
SCHEMA = "kpgw.events.PartnerNotification"


def as_json(value: Any) -> Any:
    """The decoded record as the example promises to print it (written independently)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}Z"
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        name, record = value
        return {name: as_json(record)}
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value


async def run_example(
    settings: Settings, schemas: Path, participant: str, *options: str, cwd: Path
) -> tuple[int, list[Any], str]:
    """Exit status, stdout's lines (JSON-decoded unless ``--text``) and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        str(schemas),
        "--participant",
        participant,
        "--bootstrap",
        settings.kafka_bootstrap,
        "--topic-prefix",
        settings.topic_prefix,
        *options,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("KPGW_")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    lines = out.decode().splitlines()
    if "--text" in options:
        return process.returncode, lines, err.decode()
    return process.returncode, [json.loads(line) for line in lines], err.decode()


def check_equal_to_what_was_written(printed: list[dict[str, Any]], records: list[Any]) -> None:
    by_position = {(r.partition, r.offset): r for r in records}
    fingerprint = codec.registry().current("PartnerNotification").fingerprint.hex()
    for line in printed:
        record = by_position[(line["partition"], line["offset"])]
        assert line["key"] == record.key.decode()
        assert (line["schema"], line["fingerprint"]) == (SCHEMA, fingerprint)
        assert line["notification"] == as_json(codec.decode(record.value, "PartnerNotification"))
        assert line["notification"]["certificate_id"] == line["key"]


def issued(line: dict[str, Any]) -> dict[str, Any]:
    payload = line["notification"]["event"]["payload"]
    assert list(payload) == ["kpgw.events.CertificateIssued"]
    return dict(payload["kpgw.events.CertificateIssued"])


async def test_prints_every_notification_the_pipeline_wrote_decimals_exact(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    first = certificate("RU0701001", carats="1234.567", value="98765.43")
    second = certificate("RU0701002", carats="100.000", value="10000.00")
    short = replace(confirmation(second), total_carats=Decimal("99.999"))
    short = replace(short, lines=(replace(short.lines[0], carats=Decimal("99.999")),))
    documents = [
        ("RU", "c-1", render(first, "ru_fts")),
        ("RU", "c-2", render(second)),
        ("EU", "a-1", render(confirmation(first))),
        ("EU", "a-2", render(short)),
    ]
    await produce_inbound(settings, documents)
    registry = registry_copy(tmp_path)
    translator, _ = build_translator(settings, registry_path=registry)
    async with running(lambda: translator), routing(settings, registry):
        importer = await read_until(settings, "partner.EU", 4)
        exporter = await read_until(settings, "partner.RU", 4)
    assert (len(importer), len(exporter)) == (4, 4)
    exported = tmp_path / "exported"
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "schemas", "export", str(exported)
    )
    assert await cli.wait() == 0

    group = f"{settings.topic_prefix}partner.EU.test"
    code, printed, err = await run_example(
        settings, RELEASED, "EU", "--group", group, "--max", "4", cwd=tmp_path
    )
    assert code == 0, err
    assert len(printed) == 4
    check_equal_to_what_was_written(printed, importer)
    kinds = sorted(
        line["notification"]["outcome"]["outcome"]
        if line["notification"]["outcome"]
        else line["notification"]["notification_type"]
        for line in printed
    )
    assert kinds == [
        "MATCHED",
        "MATCHED_WITH_DISCREPANCIES",
        "SHIPMENT_ANNOUNCED",
        "SHIPMENT_ANNOUNCED",
    ]
    announced = {
        line["key"]: issued(line)
        for line in printed
        if line["notification"]["notification_type"] == "SHIPMENT_ANNOUNCED"
    }
    assert announced["RU0701001"]["total_carats"] == "1234.567"
    assert announced["RU0701001"]["lines"][0]["value_usd"] == "98765.43"
    assert announced["RU0701002"]["total_carats"] == "100.000"
    assert announced["RU0701002"]["total_value_usd"] == "10000.00"
    assert Decimal(announced["RU0701001"]["total_carats"]) == first.total_carats
    (discrepancy,) = [
        line["notification"]["outcome"]
        for line in printed
        if line["notification"]["outcome"]
        and line["notification"]["outcome"]["outcome"] == "MATCHED_WITH_DISCREPANCIES"
    ]
    assert {
        (d["field"], d["certificate"], d["confirmation"]) for d in discrepancy["differences"]
    } >= {("lines[7102.31].carats", "100.000", "99.999")}

    # --text: a line for people per notification, from the same records.
    code, text, err = await run_example(
        settings, RELEASED, "EU", "--group", f"{group}-text", "--max", "4", "--text", cwd=tmp_path
    )
    assert code == 0, err
    assert len(text) == 4
    (announced_first,) = [line for line in text if line.startswith("RU0701001 SHIPMENT_ANNOUNCED")]
    assert "RU -> EU" in announced_first
    assert "1234.567 ct, USD 98765.43" in announced_first
    # Null when the confirmation reached the router first (the translator's partitions
    # race): the line says what the record says.
    (json_line,) = [
        line
        for line in printed
        if (line["key"], line["notification"]["notification_type"])
        == ("RU0701001", "SHIPMENT_ANNOUNCED")
    ]
    due = json_line["notification"]["confirmation_due"]
    assert announced_first.endswith(
        f"; confirm receipt by {due}" if due else "; no confirmation awaited"
    )
    assert any(
        line.startswith("RU0701002 OUTCOME MATCHED_WITH_DISCREPANCIES (RU -> EU): ")
        and "lines[7102.31].carats: certificate 100.000, confirmation 99.999" in line
        for line in text
    )

    # The exporter, with the files `kpgw schemas export` wrote, idle-timeout instead of --max.
    code, printed, err = await run_example(
        settings, exported, "RU", "--idle-timeout", "5", cwd=tmp_path
    )
    assert code == 0, err
    assert len(printed) == 4
    check_equal_to_what_was_written(printed, exporter)
    confirmed = [
        line for line in printed if line["notification"]["notification_type"] == "IMPORT_CONFIRMED"
    ]
    assert len(confirmed) == 2
    for line in confirmed:
        payload = line["notification"]["event"]["payload"]
        assert list(payload) == ["kpgw.events.ImportConfirmed"]


async def test_commits_only_what_it_handled_and_from_beginning_rereads(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    records = await produce_notifications(settings, "AE", 5)
    group = f"{settings.topic_prefix}partner.AE.ops"
    code, printed, _ = await run_example(
        settings, RELEASED, "AE", "--group", group, "--max", "2", cwd=tmp_path
    )
    assert (code, len(printed)) == (0, 2)
    code, rest, _ = await run_example(
        settings, RELEASED, "AE", "--group", group, "--idle-timeout", "4", cwd=tmp_path
    )
    assert (code, len(rest)) == (0, 3)  # the group committed exactly the first two
    ids = [line["notification"]["notification_id"] for line in printed + rest]
    assert sorted(ids) == sorted(f"n-{i}" for i in range(5))
    code, again, _ = await run_example(
        settings, RELEASED, "AE", "--group", group, "--idle-timeout", "4", cwd=tmp_path
    )
    assert (code, again) == (0, [])
    code, everything, _ = await run_example(
        settings,
        RELEASED,
        "AE",
        "--group",
        group,
        "--from-beginning",
        "--idle-timeout",
        "4",
        cwd=tmp_path,
    )
    assert (code, len(everything)) == (0, 5)
    check_equal_to_what_was_written(everything, records)


async def test_an_undecodable_record_stops_the_consumer_before_it_uncommitted(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A notification the consumer cannot decode (a newer schema, a corrupt record) is never
    skipped: the consumer stops before it, exit 1, and the next run resumes at it, so the
    certificate's notifications stay in order and none is lost."""
    settings = created_topics
    topic = f"{settings.topic_prefix}partner.IN"
    (first,) = await produce_notifications(settings, "IN", 1)
    producer = idempotent_producer(settings)
    await producer.start()
    try:  # same key, so the same partition, after the first notification
        await producer.send_and_wait(topic, b"\xc3\x01" + bytes(8) + b"body", key=first.key)
    finally:
        await producer.stop()
    await produce_notifications(settings, "IN", 1)  # a later notification behind it
    group = f"{settings.topic_prefix}undecodable"
    where = f"{topic}/{first.partition}/{first.offset + 1}"
    code, printed, err = await run_example(
        settings, RELEASED, "IN", "--group", group, "--idle-timeout", "4", cwd=tmp_path
    )
    assert code == 1
    check_equal_to_what_was_written(printed, [first])
    assert f"stopped at {where}" in err
    assert "unknown writer schema fingerprint 0000000000000000" in err
    again = await run_example(
        settings, RELEASED, "IN", "--group", group, "--idle-timeout", "4", cwd=tmp_path
    )
    assert (again[0], again[1]) == (1, [])  # resumes at the same record, skips nothing
    assert f"stopped at {where}" in again[2]


async def test_a_record_that_is_not_avro_is_reported(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{settings.topic_prefix}partner.IN", b"<xml/>", key=b"IN0000001"
        )
    finally:
        await producer.stop()
    code, printed, err = await run_example(
        settings, RELEASED, "IN", "--idle-timeout", "4", cwd=tmp_path
    )
    assert (code, printed) == (1, [])
    assert "no C3 01 marker" in err


async def test_missing_topic_exits_2_and_is_not_created(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    code, printed, err = await run_example(
        settings, RELEASED, "XX", "--idle-timeout", "2", cwd=tmp_path
    )
    assert (code, printed) == (2, [])
    assert f"topic {settings.topic_prefix}partner.XX does not exist" in err
    admin = admin_client(settings)
    await admin.start()
    try:
        assert f"{settings.topic_prefix}partner.XX" not in await admin.list_topics()
    finally:
        await admin.close()


def test_the_example_imports_only_the_standard_library_aiokafka_and_fastavro() -> None:
    tree = ast.parse(EXAMPLE.read_text("utf-8"))
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert modules - set(sys.stdlib_module_names) == {"aiokafka", "fastavro"}


async def produce_notifications(settings: Settings, participant: str, count: int) -> list[Any]:
    """``count`` PartnerNotification records (OUTCOME, decimals in the differences) encoded
    with gateway.codec; returns the topic's records."""
    topic = f"{settings.topic_prefix}partner.{participant}"
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for i in range(count):
            number = f"RU07020{i:02d}"
            now = datetime(2026, 3, 2, 10, 0, i, 123_000, tzinfo=UTC)
            outcome = {
                "outcome_id": f"o-{i}",
                "certificate_id": number,
                "outcome": "MATCHED_WITH_DISCREPANCIES",
                "pair": {"exporter": "RU", "importer": participant},
                "differences": [
                    {"field": "total_carats", "certificate": "10.500", "confirmation": "10.499"}
                ],
                "evidence_event_ids": [f"e-{i}", f"f-{i}"],
                "decided_at": now,
                "detail": None,
            }
            notification = {
                "notification_id": f"n-{i}",
                "notification_type": "OUTCOME",
                "certificate_id": number,
                "recipient": participant,
                "created_at": now,
                "event": None,
                "outcome": outcome,
            }
            value = codec.encode("PartnerNotification", notification)
            await producer.send_and_wait(topic, value, key=number.encode())
    finally:
        await producer.stop()
    return [r for r in await read_topic_to_end(settings, topic) if r.value[:2] == b"\xc3\x01"]
