"""Out of order is normal: any arrival order of one certificate's events, with any input
delivered twice, yields the same outcomes where the semantics say it should."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.events import CertificateEvent, HsLine, Party
from gateway.router import TopicKind
from tests.unit.router.factories import T0, Harness, certificate, confirmation, event, void

CERT = certificate()
EXPIRY = CERT.expiry_date


def _matched() -> list[CertificateEvent]:
    return [event(CERT), event(confirmation(CERT))]


def _diverted() -> list[CertificateEvent]:
    diverted = confirmation(CERT, confirming_participant="AE", importer=Party("Dubai Rough DMCC"))
    return [*_matched(), event(diverted)]


def _voided() -> list[CertificateEvent]:
    return [*_matched(), event(void(CERT))]


def _expired() -> list[CertificateEvent]:
    late = confirmation(CERT, date_of_receipt=EXPIRY + timedelta(days=2))
    return [event(CERT), event(late)]


def _resent() -> list[CertificateEvent]:
    conf = confirmation(CERT)
    return [*_matched(), event(conf, copy="resent"), event(CERT, copy="resent")]


def _out_of_band() -> list[CertificateEvent]:
    cheap = certificate(lines=(HsLine("7102.31", Decimal("1520.350"), Decimal("1520.35")),))
    return [event(cheap), event(confirmation(cheap))]


def _reused() -> list[CertificateEvent]:
    again = confirmation(CERT, date_of_receipt=CERT.issue_date + timedelta(days=40))
    return [*_matched(), event(again)]


#: scenario -> (the outcome kinds it must give, whether the outcome ids and the partner
#: notifications are the same in every order). Where two inputs carry the same meaning
#: (a re-send) or compete (re-use), the first to arrive is the one in the evidence, so only
#: the kinds are fixed.
SCENARIOS: dict[str, tuple[Callable[[], list[CertificateEvent]], set[str], bool]] = {
    "matched": (_matched, {"MATCHED"}, True),
    "diverted": (_diverted, {"MATCHED", "WRONG_DESTINATION"}, True),
    "voided": (_voided, {"MATCHED", "CONFIRMED_AFTER_VOID"}, True),
    "expired": (_expired, {"MATCHED", "CONFIRMED_AFTER_EXPIRY"}, True),
    "resent": (_resent, {"MATCHED"}, False),
    "out_of_band": (_out_of_band, {"MATCHED", "VALUE_PER_CARAT_OUT_OF_BAND"}, True),
    "reused": (_reused, {"MATCHED", "DUPLICATE_CONFIRMATION"}, False),
}


def _run(events: list[CertificateEvent]) -> Harness:
    router = Harness()
    for minute, item in enumerate(events):
        router.feed(item, T0 + timedelta(minutes=minute))
    return router


def _outcome_ids(router: Harness) -> list[str]:
    return [e.value["outcome_id"] for e in router.emissions if e.topic is TopicKind.OUTCOMES]


def _partner_records(router: Harness) -> Counter[tuple[str | None, str]]:
    return Counter(
        (e.participant, e.value["notification_id"])
        for e in router.emissions
        if e.topic is TopicKind.PARTNER
    )


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[str, list[CertificateEvent]]:
    """A scenario's events in any order, some delivered again anywhere after themselves."""
    name = draw(st.sampled_from(sorted(SCENARIOS)))
    events = draw(st.permutations(SCENARIOS[name][0]()))
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(0, len(events) - 1))
        position = draw(st.integers(index + 1, len(events)))
        events.insert(position, events[index])
    return name, events


@settings(max_examples=300, deadline=None)
@given(arrivals())
def test_any_arrival_order_gives_the_same_outcomes(
    case: tuple[str, list[CertificateEvent]],
) -> None:
    name, events = case
    build, kinds, fixed = SCENARIOS[name]
    router = _run(events)
    ids = _outcome_ids(router)
    assert len(ids) == len(set(ids)), "an outcome was emitted twice"
    assert set(router.kinds()) == kinds
    assert len(router.kinds()) == len(kinds)
    assert router.state is not None
    assert all(router.state.has_seen(item.event_id) for item in events)
    if fixed:
        canonical = _run(build())
        assert canonical.state is not None
        assert set(ids) == set(_outcome_ids(canonical))
        assert _partner_records(router) == _partner_records(canonical)
        assert {e.event_id for e in router.state.kept_events()} == {
            e.event_id for e in canonical.state.kept_events()
        }
