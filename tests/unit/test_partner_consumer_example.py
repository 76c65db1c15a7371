"""examples/partner_consumer.py without a broker: ``--text`` lines for a customs officer,
decoded from what the router writes with the published files only, and the connection
options a partner gets wrong refused as usage errors (a fresh-eyes partner review: SASL
without a password read as "no broker", and the failed start left an unclosed consumer)."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from gateway.cli.tail_cmd import decode_value
from gateway.router.records import (
    Difference,
    NotificationType,
    OutcomeKind,
    event_notification,
    outcome_notification,
    outcome_record,
)
from tests.conftest import REPO_ROOT
from tests.unit.router.factories import certificate, confirmation, event, void
from tests.unit.test_partner_doc_example import _example

EXAMPLE = REPO_ROOT / "examples" / "partner_consumer.py"
RELEASED = REPO_ROOT / "schemas" / "avro" / "released"
AT = datetime(2025, 3, 4, 8, 15, 0, 250_000, tzinfo=UTC)


def described(value: bytes) -> str:
    """What ``--text`` prints for a record value, decoded as a partner decodes it."""
    example = _example()
    schemas, _ = example.load_schemas(RELEASED)
    _, notification = example.decode(value, schemas)
    return str(example.describe(notification))


def test_an_announcement_says_route_parties_goods_dates_and_when_to_confirm() -> None:
    cert = certificate("RU0123456")
    due = datetime(2025, 3, 18, 9, 30, tzinfo=UTC)
    value = event_notification(
        NotificationType.SHIPMENT_ANNOUNCED, "EU", event(cert), AT, confirmation_due=due
    ).to_bytes()
    assert described(value) == (
        "RU0123456 SHIPMENT_ANNOUNCED: RU -> EU/BE; exporter 'Gokhran of Russia', importer "
        "'Antwerp Rough Trading BV'; 3 parcel(s), 1830.550 ct, USD 159882.00; origin RU; "
        "issued 2025-03-03, valid to 2025-05-02; confirm receipt by 2025-03-18T09:30:00.000Z"
    )


def test_an_announcement_without_a_due_time_says_nothing_is_awaited() -> None:
    value = event_notification(
        NotificationType.SHIPMENT_ANNOUNCED, "EU", event(certificate()), AT
    ).to_bytes()
    assert described(value).endswith("; no confirmation awaited")


def test_a_void_says_when_by_whom_and_why() -> None:
    cancelled = void(certificate())
    value = event_notification(
        NotificationType.CERTIFICATE_VOIDED, "EU", event(cancelled), AT
    ).to_bytes()
    assert described(value) == (
        "RU0123456 CERTIFICATE_VOIDED: voided on 2025-03-08 by RU: Shipment cancelled by "
        "exporter; do not release goods under it"
    )


def test_a_confirmation_gives_totals_or_else_its_lines() -> None:
    cert = certificate()
    with_totals = event_notification(
        NotificationType.IMPORT_CONFIRMED, "RU", event(confirmation(cert, totals_only=True)), AT
    ).to_bytes()
    assert described(with_totals) == (
        "RU0123456 IMPORT_CONFIRMED: EU/BE received it on 2025-03-12; 3 parcel(s), "
        "1830.550 ct, USD 159882.00; wait for the OUTCOME"
    )
    lines_only = replace(confirmation(cert), total_carats=None, total_value_usd=None)
    value = event_notification(
        NotificationType.IMPORT_CONFIRMED, "RU", event(lines_only), AT
    ).to_bytes()
    assert described(value) == (
        "RU0123456 IMPORT_CONFIRMED: EU/BE received it on 2025-03-12; 3 parcel(s), "
        "7102.31 1520.350 ct USD 147474.00, 7102.21 310.200 ct USD 12408.00; "
        "wait for the OUTCOME"
    )


def test_an_outcome_names_its_kind_pair_differences_and_detail() -> None:
    outcome = outcome_record(
        certificate_id="RU0123456",
        kind=OutcomeKind.MATCHED_WITH_DISCREPANCIES,
        pair=("RU", "EU"),
        evidence=["e-1", "e-2"],
        decided_at=AT,
        differences=[
            Difference("parcels", "3", "4"),
            Difference("total_value_usd", "159882.00", None),
        ],
        detail="checked against the pair's tolerance",
    )
    assert described(outcome_notification("EU", outcome).to_bytes()) == (
        "RU0123456 OUTCOME MATCHED_WITH_DISCREPANCIES (RU -> EU): parcels: certificate 3, "
        "confirmation 4; total_value_usd: certificate 159882.00, not on the confirmation | "
        "checked against the pair's tolerance"
    )
    matched = outcome_record(
        certificate_id="RU0123456",
        kind=OutcomeKind.MATCHED,
        pair=("RU", "EU"),
        evidence=["e-1", "e-2"],
        decided_at=AT,
    )
    assert described(outcome_notification("RU", matched).to_bytes()) == (
        "RU0123456 OUTCOME MATCHED (RU -> EU)"
    )


@pytest.mark.parametrize(
    ("kind", "difference", "line"),
    [
        (
            OutcomeKind.DUPLICATE_CONFIRMATION,
            Difference("date_of_receipt", "2025-03-12", "2025-03-20"),
            "date_of_receipt: first confirmation 2025-03-12, later confirmation 2025-03-20",
        ),
        (
            OutcomeKind.CONFLICTING_REISSUE,
            Difference("total_carats", "1830.550", "1900.000"),
            "total_carats: original certificate 1830.550, re-issued certificate 1900.000",
        ),
        (
            OutcomeKind.CONFIRMED_AFTER_VOID,
            Difference("date_of_receipt", "2025-03-08", "2025-03-12"),
            "date_of_receipt: voided on 2025-03-08, received 2025-03-12",
        ),
        (
            OutcomeKind.CONFIRMED_AFTER_EXPIRY,
            Difference("date_of_receipt", "2025-05-02", "2025-05-09"),
            "date_of_receipt: certificate valid until 2025-05-02, received 2025-05-09",
        ),
        (
            OutcomeKind.WRONG_DESTINATION,
            Difference("confirming_participant", "EU", "AE"),
            "confirming_participant: certificate's importer EU, confirmed by AE",
        ),
        (
            OutcomeKind.VALUE_PER_CARAT_OUT_OF_BAND,
            Difference("usd_per_carat", "812.44", None),
            "usd_per_carat: certificate 812.44",
        ),
    ],
)
def test_each_difference_names_its_two_values_by_what_they_are(
    kind: OutcomeKind, difference: Difference, line: str
) -> None:
    outcome = outcome_record(
        certificate_id="RU0123456",
        kind=kind,
        pair=("RU", "EU"),
        evidence=["e-1", "e-2"],
        decided_at=AT,
        differences=[difference],
    )
    text = described(outcome_notification("RU", outcome).to_bytes())
    assert text == f"RU0123456 OUTCOME {kind} (RU -> EU): {line}"


def test_a_type_newer_than_the_program_is_named_not_guessed() -> None:
    notification: dict[str, Any] = {
        "notification_type": "UNKNOWN",
        "certificate_id": "RU0123456",
        "event": None,
        "outcome": None,
    }
    assert _example().describe(notification) == (
        "RU0123456 UNKNOWN: a notification this program does not know; update the schema files"
    )


@pytest.mark.parametrize(
    ("options", "password", "complaint"),
    [
        (["--security-protocol", "SASL_SSL"], "secret", "needs --sasl-username"),
        (
            ["--security-protocol", "SASL_SSL", "--sasl-username", "kp-partner-EU"],
            "",
            "needs $KPGW_PARTNER_SASL_PASSWORD",
        ),
        (["--sasl-username", "kp-partner-EU"], "secret", "--sasl-username needs"),
        (["--ssl-cafile", "ca.pem"], "", "--ssl-cafile needs"),
    ],
)
def test_security_options_that_cannot_work_are_usage_errors(
    options: list[str],
    password: str,
    complaint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KPGW_PARTNER_SASL_PASSWORD", password)
    with pytest.raises(SystemExit) as exit_info:
        _example().arguments([str(RELEASED), "--participant", "EU", *options])
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err


def test_complete_sasl_options_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPGW_PARTNER_SASL_PASSWORD", "secret")
    args = _example().arguments(
        [
            str(RELEASED),
            "--participant",
            "EU",
            "--security-protocol",
            "SASL_SSL",
            "--sasl-username",
            "kp-partner-EU",
            "--ssl-cafile",
            "ca.pem",
        ]
    )
    assert (args.sasl_username, args.ssl_cafile) == ("kp-partner-EU", "ca.pem")


def test_no_broker_is_exit_2_with_a_hint_and_no_unclosed_consumer() -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(EXAMPLE), str(RELEASED), "--participant", "EU"]
    done = subprocess.run(
        [*command, "--bootstrap", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"cannot connect to 127.0.0.1:{port}" in done.stderr
    assert "--security-protocol does not match" in done.stderr
    assert "Unclosed" not in done.stderr
    assert done.stdout == ""


def test_the_text_option_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "partners.md").read_text("utf-8")
    assert "`--text`" in text


def test_kpgw_tail_shows_the_fingerprint_a_partner_computes_from_the_published_file() -> None:
    """A partner reports "unknown writer schema fingerprint ..."; the operator finds the
    same hex beside the record in ``kpgw tail`` (and beside the file in schemas export)."""
    value = event_notification(
        NotificationType.SHIPMENT_ANNOUNCED, "EU", event(certificate()), AT
    ).to_bytes()
    example = _example()
    schemas, _ = example.load_schemas(RELEASED)
    writer, _ = example.decode(value, schemas)
    shown = decode_value(value)
    assert shown["schema"] == "PartnerNotification"
    assert shown["fingerprint"] == writer.fingerprint.hex() == value[2:10].hex()
    assert writer.path.parent.name == "PartnerNotification"


def test_an_announcement_written_before_due_times_existed_does_not_claim_none_is_awaited() -> None:
    """PartnerNotification v1 records (still on a topic until retention) have no
    ``confirmation_due`` at all: that is not "nothing awaited"."""
    current = event_notification(
        NotificationType.SHIPMENT_ANNOUNCED, "EU", event(certificate()), AT
    ).to_bytes()
    example = _example()
    schemas, _ = example.load_schemas(RELEASED)
    _, notification = example.decode(current, schemas)
    v1 = fastavro.parse_schema(
        json.loads((RELEASED / "PartnerNotification" / "v1.avsc").read_text("utf-8")),
        named_schemas={},
    )
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v1, {**notification, "confirmation_due": None})
    old = b"\xc3\x01" + example.fingerprint(v1) + body.getvalue()
    writer, decoded = example.decode(old, schemas)
    assert writer.path.name == "v1.avsc"
    assert example.describe(decoded).endswith("; due time not in this record")
