"""``kpgw status`` for people and its exit codes (a new-user review): a refused call (the
token, the URL, the ingress) exits 2 like ``kpgw send``; an unknown tracking id, the answer
about that id, exits 1."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli
from gateway.cli.status_cmd import describe
from gateway.events import CertificateEvent, HsLine
from gateway.ingress.idempotency import IdempotencyIndex
from gateway.ingress.problems import UNKNOWN_MESSAGE
from gateway.ingress.status import StatusView
from gateway.router import TopicKind
from tests.unit.cli.ingress_stub import ingress_stub
from tests.unit.router.factories import (
    DUBAI,
    RU_LINES,
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    issued,
    void,
)


async def _status(url: str, *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, cli, ["status", "--url", url, "--token", "t", *args]
    )


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        (401, "the bearer token is not valid"),
        (403, "the participant is suspended"),
        (500, "an internal error occurred; it has been logged"),
    ],
)
async def test_a_refused_call_exits_2_like_send(code: int, detail: str) -> None:
    async with ingress_stub() as stub:
        stub.statuses["ZA:walk-za-1"] = [(code, detail)]
        human = await _status(stub.url, "ZA:walk-za-1")
        machine = await _status(stub.url, "--json", "ZA:walk-za-1")
    assert human.exit_code == machine.exit_code == 2, human.output
    assert human.stdout.startswith(f"ZA:walk-za-1: no status ({code}) ")
    assert human.stdout.endswith(f": {detail}\n")  # the problem's title, then its detail
    assert "1 of 1 request(s) failed" in human.stderr
    assert "ask again later" not in human.stderr


async def test_no_connection_exits_2_and_says_the_call_failed() -> None:
    async with ingress_stub() as stub:
        url = stub.url
    gone = await _status(url, "t-1")  # the stub has stopped: connection refused
    assert gone.exit_code == 2
    assert gone.stdout.startswith("t-1: no answer: ")
    assert "1 of 1 request(s) failed" in gone.stderr


async def test_an_unknown_id_is_told_from_a_wrong_url() -> None:
    """Both are 404s: the status endpoint's own problem says no such message (exit 1, the
    answer about that id); any other 404 is a route that does not exist (exit 2)."""
    async with ingress_stub() as stub:
        stub.statuses["ZA:real-route"] = [(404, "Not Found")]  # the ingress's unknown route
        unknown = await _status(stub.url, "ZA:unknown")
        routed = await _status(stub.url, "ZA:real-route")
        plain = await _status(stub.url + "/nope", "ZA:unknown")  # not even a problem document
        machine = await _status(stub.url + "/nope", "--json", "ZA:unknown")
    assert unknown.exit_code == 1, unknown.output
    assert unknown.stdout == (
        "ZA:unknown: unknown to this participant (404): no message ZA:unknown of ZA is known\n"
    )
    assert unknown.stderr == ""  # nothing to ask again later
    assert routed.exit_code == plain.exit_code == machine.exit_code == 2
    assert routed.stdout == (
        f"ZA:real-route: no status (404) Not found; no kpgw status endpoint at {stub.url}: "
        "check --url\n"
    )
    assert plain.stdout == (
        f"ZA:unknown: no status (404) 404: Not Found; no kpgw status endpoint at {stub.url}/nope: "
        "check --url\n"
    )
    assert "ask again later" not in plain.stderr and "request(s) failed" in plain.stderr
    assert machine.stdout.count("\n") == 1  # the JSON line is as before: http_status, problem


async def test_the_unknown_message_problem_is_told_by_its_type_or_an_older_servers_words() -> None:
    """The status endpoint's 404 has its own problem type; a server from before it said so
    with the generic not-found type and its wording, still understood."""
    older = UNKNOWN_MESSAGE.format(tracking_id="ZA:old", participant="ZA")
    async with ingress_stub() as stub:
        stub.statuses["ZA:old"] = [(404, older)]  # type not-found, the endpoint's words
        stub.statuses["ZA:reworded"] = [(404, "nothing of ZA here", "unknown-message")]
        old = await _status(stub.url, "ZA:old")
        reworded = await _status(stub.url, "ZA:reworded")
        typed = await _status(stub.url, "--json", "ZA:new")
    assert old.exit_code == reworded.exit_code == typed.exit_code == 1, old.output
    assert old.stdout == f"ZA:old: unknown to this participant (404): {older}\n"
    assert reworded.stdout == (
        "ZA:reworded: unknown to this participant (404): nothing of ZA here\n"
    )
    problem = json.loads(typed.stdout)["problem"]
    assert (problem["type"], problem["title"], problem["status"]) == (
        "urn:kpgw:problem:unknown-message",
        "Not found",
        404,
    )


async def test_json_carries_each_outcome_with_its_sentence_and_band() -> None:
    outcomes = [
        {
            "outcome": "VALUE_PER_CARAT_OUT_OF_BAND",
            "detail": "500.00 USD/ct is outside 38.8-242.5 USD/ct for origin RU",
            "value_band": {
                "usd_per_carat": "500.00",
                "low": "38.8",
                "high": "242.5",
                "hs_code": None,
            },
        }
    ]
    found = {
        "status": "discrepancy",
        "reason": "VALUE_PER_CARAT_OUT_OF_BAND",
        "detail": "VALUE_PER_CARAT_OUT_OF_BAND",
        "certificate_id": "RU0123456",
        "differences": [],
        "outcomes": outcomes,
        "updated_at": "2026-03-02T10:00:00.000Z",
    }
    async with ingress_stub() as stub:
        stub.statuses["RU:t-1"] = [found]
        machine = await _status(stub.url, "--json", "RU:t-1")
    assert machine.exit_code == 0, machine.output
    assert json.loads(machine.stdout)["outcomes"] == outcomes


def _shown(router: Harness, item: CertificateEvent) -> list[str]:
    """``kpgw status`` of ``item``'s message as the ingress would serve it: the router's
    kp.status records through the ingress's status view, then the human lines."""
    view = StatusView(clock=lambda: T0 + timedelta(days=90))
    tracking_id = item.source.tracking_id
    sender = None
    for emission in router.emissions:
        if emission.topic is TopicKind.STATUS and emission.key == tracking_id:
            view.apply(SimpleNamespace(key=emission.key.encode(), value=emission.to_bytes()))
            sender = emission.value["sender"]
    assert tracking_id is not None and sender is not None
    found = view.lookup(tracking_id, sender, cast(IdempotencyIndex, None))
    assert found is not None
    return describe({"http_status": 200, **found})[1:]  # the first line: state and time


def test_each_difference_says_what_its_values_are() -> None:
    """The router fills a difference's two values per outcome (the original and the
    re-issue, two confirmations, a void date and a receipt, a ratio alone): each is named
    so, never "certificate X, confirmation Y" for all, never "None" (a new-user review)."""
    cert = event(certificate())
    first = event(confirmation(issued(cert)))
    second = event(
        confirmation(issued(cert), date_of_receipt=issued(cert).issue_date + timedelta(days=30))
    )
    twice = Harness()
    for item in (cert, first, second):
        twice.feed(item)
    assert _shown(twice, second) == [
        f"  DUPLICATE_CONFIRMATION: already confirmed by event {first.event_id}",
        "  date_of_receipt: first confirmation 2025-03-12, later confirmation 2025-04-02 "
        "(DUPLICATE_CONFIRMATION)",
    ]

    heavier = (
        HsLine("7102.31", Decimal("1620.350"), Decimal("147474.00")),
        HsLine("7102.21", Decimal("310.200"), Decimal("12408.00")),
    )
    reissue = event(certificate(lines=heavier))
    reissued = Harness()
    reissued.feed(cert)
    reissued.feed(reissue)
    assert _shown(reissued, reissue) == [
        "  CONFLICTING_REISSUE: RU0123456 issued again with different content",
        "  lines: original certificate 7102.21 310.200 ct 12408.00 USD; 7102.31 1520.350 ct "
        "147474.00 USD, re-issued certificate 7102.21 310.200 ct 12408.00 USD; 7102.31 "
        "1620.350 ct 147474.00 USD (CONFLICTING_REISSUE)",
        "  total_carats: original certificate 1830.550, re-issued certificate 1930.550 "
        "(CONFLICTING_REISSUE)",
    ]

    cancelled = event(void(issued(cert)))
    voided = Harness()
    voided.feed(cert)
    voided.feed(cancelled, T0 + timedelta(days=5))
    voided.feed(first, T0 + timedelta(days=9))
    assert _shown(voided, first) == [
        "  CONFIRMED_AFTER_VOID: received 2025-03-12, certificate voided 2025-03-08: "
        "Shipment cancelled by exporter",
        "  date_of_receipt: voided on 2025-03-08, received 2025-03-12 (CONFIRMED_AFTER_VOID)",
    ]

    early = event(void(issued(cert), voided_on=issued(cert).issue_date + timedelta(days=20)))
    used = Harness()
    for item in (cert, early, first):
        used.feed(item)
    assert _shown(used, first) == [
        "  VOIDED_AFTER_RECEIPT: voided 2025-03-23 (Shipment cancelled by exporter), after EU "
        "confirmed receiving the goods on 2025-03-12",
        "  date_of_receipt: voided on 2025-03-23, received 2025-03-12 (VOIDED_AFTER_RECEIPT)",
    ]

    expired = Harness()
    expired.feed(cert)
    late = event(
        confirmation(issued(cert), date_of_receipt=issued(cert).expiry_date + timedelta(days=1))
    )
    expired.feed(late)
    assert _shown(expired, late) == [
        "  CONFIRMED_AFTER_EXPIRY: received 2025-05-03, certificate expired 2025-05-02",
        "  date_of_receipt: certificate valid until 2025-05-02, received 2025-05-03 "
        "(CONFIRMED_AFTER_EXPIRY)",
    ]

    dear = event(certificate(lines=(HsLine("7102.31", Decimal("1000.000"), Decimal("500000.00")),)))
    band = Harness()
    band.feed(dear)
    assert _shown(band, dear) == [
        "  VALUE_PER_CARAT_OUT_OF_BAND: 500.00 USD/ct is outside 38.8-242.5 USD/ct for origin RU",
        "  usd_per_carat: certificate 500.00, outside its origin's band 38.8-242.5 USD/ct "
        "(VALUE_PER_CARAT_OUT_OF_BAND)",
    ]

    diverted = event(
        confirmation(
            issued(cert), confirming_participant="AE", confirming_member_state=None, importer=DUBAI
        )
    )
    wrong = Harness()
    wrong.feed(cert)
    wrong.feed(diverted)
    assert _shown(wrong, cert) == [
        "  WRONG_DESTINATION: certificate for EU confirmed by AE",
        "  confirming_participant: certificate's importer EU, confirmed by AE (WRONG_DESTINATION)",
        "  importer: certificate Antwerp Rough Trading BV, confirmation Dubai Rough DMCC "
        "(WRONG_DESTINATION)",
    ]

    industrial = HsLine("7102.21", Decimal("0.500"), Decimal("25000000.00"))
    gem = HsLine("7102.31", Decimal("100.000"), Decimal("15000.00"))
    inflated = event(
        replace(
            certificate(
                "BW1234567", issuing_participant="BW", exporting_participant="BW", origin="BW"
            ),
            lines=(gem, industrial),
            total_carats=gem.carats + industrial.carats,
            total_value_usd=gem.value_usd + industrial.value_usd,
        )
    )
    alone = Harness()
    alone.feed(inflated)
    assert _shown(alone, inflated)[1] == (
        "  usd_per_carat: certificate 50000000.00, above its origin's 327.5 USD/ct "
        "(VALUE_PER_CARAT_OUT_OF_BAND)"
    )

    fewer = event(confirmation(issued(cert), lines=RU_LINES[:1]))
    partly = Harness()
    partly.feed(cert)
    partly.feed(fewer)
    assert _shown(partly, fewer) == [
        # Every outcome but MATCHED_WITH_DISCREPANCIES had its sentence (walkthrough).
        "  MATCHED_WITH_DISCREPANCIES: the confirmation differs from the certificate in "
        "lines[7102.21]",
        "  lines[7102.21]: certificate 7102.21, not on the confirmation "
        "(MATCHED_WITH_DISCREPANCIES)",
    ]


def test_a_third_party_is_shown_only_what_it_was_told() -> None:
    cert = event(certificate())
    probe = event(
        confirmation(
            issued(cert), confirming_participant="AE", confirming_member_state=None, importer=DUBAI
        )
    )
    router = Harness()
    router.feed(cert)
    router.feed(probe)
    assert _shown(router, probe) == [
        "  WRONG_DESTINATION: certificate RU0123456 is not addressed to AE; the confirmation "
        "does not count as its receipt, and the issuing participant has been told"
    ]


def test_a_status_from_an_older_server_is_shown_as_before() -> None:
    """No ``outcomes`` (a server before DeliveryStatus v3): the differences alone."""
    older = {
        "tracking_id": "t-1",
        "http_status": 200,
        "status": "discrepancy",
        "reason": "VALUE_PER_CARAT_OUT_OF_BAND",
        "detail": "VALUE_PER_CARAT_OUT_OF_BAND",
        "differences": [
            {
                "outcome": "VALUE_PER_CARAT_OUT_OF_BAND",
                "field": "usd_per_carat",
                "certificate": "500.00",
                "confirmation": None,
            }
        ],
    }
    assert describe(older)[1:] == [
        "  usd_per_carat: certificate 500.00, out of its origin's band "
        "(VALUE_PER_CARAT_OUT_OF_BAND)"
    ]


@pytest.mark.parametrize(
    ("reason", "detail", "shown"),
    [
        ("MATCHED_WITH_DISCREPANCIES", "MATCHED_WITH_DISCREPANCIES", []),
        (
            "CONFLICTING_REISSUE",
            "CONFLICTING_REISSUE, MATCHED_WITH_DISCREPANCIES",
            ["  also MATCHED_WITH_DISCREPANCIES"],
        ),
        (
            "MATCHED_WITH_DISCREPANCIES",
            "MATCHED_WITH_DISCREPANCIES; confirmed after the deadline",
            ["  confirmed after the deadline"],
        ),
        (None, "cancelled by its issuer", ["  cancelled by its issuer"]),
        (None, None, []),
    ],
)
def test_the_detail_does_not_repeat_the_reason(
    reason: str | None, detail: str | None, shown: list[str]
) -> None:
    found = {"tracking_id": "t-1", "http_status": 200, "status": "discrepancy"}
    assert describe({**found, "reason": reason, "detail": detail})[1:] == shown


async def test_https_to_a_plain_http_ingress_says_so(tmp_path: Path) -> None:
    """``--url https://...`` to an ingress without TLS files failed with 'SSL:
    WRONG_VERSION_NUMBER', which does not say that the server speaks plain http."""
    document = tmp_path / "certificate.xml"
    document.write_bytes(b"<r/>")
    async with ingress_stub() as stub:
        secure = stub.url.replace("http://", "https://")
        status = await _status(secure, "t-1")
        sent = await asyncio.to_thread(
            CliRunner().invoke, cli, ["send", "--url", secure, "--token", "t", str(document)]
        )
    for result in (status, sent):
        assert result.exit_code == 2, result.output
        assert "answered without TLS" in result.stdout and "use http://" in result.stdout
