from __future__ import annotations

import io

from rich.console import Console

from gateway.demo.summary import render, summarise


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
