"""The router on the real broker: a certificate and its confirmation reach the importer's
and the exporter's partner topics and kp.outcomes; discrepancies; dead letters; the
start-up topic check; the wall-clock timer; restore from the changelog."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka.admin import NewPartitions, NewTopic

from gateway.dlq import headers as h
from gateway.errors import ConfigurationError
from gateway.events import CertificateIssued
from gateway.kafka.clients import admin_client
from gateway.kafka.topics import create_topics
from gateway.metrics import ROUTER_STATE_MISSING
from gateway.registry import ParticipantRegistry, load_registry
from gateway.router.driver import run_router
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import produce_inbound, registry_copy, render, running
from tests.kafka.router.support import (
    certificate,
    confirmation,
    decoded,
    outcomes,
    pair,
    partner,
    produce_events,
    read_until,
    routing,
    stamp,
)
from tests.unit.router.factories import event

pytestmark = pytest.mark.kafka


def certificate_to_japan(number: str) -> CertificateIssued:
    """A certificate for RU -> JP, a pair the example registry does not enable."""
    base = certificate(number)
    return replace(
        base,
        importing_participant="JP",
        importing_member_state=None,
        importer=replace(base.importer, country="JP"),
    )


def fast_timer(settings: Settings, seconds: float = 0.1) -> Settings:
    router = settings.router.model_copy(update={"timer_interval_s": seconds})
    return settings.model_copy(update={"router": router})


async def test_translated_pair_reaches_both_partners_and_outcomes(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry = registry_copy(tmp_path)
    cert = certificate("RU0700001")
    tracking = await produce_inbound(
        settings,
        [("RU", "c-1", render(cert, "ru_fts")), ("EU", "a-1", render(confirmation(cert)))],
    )
    translator, _ = build_translator(settings, registry_path=registry)
    async with running(lambda: translator), routing(settings, registry):
        (outcome,) = await outcomes(settings, 1)
        importer = await partner(settings, "EU", 2)
        exporter = await partner(settings, "RU", 2)
        statuses = await matched_statuses(settings, set(tracking))
    assert (outcome["certificate_id"], outcome["outcome"]) == ("RU0700001", "MATCHED")
    assert outcome["pair"] == {"exporter": "RU", "importer": "EU"}
    assert sorted(importer) == ["MATCHED", "SHIPMENT_ANNOUNCED"]
    assert sorted(exporter) == ["IMPORT_CONFIRMED", "MATCHED"]
    assert statuses == set(tracking)  # both senders hear "matched"


async def matched_statuses(settings: Settings, wanted: set[str]) -> set[str]:
    """The tracking ids with a MATCHED kp.status, once all of ``wanted`` have one (<= 60 s)."""
    for _ in range(120):
        statuses = decoded(await read_until(settings, "status", 0), "DeliveryStatus")
        matched = {s["tracking_id"] for s in statuses if s["status"] == "MATCHED"}
        if wanted <= matched:
            break
        await asyncio.sleep(0.5)
    return matched


async def test_discrepancy_and_dead_letter_and_the_partition_keeps_flowing(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    cert, conf = pair("RU0700002", carats="1500.000")
    later, _ = pair("RU0700003")
    await produce_events(settings, [cert], raw=[(b"RU0700002", b"\xc3\x01 not avro at all")])
    await produce_events(settings, [conf, later])
    async with routing(settings, registry_copy(tmp_path)) as router:
        (outcome,) = await outcomes(settings, 1)
        importer = await partner(settings, "EU", 3)
        (letter,) = await read_until(settings, "dlq", 1)
    assert outcome["outcome"] == "MATCHED_WITH_DISCREPANCIES"
    assert [(d["field"], d["certificate"], d["confirmation"]) for d in outcome["differences"]] == [
        ("lines[7102.31].carats", "1520.350", "1500.000")
    ]
    assert Counter(importer) == {"SHIPMENT_ANNOUNCED": 2, "MATCHED_WITH_DISCREPANCIES": 1}
    assert letter.value == b"\xc3\x01 not avro at all"
    assert h.text_header(letter.headers, h.REASON) == "UNDECODABLE_AVRO"
    assert h.text_header(letter.headers, h.STAGE) == "router"
    assert h.text_header(letter.headers, h.ORIGINAL_TOPIC) == f"{settings.topic_prefix}events"
    assert h.int_header(letter.headers, h.ORIGINAL_OFFSET) == 1
    assert h.text_header(letter.headers, h.ORIGINAL_GROUP) == settings.router.group_id
    assert router.counters.dead_lettered == 1


async def test_a_certificate_past_its_event_limit_dead_letters_and_the_partition_flows(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A sender that keeps sending new versions of one certificate's confirmation: beyond
    the limit each is a TOO_MANY_EVENTS dead letter, the sender's status says so, and the
    certificates behind it are still matched."""
    router_settings = created_topics.router.model_copy(update={"max_events_per_certificate": 4})
    settings = created_topics.model_copy(update={"router": router_settings})
    cert = certificate("RU0700004")
    versions = [  # the importer's: its share is the limit, 4
        event(replace(confirmation(cert), remarks=f"re-sent, run {n}", parcels=cert.parcels + n))
        for n in range(6)
    ]
    later, later_conf = pair("RU0700005")
    await produce_events(settings, [event(cert), *versions, later, later_conf], partition=0)
    async with routing(settings, registry_copy(tmp_path)) as router:
        letters = await read_until(settings, "dlq", 2)
        found = await outcomes(settings, 5)
    assert [h.text_header(letter.headers, h.REASON) for letter in letters] == [
        "TOO_MANY_EVENTS",
        "TOO_MANY_EVENTS",
    ]
    assert Counter((o["certificate_id"], o["outcome"]) for o in found) == {
        ("RU0700004", "MATCHED"): 1,
        ("RU0700004", "DUPLICATE_CONFIRMATION"): 3,
        ("RU0700005", "MATCHED"): 1,
    }
    statuses = decoded(await read_until(settings, "status", 0), "DeliveryStatus")
    refused = {s["tracking_id"] for s in statuses if s["status"] == "DEAD_LETTERED"}
    assert refused == {item.source.tracking_id for item in versions[4:]}
    assert {s["reason"] for s in statuses if s["status"] == "DEAD_LETTERED"} == {"TOO_MANY_EVENTS"}
    assert router.counters.dead_lettered == 2


async def test_refuses_to_start_when_topics_are_not_copartitioned(
    kafka_settings: Settings, example_registry: ParticipantRegistry
) -> None:
    settings = kafka_settings
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    f"{settings.topic_prefix}router.changelog",
                    6,
                    1,
                    topic_configs={"cleanup.policy": "compact"},
                )
            ]
        )
    finally:
        await admin.close()
    await create_topics(settings, example_registry)  # the others, with 12 partitions
    try:
        with pytest.raises(ConfigurationError, match="not co-partitioned"):
            await asyncio.wait_for(run_router(settings, asyncio.Event()), 60)
    finally:
        from gateway.kafka.topics import delete_topics

        await delete_topics(settings)


async def test_overdue_by_wall_clock_then_late_confirmation(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = fast_timer(created_topics)
    now = [stamp()]
    cert, conf = pair("RU0700004")
    await produce_events(settings, [cert])
    async with routing(settings, registry_copy(tmp_path), clock=lambda: now[0]):
        await partner(settings, "EU", 1)  # announced at now[0]
        now[0] += timedelta(days=14)  # the RU -> EU deadline, exactly reached
        (overdue,) = await outcomes(settings, 1)
        await produce_events(settings, [conf])
        found = await outcomes(settings, 2)
        await asyncio.sleep(1)  # several more timer rounds: nothing more is due
        found = await outcomes(settings, 2, timeout_s=1)
    assert overdue["outcome"] == "CONFIRMATION_OVERDUE"
    assert [o["outcome"] for o in found] == ["CONFIRMATION_OVERDUE", "MATCHED"]


async def test_state_is_restored_from_the_changelog_after_a_restart(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    registry = registry_copy(tmp_path)
    certs, confs = zip(*(pair(f"RU07100{i:02d}") for i in range(40)), strict=True)
    await produce_events(settings, list(certs))
    async with routing(settings, registry):
        await partner(settings, "EU", 40)
    async with routing(settings, registry) as second:
        await produce_events(settings, list(confs))
        found = await outcomes(settings, 40)
        restored = second.counters.restored_states
    assert Counter(o["outcome"] for o in found) == {"MATCHED": 40}
    assert restored == 40
    assert Counter(await partner(settings, "EU", 80)) == {"SHIPMENT_ANNOUNCED": 40, "MATCHED": 40}


async def test_a_state_that_would_outgrow_a_changelog_record_refuses_the_event(
    created_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents that would make one certificate's state larger than a changelog record
    may be are STATE_TOO_LARGE dead letters (the broker would refuse the state, and the
    partition would stall); the state stays as it was and the partition flows."""
    from gateway.router import handler as router_handler

    monkeypatch.setattr(router_handler, "MAX_STATE_BYTES", 4096)
    settings = created_topics
    cert = certificate("RU0700006")
    versions = [
        event(replace(confirmation(cert), remarks=f"{n}" + "r" * 1500, parcels=cert.parcels + n))
        for n in range(3)
    ]
    later, later_conf = pair("RU0700007")
    await produce_events(settings, [event(cert), *versions, later, later_conf], partition=0)
    async with routing(settings, registry_copy(tmp_path)) as router:
        letters = await read_until(settings, "dlq", 2)
        found = await outcomes(settings, 2)
    assert [h.text_header(letter.headers, h.REASON) for letter in letters] == [
        "STATE_TOO_LARGE",
        "STATE_TOO_LARGE",
    ]
    assert Counter((o["certificate_id"], o["outcome"]) for o in found) == {
        ("RU0700006", "MATCHED"): 1,
        ("RU0700007", "MATCHED"): 1,
    }
    statuses = decoded(await read_until(settings, "status", 0), "DeliveryStatus")
    refused = {s["tracking_id"] for s in statuses if s["status"] == "DEAD_LETTERED"}
    assert refused == {item.source.tracking_id for item in versions[1:]}
    assert router.counters.dead_lettered == 2


async def test_a_pair_added_while_running_gets_its_partner_topic_and_blocks_nothing(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A partner review: a pair enabled by editing the registry while the router ran named
    a participant without a partner topic (JP); every transaction that announced to it
    aborted and retried for ever, blocking its partition for every partner."""
    settings = fast_timer(created_topics)
    registry = registry_copy(tmp_path)
    to_japan = certificate_to_japan("RU0700090")
    async with routing(settings, registry) as handler:
        registry.write_text(
            registry.read_text()
            + '\n[[pairs]]\nexporter = "RU"\nimporter = "JP"\nconfirmation_deadline_days = 30\n'
        )
        for _ in range(100):  # the timer takes the new registry once the topic exists
            if handler.registry.current().pair("RU", "JP") is not None:
                break
            await asyncio.sleep(0.1)
        assert handler.registry.current().pair("RU", "JP") is not None
        await produce_events(settings, [event(to_japan), *pair("RU0700091")])
        assert await partner(settings, "JP", 1) == ["SHIPMENT_ANNOUNCED"]
        found = await outcomes(settings, 1)  # the other pair flows beside it
    assert ("RU0700091", "MATCHED") in {(o["certificate_id"], o["outcome"]) for o in found}


async def test_an_event_right_after_a_pair_is_enabled_is_routed_by_it(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A scale-out review: the translator takes a registry edit within a second, the
    router took it only at its next timer round, so a certificate sent just after the pair
    was enabled was gated as PAIR_NOT_ENABLED, never announced nor overdue. The router
    now looks at the file before every batch (partner topics exist: ZA and AE trade)."""
    settings = fast_timer(created_topics, seconds=600)  # no timer round during the test
    registry = registry_copy(tmp_path)  # ZA->AE agreed but not enabled yet
    cert = certificate("ZA0700092", exporter="ZA", importer="AE", importer_state=None)
    async with routing(settings, registry):
        registry_copy(tmp_path, enable=("ZA", "AE"))
        await produce_events(settings, [event(cert)])
        assert await partner(settings, "AE", 1) == ["SHIPMENT_ANNOUNCED"]
        assert [o["outcome"] for o in await outcomes(settings, 0, timeout_s=1)] == []


async def test_a_resent_inbound_record_leaves_its_message_matched(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A scale-out review: a Kafka-native sender's retry of an identical record (or two
    ingress instances taking one key at once) made the translator write TRANSLATED after
    MATCHED, and kp.status, which keeps the last record per message, said 'translated'
    for good. The router now writes the message's status again."""
    settings = created_topics
    registry = registry_copy(tmp_path)
    cert = certificate("RU0700077")
    cert_tracking, conf_tracking = await produce_inbound(
        settings,
        [("RU", "c-77", render(cert, "ru_fts")), ("EU", "a-77", render(confirmation(cert)))],
    )
    translator, _ = build_translator(settings, registry_path=registry)
    async with running(lambda: translator), routing(settings, registry):
        assert await matched_statuses(settings, {cert_tracking, conf_tracking})
        await produce_inbound(  # the same record again: a Kafka-native sender's retry
            settings,
            [("EU", "a-77", render(confirmation(cert)))],
            tracking_ids=[conf_tracking],
        )
        history: list[str] = []
        for _ in range(120):
            statuses = decoded(await read_until(settings, "status", 0), "DeliveryStatus")
            history = [s["status"] for s in statuses if s["tracking_id"] == conf_tracking]
            if history.count("MATCHED") >= 2:
                break
            await asyncio.sleep(0.5)
    assert history[-3:] == ["MATCHED", "TRANSLATED", "MATCHED"], history
    (outcome,) = await outcomes(settings, 1)  # still one outcome, no second notification
    assert outcome["outcome"] == "MATCHED"


async def test_a_deleted_changelog_is_reported_not_restored_as_nothing(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A recovery review: a changelog deleted and recreated was restored as "no state" at
    info level; the certificates waiting for confirmations were forgotten without a word.
    Now each such partition is an error line and kpgw_router_state_missing."""
    settings = created_topics
    registry = registry_copy(tmp_path)
    certs = [pair(f"RU07200{i:02d}")[0] for i in range(12)]
    await produce_events(settings, certs)
    ROUTER_STATE_MISSING.clear()
    async with routing(settings, registry):
        await partner(settings, "EU", 12)
    assert ROUTER_STATE_MISSING == {}  # a first start on empty changelogs is no loss
    changelog = f"{settings.topic_prefix}router.changelog"
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.delete_topics([changelog])
        for _ in range(100):  # deletion completes in the background
            if changelog not in await admin.list_topics():
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    for _ in range(50):
        try:
            await create_topics(settings, load_registry(registry), wait_s=10)
            break
        except Exception:
            await asyncio.sleep(0.5)
    async with routing(settings, registry):
        for _ in range(100):
            if ROUTER_STATE_MISSING:
                break
            await asyncio.sleep(0.1)
    lost = dict(ROUTER_STATE_MISSING)
    ROUTER_STATE_MISSING.clear()
    assert lost, "no partition reported its state missing"
    assert all(offset > 0 for offset in lost.values())


async def test_refuses_to_start_on_topics_grown_after_data_existed(
    created_topics: Settings, tmp_path: Path
) -> None:
    """A recovery review: adding partitions to kp.events, the changelog and kp.outcomes
    together kept them co-partitioned, so the router started, and every certificate's
    state split across two partitions. Changelog records now carry the partition count
    they were written with, and the router refuses another one."""
    settings = created_topics
    registry = registry_copy(tmp_path)
    await produce_events(settings, [pair("RU0730001")[0]])
    async with routing(settings, registry):
        await partner(settings, "EU", 1)
    stop = asyncio.Event()  # the same count: the start-up check lets it start
    running_router = asyncio.create_task(run_router(settings, stop))
    await asyncio.sleep(3)
    assert not running_router.done()
    stop.set()
    await asyncio.wait_for(running_router, 60)
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.create_partitions(
            {
                f"{settings.topic_prefix}{name}": NewPartitions(total_count=16)
                for name in ("events", "router.changelog", "outcomes")
            }
        )
    finally:
        await admin.close()
    with pytest.raises(ConfigurationError, match="written with 12 partitions"):
        await asyncio.wait_for(run_router(settings, asyncio.Event()), 60)
