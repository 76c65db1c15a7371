"""What a message's kp.status tells of the outcomes behind it: each outcome's sentence and,
for VALUE_PER_CARAT_OUT_OF_BAND, the value and the band (DeliveryStatus v3 ``outcomes``);
a participant that is not party to the certificate learns only its redacted sentence."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import fastavro

from gateway import codec
from gateway.events import HsLine
from gateway.registry import Pair
from gateway.router import STATE_SCHEMA, state_from_avro, state_to_avro
from gateway.router.core import decide
from tests.unit.router.factories import (
    DUBAI,
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    issued,
    registry,
    void,
)

#: 500 USD/ct: far above Russia's band of 38.8-242.5.
DEAR = (HsLine("7102.31", Decimal("1000.000"), Decimal("500000.00")),)


def _outcomes(router: Harness, item: Any) -> list[dict[str, Any]]:
    record = router.status_record(item)
    assert record is not None
    outcomes: list[dict[str, Any]] = record["outcomes"]
    return outcomes


def test_a_discrepancy_tells_each_outcomes_sentence_and_the_band_most_severe_first() -> None:
    cert = event(certificate(lines=DEAR))
    router = Harness()
    router.feed(cert)
    router.feed(event(confirmation(issued(cert), parcels=4)))
    router.feed(
        event(
            confirmation(
                issued(cert),
                confirming_participant="AE",
                confirming_member_state=None,
                importer=DUBAI,
            )
        )
    )
    record = router.status_record(cert)
    assert record is not None
    assert record["detail"] == (
        "WRONG_DESTINATION, VALUE_PER_CARAT_OUT_OF_BAND, MATCHED_WITH_DISCREPANCIES"
    )  # unchanged: the kinds, for readers of DeliveryStatus v1 and v2
    assert record["outcomes"] == [
        {
            "outcome": "WRONG_DESTINATION",
            "detail": "certificate for EU confirmed by AE",
            "value_band": None,
        },
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
        {
            "outcome": "MATCHED_WITH_DISCREPANCIES",
            "detail": "the confirmation differs from the certificate in parcels",
            "value_band": None,
        },
    ]
    # Each sentence is the one the outcome on kp.outcomes carries.
    told = {item["outcome"]: item["detail"] for item in router.outcomes()}
    assert all(item["detail"] == told[item["outcome"]] for item in record["outcomes"])


def test_a_third_party_is_told_only_its_redacted_sentence() -> None:
    """A participant that confirms a certificate it is not party to hears, in its status as
    on its partner topic, that the certificate is not addressed to it: not the
    destination ("certificate for EU confirmed by AE"), the expiry or the void."""
    cert = certificate(lines=DEAR)
    router = Harness()
    router.feed(event(cert))
    router.feed(event(void(cert)), T0 + timedelta(days=1))
    probe = event(
        confirmation(
            cert,
            confirming_participant="AE",
            confirming_member_state=None,
            importer=DUBAI,
            date_of_receipt=cert.expiry_date + timedelta(days=30),
        )
    )
    router.feed(probe, T0 + timedelta(days=2))
    notified = [e.value["outcome"] for e in router.emissions if e.participant == "AE"]
    assert _outcomes(router, probe) == [
        {
            "outcome": "WRONG_DESTINATION",
            "detail": notified[0]["detail"],
            "value_band": None,
        }
    ]
    assert notified[0]["detail"].startswith("certificate RU0123456 is not addressed to AE;")
    written = repr(router.status_record(probe))
    for secret in ("EU", "BE", "500.00", "242.5", cert.expiry_date.isoformat(), void(cert).reason):
        assert secret not in written, secret
    # The exporter's certificate status names them all.
    kinds = [item["outcome"] for item in _outcomes(router, event(cert))]
    assert kinds == [
        "WRONG_DESTINATION",
        "CONFIRMED_AFTER_VOID",
        "CONFIRMED_AFTER_EXPIRY",
        "VALUE_PER_CARAT_OUT_OF_BAND",
    ]


def test_an_industrial_line_judged_alone_has_a_band_without_a_lower_end() -> None:
    gem = HsLine("7102.31", Decimal("100.000"), Decimal("15000.00"))
    inflated = HsLine("7102.21", Decimal("0.500"), Decimal("25000000.00"))
    payload = certificate(
        "BW1234567", issuing_participant="BW", exporting_participant="BW", origin="BW"
    )
    cert = event(
        replace(
            payload,
            lines=(gem, inflated),
            total_carats=gem.carats + inflated.carats,
            total_value_usd=gem.value_usd + inflated.value_usd,
        )
    )
    router = Harness()
    router.feed(cert)
    (band,) = _outcomes(router, cert)
    assert band["value_band"] == {
        "usd_per_carat": "50000000.00",
        "low": None,
        "high": "327.5",
        "hs_code": "7102.21",
    }
    assert "7102.21 line at 50000000.00 USD/ct" in band["detail"]


def test_an_overdue_tells_its_sentence_and_so_does_a_discrepancy_it_joins() -> None:
    cert = event(certificate())
    router = Harness()
    router.feed(cert)
    router.tick(T0 + timedelta(days=14))
    assert router.status(cert) == ("OVERDUE", "CONFIRMATION_OVERDUE")
    (overdue,) = _outcomes(router, cert)
    assert overdue["outcome"] == "CONFIRMATION_OVERDUE"
    assert overdue["detail"].startswith("no confirmation since 2025-03-03")

    dear = event(certificate(lines=DEAR))
    banded = Harness()
    banded.feed(dear)
    banded.tick(T0 + timedelta(days=14))
    assert [item["outcome"] for item in _outcomes(banded, dear)] == [
        "VALUE_PER_CARAT_OUT_OF_BAND",
        "CONFIRMATION_OVERDUE",  # last, as in the detail, while the importer has not confirmed
    ]


def test_a_resent_message_is_told_what_its_original_is() -> None:
    cert = certificate(lines=DEAR)
    router = Harness()
    router.feed(event(cert))
    again = event(cert, copy="again")  # the same document under another tracking id
    router.feed(again)
    assert [item["outcome"] for item in _outcomes(router, again)] == ["VALUE_PER_CARAT_OUT_OF_BAND"]
    assert _outcomes(router, again) == _outcomes(router, event(cert))


def test_a_state_from_before_router_state_v5_tells_the_kinds_without_sentences() -> None:
    """kp.router.changelog is compacted: states written before the sentences were kept
    stay on it. Their outcomes still count, with no sentence or band."""
    cert = event(certificate(lines=DEAR))
    router = Harness()
    router.feed(cert)
    assert router.state is not None
    v4 = codec.released_paths(STATE_SCHEMA)[3]
    assert v4.stem == "v4"
    schema = fastavro.parse_schema(json.loads(v4.read_text()))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, state_to_avro(router.state))
    data = codec.MAGIC + codec.fingerprint(schema) + body.getvalue()
    old = state_from_avro(codec.decode(data, STATE_SCHEMA))
    assert [(item.detail, item.value_band) for item in old.emitted] == [(None, None)]
    confirmed = event(confirmation(issued(cert), parcels=4))
    decision = decide(old, confirmed, T0, registry())
    (status,) = [e.value for e in decision.emissions if e.key == cert.source.tracking_id]
    assert status["reason"] == "VALUE_PER_CARAT_OUT_OF_BAND"
    assert status["outcomes"] == [
        {"outcome": "VALUE_PER_CARAT_OUT_OF_BAND", "detail": None, "value_band": None},
        {  # decided after the upgrade: with its sentence
            "outcome": "MATCHED_WITH_DISCREPANCIES",
            "detail": "the confirmation differs from the certificate in parcels",
            "value_band": None,
        },
    ]


def test_a_discrepancy_names_its_fields_and_the_pairs_tolerances() -> None:
    """MATCHED_WITH_DISCREPANCIES was the one outcome without a sentence: an importer's
    ``kpgw status`` listed the differences with no word of the tolerances they broke."""
    from gateway.router.compare import Difference
    from gateway.router.core import _discrepancies

    differences = (
        Difference("parcels", "3", "4"),
        Difference("lines[7102.31].carats", "100.000", "99.000"),
        Difference("lines[7102.31].value_usd", "9000.00", "8000.00"),
    )
    tolerant = Pair(
        exporter="RU", importer="EU", carats_tolerance_pct=Decimal("0.5"),
        value_tolerance_pct=Decimal("0"),
    )  # fmt: skip
    assert _discrepancies(differences, tolerant) == (
        "the confirmation differs from the certificate in parcels, lines[7102.31].carats, "
        "lines[7102.31].value_usd (tolerances: carats 0.5%, value 0%)"
    )
    exact = Pair(exporter="RU", importer="EU")
    assert _discrepancies(differences[:2], exact).endswith(
        "in parcels, lines[7102.31].carats (this pair compares carats and values exactly)"
    )
    # Tolerances are for carats and values only: a name or a count is compared as it is.
    assert _discrepancies(differences[:1], tolerant).endswith("in parcels")
