"""examples/kafka_native_sender.py on the real broker: what a national system with Kafka
access needs (docs/kafka-native-senders.md) works as written, with nothing from the gateway:
its documents are translated, a mistake comes back as a dead letter's status it reads, and
the same file sent again is the same message and one event."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import codec
from gateway.dlq import headers as h
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import certificate, read_until, registry_copy, render, running

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "kafka_native_sender.py"
RELEASED = ROOT / "schemas" / "avro" / "released"


async def run_example(settings: Settings, *arguments: str, cwd: Path) -> tuple[int, list[Any], str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--bootstrap",
        settings.kafka_bootstrap,
        "--topic-prefix",
        settings.topic_prefix,
        *arguments,
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
    return (
        process.returncode,
        [json.loads(line) for line in out.decode().splitlines()],
        err.decode(),
    )


@pytest.mark.kafka
async def test_a_national_system_sends_and_reads_its_verdicts_with_the_example(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    own = tmp_path / "RU0990001.xml"
    own.write_bytes(render(certificate("RU0990001"), "ru_fts"))
    others = tmp_path / "ZA0990002.xml"  # ZA's certificate: RU may not send it
    others.write_bytes(render(certificate("ZA0990002", exporter="ZA", importer="AE")))
    common = ["--sender", "RU", "--wait", "--schemas", str(RELEASED), "--settle", "0.5"]
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        code, printed, err = await run_example(
            settings, *common, "--compression", "gzip", str(own), str(others), cwd=tmp_path
        )
        assert code == 1, err  # one was dead-lettered
        again, printed_again, err = await run_example(settings, *common, str(own), cwd=tmp_path)
        assert again == 0, err
        events = await read_until(settings, "events", 2)
        (letter,) = await read_until(settings, "dlq", 1)
    translated, refused = printed
    assert (translated["status"], translated["certificate_id"]) == ("TRANSLATED", "RU0990001")
    assert (refused["status"], refused["reason"]) == ("DEAD_LETTERED", "UNAUTHORISED_SENDER")
    assert "RU may not send this CertificateIssued for ZA0990002" in refused["detail"]
    assert h.text_header(letter.headers, h.TRACKING_ID) == refused["tracking_id"]
    # The same file again: the same tracking id, and the same event (the router keeps one).
    assert printed_again[0]["tracking_id"] == translated["tracking_id"]
    assert printed_again[0]["status"] == "TRANSLATED"
    decoded = [codec.decode(e.value, "CertificateEvent") for e in events]
    assert {e["event_id"] for e in decoded} == {decoded[0]["event_id"]}
    assert {e["source"]["tracking_id"] for e in decoded} == {translated["tracking_id"]}


def test_the_example_imports_only_the_standard_library_aiokafka_and_fastavro() -> None:
    tree = ast.parse(EXAMPLE.read_text("utf-8"))
    modules = {
        alias.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for alias in n.names
    }
    modules |= {
        n.module.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.level == 0
    }
    assert modules - set(sys.stdlib_module_names) == {"aiokafka", "fastavro"}
