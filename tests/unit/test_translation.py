"""``gateway.translation.translate``: a refusal after mapping (sender check, KP rules) still
names the adapter that read the document (the dead letter's ``kpgw-adapter``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import codec, rules
from gateway.errors import (
    MAX_MESSAGE_CHARS,
    BusinessRuleViolation,
    Finding,
    MessageRejected,
    UnauthorisedSender,
    bounded_message,
)
from gateway.events import event_from_avro, event_to_avro
from gateway.registry import ParticipantRegistry
from gateway.translation import InboundMeta, translate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "uncefact"
MOMENT = datetime(2026, 3, 1, tzinfo=UTC)


def test_an_unauthorised_sender_names_the_adapter(example_registry: ParticipantRegistry) -> None:
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    with pytest.raises(UnauthorisedSender) as caught:
        translate(raw, InboundMeta(sender="RU", received_at=MOMENT), example_registry)
    assert caught.value.adapter == "uncefact"


def test_a_sender_code_in_lower_case_is_refused_saying_so(
    example_registry: ParticipantRegistry,
) -> None:
    """A Kafka-native producer writing ``kpgw-sender: bw`` was told "bw may not send this
    CertificateIssued for BW...: only BW may", which reads as a contradiction."""
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    with pytest.raises(UnauthorisedSender) as caught:
        translate(raw, InboundMeta(sender="bw", received_at=MOMENT), example_registry)
    assert "participant codes are upper case: kpgw-sender BW" in str(caught.value)
    assert "upper case" in caught.value.findings[0].message
    with pytest.raises(UnauthorisedSender) as other:
        translate(raw, InboundMeta(sender="RU", received_at=MOMENT), example_registry)
    assert "upper case" not in str(other.value)


def test_a_broken_kp_rule_names_the_adapter(example_registry: ParticipantRegistry) -> None:
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    broken = raw.replace(
        b"<ram:Content>1590.400</ram:Content>", b"<ram:Content>1.000</ram:Content>"
    )
    assert broken != raw
    with pytest.raises(BusinessRuleViolation) as caught:
        translate(broken, InboundMeta(sender="BW", received_at=MOMENT), example_registry)
    assert caught.value.adapter == "uncefact"


def test_a_refusal_lists_at_most_fifty_rule_findings(
    example_registry: ParticipantRegistry,
) -> None:
    """Found by fuzzing (one trade line duplicated): each copy is a DUPLICATE_HS_LINE, and a
    2 MB document of copies gave 19,000 findings; docs/findings.md promises up to 50, the
    rest counted in the message, as schema and mapping refusals do. (A document has at most
    30 lines now, TOO_MANY_LINES: copies weighing and worth nothing break three rules each.)"""
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    start = raw.index(b"<ram:IncludedSPSTradeLineItem>")
    end = raw.index(b"</ram:IncludedSPSTradeLineItem>") + len(b"</ram:IncludedSPSTradeLineItem>")
    worthless = raw[start:end].replace(b">1250.400<", b">0.000<").replace(b">164302.56<", b">0.00<")
    assert worthless.count(b">0.0") == 2
    copies = raw[:end] + worthless * 28 + raw[end:]  # 30 lines
    with pytest.raises(BusinessRuleViolation) as caught:
        translate(copies, InboundMeta(sender="BW", received_at=MOMENT), example_registry)
    findings = caught.value.findings
    assert len(findings) == rules.MAX_FINDINGS
    assert {finding.code for finding in findings} == {
        rules.DUPLICATE_HS_LINE,
        rules.CARATS_NOT_POSITIVE,
        rules.VALUE_NOT_POSITIVE,
    }
    assert "more not listed" in caught.value.message


def test_the_event_is_the_one_kp_events_holds(example_registry: ParticipantRegistry) -> None:
    """Found by fuzzing (a document time with microseconds): kp.events keeps whole
    milliseconds (Avro timestamp-millis), so the translated event differed from the one the
    router decodes; its times are now truncated as the encoding would."""
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    precise = raw.replace(b"2026-02-27T09:30:00+02:00", b"2026-02-27T09:30:00.123456+02:00")
    assert precise != raw
    received = MOMENT.replace(microsecond=987654)
    event = translate(precise, InboundMeta(sender="BW", received_at=received), example_registry)
    assert event.occurred_at == datetime(2026, 2, 27, 7, 30, 0, 123000, tzinfo=UTC)
    assert event.received_at == MOMENT.replace(microsecond=987000)
    encoded = codec.encode("CertificateEvent", event_to_avro(event))
    decoded = event_from_avro(codec.decode(encoded, "CertificateEvent"))
    assert decoded == event


def test_a_finding_quoting_a_huge_value_is_bounded_and_keeps_its_advice(
    example_registry: ParticipantRegistry,
) -> None:
    """Found by fuzzing: a finding quotes the sender's value (here a 100,000-character
    TypeCode) whole, into ``kpgw validate``'s output and the dead letter's headers. It is
    cut in the middle now, so what to do about it, at the end of the message, survives."""
    raw = (FIXTURES / "certificate_bw_eu_be.xml").read_bytes()
    huge = raw.replace(b'name="Certificate of conformity">2<', b'name="x">' + b"9" * 100_000 + b"<")
    assert huge != raw
    with pytest.raises(MessageRejected) as caught:
        translate(huge, InboundMeta(sender="BW", received_at=MOMENT), example_registry)
    (finding,) = caught.value.findings
    assert finding.code == "NOT_KP_DOCUMENT"
    for message in (finding.message, caught.value.message, str(caught.value)):
        assert len(message) <= MAX_MESSAGE_CHARS + 60
        assert "characters left out" in message
        assert message.startswith("this SPS certificate has TypeCode 999")
        assert message.endswith(")")  # the advice: which TypeCode and where it is documented
        assert "Kimberley Process documents only" in message


def test_a_short_message_is_kept_whole() -> None:
    message = "x" * MAX_MESSAGE_CHARS
    assert Finding("CODE", message).message == message
    assert bounded_message(message + "y") != message + "y"


@pytest.mark.parametrize(
    ("sender", "note"),
    [
        ("BE", "(BE is a member state of EU: its systems send as kpgw-sender EU)"),
        ("XX", "(XX is no participant of the registry)"),
        ("RU", None),
    ],
)
def test_a_sender_that_is_no_participant_is_told_why(
    example_registry: ParticipantRegistry, sender: str, note: str | None
) -> None:
    """A walkthrough: 300 dead letters from a Kafka-native kpgw-sender XX all read "XX may
    not send this ...: only AE may", as if XX were a wrong issuer; a Belgian system sending
    as BE read "only EU may" without why."""
    raw = (FIXTURES / "acknowledgement_eu_be.xml").read_bytes()
    with pytest.raises(UnauthorisedSender) as caught:
        translate(raw, InboundMeta(sender=sender, received_at=MOMENT), example_registry)
    said = caught.value.findings[0].message
    assert said.startswith(f"{sender} may not send this ImportConfirmed for ")
    assert said.endswith("only EU may" if note is None else f"only EU may {note}"), said
