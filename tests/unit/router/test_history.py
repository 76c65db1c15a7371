"""The pure half of ``kpgw router rebuild``: a partition's events decided again in order
(timers firing between them at their deadlines), and the choice of what to write again."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway import codec
from gateway.events import CertificateEvent, event_to_avro
from gateway.router import DEFAULT_CONFIG, TopicKind, decide
from gateway.router.history import (
    KEY_MISMATCH,
    UNDECODABLE,
    Held,
    History,
    missing_records,
    status_gist,
)
from gateway.router.state import state_to_bytes
from tests.unit.router.factories import T0, certificate, confirmation, event, registry

DAY = timedelta(days=1)


def history() -> History:
    return History(registry(), DEFAULT_CONFIG, 900 * 1024)


def take(target: History, item: CertificateEvent, at: datetime) -> None:
    encoded = codec.encode("CertificateEvent", event_to_avro(item))
    target.take(item.certificate_id.encode(), encoded, at)


def outcomes(target: History) -> list[tuple[str, datetime]]:
    return [
        (e.value["outcome"], e.value["decided_at"])
        for e in target.emissions
        if e.topic is TopicKind.OUTCOMES
    ]


def test_the_rebuilt_state_is_the_one_the_router_built_at_the_same_times() -> None:
    cert = certificate("RU0300001")
    issued, confirmed = event(cert), event(confirmation(cert))
    rebuilt = history()
    take(rebuilt, issued, T0)
    take(rebuilt, confirmed, T0 + 2 * DAY)
    live = decide(None, issued, T0, registry()).state
    live = decide(live, confirmed, T0 + 2 * DAY, registry()).state
    assert live is not None
    assert state_to_bytes(rebuilt.states["RU0300001"]) == state_to_bytes(live)
    assert [kind for kind, _ in outcomes(rebuilt)] == ["MATCHED"]
    assert rebuilt.events == 2


def test_a_deadline_between_two_events_fires_at_its_deadline_before_the_later_one() -> None:
    cert = certificate("RU0300002")
    other = certificate("RU0300003")
    rebuilt = history()
    take(rebuilt, event(cert), T0)
    take(rebuilt, event(other), T0 + 20 * DAY)  # the RU -> EU deadline is 14 days
    take(rebuilt, event(confirmation(cert)), T0 + 21 * DAY)
    assert outcomes(rebuilt) == [
        ("CONFIRMATION_OVERDUE", T0 + 14 * DAY),
        ("MATCHED", T0 + 21 * DAY),
    ]


def test_advance_fires_what_is_due_by_now_once() -> None:
    rebuilt = history()
    take(rebuilt, event(certificate("RU0300004")), T0)
    rebuilt.advance(T0 + 13 * DAY)
    assert outcomes(rebuilt) == []
    rebuilt.advance(T0 + 30 * DAY)
    rebuilt.advance(T0 + 31 * DAY)
    assert outcomes(rebuilt) == [("CONFIRMATION_OVERDUE", T0 + 14 * DAY)]


def test_what_the_router_dead_lettered_is_refused_again_and_counted() -> None:
    rebuilt = history()
    item = event(certificate("RU0300005"))
    rebuilt.take(b"RU0300005", b"\xc3\x01 not avro", T0)
    encoded = codec.encode("CertificateEvent", event_to_avro(item))
    rebuilt.take(b"RU9999999", encoded, T0)  # keyed by another certificate
    assert rebuilt.refused == {UNDECODABLE: 1, KEY_MISMATCH: 1}
    assert rebuilt.states == {}
    assert rebuilt.events == 0


def test_only_what_the_topics_do_not_hold_is_written_again() -> None:
    cert = certificate("RU0300006")
    issued, confirmed = event(cert), event(confirmation(cert))
    rebuilt = history()
    take(rebuilt, issued, T0)
    take(rebuilt, confirmed, T0 + DAY)
    by_topic = {topic: [e for e in rebuilt.emissions if e.topic is topic] for topic in TopicKind}
    (matched,) = by_topic[TopicKind.OUTCOMES]
    first_notification = by_topic[TopicKind.PARTNER][0]
    statuses = by_topic[TopicKind.STATUS]
    last = {e.key: e for e in statuses}
    held = Held(
        outcomes={matched.value["outcome_id"], "an-outcome-of-a-router-without-state"},
        notifications={first_notification.value["notification_id"]},
        statuses={key: status_gist(e.value) for key, e in list(last.items())[:1]},
    )

    missing = missing_records(rebuilt.emissions, held)

    assert missing.outcomes == {}
    assert (missing.outcomes_present, missing.outcomes_unexplained) == (1, 1)
    assert missing.notifications == len(by_topic[TopicKind.PARTNER]) - 1
    assert first_notification not in missing.records
    restated = [e for e in missing.records if e.topic is TopicKind.STATUS]
    assert missing.statuses == len(restated) == len(last) - 1
    assert all(last[e.key] is e for e in restated)  # each message's last status only
    assert missing_records(rebuilt.emissions, Held()).outcomes == {"MATCHED": 1}


def test_an_event_the_core_refuses_gets_the_dead_lettered_status_the_router_wrote() -> None:
    rebuilt = History(registry(), DEFAULT_CONFIG, max_state_bytes=100)  # every state too big
    take(rebuilt, event(certificate("RU0300007")), T0)
    assert rebuilt.refused == {"STATE_TOO_LARGE": 1}
    (status,) = rebuilt.emissions
    assert status.topic is TopicKind.STATUS
    assert (status.value["status"], status.value["reason"]) == ("DEAD_LETTERED", "STATE_TOO_LARGE")


def test_outcomes_the_history_does_not_give_are_listed_by_id() -> None:
    rebuilt = history()
    take(rebuilt, event(certificate("RU0300008")), T0)
    missing = missing_records(rebuilt.emissions, Held(outcomes={"b-outcome", "a-outcome"}))
    assert missing.outcomes_unexplained == 2
    assert missing.unexplained_ids == ["a-outcome", "b-outcome"]


def test_a_status_an_older_version_wrote_without_outcomes_is_restated_with_them() -> None:
    """A DeliveryStatus written before v3 (or from a state that kept no sentences) has the
    same status and reason as the rebuilt one but no outcomes: a rebuild, which re-derives
    them from the events, writes the status again with them; once only."""
    rebuilt = history()
    take(rebuilt, event(certificate("RU0300009")), T0)
    rebuilt.advance(T0 + 15 * DAY)
    overdue = [e for e in rebuilt.emissions if e.topic is TopicKind.STATUS][-1]
    assert (overdue.value["status"], overdue.value["reason"]) == ("OVERDUE", "CONFIRMATION_OVERDUE")
    ((kind, sentence),) = [(o["outcome"], o["detail"]) for o in overdue.value["outcomes"]]
    assert kind == "CONFIRMATION_OVERDUE" and sentence

    def restated(held_value: dict[str, object]) -> list[str]:
        held = Held(statuses={overdue.key: status_gist(held_value)})
        missing = missing_records(rebuilt.emissions, held)
        return [e.key for e in missing.records if e.topic is TopicKind.STATUS]

    older = {**overdue.value, "outcomes": []}  # as decoded from a v2 record
    assert restated(older) == [overdue.key]
    unsaid = {**overdue.value, "outcomes": [{"outcome": kind, "detail": None, "value_band": None}]}
    assert restated(unsaid) == [overdue.key]  # decided by a router whose state kept none
    assert restated(overdue.value) == []
    # A sentence already there is what the sender was told: kept, even worded otherwise.
    told = {**overdue.value, "outcomes": [{"outcome": kind, "detail": "x", "value_band": None}]}
    assert restated(told) == []
