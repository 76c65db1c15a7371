"""The status view: kp.status records, latest wins, each participant sees only its own."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro

from gateway import codec
from gateway.ingress.idempotency import Accepted, IdempotencyIndex
from gateway.ingress.status import StatusView
from tests.openapi_shapes import component, spec, undocumented

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Record:
    key: bytes | None
    value: bytes | None


def status(tracking_id: str, state: str, **extra: Any) -> Record:
    value = {
        "tracking_id": tracking_id,
        "sender": extra.pop("sender", "RU"),
        "message_id": "m-1",
        "certificate_id": "RU0100001",
        "status": state,
        "reason": None,
        "detail": None,
        "updated_at": AT,
        **extra,
    }
    return Record(tracking_id.encode(), codec.encode("DeliveryStatus", value))


def test_latest_status_wins_and_reads_as_the_api_words() -> None:
    view = StatusView(clock=lambda: AT)
    accepted = IdempotencyIndex(clock=lambda: AT)
    view.apply(status("t1", "TRANSLATED"))
    assert view.lookup("t1", "RU", accepted) == {
        "tracking_id": "t1",
        "status": "translated",
        "reason": None,
        "detail": None,
        "certificate_id": "RU0100001",
        "differences": [],
        "outcomes": [],
        "updated_at": "2026-03-02T10:00:00.000Z",
    }
    difference = {
        "outcome": "MATCHED_WITH_DISCREPANCIES",
        "field": "lines[7102.31].carats",
        "certificate": "1520.400",
        "confirmation": "1498.000",
    }
    view.apply(
        status(
            "t1",
            "DISCREPANCY",
            reason="MATCHED_WITH_DISCREPANCIES",
            differences=[difference],
        )
    )
    found = view.lookup("t1", "RU", accepted)
    assert found is not None and (found["status"], found["reason"]) == (
        "discrepancy",
        "MATCHED_WITH_DISCREPANCIES",
    )
    assert found["differences"] == [difference]
    assert found["outcomes"] == []
    view.apply(status("t2", "DEAD_LETTERED", reason="XSD_VIOLATION"))
    dead = view.lookup("t2", "RU", accepted)
    assert dead is not None and dead["status"] == "dead-lettered"


def test_only_the_sender_sees_its_message() -> None:
    view = StatusView(clock=lambda: AT)
    accepted = IdempotencyIndex(clock=lambda: AT)
    view.apply(status("t1", "MATCHED", sender="EU"))
    assert view.lookup("t1", "EU", accepted) is not None
    assert view.lookup("t1", "RU", accepted) is None
    assert view.lookup("unknown", "EU", accepted) is None


def test_a_status_for_another_sender_under_the_same_tracking_id_hides_nothing() -> None:
    view = StatusView(clock=lambda: AT)
    accepted = IdempotencyIndex(clock=lambda: AT)
    view.apply(status("t1", "TRANSLATED", sender="BW"))
    view.apply(status("t1", "DEAD_LETTERED", sender="RU"))  # a forged tracking id
    assert view.lookup("t1", "BW", accepted)["status"] == "translated"  # type: ignore[index]
    assert view.lookup("t1", "RU", accepted)["status"] == "dead-lettered"  # type: ignore[index]


def test_accepted_before_kp_status_mentions_it_and_tombstones_forget() -> None:
    view = StatusView(clock=lambda: AT)
    accepted = IdempotencyIndex(clock=lambda: AT)
    accepted.remember("t3", Accepted("RU", "abc", AT, "m-3"))
    found = view.lookup("t3", "RU", accepted)
    assert found is not None and found["status"] == "accepted" and found["updated_at"].endswith("Z")
    assert view.lookup("t3", "BW", accepted) is None
    view.apply(status("t3", "TRANSLATED"))
    assert view.lookup("t3", "RU", accepted)["status"] == "translated"  # type: ignore[index]
    view.apply(Record(b"t3", None))
    assert view.lookup("t3", "RU", accepted)["status"] == "accepted"  # type: ignore[index]
    assert len(view) == 0


def test_a_status_written_before_differences_existed_reads_with_none() -> None:
    """kp.status is compacted: records of DeliveryStatus v1 stay on it for good."""
    v1_schema = fastavro.parse_schema(
        json.loads(codec.released_paths("DeliveryStatus")[0].read_text())
    )
    v1 = codec.registry().by_fingerprint(codec.fingerprint(v1_schema))
    assert v1 is not None and v1.version == "1"
    body = io.BytesIO()
    value = {
        "tracking_id": "t9",
        "sender": "RU",
        "message_id": None,
        "certificate_id": "RU0100009",
        "status": "DISCREPANCY",
        "reason": "CONFIRMED_AFTER_EXPIRY",
        "detail": "CONFIRMED_AFTER_EXPIRY",
        "updated_at": AT,
    }
    fastavro.schemaless_writer(body, v1.schema, value)
    view = StatusView(clock=lambda: AT)
    view.apply(Record(b"t9", codec.MAGIC + v1.fingerprint + body.getvalue()))
    found = view.lookup("t9", "RU", IdempotencyIndex())
    assert found is not None
    assert (found["reason"], found["differences"]) == ("CONFIRMED_AFTER_EXPIRY", [])


def test_a_discrepancy_shows_each_outcomes_sentence_and_the_band() -> None:
    view = StatusView(clock=lambda: AT)
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
        },
        {"outcome": "MATCHED_WITH_DISCREPANCIES", "detail": None, "value_band": None},
    ]
    view.apply(
        status(
            "t1",
            "DISCREPANCY",
            reason="VALUE_PER_CARAT_OUT_OF_BAND",
            detail="VALUE_PER_CARAT_OUT_OF_BAND, MATCHED_WITH_DISCREPANCIES",
            outcomes=outcomes,
        )
    )
    found = view.lookup("t1", "RU", IdempotencyIndex())
    assert found is not None and found["outcomes"] == outcomes
    found["outcomes"][0]["value_band"]["low"] = "0"  # the caller's copy, not the view's
    again = view.lookup("t1", "RU", IdempotencyIndex())
    assert again is not None and again["outcomes"] == outcomes
    assert view.lookup("t1", "EU", IdempotencyIndex()) is None


def test_a_status_written_before_outcomes_existed_reads_with_none() -> None:
    """DeliveryStatus v2 records (differences, no outcomes) stay on the compacted topic."""
    v2_schema = fastavro.parse_schema(
        json.loads(codec.released_paths("DeliveryStatus")[1].read_text())
    )
    v2 = codec.registry().by_fingerprint(codec.fingerprint(v2_schema))
    assert v2 is not None and v2.version == "2"
    body = io.BytesIO()
    value = {
        "tracking_id": "t8",
        "sender": "RU",
        "certificate_id": "RU0100008",
        "status": "DISCREPANCY",
        "reason": "WRONG_DESTINATION",
        "detail": "WRONG_DESTINATION",
        "differences": [],
        "updated_at": AT,
    }
    fastavro.schemaless_writer(body, v2.schema, value)
    view = StatusView(clock=lambda: AT)
    view.apply(Record(b"t8", codec.MAGIC + v2.fingerprint + body.getvalue()))
    found = view.lookup("t8", "RU", IdempotencyIndex())
    assert found is not None
    assert (found["reason"], found["outcomes"]) == ("WRONG_DESTINATION", [])


def test_statuses_older_than_the_retention_are_forgotten() -> None:
    """Found by an SRE review: compaction kept every tracking id forever and the view held
    them all; statuses now live 400 days (the topic deletes them too)."""
    now = [AT]
    view = StatusView(retention=timedelta(days=400), clock=lambda: now[0])
    accepted = IdempotencyIndex(clock=lambda: AT)
    view.apply(status("old", "MATCHED", updated_at=AT - timedelta(days=401)))
    assert view.lookup("old", "RU", accepted) is None  # arrived aged out: not kept
    view.apply(status("t1", "MATCHED"))
    view.apply(status("t2", "TRANSLATED", updated_at=AT + timedelta(days=100)))
    now[0] = AT + timedelta(days=401)
    assert view.sweep() == 1
    assert view.lookup("t1", "RU", accepted) is None
    assert view.lookup("t2", "RU", accepted) is not None
    assert len(view) == 1


def test_a_sweep_runs_by_itself_every_so_many_records() -> None:
    now = [AT]
    view = StatusView(retention=timedelta(days=400), clock=lambda: now[0])
    view.SWEEP_EVERY = 3
    view.apply(status("t1", "MATCHED"))
    now[0] = AT + timedelta(days=401)
    fresh = {"updated_at": now[0]}
    view.apply(status("t2", "MATCHED", **fresh))
    assert len(view) == 2
    view.apply(status("t3", "MATCHED", **fresh))  # the third record sweeps t1 away
    assert len(view) == 2 and view.lookup("t1", "RU", IdempotencyIndex()) is None


def test_every_status_document_has_exactly_the_fields_the_openapi_document_names() -> None:
    """A generated client's model knows only what MessageStatus names, and treats what it
    does not require as optional: ``detail`` is always sent (null or not), so required."""
    document = spec()
    schema = document["components"]["schemas"]["MessageStatus"]
    view = StatusView(clock=lambda: AT)
    accepted = IdempotencyIndex(clock=lambda: AT)
    accepted.remember("t0", Accepted("RU", "abc", AT, "m-0"))
    band = {"usd_per_carat": "15.80", "low": "62.8", "high": "392.5", "hs_code": "7102.10"}
    view.apply(
        status(
            "t1",
            "DISCREPANCY",
            reason="VALUE_PER_CARAT_OUT_OF_BAND",
            differences=[
                {
                    "outcome": "VALUE_PER_CARAT_OUT_OF_BAND",
                    "field": "usd_per_carat",
                    "certificate": "15.80",
                    "confirmation": None,
                }
            ],
            outcomes=[
                {"outcome": "VALUE_PER_CARAT_OUT_OF_BAND", "detail": "low", "value_band": band},
                {"outcome": "MATCHED_WITH_DISCREPANCIES", "detail": None, "value_band": None},
            ],
        )
    )
    for tracking_id in ("t0", "t1"):
        found = view.lookup(tracking_id, "RU", accepted)
        assert found is not None
        assert set(found) == set(schema["required"]) == set(schema["properties"])
        assert undocumented(found, component("MessageStatus"), document) == []
