"""The demo's closing summary, computed from what is on the topics (never from what the demo
sent), so it shows what the gateway really decided."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

MATCH_KINDS = {"MATCHED", "MATCHED_WITH_DISCREPANCIES", "CONFIRMATION_OVERDUE"}
FRAUD_SIGNALS = (
    "DUPLICATE_CONFIRMATION",
    "WRONG_DESTINATION",
    "ORPHAN_CONFIRMATION",
    "CONFIRMED_AFTER_EXPIRY",
    "CONFIRMED_AFTER_VOID",
    "VOIDED_AFTER_RECEIPT",
    "CONFLICTING_REISSUE",
    "VALUE_PER_CARAT_OUT_OF_BAND",
    "PAIR_NOT_ENABLED",
    "PARTICIPANT_SUSPENDED",
)
PLAIN = {
    "DUPLICATE_CONFIRMATION": "certificate confirmed twice (re-use)",
    "WRONG_DESTINATION": "confirmed by a participant that is not the destination (diversion)",
    "ORPHAN_CONFIRMATION": "confirmation for a certificate never issued",
    "CONFIRMED_AFTER_EXPIRY": "goods received after the certificate expired",
    "CONFIRMED_AFTER_VOID": "goods received on a cancelled certificate",
    "VOIDED_AFTER_RECEIPT": "certificate cancelled after its goods were received",
    "CONFLICTING_REISSUE": "same number issued again with different content",
    "VALUE_PER_CARAT_OUT_OF_BAND": "US$ per carat far from the norm for the origin",
    "PAIR_NOT_ENABLED": "pair not enabled for digital exchange",
    "PARTICIPANT_SUSPENDED": "participant suspended",
}


@dataclass(slots=True)
class PairCounts:
    announced: int = 0
    matched: int = 0
    discrepancies: int = 0
    overdue: int = 0
    signals: int = 0


@dataclass(slots=True)
class Summary:
    pairs: dict[tuple[str, str], PairCounts] = field(
        default_factory=lambda: defaultdict(PairCounts)
    )
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)  # (sender, reason)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)  # HTTP 4xx (sender, reason)
    signals: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Certificates whose outcomes differ from their generated story (a gateway defect).
    surprises: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": {
                f"{e}->{i}": {
                    "announced": c.announced,
                    "matched": c.matched,
                    "discrepancies": c.discrepancies,
                    "overdue": c.overdue,
                    "fraud_signals": c.signals,
                }
                for (e, i), c in sorted(self.pairs.items())
            },
            "dead_letters": {
                f"{s or '?'}:{r}": n for (s, r), n in sorted(self.dead_letters.items())
            },
            "refused_over_http": {f"{s}:{r}": n for (s, r), n in sorted(self.refused.items())},
            "surprises": list(self.surprises),
            "outcomes": dict(sorted(self.outcomes.items())),
            "fraud_signals": self.signals,
        }


def summarise(
    outcomes: Iterable[Mapping[str, Any]],
    announcements: Iterable[Mapping[str, Any]],
    dead_letters: Iterable[tuple[str, str]],
    refused: Mapping[tuple[str, str], int] | None = None,
) -> Summary:
    """``outcomes``: decoded Outcome records; ``announcements``: decoded PartnerNotification
    records of type SHIPMENT_ANNOUNCED; ``dead_letters``: (sender, reason) per DLQ record."""
    summary = Summary()
    for notification in announcements:
        if notification.get("notification_type") != "SHIPMENT_ANNOUNCED":
            continue
        event = notification.get("event") or {}
        payload = event.get("payload")
        body = payload[1] if isinstance(payload, tuple) else payload or {}
        pair = (body.get("exporting_participant", "?"), body.get("importing_participant", "?"))
        summary.pairs[pair].announced += 1
    for outcome in outcomes:
        kind = str(outcome["outcome"])
        pair = (outcome["pair"]["exporter"], outcome["pair"]["importer"])
        summary.outcomes[kind] += 1
        counts = summary.pairs[pair]
        if kind == "MATCHED":
            counts.matched += 1
        elif kind == "MATCHED_WITH_DISCREPANCIES":
            counts.discrepancies += 1
        elif kind == "CONFIRMATION_OVERDUE":
            counts.overdue += 1
        if kind in FRAUD_SIGNALS:
            counts.signals += 1
            summary.signals.append(
                {
                    "certificate_id": outcome["certificate_id"],
                    "outcome": kind,
                    "pair": f"{pair[0]}->{pair[1]}",
                    "what": PLAIN.get(kind, kind),
                    "detail": outcome.get("detail"),
                }
            )
    for sender, reason in dead_letters:
        summary.dead_letters[(sender, reason)] += 1
    summary.refused.update(refused or {})
    return summary


def render(
    summary: Summary, console: Console, *, dashboard_url: str | None = None, serving: bool = False
) -> None:
    table = Table(title="Certificates by partner pair (exporter -> importer)")
    for column in (
        "pair",
        "announced",
        "matched",
        "discrepancies",  # matched with discrepancies: one word keeps 80 columns
        "overdue",
        "fraud signals",
    ):
        table.add_column(column, justify="left" if column == "pair" else "right")
    totals = PairCounts()
    for (exporter, importer), counts in sorted(summary.pairs.items()):
        table.add_row(
            f"{exporter} -> {importer}",
            str(counts.announced),
            str(counts.matched),
            str(counts.discrepancies),
            str(counts.overdue),
            str(counts.signals),
        )
        for name in ("announced", "matched", "discrepancies", "overdue", "signals"):
            setattr(totals, name, getattr(totals, name) + getattr(counts, name))
    table.add_row(
        "all pairs",
        str(totals.announced),
        str(totals.matched),
        str(totals.discrepancies),
        str(totals.overdue),
        str(totals.signals),
        style="bold",
    )
    console.print(table)
    if summary.dead_letters or summary.refused:
        dlq = Table(title="Refused documents by sender and reason")
        for column in ("sender", "reason", "how", "documents"):
            # A code is looked up in docs/findings.md: it is never cut, the prose wraps.
            dlq.add_column(
                column,
                justify="right" if column == "documents" else "left",
                no_wrap=column != "how",
            )
        for (sender, reason), count in sorted(summary.dead_letters.items()):
            dlq.add_row(sender or "?", reason, "dead-lettered (kp.dlq)", str(count))
        for (sender, reason), count in sorted(summary.refused.items()):
            dlq.add_row(sender, reason, "refused by the HTTP API", str(count))
        console.print(dlq)
    if summary.signals:
        signals = Table(title="Fraud signals")
        for column in ("certificate", "pair", "signal", "what it means"):
            signals.add_column(column, no_wrap=column != "what it means")
        for signal in summary.signals:
            signals.add_row(
                signal["certificate_id"], signal["pair"], signal["outcome"], signal["what"]
            )
        console.print(signals)
    if dashboard_url and serving:
        console.print(f"Dashboard: {dashboard_url}")
    elif dashboard_url:  # the gateway stops with the demo: a live-looking link would be dead
        console.print(
            f"The dashboard ({dashboard_url}) closes with the demo; "
            "`kpgw demo --serve 600` keeps it up for 10 minutes."
        )
