"""An ingress older than the translator or router writing ``kp.status`` (upgraded out of
order) skips every record of the newer schema: it says so once per schema and then every
``NEWER_SCHEMA_EVERY`` records, not once per record (an upgrade review counted 44
warnings for 16 messages on a 01b56e4 ingress), and still applies what it can read."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
import structlog
from structlog.testing import capture_logs

from gateway import codec
from gateway.ingress import mirror
from gateway.ingress.idempotency import IdempotencyIndex
from gateway.ingress.mirror import NEWER_SCHEMA_EVERY, TopicMirror
from gateway.ingress.status import StatusView
from gateway.settings import Settings

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """capture_logs sees only loggers not cached by another test's configuration."""
    monkeypatch.setattr(mirror, "log", structlog.get_logger(mirror.__name__))


@dataclass(frozen=True)
class Record:
    key: bytes
    value: bytes
    offset: int = 0
    topic: str = "kp.status"
    partition: int = 0


def _status(tracking_id: str) -> dict[str, Any]:
    return {
        "tracking_id": tracking_id,
        "sender": "RU",
        "message_id": "m-1",
        "certificate_id": "RU0100001",
        "status": "TRANSLATED",
        "reason": None,
        "detail": "CERTIFICATE_ISSUED",
        "updated_at": AT,
    }


def _from_a_newer_writer(tracking_id: str) -> bytes:
    """A status as a gateway one DeliveryStatus version ahead of this one writes it."""
    schema = codec.expanded_schema("DeliveryStatus")
    schema["fields"].append({"name": "added_later", "type": ["null", "string"], "default": None})
    parsed = fastavro.parse_schema(schema, named_schemas={})
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, {**_status(tracking_id), "added_later": "x"})
    return codec.MAGIC + codec.fingerprint(parsed) + body.getvalue()


def test_records_of_a_newer_schema_are_said_once_then_every_so_many() -> None:
    view = StatusView(clock=lambda: AT)
    topic_mirror = TopicMirror(Settings(), "kp.status", view.apply)
    newer = [
        Record(f"n{i}".encode(), _from_a_newer_writer(f"n{i}"), offset=i)
        for i in range(2 * NEWER_SCHEMA_EVERY + 5)
    ]
    known = Record(b"k1", codec.encode("DeliveryStatus", _status("k1")), offset=9_999)
    with capture_logs() as logs:
        for record in [*newer[:3], known, *newer[3:]]:
            topic_mirror._apply(record)
    said = [entry for entry in logs if entry["event"] == "mirror_records_of_newer_schema_skipped"]
    assert [entry["skipped"] for entry in said] == [1, NEWER_SCHEMA_EVERY, 2 * NEWER_SCHEMA_EVERY]
    fingerprint = newer[0].value[2:10].hex()
    assert {entry["fingerprint"] for entry in said} == {fingerprint}
    assert "upgrade this process" in said[0]["advice"]
    assert not [entry for entry in logs if entry["event"] == "mirror_record_skipped"]
    assert topic_mirror.skipped_newer == {fingerprint: len(newer)}
    assert topic_mirror.applied == 1
    accepted = IdempotencyIndex(clock=lambda: AT)
    assert view.lookup("k1", "RU", accepted) is not None
    assert view.lookup("n0", "RU", accepted) is None


def test_any_other_bad_record_is_still_said_each_time() -> None:
    topic_mirror = TopicMirror(Settings(), "kp.status", StatusView(clock=lambda: AT).apply)
    broken = codec.encode("DeliveryStatus", _status("b1"))[:12]  # a known writer, cut short
    with capture_logs() as logs:
        for offset in range(3):
            topic_mirror._apply(Record(b"b1", broken, offset=offset))
            topic_mirror._apply(Record(b"x", b"not avro at all", offset=offset))
    assert [entry["event"] for entry in logs] == ["mirror_record_skipped"] * 6
    assert topic_mirror.skipped_newer == {}


def test_newer_writer_names_only_unknown_single_object_schemas() -> None:
    assert codec.newer_writer(None) is None
    assert codec.newer_writer(b"<xml/>") is None
    assert codec.newer_writer(codec.encode("DeliveryStatus", _status("k1"))) is None
    value = _from_a_newer_writer("n1")
    assert codec.newer_writer(value) == value[2:10].hex()
