"""``gateway.translator.predict``: what a replay would do with each dead letter now."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from gateway.dlq.store import DeadLetter
from gateway.registry import ParticipantRegistry
from gateway.translator.inbound import inbound_headers
from gateway.translator.predict import predict
from tests.kafka.helpers import certificate, render

AT = datetime(2026, 6, 1, tzinfo=UTC)


def _letter(offset: int, body: bytes, sender: str, *, topic: str = "kp.inbound") -> DeadLetter:
    headers = inbound_headers(
        sender=sender, message_id=f"m-{offset}", tracking_id=f"t-{offset}", received_at=AT
    )
    return DeadLetter(
        id=f"0-{offset}",
        partition=0,
        offset=offset,
        timestamp=AT,
        key=f"{sender}:m-{offset}".encode(),
        value=body,
        headers=tuple(headers),
        reason="PAIR_NOT_ENABLED",
        stage="translator",
        sender=sender,
        original_topic=topic,
        original_partition=0,
        original_offset=offset,
        message="",
    )


def test_letters_are_told_apart_by_what_the_translator_would_do_now(
    example_registry: ParticipantRegistry,
) -> None:
    not_enabled = certificate("ZA0300001", exporter="ZA", importer="AE", importer_state=None)
    letters = [
        _letter(0, render(not_enabled), "ZA"),  # the pair is still not enabled
        _letter(1, render(certificate("RU0300002")), "RU"),  # fixed since: translates
        _letter(2, b"<still broken", "RU"),
        _letter(3, b"<r/>", "RU", topic="kp.events"),  # a router's: not predicted
        replace(_letter(4, b"<r/>", "RU"), reason="POISON_PILL"),  # never translated here
    ]
    prediction = predict(letters, example_registry, "kp.inbound")
    assert prediction.failing_again == {"0-0": "PAIR_NOT_ENABLED", "0-2": "TRUNCATED_DOCUMENT"}
    assert prediction.translating == ["0-1"]
    assert prediction.not_predicted == ["0-3", "0-4"]
    summary = prediction.summary() or ""
    assert summary.startswith("2 of them would be dead-lettered again now")
    assert "PAIR_NOT_ENABLED 1" in summary
