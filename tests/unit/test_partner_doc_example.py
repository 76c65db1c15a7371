"""docs/partners.md's sample line of examples/partner_consumer.py is what the example prints
for a notification the router writes today: the latest released schema's fingerprint and
every field (a new-user review found the v1 fingerprint and no ``confirmation_due``)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from datetime import UTC, date, datetime, timedelta
from types import ModuleType, SimpleNamespace

from gateway.router.records import (
    Difference,
    NotificationType,
    OutcomeKind,
    event_notification,
    outcome_notification,
    outcome_record,
)
from tests.conftest import REPO_ROOT
from tests.unit.router.factories import certificate, event


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "partner_consumer", REPO_ROOT / "examples" / "partner_consumer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("partner_consumer", module)
    spec.loader.exec_module(module)
    return module


def _documented() -> dict[str, object]:
    text = (REPO_ROOT / "docs" / "partners.md").read_text("utf-8")
    (sample,) = re.findall(r"```json\n(\{\"topic\": \"kp\.partner\..*?)```", text, re.S)
    return dict(json.loads(sample))


def test_the_documented_sample_is_what_the_example_prints_today() -> None:
    documented = _documented()
    at = datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=UTC)
    notification = documented["notification"]
    assert isinstance(notification, dict)
    outcome = outcome_record(
        certificate_id="RU0702000",
        kind=OutcomeKind.MATCHED_WITH_DISCREPANCIES,
        pair=("RU", "EU"),
        evidence=notification["outcome"]["evidence_event_ids"],
        decided_at=at,
        differences=[Difference("total_carats", "10.500", "10.499")],
    )
    value = outcome_notification("EU", outcome).to_bytes()
    example = _example()
    schemas, _ = example.load_schemas(REPO_ROOT / "schemas" / "avro" / "released")
    writer, decoded = example.decode(value, schemas)
    record = SimpleNamespace(
        topic="kp.partner.EU", partition=0, offset=0, key=b"RU0702000", timestamp=1772445600360
    )
    assert json.loads(example.output_line(record, writer, decoded)) == documented


def test_the_documented_text_lines_are_what_the_example_prints_today() -> None:
    text = (REPO_ROOT / "docs" / "partners.md").read_text("utf-8")
    (sample,) = re.findall(r"```text\n(RU0702000 SHIPMENT_ANNOUNCED.*?)```", text, re.S)
    at = datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=UTC)
    cert = certificate("RU0702000", issue_date=date(2026, 3, 2), expiry_date=date(2026, 5, 1))
    announcement = event_notification(
        NotificationType.SHIPMENT_ANNOUNCED,
        "EU",
        event(cert, at=at),
        at,
        confirmation_due=at + timedelta(days=14),
    )
    outcome = outcome_record(
        certificate_id="RU0702000",
        kind=OutcomeKind.MATCHED_WITH_DISCREPANCIES,
        pair=("RU", "EU"),
        evidence=["e-1", "e-2"],
        decided_at=at,
        differences=[Difference("parcels", "3", "4")],
    )
    example = _example()
    schemas, _ = example.load_schemas(REPO_ROOT / "schemas" / "avro" / "released")
    printed = [
        example.describe(example.decode(emission.to_bytes(), schemas)[1])
        for emission in (announcement, outcome_notification("EU", outcome))
    ]
    assert printed == sample.splitlines()
