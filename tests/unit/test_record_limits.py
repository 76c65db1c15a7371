"""Nothing the gateway writes may exceed what Kafka takes: free texts are bounded by a KP
rule (TEXT_TOO_LONG), a Kafka-native record's ids and time stamp header are checked
(INVALID_INBOUND_HEADER), and an event over the limit is its record's dead letter
(EVENT_TOO_LARGE). Found by an integrator review: a certificate with a 1.2 MB address
became an event the broker refused, and it was silently lost."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.pipeline import adapt
from gateway import rules, translation
from gateway.dlq.headers import Failure, Origin, dlq_headers, fitted
from gateway.errors import SchemaViolation
from gateway.events import CertificateEvent, CertificateVoided, Party
from gateway.registry import ParticipantRegistry
from gateway.translation import MAX_MESSAGE_ID_CHARS, InboundMeta
from gateway.translator.inbound import MAX_ID_CHARS, Inbound
from gateway.translator.worker import MAX_EVENT_BYTES, translate_record
from tests.kafka.helpers import certificate, confirmation, render
from tests.unit.router.factories import event

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
MOMENT_MS = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)
COORDINATES = "kp.inbound/3/41"


def _too_long(payload: object, registry: ParticipantRegistry) -> list[str | None]:
    return [
        f.path
        for f in rules.findings_for(payload, registry)  # type: ignore[arg-type]
        if f.code == rules.TEXT_TOO_LONG
    ]


def test_texts_up_to_their_limits_pass_and_one_more_character_is_named(
    example_registry: ParticipantRegistry,
) -> None:
    cert = certificate("RU0810001")
    at_limit = replace(
        cert,
        exporter=Party("N" * 512, "A" * 1024, "RU"),
        authority="F" * 512,
        provenance=None,
    )
    assert _too_long(at_limit, example_registry) == []
    over = replace(
        cert, exporter=Party("N" * 513, "A" * 1_200_000, "RU"), importer=Party("ok", "x" * 1025)
    )
    assert _too_long(over, example_registry) == [
        "exporter.name",
        "exporter.address",
        "importer.address",
    ]
    finding = next(
        f for f in rules.findings_for(over, example_registry) if f.path == "exporter.address"
    )
    assert finding.message.startswith(
        "exporter.address is 1,200,000 characters long; at most 1,024"
    )
    assert len(finding.message) < 200  # the text itself is quoted only briefly


def test_remarks_and_a_voids_reason_are_bounded(example_registry: ParticipantRegistry) -> None:
    conf = replace(confirmation(certificate("RU0810002")), remarks="r" * 2001)
    assert _too_long(conf, example_registry) == ["remarks"]
    void = CertificateVoided("RU0810003", "RU", datetime(2026, 3, 3).date(), "x" * 2001)
    assert _too_long(void, example_registry) == ["reason"]


@pytest.mark.parametrize(
    ("headers", "key", "problem"),
    [
        ([("kpgw-tracking-id", b"t" * (MAX_ID_CHARS + 1))], None, "tracking id"),
        ([], b"k" * 1_000_000, "tracking id"),  # the record key stands in for it
        ([("kpgw-message-id", b"m" * 5000)], None, "message id"),
        ([("kpgw-received-at", b"yesterday")], None, "not an ISO 8601 time stamp"),
    ],
)
def test_a_kafka_native_header_the_gateway_cannot_use_is_a_problem(
    headers: list[tuple[str, bytes]], key: bytes | None, problem: str
) -> None:
    inbound = Inbound.of(key, [("kpgw-sender", b"RU"), *headers], MOMENT_MS, COORDINATES)
    assert len(inbound.header_problems) == 1 and problem in inbound.header_problems[0]
    assert inbound.tracking_id == COORDINATES  # the status is kept where it fits


def test_usable_headers_have_no_problem() -> None:
    inbound = Inbound.of(
        b"RU:m-1",
        [
            ("kpgw-sender", b"RU"),
            ("kpgw-tracking-id", b"6f1c8f0e-2b3a-4c5d-9e8f-0a1b2c3d4e5f"),
            ("kpgw-received-at", b"2026-03-02T10:15:00Z"),
        ],
        MOMENT_MS,
        COORDINATES,
    )
    assert inbound.header_problems == ()
    assert inbound.tracking_id == "6f1c8f0e-2b3a-4c5d-9e8f-0a1b2c3d4e5f"


def test_a_record_with_header_problems_is_dead_lettered_without_translating(
    example_registry: ParticipantRegistry,
) -> None:
    inbound = Inbound.of(
        None, [("kpgw-sender", b"RU"), ("kpgw-received-at", b"soon")], MOMENT_MS, COORDINATES
    )

    def translate(raw: bytes, meta: InboundMeta, registry: ParticipantRegistry) -> CertificateEvent:
        raise AssertionError("not translated")

    result = translate_record(b"<x/>", inbound, example_registry, translate_fn=translate)
    assert result.event is None and result.failure is not None
    assert result.failure.reason == "INVALID_INBOUND_HEADER"
    assert "soon" in result.failure.message


def test_an_event_over_the_limit_is_its_records_dead_letter(
    example_registry: ParticipantRegistry,
) -> None:
    cert = certificate("RU0810004")
    huge = event(cert)
    huge = replace(huge, source=replace(huge.source, authority="a" * MAX_EVENT_BYTES))
    inbound = Inbound.of(None, [("kpgw-sender", b"RU")], MOMENT_MS, COORDINATES)

    def translate(raw: bytes, meta: InboundMeta, registry: ParticipantRegistry) -> CertificateEvent:
        return huge

    result = translate_record(b"<x/>", inbound, example_registry, translate_fn=translate)
    assert result.failure is not None and result.failure.reason == "EVENT_TOO_LARGE"
    assert result.certificate_id == "RU0810004"


def test_a_documents_own_message_id_is_bounded(example_registry: ParticipantRegistry) -> None:
    """It becomes the default Idempotency-Key and the inbound record's message id header.
    Our formats' schemas bound it; an adapter installed from outside (entry point
    ``kpgw.adapters``) may not, so translation checks it too: a 422 at the ingress, not a
    dead letter after a 202."""
    raw = render(certificate("RU0810005"), "envelope", message_id="M" * 201)
    with pytest.raises(SchemaViolation, match="maxLength"):
        adapt(raw, example_registry)
    adapted = adapt(render(certificate("RU0810005")), example_registry)
    long_id = replace(adapted, message_id="M" * (MAX_MESSAGE_ID_CHARS + 1))
    assert [(f.code, f.path) for f in translation._source_texts(long_id)] == [
        ("TEXT_TOO_LONG", "message_id")
    ]
    assert translation._source_texts(replace(adapted, message_id="M" * 200)) == []


def test_a_megabyte_sender_header_is_a_header_problem_not_a_status_record_too_large() -> None:
    """Found by a security review: a 1.5 MB kpgw-sender went into the DEAD_LETTERED status
    record, which kp.status refused, and the partition stopped for good."""
    inbound = Inbound.of(b"ZA:hs1", [("kpgw-sender", b"Q" * 1_500_000)], MOMENT_MS, COORDINATES)
    assert inbound.sender is None and inbound.tracking_id == COORDINATES
    assert "kpgw-sender header is 1,500,000 characters" in inbound.header_problems[0]


@pytest.mark.parametrize("stamp", [b"0001-01-01T00:00:00+14:00", b"9999-12-31T23:59:59-14:00"])
def test_a_received_at_outside_the_calendar_in_utc_is_a_header_problem(stamp: bytes) -> None:
    """It raised OverflowError in translation: three crashes and a POISON_PILL."""
    inbound = Inbound.of(None, [("kpgw-sender", b"RU"), ("kpgw-received-at", stamp)], 0, "x/0/1")
    assert inbound.header_problems and "ISO 8601" in inbound.header_problems[0]


def test_a_dead_letter_is_cut_to_what_the_dead_letter_topic_takes() -> None:
    origin = Origin("kp.inbound", 2, 41, MOMENT_MS, "kpgw-translator")
    failure = Failure.of(ValueError("boom"), stage="translator", reason="POISON_PILL")
    value = b"x" * 3_000
    headers = dlq_headers([("x-junk", b"j" * 50_000), ("kpgw-sender", b"RU")], origin, failure, NOW)
    assert any(k == "kafka_dlt-exception-stacktrace" for k, _ in headers)

    def size(key: bytes | None, value: bytes | None, hs: list[tuple[str, bytes]]) -> int:
        return len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in hs)

    # Room for the value once the stack trace and the foreign header's bulk are cut.
    key, kept, cut = fitted(b"k", value, headers, origin, limit=20_000)
    assert kept == value and size(key, kept, cut) <= 20_000
    assert not any(k == "kafka_dlt-exception-stacktrace" for k, _ in cut)
    assert dict(cut)["x-junk"] == b"j" * 4096 and dict(cut)["kpgw-sender"] == b"RU"
    # No room for the value: it is left out, and the letter says where the original is.
    key, kept, cut = fitted(b"k", b"v" * 30_000, headers, origin, limit=20_000)
    assert kept is None and key == b"k" and size(key, kept, cut) <= 20_000
    assert dict(cut)["kpgw-value-omitted"].endswith(b"the original record is kp.inbound/2/41")
    # A fitting letter is left as it is.
    assert fitted(b"k", value, headers, origin, limit=10_000_000) == (b"k", value, headers)


@pytest.mark.parametrize(
    "original",
    [
        [("kpgw-sender", b"Q" * (4 * 1024 * 1024 - 200))],  # one huge header of ours
        [(f"x-{n}", b"h" * 4000) for n in range(1040)],  # many small foreign ones
    ],
)
def test_whatever_the_headers_the_dead_letter_fits(original: list[tuple[str, bytes]]) -> None:
    """A code review found both over kp.dlq's limit after the first version of fitted."""
    origin = Origin("kp.inbound", 0, 7, MOMENT_MS, "kpgw-translator")
    failure = Failure.of(ValueError("boom"), stage="translator", reason="POISON_PILL")
    headers = dlq_headers(original, origin, failure, NOW)
    limit = 4 * 1024 * 1024 - 64 * 1024
    key, value, cut = fitted(b"k", b"<x/>", headers, origin, limit)
    assert len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in cut) <= limit
    assert dict(cut)["kpgw-reason"] == b"POISON_PILL"


def test_a_broken_kp_rule_leads_and_every_finding_is_given_at_once(
    example_registry: ParticipantRegistry,
) -> None:
    """A code review: TEXT_TOO_LONG came first (so it became the dead letter's reason) and
    the message id's finding hid the KP rules' (a sender fixed one, then met the rest)."""
    cert = certificate("RU0810006", hs_code="7102.29")  # not KP goods
    cert = replace(cert, exporter=replace(cert.exporter, name="N" * 600))
    codes = [f.code for f in rules.findings_for(cert, example_registry)]
    assert codes[0] == "NOT_KP_GOODS" and codes[-1] == "TEXT_TOO_LONG"
