"""The dashboard's aggregation (pure), its operator token, and its page (no external
resource, the CSP names exactly the inline script and style)."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from pydantic import SecretStr

from gateway import codec
from gateway.demo.summary import PLAIN, summarise
from gateway.dlq.store import DeadLetter
from gateway.ingress import dashboard_view
from gateway.ingress.dashboard import (
    BUCKET_S,
    NEWEST_DEAD_LETTERS,
    RECENT_SIGNALS,
    WINDOW_BUCKETS,
    Dashboard,
    DashboardState,
    check_operator,
    tee,
)
from gateway.ingress.problems import Problem
from gateway.registry import ParticipantRegistry
from gateway.settings import load_settings
from tests.openapi_shapes import component, spec, undocumented

NOW = datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def outcome(cert: str, kind: str, exporter: str = "RU", importer: str = "EU") -> dict[str, Any]:
    return {
        "certificate_id": cert,
        "outcome": kind,
        "pair": {"exporter": exporter, "importer": importer},
        "detail": f"{kind} detail",
    }


def announced(cert: str, exporter: str = "RU", importer: str = "EU") -> dict[str, Any]:
    body = {"certificate_number": cert, "exporting_participant": exporter}
    body["importing_participant"] = importer
    return {
        "notification_type": "SHIPMENT_ANNOUNCED",
        "event": {"payload": ("kpgw.events.CertificateIssued", body)},
    }


def letter(n: int, reason: str = "XSD_VIOLATION", sender: str = "RU", at: datetime = NOW) -> Any:
    return DeadLetter(
        id=f"0-{n}",
        partition=0,
        offset=n,
        timestamp=at,
        key=None,
        value=None,
        headers=(),
        reason=reason,
        stage="translator",
        sender=sender,
        original_topic="kp.inbound",
        original_partition=0,
        original_offset=n,
        message="x" * 1000,
    )


def test_counts_per_pair_equal_the_demo_summary_of_the_same_records() -> None:
    outcomes = [
        outcome("RU0000001", "MATCHED"),
        outcome("RU0000002", "MATCHED_WITH_DISCREPANCIES"),
        outcome("RU0000003", "CONFIRMATION_OVERDUE"),
        outcome("RU0000003", "MATCHED"),  # a late confirmation after the overdue report
        outcome("BW0000001", "WRONG_DESTINATION", "BW", "AE"),
        outcome("IN0000009", "ORPHAN_CONFIRMATION", "IN", "AE"),
    ]
    notifications = [
        announced("RU0000001"),
        announced("RU0000002"),
        announced("RU0000003"),
        announced("BW0000001", "BW", "AE"),
        {"notification_type": "OUTCOME"},
        {"notification_type": "IMPORT_CONFIRMED"},
    ]
    dead = [letter(1), letter(2), letter(3, "NOT_KP_GOODS", "IN")]
    state = DashboardState()
    for item in notifications:
        state.announcement(item)
    for item in outcomes:
        state.outcome(item, NOW_MS, NOW_MS)
    for item in dead:
        state.dead_letter(item)
    data = state.snapshot(NOW_MS)
    expected = summarise(outcomes, notifications, [(d.sender, d.reason) for d in dead]).as_dict()
    assert {p.pop("pair"): p for p in data["pairs"]} == expected["pairs"]
    assert data["totals"] == {
        "announced": 4,
        "matched": 2,
        "discrepancies": 1,
        "overdue": 1,
        "fraud_signals": 2,
    }
    assert data["dead_letters"]["total"] == 3
    assert data["dead_letters"]["by_reason"] == [
        {"reason": "XSD_VIOLATION", "count": 2, "pending": 2, "senders": {"RU": 2}},
        {"reason": "NOT_KP_GOODS", "count": 1, "pending": 1, "senders": {"IN": 1}},
    ]
    assert data["fraud_signals"]["total"] == 2
    kinds = {k["kind"]: k for k in data["fraud_signals"]["by_kind"]}
    assert kinds["WRONG_DESTINATION"]["meaning"] == PLAIN["WRONG_DESTINATION"]
    assert {s["certificate_id"] for s in data["fraud_signals"]["recent"]} == {
        "BW0000001",
        "IN0000009",
    }


def test_an_unknown_outcome_kind_is_still_shown_as_a_signal() -> None:
    state = DashboardState()
    state.outcome(outcome("RU1", "SOMETHING_NEW"), NOW_MS, NOW_MS)
    signal = state.snapshot(NOW_MS)["fraud_signals"]["recent"][0]
    assert (signal["kind"], signal["meaning"], signal["pair"]) == (
        "SOMETHING_NEW",
        "something new",
        "RU->EU",
    )


def test_newest_records_are_bounded_and_newest_first() -> None:
    state = DashboardState()
    for n in range(NEWEST_DEAD_LETTERS + 10):
        state.dead_letter(letter(n, at=NOW - timedelta(seconds=100 - n)))
    for n in range(RECENT_SIGNALS + 10):
        state.outcome(outcome(f"RU{n:07d}", "DUPLICATE_CONFIRMATION"), NOW_MS - 100_000 + n, NOW_MS)
    data = state.snapshot(NOW_MS)
    newest = data["dead_letters"]["newest"]
    assert [d["id"] for d in newest] == [
        f"0-{n}" for n in reversed(range(10, NEWEST_DEAD_LETTERS + 10))
    ]
    assert all(len(d["message"]) == 300 for d in newest)
    assert data["dead_letters"]["total"] == NEWEST_DEAD_LETTERS + 10  # counts are not bounded
    recent = data["fraud_signals"]["recent"]
    assert len(recent) == RECENT_SIGNALS
    assert recent[0]["certificate_id"] == f"RU{RECENT_SIGNALS + 9:07d}"


def test_throughput_buckets_cover_the_window_and_forget_older_records() -> None:
    state = DashboardState()
    window_ms = WINDOW_BUCKETS * BUCKET_S * 1000
    state.throughput("accepted", NOW_MS, NOW_MS)
    state.throughput("accepted", NOW_MS - 1000, NOW_MS)
    state.throughput("translated", NOW_MS - 12_000, NOW_MS)
    state.outcome(outcome("RU1", "MATCHED"), NOW_MS - 30_000, NOW_MS)
    state.throughput("accepted", NOW_MS - window_ms - 1, NOW_MS)  # too old: ignored
    running = DashboardState()
    for second in range(0, 3600, 7):  # an hour of traffic keeps only the window
        running.throughput("accepted", NOW_MS + second * 1000, NOW_MS + second * 1000)
    assert len(running.buckets) <= WINDOW_BUCKETS + 2
    data = state.snapshot(NOW_MS)["throughput"]
    buckets = data["buckets"]
    assert len(buckets) == WINDOW_BUCKETS
    assert buckets[-1]["start"] == "2026-03-02T10:00:00Z"
    assert (buckets[-1]["accepted"], buckets[-2]["accepted"]) == (2, 0)  # 10:00:05, 10:00:04
    assert buckets[-2]["translated"] == 1  # 09:59:53
    assert buckets[-4]["decided"] == 1  # 09:59:35
    assert sum(b["accepted"] for b in buckets) == 2


@dataclass
class Record:
    topic: str
    timestamp: int
    value: bytes | None


def test_mirror_callbacks_count_accepted_and_translated(
    example_registry: ParticipantRegistry,
) -> None:
    board = Dashboard(load_settings(), lambda: example_registry)
    now = int(datetime.now(UTC).timestamp() * 1000)
    status = {
        "tracking_id": "t1",
        "sender": "RU",
        "message_id": None,
        "certificate_id": None,
        "status": "TRANSLATED",
        "reason": None,
        "detail": None,
        "updated_at": now,
    }
    seen: list[str] = []
    inbound = tee(lambda r: seen.append("first"), board.on_inbound)
    inbound(Record("kp.inbound", now, b"<xml/>"))
    board.on_status(Record("kp.status", now, codec.encode("DeliveryStatus", status)))
    board.on_status(
        Record("kp.status", now, codec.encode("DeliveryStatus", {**status, "status": "MATCHED"}))
    )
    board.on_status(Record("kp.status", now, b"not avro"))  # never raises
    board.on_status(Record("kp.status", now, None))
    assert seen == ["first"]
    last = board.document()["throughput"]["buckets"][-1]
    assert (last["accepted"], last["translated"]) == (1, 1)
    document = board.document()
    assert document["ready"] is False
    assert document["topic_prefix"] == "kp."


def _request(authorization: str | None) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    if authorization is not None and not authorization.isascii():
        # aiohttp decodes raw header bytes with surrogate escapes; its mock cannot encode them.
        return SimpleNamespace(headers=CIMultiDict(headers))
    return make_mocked_request("GET", "/dashboard", headers=headers)


def test_two_different_authorization_headers_are_no_operator() -> None:
    """The first of two was taken (a code review): participants' requests with two
    different Authorization headers are refused, and so are the operator's."""
    token = SecretStr("s3cret-operator")
    both = CIMultiDict([("Authorization", "Bearer s3cret-operator"), ("Authorization", "Bearer x")])
    with pytest.raises(Problem) as caught:
        check_operator(make_mocked_request("GET", "/dashboard", headers=both), token)
    assert caught.value.status == 401
    same = CIMultiDict([("Authorization", "Bearer s3cret-operator")] * 2)
    check_operator(make_mocked_request("GET", "/dashboard", headers=same), token)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_dashboard_is_open_without_a_token() -> None:
    check_operator(_request(None), None)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer s3cret-operator", _basic("anyone", "s3cret-operator"), _basic("", "s3cret-operator")],
)
def test_the_operator_token_is_accepted_as_bearer_or_basic_password(authorization: str) -> None:
    check_operator(_request(authorization), SecretStr("s3cret-operator"))


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer wrong",
        "Bearer",
        _basic("s3cret-operator", "wrong"),
        "Basic !!!not-base64",
        "Token s3cret-operator",
        "Basic é",  # not ASCII: base64 refuses it with a ValueError
        "Bearer \udcff",  # a raw 0xFF byte, as aiohttp hands it over
        "Basic " + base64.b64encode(b"op:\xff").decode(),  # a password that is not UTF-8
    ],
)
def test_anything_else_is_401_with_a_basic_challenge(authorization: str | None) -> None:
    with pytest.raises(Problem) as caught:
        check_operator(_request(authorization), SecretStr("s3cret-operator"))
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert "s3cret" not in caught.value.detail


@pytest.mark.parametrize("authorization", [_basic("", ""), _basic("op", ""), "Bearer ", "Basic "])
def test_an_empty_presented_token_never_passes(authorization: str) -> None:
    """Found by an operations review: with an empty operator token (which the settings
    now refuse), ``curl -u ':'`` presented an equal empty password and got in."""
    for configured in (SecretStr(""), SecretStr("s3cret-operator")):
        with pytest.raises(Problem) as caught:
            check_operator(_request(authorization), configured)
        assert caught.value.status == 401


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_loads_nothing_from_elsewhere_and_the_csp_pins_its_script() -> None:
    page = dashboard_view.page().decode()
    # The only URL is the SVG namespace (an identifier, never fetched).
    assert set(re.findall(r"https?://[^\s\"'`]+", page)) == {"http://www.w3.org/2000/svg"}
    assert '<link rel="stylesheet"' not in page
    assert "src=" not in page.replace('"icon" href="data:,"', "")
    assert "innerHTML" not in page
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == len(styles) == 1
    policy = dashboard_view.headers()["Content-Security-Policy"]
    assert f"script-src {_hash(scripts[0])};" in policy
    assert f"style-src {_hash(styles[0])};" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_refusal_names_what_was_asked_for() -> None:
    with pytest.raises(Problem) as caught:
        check_operator(_request("Bearer wrong"), SecretStr("scrape"), "/metrics")
    assert caught.value.detail.startswith("/metrics needs the operator token")


def test_a_dead_letter_without_a_value_is_counted_like_dlq_stats(
    example_registry: ParticipantRegistry,
) -> None:
    """Found by an operations review: the dashboard skipped value-less dead letters (a
    Kafka-native sender's empty record), so its total differed from kpgw dlq stats."""
    dashboard = Dashboard(load_settings(), lambda: example_registry)
    record = SimpleNamespace(
        topic=dashboard.dlq_topic,
        partition=0,
        offset=7,
        timestamp=1_767_225_600_000,
        key=None,
        value=None,
        headers=[("kpgw-reason", b"EMPTY_DOCUMENT"), ("kpgw-sender", b"RU")],
    )
    dashboard._apply(record)
    letters = dashboard.state.snapshot(1_767_225_600_000)["dead_letters"]
    assert letters["total"] == 1


def test_senders_that_are_no_participant_code_share_one_row() -> None:
    """A Kafka-native record's kpgw-sender may be anything: a security review sent
    megabytes, and each distinct value was a row the page kept."""
    state = DashboardState()
    for sender in ("Q" * 100_000, "za", "Z\ufffdA", "", "RU"):
        state.dead_letter(letter(1, sender=sender))
    (row,) = state.snapshot(NOW_MS)["dead_letters"]["by_reason"]
    assert row["senders"] == {"(not a participant code)": 3, "?": 1, "RU": 1}


def test_a_letter_naming_conflicting_senders_counts_for_each_as_dlq_stats_does() -> None:
    """It counted for its last kpgw-sender only, and the other sender's row missed it."""
    record = SimpleNamespace(
        partition=0,
        offset=3,
        timestamp=NOW_MS,
        key=None,
        value=b"<x/>",
        headers=[
            ("kpgw-reason", b"INVALID_INBOUND_HEADER"),
            ("kpgw-sender", b"RU"),
            ("kpgw-sender", b"BW"),
            ("kpgw-sender", b"Q" * 100),
        ],
    )
    state = DashboardState()
    state.dead_letter(DeadLetter.of(record))
    (row,) = state.snapshot(NOW_MS)["dead_letters"]["by_reason"]
    assert row["senders"] == {"RU": 1, "BW": 1, "(not a participant code)": 1}
    (newest,) = state.snapshot(NOW_MS)["dead_letters"]["newest"]
    assert newest["sender"] == "RU, BW, (not a participant code)"


def test_the_dashboard_is_not_live_while_the_broker_is_away(
    example_registry: ParticipantRegistry,
) -> None:
    """An SRE review: /readyz said 503 (broker down) while the page said "Live" over
    figures that no longer moved."""
    board = Dashboard(load_settings(), lambda: example_registry)
    board.caught_up.set()
    assert board.document()["ready"] is True
    away = board.document(broker_reachable=False)
    assert (away["ready"], away["broker_reachable"]) == (False, False)
    assert "Broker unreachable" in dashboard_view.page().decode()


def test_replayed_dead_letters_are_no_longer_pending(example_registry: ParticipantRegistry) -> None:
    """An operator review: the tile and the reasons counted the dead letters of a replay
    that failed again on top of the originals, and never came down once they were fixed;
    ``kpgw dlq stats`` said 4 pending where the dashboard said 32 dead letters."""
    state = DashboardState()
    at = datetime(2026, 11, 1, tzinfo=UTC)

    def letter(offset: int, replay_of: bytes | None = None) -> DeadLetter:
        headers = () if replay_of is None else (("kpgw-replayed-from", replay_of),)
        return DeadLetter(
            id=f"0-{offset}",
            partition=0,
            offset=offset,
            timestamp=at,
            key=None,
            value=b"<x/>",
            headers=headers,
            reason="PAIR_NOT_ENABLED",
            stage="translator",
            sender="RU",
            original_topic="kp.inbound",
            original_partition=0,
            original_offset=offset,
            message="pair RU->AE not enabled",
        )

    for offset in (0, 1):
        state.dead_letter(letter(offset))
    state.replay({"dry_run": True, "dead_letters": ["dlq/0/0", "dlq/0/1"]})  # nothing sent
    assert state.snapshot(NOW_MS)["dead_letters"]["pending"] == 2
    state.replay({"dry_run": False, "dead_letters": ["dlq/0/0", "dlq/0/1"]})
    for offset, original in ((2, b"dlq/0/0"), (3, b"dlq/0/1")):  # before the fix: back again
        state.dead_letter(letter(offset, original))
    dead = state.snapshot(NOW_MS)["dead_letters"]
    assert (dead["total"], dead["pending"], dead["failed_again_after_replay"]) == (4, 2, 2)
    state.replay({"dry_run": False, "dead_letters": ["dlq/0/2", "dlq/0/3"]})  # after the fix
    dead = state.snapshot(NOW_MS)["dead_letters"]
    assert (dead["pending"], dead["by_reason"][0]["pending"]) == (0, 0)


def test_the_data_document_has_exactly_the_fields_the_openapi_document_names(
    example_registry: ParticipantRegistry,
) -> None:
    """Found generating a Java client from the OpenAPI document: ``participants`` was not
    in DashboardData, and the generated client refused every answer of
    /dashboard/data.json ("The field `participants` in the JSON string is not defined in
    the `DashboardData` properties")."""
    board = Dashboard(load_settings(), lambda: example_registry)
    board.state.announcement(announced("RU0000001"))
    board.state.outcome(outcome("RU0000001", "MATCHED"), NOW_MS, NOW_MS)
    board.state.outcome(outcome("BW0000001", "WRONG_DESTINATION", "BW", "AE"), NOW_MS, NOW_MS)
    board.state.dead_letter(letter(1))
    board.state.throughput("accepted", NOW_MS, NOW_MS)
    document = board.document()
    assert document["participants"] == {
        "AE": "United Arab Emirates",
        "BW": "Botswana",
        "EU": "European Union",
        "RU": "Russian Federation",
    }
    assert all(document[key] for key in ("pairs", "participants"))
    assert document["dead_letters"]["newest"] and document["fraud_signals"]["recent"]
    openapi = spec()
    assert set(document) == set(openapi["components"]["schemas"]["DashboardData"]["required"])
    assert undocumented(document, component("DashboardData"), openapi) == []
