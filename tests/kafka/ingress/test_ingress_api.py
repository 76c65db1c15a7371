"""The ingress's main story on the real broker: a certificate from the exporter and its
confirmation from the importer are accepted (202 only after the broker's ack), land in
kp.inbound with the authenticated sender, and their status moves on as the translator (and
the router, when present) work; idempotency across instances; validation sends nothing."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.dlq import headers as h
from gateway.ingress.validator import WorkerValidator
from gateway.router.driver import wall_clock
from gateway.settings import Settings
from gateway.translator.worker import build_translator
from tests.kafka.helpers import (
    certificate,
    confirmation,
    decoded,
    read_until,
    registry_copy,
    render,
    running,
    stopped,
)
from tests.kafka.ingress.conftest import started
from tests.kafka.router.support import routing

pytestmark = pytest.mark.kafka
ROUTER = importlib.util.find_spec("gateway.router.driver") is not None


@contextlib.asynccontextmanager
async def router(settings: Settings) -> AsyncIterator[None]:
    """The router driver, when it exists in this build."""
    if not ROUTER:
        yield
        return
    from gateway.router.driver import run_router

    stop = asyncio.Event()
    task = asyncio.create_task(run_router(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await stopped(task)


async def test_certificate_and_confirmation_accepted_then_tracked_to_the_end(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    cert = certificate("RU0610001")
    # 500 USD/ct, far above Russia's band of 38.8-242.5; its importer counts one parcel more
    counted = certificate("RU0610002", carats="1000.000", value="500000.00")
    recounted = replace(confirmation(counted), parcels=counted.parcels + 1)
    broken = b"<KPCertificate><Number>RU0610009</Number>"  # truncated: the translator judges
    async with started(settings) as client, started(settings, validate_sync=False) as lenient:
        sent = await client.send(render(cert), "RU")
        confirmed = await client.send(
            render(confirmation(cert)), "EU", content_type="text/xml; charset=utf-8"
        )
        unchecked = await lenient.send(broken, "RU")
        differing = [await client.send(render(counted), "RU")]
        differing.append(await client.send(render(recounted), "EU"))
        for reply in (sent, confirmed, unchecked, *differing):
            assert reply.status == 202, reply.body
            assert reply.body["status_url"] == f"/v1/messages/{reply.body['tracking_id']}"
            assert reply.headers["Location"] == reply.body["status_url"]
        cert_id, conf_id = sent.body["tracking_id"], confirmed.body["tracking_id"]

        early = await client.status(cert_id, "RU")
        assert early.status == 200 and early.body["status"] in {"accepted", "translated"}
        # Someone else's message is as unknown as an id never given, with its own type.
        for unknown, asker in ((cert_id, "EU"), (conf_id, "RU"), ("no-such-id", "RU")):
            problem = (await client.status(unknown, asker)).problem(404)
            assert (problem["type"], problem["title"]) == (
                "urn:kpgw:problem:unknown-message",
                "Not found",
            )
        wrong_route = await client.request("GET", "/v1/message/no-such-id", participant="RU")
        assert wrong_route.problem(404)["type"] == "urn:kpgw:problem:not-found"

        worker, _ = build_translator(settings, registry_path=registry_copy(tmp_path))
        async with running(lambda: worker), router(settings):
            wanted = {"matched"} if ROUTER else {"translated"}
            exporter_view = await client.wait_status(cert_id, "RU", wanted)
            importer_view = await client.wait_status(conf_id, "EU", wanted)
            dead = await client.wait_status(unchecked.body["tracking_id"], "RU", {"dead-lettered"})
            told = await client.wait_status(differing[1].body["tracking_id"], "EU", {"discrepancy"})
            flagged = await client.wait_status(
                differing[0].body["tracking_id"], "RU", {"discrepancy"}
            )
        # A tracking id is a UUID: any case finds it, as RFC 9562 reads UUIDs.
        shouted = await client.status(cert_id.upper(), "RU")
        assert shouted.status == 200 and shouted.body["tracking_id"] == cert_id
    assert exporter_view["certificate_id"] == importer_view["certificate_id"] == "RU0610001"
    assert dead["reason"] == "TRUNCATED_DOCUMENT"
    # A discrepancy says what differs, so the sender need not read a partner topic.
    assert told["reason"] == "MATCHED_WITH_DISCREPANCIES"
    assert told["differences"] == [
        {
            "outcome": "MATCHED_WITH_DISCREPANCIES",
            "field": "parcels",
            "certificate": str(counted.parcels),
            "confirmation": str(counted.parcels + 1),
        }
    ]
    assert told["outcomes"] == [
        {
            "outcome": "MATCHED_WITH_DISCREPANCIES",
            "detail": "the confirmation differs from the certificate in parcels",
            "value_band": None,
        }
    ]
    # The exporter hears why its certificate is flagged: the sentence, the value and the
    # band, as kp.outcomes has them (the importer's status above has none of it: the band
    # outcome's evidence is the certificate alone).
    band = {
        "outcome": "VALUE_PER_CARAT_OUT_OF_BAND",
        "detail": "500.00 USD/ct is outside 38.8-242.5 USD/ct for origin RU",
        "value_band": {"usd_per_carat": "500.00", "low": "38.8", "high": "242.5", "hs_code": None},
    }
    assert flagged["reason"] == "VALUE_PER_CARAT_OUT_OF_BAND"
    assert flagged["outcomes"][0] == band
    outcomes = decoded(await read_until(settings, "outcomes", 2), "Outcome")
    (decided,) = [o for o in outcomes if o["outcome"] == "VALUE_PER_CARAT_OUT_OF_BAND"]
    assert decided["detail"] == band["detail"]

    inbound = await read_until(settings, "inbound", 5)
    assert len(inbound) == 5
    by_tracking = {h.text_header(r.headers, "kpgw-tracking-id"): r for r in inbound}
    assert set(by_tracking) == {
        cert_id,
        conf_id,
        unchecked.body["tracking_id"],
        *(reply.body["tracking_id"] for reply in differing),
    }
    assert h.text_header(by_tracking[cert_id].headers, "kpgw-sender") == "RU"
    assert h.text_header(by_tracking[conf_id].headers, "kpgw-sender") == "EU"
    message_id = h.text_header(by_tracking[cert_id].headers, "kpgw-message-id") or ""
    assert message_id and by_tracking[cert_id].key == f"RU:{message_id}".encode()
    assert by_tracking[unchecked.body["tracking_id"]].value == broken


async def test_idempotency_across_two_instances(created_topics: Settings) -> None:
    settings = created_topics
    document = render(certificate("RU0610002"))
    # Same certificate number and status (the same message id), other content: without an
    # Idempotency-Key it is a new message, for the router to judge as a conflicting reissue.
    changed = render(certificate("RU0610002", carats="1600.000", value="155000.00"))
    async with started(settings) as first, started(settings) as second:
        original = await first.send(document)
        assert original.status == 202 and original.headers["Idempotent-Replayed"] == "false"
        again = await first.send(document)
        assert again.status == 202 and again.body == original.body
        assert again.headers["Idempotent-Replayed"] == "true"
        reissue = await first.send(changed)
        assert reissue.status == 202 and reissue.headers["Idempotent-Replayed"] == "false"
        assert reissue.body["tracking_id"] != original.body["tracking_id"]

        keyed = await first.send(
            render(certificate("RU0610003")), headers={"Idempotency-Key": "batch-7"}
        )
        assert keyed.status == 202
        conflict = (
            await first.send(
                render(certificate("RU0610004")), headers={"Idempotency-Key": "batch-7"}
            )
        ).problem(409)
        assert conflict["findings"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"

        tracking_id = original.body["tracking_id"]
        learned = (tracking_id, reissue.body["tracking_id"], keyed.body["tracking_id"])
        index = second.running.ingress.accepted
        for _ in range(100):  # the other instance learns from kp.inbound
            if all(index.get(known, "RU") is not None for known in learned):
                break
            await asyncio.sleep(0.1)
        elsewhere = await second.send(document)
        assert elsewhere.status == 202 and elsewhere.body == original.body
        assert elsewhere.headers["Idempotent-Replayed"] == "true"
        reissue_again = await second.send(changed)
        assert reissue_again.body == reissue.body
        assert reissue_again.headers["Idempotent-Replayed"] == "true"
        (
            await second.send(
                render(certificate("RU0610005")), headers={"Idempotency-Key": "batch-7"}
            )
        ).problem(409)
        assert (await second.status(tracking_id, "RU")).body["status"] == "accepted"
    inbound = await read_until(settings, "inbound", 3)
    await asyncio.sleep(0.5)
    inbound = await read_until(settings, "inbound", 4, timeout_s=1)
    assert sorted(h.text_header(r.headers, "kpgw-tracking-id") or "" for r in inbound) == sorted(
        learned
    )


async def test_validate_judges_with_the_translator_code_and_sends_nothing(
    created_topics: Settings,
) -> None:
    settings = created_topics
    cert = certificate("RU0610006")
    async with started(settings) as client:
        ok = await client.validate(render(cert))
        assert ok.status == 200
        assert ok.body == {
            "ok": True,
            "format": "uncefact",
            "kind": "certificate",
            "certificate_id": "RU0610006",
            "findings": [],
        }
        conf = await client.validate(render(confirmation(cert)), "EU")
        assert conf.status == 200 and conf.body["kind"] == "confirmation"
        bad = certificate("RU0610007", hs_code="7102.29", importer="KE", importer_state=None)
        problem = (await client.validate(render(bad))).problem(422)
        assert len(problem["findings"]) >= 2, problem
        (await client.validate(render(cert), "BW")).problem(403)
    assert await read_until(settings, "inbound", 1, timeout_s=1) == []


async def test_validation_in_worker_processes_answers_as_on_the_event_loop(
    created_topics: Settings,
) -> None:
    settings = created_topics
    cert = certificate("RU0610021")
    bad = render(certificate("RU0610022", hs_code="7102.29", importer="KE", importer_state=None))
    async with started(settings) as on_loop:
        expected = (await on_loop.send(bad)).problem(422)
    async with started(settings, validation_processes=1) as client:
        validator = client.running.ingress.validator
        assert isinstance(validator, WorkerValidator) and len(validator.worker_pids()) == 1
        accepted = await client.send(render(cert))
        assert accepted.status == 202, accepted.body
        refused = (await client.send(bad)).problem(422)
        assert (refused["detail"], refused["findings"]) == (
            expected["detail"],
            expected["findings"],
        )
        (await client.send(render(cert), "BW")).problem(403)
        checked = await client.validate(render(confirmation(cert)), "EU")
        assert checked.status == 200 and checked.body["kind"] == "confirmation"
    inbound = await read_until(settings, "inbound", 1)
    assert [h.text_header(r.headers, "kpgw-sender") for r in inbound] == ["RU"]


async def test_a_late_confirmation_reads_overdue_then_matched_late(
    created_topics: Settings, tmp_path: Path
) -> None:
    """The exporter's view of a certificate whose confirmation is late, through the whole
    chain (ingress, translator, router with a clock the test moves)."""
    router_settings = created_topics.router.model_copy(update={"timer_interval_s": 0.1})
    settings = created_topics.model_copy(update={"router": router_settings})
    registry = registry_copy(tmp_path)
    now = [wall_clock()]
    cert = certificate("RU0610004")
    worker, _ = build_translator(settings, registry_path=registry)
    async with (
        started(settings) as client,
        running(lambda: worker),
        routing(settings, registry, clock=lambda: now[0]),
    ):
        sent = await client.send(render(cert), "RU")
        assert sent.status == 202, sent.body
        cert_id = sent.body["tracking_id"]
        await client.wait_status(cert_id, "RU", {"announced"})
        now[0] += timedelta(days=14)  # the RU -> EU deadline, exactly reached
        late = await client.wait_status(cert_id, "RU", {"overdue"})
        confirmed = await client.send(render(confirmation(cert)), "EU")
        assert confirmed.status == 202, confirmed.body
        settled = await client.wait_status(cert_id, "RU", {"matched"})
        importer_view = await client.wait_status(confirmed.body["tracking_id"], "EU", {"matched"})
    assert late["reason"] == "CONFIRMATION_OVERDUE"
    assert settled["detail"] == importer_view["detail"] == "confirmed after the deadline"


async def test_the_status_url_of_a_202_answers_on_another_instance_at_once(
    created_topics: Settings,
) -> None:
    """A scale-out review: behind a load balancer the status URL of a 202 is often asked of
    another instance at once, which answered 404 for ~0.2 s (its view of kp.inbound lags
    by a fetch). A lookup that finds nothing first reads the views to the topics' end."""
    settings = created_topics
    async with started(settings) as first, started(settings) as second:
        for n in range(5):
            accepted = await first.send(render(certificate(f"RU061010{n}")))
            assert accepted.status == 202
            found = await second.status(accepted.body["tracking_id"], "RU")
            assert found.status == 200, found.body
            assert found.body["status"] in {"accepted", "translated"}
        unknown = await second.status("8d3c1f0e-0000-4000-8000-000000000000", "RU")
        unknown.problem(404)  # still a plain 404, after at most a second
