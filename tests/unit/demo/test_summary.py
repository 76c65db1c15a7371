from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from gateway.demo.run import dead_letter_entry
from gateway.demo.summary import render, summarise
from gateway.dlq.headers import REASON, SENDER
from gateway.dlq.store import DeadLetter


def _outcome(cert: str, kind: str, exporter: str = "RU", importer: str = "EU") -> dict[str, object]:
    return {
        "certificate_id": cert,
        "outcome": kind,
        "pair": {"exporter": exporter, "importer": importer},
        "detail": f"{kind} detail",
    }


def _announced(cert: str, exporter: str, importer: str) -> dict[str, object]:
    payload = (
        "kpgw.events.CertificateIssued",
        {
            "certificate_number": cert,
            "exporting_participant": exporter,
            "importing_participant": importer,
        },
    )
    return {"notification_type": "SHIPMENT_ANNOUNCED", "event": {"payload": payload}}


def test_counts_per_pair_signals_and_dead_letters() -> None:
    summary = summarise(
        outcomes=[
            _outcome("RU0000001", "MATCHED"),
            _outcome("RU0000002", "MATCHED_WITH_DISCREPANCIES"),
            _outcome("RU0000003", "CONFIRMATION_OVERDUE"),
            _outcome("BW0000001", "WRONG_DESTINATION", "BW", "AE"),
            _outcome("BW0000001", "CONFIRMATION_OVERDUE", "BW", "AE"),
        ],
        announcements=[
            _announced("RU0000001", "RU", "EU"),
            _announced("RU0000002", "RU", "EU"),
            _announced("RU0000003", "RU", "EU"),
            _announced("BW0000001", "BW", "AE"),
            {"notification_type": "OUTCOME"},
        ],
        dead_letters=[("RU", "XSD_VIOLATION"), ("RU", "XSD_VIOLATION"), ("IN", "NOT_KP_GOODS")],
    )
    data = summary.as_dict()
    assert data["pairs"]["RU->EU"] == {
        "announced": 3,
        "matched": 1,
        "discrepancies": 1,
        "overdue": 1,
        "fraud_signals": 0,
    }
    assert data["pairs"]["BW->AE"] == {
        "announced": 1,
        "matched": 0,
        "discrepancies": 0,
        "overdue": 1,
        "fraud_signals": 1,
    }
    assert data["dead_letters"] == {"IN:NOT_KP_GOODS": 1, "RU:XSD_VIOLATION": 2}
    assert [s["outcome"] for s in data["fraud_signals"]] == ["WRONG_DESTINATION"]
    out = io.StringIO()
    board = "http://127.0.0.1:8080/dashboard"
    render(summary, Console(file=out, width=140), dashboard_url=board, serving=True)
    text = out.getvalue()
    assert "RU -> EU" in text and "diversion" in text and "XSD_VIOLATION" in text
    assert f"Dashboard: {board}" in text
    # Without --serve the gateway stops with the demo: the link is not offered as live.
    out = io.StringIO()
    render(summary, Console(file=out, width=140), dashboard_url=board)
    assert f"Dashboard: {board}" not in out.getvalue() and "--serve" in out.getvalue()


def _letter(headers: list[tuple[str, bytes | None]]) -> SimpleNamespace:
    return SimpleNamespace(
        partition=0, offset=7, timestamp=1_772_409_600_000, key=b"k", value=b"<x/>",
        headers=[(REASON, b"INVALID_INBOUND_HEADER"), *headers],
    )  # fmt: skip


def test_a_dead_letter_is_summarised_under_the_senders_kpgw_dlq_shows() -> None:
    """The demo took the last ``kpgw-sender`` value alone: a letter whose Kafka-native
    sender gave conflicting ones was BW's in the summary and "RU, BW" in ``kpgw dlq``."""
    conflicting = _letter([(SENDER, b"RU"), (SENDER, b" BW ")])
    letter = DeadLetter.of(conflicting)
    assert dead_letter_entry(conflicting) == (letter.sender, letter.reason)
    assert dead_letter_entry(conflicting) == ("RU, BW", "INVALID_INBOUND_HEADER")
    assert dead_letter_entry(_letter([(SENDER, b"RU"), (SENDER, None)])) == (
        "RU",
        "INVALID_INBOUND_HEADER",
    )
    assert dead_letter_entry(_letter([]))[0] == ""
    no_reason = SimpleNamespace(**{**vars(_letter([])), "headers": []})
    assert dead_letter_entry(no_reason) == ("", "UNKNOWN")
    summary = summarise([], [], [dead_letter_entry(conflicting)])
    assert summary.as_dict()["dead_letters"] == {"RU, BW:INVALID_INBOUND_HEADER": 1}


def test_codes_are_never_cut_on_an_80_column_terminal() -> None:
    """The codes are what a reader looks up in docs/findings.md: on 80 columns the fraud
    signal table cut VALUE_PER_CARAT_OUT_OF_BAND to 'VALUE_PER_CARAT_OUT_OF_B…'."""
    longest = "VALUE_PER_CARAT_OUT_OF_BAND"
    summary = summarise(
        outcomes=[_outcome("ZA26030999", longest, "ZA", "EU")],
        announcements=[_announced("ZA26030999", "ZA", "EU")],
        dead_letters=[("RU", "LINES_DO_NOT_SUM_TO_TOTALS")],
        refused={("AE", "NUMBER_PREFIX_NOT_ISSUER"): 1},
    )
    out = io.StringIO()
    render(summary, Console(file=out, width=80))
    text = out.getvalue()
    for code in (longest, "ZA26030999", "LINES_DO_NOT_SUM_TO_TOTALS", "NUMBER_PREFIX_NOT_ISSUER"):
        assert code in text, code
    assert "…" not in text
    # Each column's header on one line: "with discrepancies" wrapped to "with" over
    # "discrepancies" (a header row of its own) on 80 columns.
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    assert lines[top + 2].startswith("┡"), "\n".join(lines[top : top + 4])
    for title in ("pair", "announced", "matched", "discrepancies", "overdue", "fraud signals"):
        assert title in lines[top + 1]
