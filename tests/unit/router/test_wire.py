"""The driver's fast paths write exactly what the plain ones would: events read from
kp.events are copied into the records that embed them only when re-encoding them would
give the same values; ids, staged deadlines and output partitions are unchanged."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import codec
from gateway.events import Party, event_to_avro
from gateway.router import STATE_SCHEMA, decide, next_deadline, state_from_avro
from gateway.router.records import ROUTER_ID_NAMESPACE, uuid5
from gateway.router.state import state_to_bytes, stored_body
from gateway.router.store import PartitionStore
from gateway.router.wire import decode_event
from tests.unit.router.factories import (
    T0,
    Harness,
    certificate,
    confirmation,
    event,
    registry,
    void,
    with_status,
)

CERT = certificate()


def _story(router: Harness) -> Harness:
    """Void first, certificate, match, duplicate, diversion, re-send, re-issue, overdue."""
    router.feed(event(void(CERT)))
    router.feed(event(CERT), T0 + timedelta(hours=1))
    router.feed(event(confirmation(CERT)), T0 + timedelta(days=3))
    router.feed(event(confirmation(CERT, parcels=4)))
    router.feed(event(confirmation(CERT, confirming_participant="AE", importer=Party("X"))))
    router.feed(event(CERT, copy="again"))
    router.feed(event(certificate(parcels=9)))
    router.tick(T0 + timedelta(days=400))
    return router


def test_events_read_from_the_wire_give_the_same_records_byte_for_byte() -> None:
    plain, wired = _story(Harness()), _story(Harness(wire=True))
    assert wired.written == plain.written
    assert len(wired.written) > 25
    orphans = [Harness(), Harness(wire=True)]
    for router in orphans:
        router.feed(event(confirmation(certificate("RU7654321"))))
        router.tick(T0 + timedelta(days=30))
    assert orphans[0].written == orphans[1].written


def test_a_body_read_from_the_wire_is_kept_with_the_state_and_forwarded() -> None:
    data = codec.encode("CertificateEvent", event_to_avro(event(CERT)))
    read, body = decode_event(data)
    assert body is not None and body.body == data[10:]
    decision = decide(None, read, T0, registry(), body=body)
    assert decision.state is not None and decision.state.certificate is not None
    assert decision.state.certificate.body is body
    announced = [e for e in decision.emissions if e.body is not None]
    assert [e.value["notification_type"] for e in announced] == ["SHIPMENT_ANNOUNCED"]
    assert announced[0].body is body


def test_a_restored_state_encodes_its_events_once_and_keeps_them() -> None:
    router = Harness()
    router.feed(event(CERT))
    assert router.state is not None
    data = state_to_bytes(router.state)
    restored = state_from_avro(codec.decode(data, STATE_SCHEMA))
    assert restored.certificate is not None and restored.certificate.body is None
    assert state_to_bytes(restored) == data
    assert restored.certificate.body is stored_body(restored.certificate)  # cached
    assert restored == router.state  # the body takes no part in equality


def test_bodies_that_would_not_re_encode_alike_are_not_reused() -> None:
    good = event(CERT)
    value = event_to_avro(good)
    assert decode_event(codec.encode("CertificateEvent", value))[1] is not None
    mislabelled = codec.encode("CertificateEvent", {**value, "event_type": "IMPORT_CONFIRMED"})
    assert decode_event(mislabelled)[0] == good
    assert decode_event(mislabelled)[1] is None  # the router writes the payload's own type
    trailing = codec.encode("CertificateEvent", value) + b"\x00"
    assert decode_event(trailing)[1] is None
    # 16 digits of carats where the schema allows 15: a foreign producer may write them
    # (as raw decimal bytes), the router reads them, but encoding would fail as before.
    unscaled = 1234567890123456000  # 1234567890123456.000 ct
    line = {**value["payload"][1]["lines"][0], "carats": unscaled.to_bytes(8, "big", signed=True)}
    wide = {**value, "payload": (value["payload"][0], {**value["payload"][1], "lines": [line]})}
    read, body = decode_event(codec.encode("CertificateEvent", wide))
    assert read.payload.lines[0].carats == Decimal("1.23456789012346E+15")  # type: ignore[union-attr]
    assert body is None  # re-encoded, that rounded value has other bytes than the input


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=200))
def test_uuid5_is_the_standard_one(name: str) -> None:
    assert uuid5(name) == str(uuid.uuid5(ROUTER_ID_NAMESPACE, name))


def test_a_staged_deadline_is_reused_only_under_the_same_registry() -> None:
    router = Harness()
    router.feed(event(CERT))
    state = router.state
    assert state is not None
    reg = registry()
    due = next_deadline(state, reg)
    assert due is not None
    store = PartitionStore(0)
    store.stage(CERT.certificate_number, state, (reg, due - timedelta(days=1)))
    store.commit(reg)
    assert store.next_due() == due - timedelta(days=1)  # taken as given
    store.stage(CERT.certificate_number, state, (reg, due - timedelta(days=1)))
    store.commit(with_status("AE", reg.participants["AE"].status))  # another registry
    assert store.next_due() == due
