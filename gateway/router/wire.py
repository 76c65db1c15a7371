"""Reading ``kp.events`` records for the router: the canonical event, and its Avro body
when the router may copy it into the records that embed the event (partner
notifications, the changelog) instead of encoding the event again.

A body is copied only when encoding the decoded event would give the same values: it was
written with the current ``CertificateEvent`` schema and read to its end, its
``event_type`` is the payload's (the router derives it from the payload), and every amount
was read exactly (the reader, as fastavro's, rounds one wider than its decimal's
precision, which encoding would then write differently).
"""

from __future__ import annotations

from typing import Any

from gateway import codec
from gateway.codec import Encoded
from gateway.errors import UndecodableEvent
from gateway.events import CertificateEvent, CertificateVoided, Payload, event_from_avro

#: (precision, scale) of the ``carats`` and ``value_usd`` decimals (HsLine.avsc & co.).
CARATS = (15, 3)
USD = (18, 2)


def decode_event(value: bytes | None) -> tuple[CertificateEvent, Encoded | None]:
    """The canonical event of a ``kp.events`` record and its reusable body (or None), or
    ``UndecodableEvent``."""
    if value is None:
        raise UndecodableEvent("the record has no value (a tombstone on kp.events)")
    record, body = codec.decode_with_body(value, "CertificateEvent")
    try:
        event = event_from_avro(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise UndecodableEvent(f"not a canonical CertificateEvent: {exc}") from exc
    if body is not None and not _reencodes_alike(record, event.payload):
        body = None
    return event, body


def _reencodes_alike(record: dict[str, Any], payload: Payload) -> bool:
    if record.get("event_type") != payload.event_type.value:
        return False
    if isinstance(payload, CertificateVoided):
        return True
    amounts = [(payload.total_carats, CARATS), (payload.total_value_usd, USD)]
    for line in payload.lines:
        amounts += [(line.carats, CARATS), (line.value_usd, USD)]
    for amount, (precision, scale) in amounts:
        if amount is None:
            continue
        # Read as written: the reader rounds a value wider than the precision (its exponent
        # then is above -scale), and the writer refuses more digits than the precision.
        _, digits, exponent = amount.as_tuple()
        if exponent != -scale or len(digits) > precision:
            return False
    return True
