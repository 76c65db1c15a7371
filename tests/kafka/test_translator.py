"""The translator worker on the real broker: events exactly once, every permanent failure
class dead-lettered with its reason and coordinates, the partition keeps flowing, poison
pills, and the operator's replay story."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.dlq import headers as h
from gateway.dlq.replay import replay
from gateway.dlq.store import DlqFilter, read_topic_to_end
from gateway.events import CertificateEvent
from gateway.kafka.clients import idempotent_producer
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings
from gateway.translation import InboundMeta, translate
from gateway.translator.worker import build_translator
from tests.kafka.helpers import (
    certificate,
    confirmation,
    decoded,
    produce_inbound,
    read_until,
    registry_copy,
    render,
    run_kpgw,
    running,
    with_hs,
)

pytestmark = pytest.mark.kafka


async def test_each_permanent_failure_class_is_dead_lettered_and_the_partition_flows(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    ok_cert = certificate("RU0100001")
    later = certificate("RU0100002")
    documents: list[tuple[str | None, str, bytes]] = [
        ("RU", "m-ok", render(ok_cert)),
        ("RU", "m-notxml", b"this is not XML at all"),
        ("RU", "m-json", b'{"certificate": "RU0100003"}'),
        ("RU", "m-unknown", b"<Invoice xmlns='urn:example:invoice'><ID>1</ID></Invoice>"),
        (
            "RU",
            "m-xsd",
            render(certificate("RU0100004")).replace(
                b"<ram:TypeCode>", b"<ram:Bogus/><ram:TypeCode>", 1
            ),
        ),
        ("RU", "m-rule", render(with_hs(certificate("RU0100005"), "7102.29"))),
        ("BW", "m-impostor", render(certificate("RU0100006"))),
        (None, "m-nosender", render(certificate("RU0100007"))),
        ("RU", "m-dtd", b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'),
        ("RU", "m-later", render(later)),
    ]
    expected = {
        "m-notxml": "NOT_XML",
        "m-json": "NOT_XML",
        "m-unknown": "UNKNOWN_FORMAT",
        "m-xsd": "XSD_VIOLATION",
        "m-rule": "NOT_KP_GOODS",
        "m-impostor": "UNAUTHORISED_SENDER",
        "m-nosender": "UNAUTHORISED_SENDER",
        "m-dtd": "DTD_FORBIDDEN",
    }
    await produce_inbound(settings, documents, partition=0)
    worker, handler = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        dlq = await read_until(settings, "dlq", len(expected))
        events = await read_until(settings, "events", 2)
        statuses = await read_until(settings, "status", len(documents))
    # Events are keyed by certificate id, so they spread over partitions: compare sorted.
    assert sorted(e["certificate_id"] for e in decoded(events, "CertificateEvent")) == [
        "RU0100001",
        "RU0100002",
    ]
    by_message = {h.text_header(r.headers, "kpgw-message-id"): r for r in dlq}
    assert {m: h.text_header(r.headers, h.REASON) for m, r in by_message.items()} == expected
    for index, (_, message_id, body) in enumerate(documents):
        if message_id in by_message:
            record = by_message[message_id]
            assert record.value == body  # the original bytes, untouched
            assert (
                h.text_header(record.headers, h.ORIGINAL_TOPIC) == f"{settings.topic_prefix}inbound"
            )
            assert h.int_header(record.headers, h.ORIGINAL_PARTITION) == 0
            assert h.int_header(record.headers, h.ORIGINAL_OFFSET) == index
            assert h.text_header(record.headers, h.STAGE) == "translator"
            assert h.text_header(record.headers, h.ORIGINAL_GROUP) == settings.translator.group_id
            assert h.header(record.headers, h.EXCEPTION_STACKTRACE) is None  # expected failures
            assert h.text_header(record.headers, h.FINDINGS) not in (None, "[]")
    states = Counter(s["status"] for s in decoded(statuses, "DeliveryStatus"))
    assert states == {"TRANSLATED": 2, "DEAD_LETTERED": len(expected)}
    assert handler.translated == 2


async def test_poison_pill_is_dead_lettered_after_the_configured_attempts(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics.model_copy(
        update={"translator": created_topics.translator.model_copy(update={"max_attempts": 3})}
    )
    calls: Counter[str] = Counter()

    def crashing(raw: bytes, meta: InboundMeta, registry: ParticipantRegistry) -> CertificateEvent:
        calls[meta.message_id or ""] += 1
        if meta.message_id == "m-poison":
            raise ZeroDivisionError("adapter bug")
        return translate(raw, meta, registry)

    documents: list[tuple[str | None, str, bytes]] = [
        ("RU", "m-poison", render(certificate("RU0200001"))),
        ("RU", "m-after", render(certificate("RU0200002"))),
    ]
    await produce_inbound(settings, documents, partition=0)
    worker, _ = build_translator(
        settings, registry_path=registry_copy(tmp_path), translate_fn=crashing
    )
    async with running(lambda: worker):
        dlq = await read_until(settings, "dlq", 1)
        events = await read_until(settings, "events", 1)
    assert calls["m-poison"] == 3
    (letter,) = dlq
    assert h.text_header(letter.headers, h.REASON) == "POISON_PILL"
    assert h.text_header(letter.headers, h.ATTEMPTS) == "3"
    assert "ZeroDivisionError" in (h.text_header(letter.headers, h.EXCEPTION_STACKTRACE) or "")
    assert h.text_header(letter.headers, h.EXCEPTION_FQCN) == "builtins.ZeroDivisionError"
    assert [e["certificate_id"] for e in decoded(events, "CertificateEvent")] == ["RU0200002"]


def _kpgw(settings: Settings, registry: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": settings.topic_prefix,
        "KPGW_PARTNERS_FILE": str(registry),
    }
    return run_kpgw(environment, *args)


async def test_operator_story_pair_not_enabled_then_fixed_and_replayed_once(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry_path = registry_copy(tmp_path)  # ZA->AE agreed but not enabled yet
    za_cert = certificate("ZA0300001", exporter="ZA", importer="AE", importer_state=None)
    await produce_inbound(settings, [("ZA", "m-za", render(za_cert))])
    worker, _ = build_translator(settings, registry_path=registry_path)
    async with running(lambda: worker):
        dlq = await read_until(settings, "dlq", 1)
        assert [h.text_header(r.headers, h.REASON) for r in dlq] == ["PAIR_NOT_ENABLED"]
        listing = _kpgw(
            settings, registry_path, "dlq", "list", "--reason", "PAIR_NOT_ENABLED", "--json"
        )
        assert listing.returncode == 0 and '"reason": "PAIR_NOT_ENABLED"' in listing.stdout
        table = _kpgw(settings, registry_path, "dlq", "list", "--reason", "PAIR_NOT_ENABLED")
        row = next(line for line in table.stdout.splitlines() if "PAIR_NOT_ENABLED" in line)
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", row), (
            table.stdout
        )  # one line, piped
        # Before the fix, a dry run says the letter would come straight back (an operator
        # review: a replay before the fix read as a successful remediation).
        early = _kpgw(
            settings, registry_path, "dlq", "replay", "--reason", "PAIR_NOT_ENABLED", "--dry-run"
        )
        assert early.returncode == 0, early.stderr
        assert "would be dead-lettered again now (PAIR_NOT_ENABLED 1)" in early.stderr
        assert "(would fail again: PAIR_NOT_ENABLED)" in early.stdout
        dry = _kpgw(
            settings,
            registry_path,
            "dlq",
            "replay",
            "--reason",
            "PAIR_NOT_ENABLED",
            "--dry-run",
            "--json",
        )
        planned = json.loads(dry.stdout.splitlines()[-1])
        assert (planned["would_replay"], planned["replayed"]) == (1, 0)
        assert list(planned["would_fail_again"].values()) == ["PAIR_NOT_ENABLED"]

        registry_copy(tmp_path, enable=("ZA", "AE"))  # the operator enables the pair
        first = _kpgw(
            settings,
            registry_path,
            "dlq",
            "replay",
            "--reason",
            "PAIR_NOT_ENABLED",
            "--operator",
            "ops-anna",
            "--json",
        )
        assert first.returncode == 0, first.stderr
        assert '"replayed": 1' in first.stdout and '"would_fail_again": {}' in first.stdout
        events = await read_until(settings, "events", 1)
        second = _kpgw(
            settings,
            registry_path,
            "dlq",
            "replay",
            "--reason",
            "PAIR_NOT_ENABLED",
            "--operator",
            "ops-anna",
            "--json",
        )
        assert '"replayed": 0' in second.stdout and '"skipped_already_replayed": 1' in second.stdout
        audits = await read_until(settings, "dlq.audit", 2)
        await read_until(settings, "events", 2, timeout_s=5)  # give a duplicate every chance
        events = await read_until(settings, "events", 1)
    assert [e["certificate_id"] for e in decoded(events, "CertificateEvent")] == ["ZA0300001"]
    story = decoded(audits, "DlqAudit")
    assert [(a["operator"], a["replayed"], a["skipped"]) for a in story] == [
        ("ops-anna", 1, 0),
        ("ops-anna", 0, 1),
    ]
    assert story[0]["dead_letters"] == [f"dlq/{dlq[0].partition}/{dlq[0].offset}"]
    inbound = await read_until(settings, "inbound", 2)
    replayed = inbound[-1]
    assert h.text_header(replayed.headers, h.REPLAY_ID) == story[0]["replay_id"]
    assert h.text_header(replayed.headers, h.REPLAYED_FROM) == story[0]["dead_letters"][0]
    assert h.text_header(replayed.headers, "kpgw-sender") == "ZA"
    assert h.header(replayed.headers, h.REASON) is None  # DLQ headers are not carried back
    # The operator sees what was replayed, by which replay, and what still waits.
    listed = _kpgw(settings, registry_path, "dlq", "list", "--json")
    assert [json.loads(line)["replayed_by"] for line in listed.stdout.splitlines()] == [
        story[0]["replay_id"]
    ]
    letter_id = f"{dlq[0].partition}-{dlq[0].offset}"
    shown = _kpgw(settings, registry_path, "dlq", "show", letter_id, "--json")
    assert json.loads(shown.stdout)["replayed_by"] == story[0]["replay_id"]
    text = _kpgw(settings, registry_path, "dlq", "show", letter_id)
    assert f"replayed by {story[0]['replay_id']}" in text.stdout
    pending = _kpgw(settings, registry_path, "dlq", "list", "--pending", "--json")
    assert pending.returncode == 0 and pending.stdout == ""
    counts = json.loads(_kpgw(settings, registry_path, "dlq", "stats", "--json").stdout)
    assert (counts["total"], counts["pending"]) == (1, 0)


async def test_a_replay_before_the_fix_shows_as_the_same_document_failing_again(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Found by an SRE review: a letter replayed before its cause was fixed comes back as a
    new letter, which looked like a new document in `dlq list` and `dlq stats`. It now
    names the letter it is a replay of, and stats count such letters apart."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)  # ZA->AE not enabled: fails until it is
    za_cert = certificate("ZA0300002", exporter="ZA", importer="AE", importer_state=None)
    await produce_inbound(settings, [("ZA", "m-za2", render(za_cert))])
    worker, _ = build_translator(settings, registry_path=registry_path)
    async with running(lambda: worker):
        (first,) = await read_until(settings, "dlq", 1)
        replay = _kpgw(settings, registry_path, "dlq", "replay", "--reason", "PAIR_NOT_ENABLED")
        assert replay.returncode == 0, replay.stderr
        letters = await read_until(settings, "dlq", 2)
    again = letters[-1]
    listed = [
        json.loads(line)
        for line in _kpgw(settings, registry_path, "dlq", "list", "--json").stdout.splitlines()
    ]
    assert [(x["id"], x["replay_of"]) for x in listed] == [
        (f"{first.partition}-{first.offset}", None),
        (f"{again.partition}-{again.offset}", f"{first.partition}-{first.offset}"),
    ]
    counts = json.loads(_kpgw(settings, registry_path, "dlq", "stats", "--json").stdout)
    assert (counts["total"], counts["pending"], counts["failed_again_after_replay"]) == (2, 1, 1)


async def test_dlq_show_escapes_what_the_sender_wrote_and_raw_keeps_its_bytes(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Found by an operations review: a document's escape sequences reached the operator's
    terminal through ``dlq show`` (clear screen, window title, reversed text)."""
    settings = created_topics
    body = b"\x1b[2J\x1b]0;pwned\x07 not xml \xe2\x80\xae[red]evil[/red]\r\n"
    await produce_inbound(
        settings, [("RU", "m-esc", body)], extra_headers=[("x-note", b"\x1b[31mred")]
    )
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        await read_until(settings, "dlq", 1)
    registry_path = registry_copy(tmp_path)
    listing = _kpgw(settings, registry_path, "dlq", "list", "--json")
    (letter_id,) = [json.loads(line)["id"] for line in listing.stdout.splitlines()]
    shown = _kpgw(settings, registry_path, "dlq", "show", letter_id)
    assert shown.returncode == 0, shown.stderr
    assert (
        "\x1b" not in shown.stdout and "\u202e" not in shown.stdout and "\x07" not in shown.stdout
    )
    assert "\\x1b[2J" in shown.stdout and "\\u202e[red]evil[/red]" in shown.stdout
    assert "x-note: \\x1b[31mred" in shown.stdout
    table = _kpgw(settings, registry_path, "dlq", "list")
    assert "\x1b" not in table.stdout
    typo = _kpgw(settings, registry_path, "dlq", "list", "--reason", "NOT_XLM")
    assert "0 dead letter(s)" in typo.stdout
    assert (
        "no dead letter matches; the 1 dead letter(s) read have reasons NOT_XML from senders RU"
        in typo.stderr
    )
    raw = subprocess.run(
        [sys.executable, "-m", "gateway", "dlq", "show", letter_id, "--raw"],
        capture_output=True,
        env={
            **os.environ,
            "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "KPGW_TOPIC_PREFIX": settings.topic_prefix,
            "KPGW_PARTNERS_FILE": str(registry_path),
        },
        timeout=120,
        check=True,
    )
    assert raw.stdout == body


async def test_certificate_and_confirmation_both_translate(
    created_topics: Settings, tmp_path: Path
) -> None:
    cert = certificate("RU0400001")
    await produce_inbound(
        created_topics, [("RU", "c1", render(cert)), ("EU", "a1", render(confirmation(cert)))]
    )
    worker, _ = build_translator(created_topics, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        events = await read_until(created_topics, "events", 2)
    kinds = sorted(e["event_type"] for e in decoded(events, "CertificateEvent"))
    assert kinds == ["CERTIFICATE_ISSUED", "IMPORT_CONFIRMED"]
    assert len({e["event_id"] for e in decoded(events, "CertificateEvent")}) == 2


async def test_two_replays_at_once_re_send_each_dead_letter_once(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Found by an operations review: two concurrent replays both re-sent every letter.
    Two operators' commands, as two processes started together."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)  # ZA->AE not enabled: every certificate fails
    documents = [
        (
            "ZA",
            f"m-za-{n}",
            render(
                certificate(f"ZA03100{n:02d}", exporter="ZA", importer="AE", importer_state=None)
            ),
        )
        for n in range(3)
    ]
    await produce_inbound(settings, documents)
    worker, _ = build_translator(settings, registry_path=registry_path)
    async with running(lambda: worker):
        await read_until(settings, "dlq", 3)
    args = ("dlq", "replay", "--reason", "PAIR_NOT_ENABLED", "--json")
    anna, ben = await asyncio.gather(
        asyncio.to_thread(_kpgw, settings, registry_path, *args, "--operator", "ops-anna"),
        asyncio.to_thread(_kpgw, settings, registry_path, *args, "--operator", "ops-ben"),
    )
    for result in (anna, ben):
        assert result.returncode in (0, 2), result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode == 2:  # fenced by the other one: said so, re-sent nothing
            assert "another kpgw dlq replay started" in result.stderr
    replayed_counts = sorted(
        json.loads(r.stdout.splitlines()[-1])["replayed"] for r in (anna, ben) if r.returncode == 0
    )
    assert replayed_counts in ([3], [0, 3])
    await read_until(settings, "inbound", 7, timeout_s=5)  # give a duplicate every chance
    inbound = await read_until(settings, "inbound", 6)
    replayed = [r for r in inbound if h.header(r.headers, h.REPLAY_ID) is not None]
    assert len(replayed) == 3
    assert len({h.text_header(r.headers, h.REPLAYED_FROM) for r in replayed}) == 3


async def test_a_dead_letter_without_its_original_topic_does_not_block_a_replay(
    created_topics: Settings,
) -> None:
    """Found by an operations review: such a letter (written by another tool) made the send
    fail and aborted the whole replay transaction."""
    settings = created_topics
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{settings.topic_prefix}dlq", b"<x/>", key=b"k", headers=[(h.REASON, b"MANUAL")]
        )
    finally:
        await producer.stop()
    report = await replay(settings, DlqFilter(reasons=("MANUAL",)), operator="ops-anna")
    assert len(report.selected) == len(report.unreplayable) == 1
    assert report.replayed == [] and report.result == "nothing to replay"
    assert report.as_dict()["unreplayable"] == [report.unreplayable[0].id]


async def test_a_dead_letter_whose_original_topic_is_gone_does_not_block_a_replay(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Found by an operations review: a send to a deleted topic timed out, aborted the whole
    replay and was reported as an unreachable broker. The others go back; it is named."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)  # ZA->AE not enabled: the certificate fails
    za_cert = certificate("ZA0320001", exporter="ZA", importer="AE", importer_state=None)
    await produce_inbound(settings, [("ZA", "m-za-gone", render(za_cert))])
    worker, _ = build_translator(settings, registry_path=registry_path)
    async with running(lambda: worker):
        (good,) = await read_until(settings, "dlq", 1)
    gone = [(k, v) for k, v in good.headers if k != h.ORIGINAL_TOPIC]
    gone.append((h.ORIGINAL_TOPIC, f"{settings.topic_prefix}retired-inbound".encode()))
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{settings.topic_prefix}dlq", good.value, key=good.key, headers=gone
        )
    finally:
        await producer.stop()
    result = _kpgw(settings, registry_path, "dlq", "replay", "--reason", "PAIR_NOT_ENABLED")
    assert result.returncode == 0, result.stderr
    assert "replayed 1 of 2 selected" in result.stdout
    assert f"original topic {settings.topic_prefix}retired-inbound does not exist" in result.stdout


async def test_replaying_an_unknown_id_is_refused_without_an_audit_record(
    created_topics: Settings, tmp_path: Path
) -> None:
    result = _kpgw(created_topics, registry_copy(tmp_path), "dlq", "replay", "--id", "0-999")
    assert result.returncode == 1
    assert "no dead letter 0-999 (partition 0 holds " in result.stderr  # real extents
    assert await read_until(created_topics, "dlq.audit", 1, timeout_s=2) == []


async def test_oversized_texts_and_unusable_headers_are_dead_letters_not_lost_events(
    created_topics: Settings, tmp_path: Path
) -> None:
    """Found by an integrator review: a certificate with a 1.2 MB address (inside the
    ingress's 2 MiB) became an event kp.events refused; aiokafka committed the transaction
    anyway, so the event was lost, and the producer's next events with it. Now the text is
    a TEXT_TOO_LONG dead letter, a Kafka-native record with a megabyte of tracking id an
    INVALID_INBOUND_HEADER one, and the documents behind them reach kp.events."""
    settings = created_topics
    cert = certificate("RU0110001")
    huge = replace(cert, importer=replace(cert.importer, address="Antwerp " * 150_000))
    behind = [certificate(f"RU011000{n}") for n in range(2, 6)]
    await produce_inbound(settings, [("RU", "m-huge", render(huge))], partition=0)
    await produce_inbound(
        settings,
        [("RU", "m-long-id", render(certificate("RU0110009")))],
        partition=0,
        extra_headers=[("kpgw-tracking-id", b"t" * 1_000_000)],
    )
    # A security review's: a 1.5 MB kpgw-sender (it went into the status record, which
    # kp.status refused: the partition stopped for good), and a record at kp.inbound's
    # limit with a header of its own (its dead letter would be over kp.dlq's).
    await produce_inbound(
        settings,
        [(None, "m-huge-sender", render(certificate("RU0110010")))],
        partition=0,
        extra_headers=[("kpgw-sender", b"Q" * 1_500_000)],
    )
    await produce_inbound(
        settings,
        [("RU", "m-at-limit", b"not xml " * 518_000)],
        partition=0,
        extra_headers=[("x-trace", b"t" * 20_000)],
    )
    await produce_inbound(
        settings, [("RU", f"m-{c.certificate_number}", render(c)) for c in behind], partition=0
    )
    worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
    async with running(lambda: worker):
        dlq = await read_until(settings, "dlq", 4)
        events = await read_until(settings, "events", len(behind))
        statuses = await read_until(settings, "status", 4 + len(behind))
    reasons = {
        h.text_header(r.headers, "kpgw-message-id"): h.text_header(r.headers, h.REASON) for r in dlq
    }
    assert reasons == {
        "m-huge": "TEXT_TOO_LONG",
        "m-long-id": "INVALID_INBOUND_HEADER",
        "m-huge-sender": "INVALID_INBOUND_HEADER",
        "m-at-limit": "DOCUMENT_TOO_LARGE",
    }
    at_limit = next(r for r in dlq if h.text_header(r.headers, "kpgw-message-id") == "m-at-limit")
    assert at_limit.value is None  # left out, and where the original is is said
    assert (h.text_header(at_limit.headers, h.VALUE_OMITTED) or "").endswith(
        f"{settings.topic_prefix}inbound/0/3"
    )
    assert sorted(e["certificate_id"] for e in decoded(events, "CertificateEvent")) == [
        c.certificate_number for c in behind
    ]
    kept = {s["tracking_id"]: s["status"] for s in decoded(statuses, "DeliveryStatus")}
    assert kept[f"{settings.topic_prefix}inbound/0/1"] == "DEAD_LETTERED"  # by coordinates
    assert max(len(key) for key in kept) < 200


async def test_a_dead_letter_naming_a_topic_no_worker_reads_is_not_replayed_there(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A corrupt or foreign kafka_dlt-original-topic sent the letter's document to whoever
    reads the topic it names: a partner's topic (another participant's document), kp.dlq
    itself, kp.status. The others go back; it is named."""
    settings = created_topics
    registry_path = registry_copy(tmp_path)  # ZA->AE not enabled: the certificate fails
    za_cert = certificate("ZA0320002", exporter="ZA", importer="AE", importer_state=None)
    await produce_inbound(settings, [("ZA", "m-za-elsewhere", render(za_cert))])
    worker, _ = build_translator(settings, registry_path=registry_path)
    async with running(lambda: worker):
        (good,) = await read_until(settings, "dlq", 1)
    elsewhere = [f"{settings.topic_prefix}{x}" for x in ("partner.EU", "dlq", "status")]
    producer = idempotent_producer(settings)
    await producer.start()
    try:
        for topic in elsewhere:
            headers = [(k, v) for k, v in good.headers if k != h.ORIGINAL_TOPIC]
            headers.append((h.ORIGINAL_TOPIC, topic.encode()))
            await producer.send_and_wait(
                f"{settings.topic_prefix}dlq", good.value, key=good.key, headers=headers
            )
    finally:
        await producer.stop()
    report = await replay(settings, DlqFilter(reasons=("PAIR_NOT_ENABLED",)), operator="ops")
    assert len(report.replayed) == 1 and len(report.unreplayable) == 3
    why = sorted(report.why_unreplayable.values())
    assert all("is not one a gateway worker reads" in x for x in why)
    partner = await read_topic_to_end(settings, f"{settings.topic_prefix}partner.EU")
    assert partner == []
