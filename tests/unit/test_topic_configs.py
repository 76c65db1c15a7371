"""What ``topics check`` says of a topic's configs (``gateway.kafka.topics.config_problems``):
a retention shorter than the design's minimum, a record size below what the gateway writes,
fewer in-sync replicas than wanted; longer or infinite retention is fine."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ConfigurationError
from gateway.kafka.topics import (
    CORE_TOPICS,
    DAY_MS,
    Durability,
    TopicProblem,
    config_problems,
    dead_letter_problems,
    dead_letter_topic_too_small,
    duration,
    size,
    smallest_dead_letter,
)
from gateway.router.preflight import fatal_problems, remedies
from gateway.settings import Settings
from gateway.translator import worker as translator_worker

SPECS = {spec.suffix: spec for spec in CORE_TOPICS}
ONE = Durability(1, 1)


def _problems(
    suffix: str, found: dict[str, str], durability: Durability = ONE, copies: int = 1
) -> list[TopicProblem]:
    return config_problems(
        SPECS[suffix],
        f"opsx.{suffix}",
        found,
        settings=Settings(),
        durability=durability,
        copies=copies,
    )


def test_events_kept_an_hour_breaks_kp_record_keeping() -> None:
    (problem,) = _problems(
        "events",
        {"cleanup.policy": "delete", "retention.ms": "3600000", "min.insync.replicas": "1"},
    )
    assert problem.problem == (
        "retention.ms 3600000 (1 h) is shorter than 3 years: KP record keeping"
    )
    assert (problem.config, problem.found, problem.wanted) == (
        "retention.ms",
        "3600000",
        str(3 * 366 * DAY_MS),
    )
    assert problem.fix == SPECS["events"].configs["retention.ms"]  # what topics create sets


def test_a_size_limit_on_kept_records_breaks_record_keeping() -> None:
    (problem,) = _problems(
        "events",
        {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "1073741824"},
    )
    assert problem.config == "retention.bytes"
    assert problem.problem.startswith("retention.bytes 1073741824 (1024 MiB) per partition")
    assert problem.fix == "-1"
    assert _problems("events", {"cleanup.policy": "delete", "retention.bytes": "-1"}) == []


@pytest.mark.parametrize("retention", ["-1", str(10 * 366 * DAY_MS), str(3 * 366 * DAY_MS)])
def test_longer_or_infinite_retention_is_fine(retention: str) -> None:
    assert _problems("events", {"cleanup.policy": "delete", "retention.ms": retention}) == []


def test_the_broker_default_record_size_is_too_small_for_documents_and_dead_letters() -> None:
    found = {
        "cleanup.policy": "delete",
        "retention.ms": str(30 * DAY_MS),
        "max.message.bytes": "1048588",
    }
    (inbound,) = _problems("inbound", found)
    assert inbound.problem.startswith(
        "max.message.bytes 1048588 (1.00 MiB) is below 2162688 (2.06 MiB): raw documents"
    )
    assert inbound.fix == str(4 * 1024 * 1024)
    (dlq,) = _problems("dlq", {**found, "retention.ms": str(365 * DAY_MS)})
    assert (dlq.config, dlq.found, dlq.wanted) == ("max.message.bytes", "1048588", "4194304")


def test_inbound_kept_a_day_is_named_with_why() -> None:
    (problem,) = _problems(
        "inbound",
        {"cleanup.policy": "delete", "retention.ms": str(DAY_MS), "max.message.bytes": "4194304"},
    )
    assert problem.problem.startswith("retention.ms 86400000 (1 day) is shorter than 30 days: ")
    assert "Idempotency-Key" in (problem.why or "")


def test_a_compacted_changelog_has_no_retention_minimum() -> None:
    assert _problems("router.changelog", {"cleanup.policy": "compact", "retention.ms": "1"}) == []


def test_in_sync_replicas_are_raised_only_where_there_are_copies_enough() -> None:
    found = {"cleanup.policy": "compact", "min.insync.replicas": "1"}
    (raisable,) = _problems("router.changelog", found, Durability(3, 2), copies=3)
    assert (raisable.config, raisable.fix) == ("min.insync.replicas", "2")
    (stuck,) = _problems("router.changelog", found, Durability(3, 2), copies=1)
    assert stuck.fix is None
    assert "not raised: the topic has 1 copy" in (stuck.why or "")


def test_inbound_needs_room_for_the_largest_body_the_ingress_takes() -> None:
    settings = Settings.model_validate({"ingress": {"max_body_bytes": 2 * 1024 * 1024}})
    (problem,) = config_problems(
        SPECS["inbound"],
        "kp.inbound",
        {"cleanup.policy": "delete", "retention.ms": "-1", "max.message.bytes": "1048576"},
        settings=settings,
        durability=ONE,
        copies=1,
    )
    assert problem.wanted == str(2 * 1024 * 1024 + 64 * 1024)
    assert problem.fix is not None and int(problem.fix) >= int(problem.wanted)


def test_durations_and_sizes_read_as_people_write_them() -> None:
    assert [duration(ms) for ms in (-1, 3_600_000, DAY_MS, 30 * DAY_MS, 1500)] == [
        "infinite",
        "1 h",
        "1 day",
        "30 days",
        "1500 ms",
    ]
    assert [size(n) for n in (4 * 1024 * 1024, 1048588)] == ["4 MiB", "1.00 MiB"]


def test_the_router_starts_with_weak_retention_or_record_size_and_says_so() -> None:
    """They are the operator's to fix (``topics check`` names them); refusing to start
    would stop routing for a config the router does not depend on to be correct."""
    weak = [
        *_problems("events", {"cleanup.policy": "delete", "retention.ms": "3600000"}),
        *_problems("dlq", {"cleanup.policy": "delete", "max.message.bytes": "1048588"}),
    ]
    assert [p.config for p in weak] == ["retention.ms", "max.message.bytes"]
    assert fatal_problems("opsx.", weak) == []


def test_a_dlq_below_the_smallest_dead_letter_is_named_and_refused_at_start_up() -> None:
    """Before, a kp.dlq of 1,000 bytes was named as any kp.dlq below 4 MiB, and the router
    and the translator started: their first dead letter then held its partition for ever."""
    smallest = smallest_dead_letter(Settings())
    (tiny,) = _problems("dlq", {"cleanup.policy": "delete", "max.message.bytes": "1000"})
    assert dead_letter_topic_too_small(tiny)
    assert (tiny.config, tiny.found, tiny.wanted) == ("max.message.bytes", "1000", str(smallest))
    assert "--entity-name opsx.dlq --add-config max.message.bytes=4194304" in tiny.problem
    assert fatal_problems("opsx.", [tiny]) == [tiny]
    assert "raise opsx.dlq's max.message.bytes" in remedies("opsx.", [tiny])
    # At the smallest letter's size it only cuts (said, not refused).
    (cut,) = _problems("dlq", {"cleanup.policy": "delete", "max.message.bytes": str(smallest)})
    assert not dead_letter_topic_too_small(cut) and "cut to fit" in cut.problem
    assert fatal_problems("opsx.", [cut]) == []


def test_a_dlq_smaller_than_inbound_says_the_largest_dead_letters_are_cut() -> None:
    """kp.inbound raised above 4 MiB by hand, kp.dlq left at it: nothing was said."""
    configs = {
        "opsx.inbound": {"max.message.bytes": str(8 * 1024 * 1024)},
        "opsx.dlq": {"max.message.bytes": str(4 * 1024 * 1024)},
    }
    (problem,) = dead_letter_problems("opsx.", configs)
    assert problem.topic == "opsx.dlq" and (problem.found, problem.wanted) == (
        str(4 * 1024 * 1024),
        str(8 * 1024 * 1024),
    )
    assert "below opsx.inbound's 8388608 (8 MiB)" in problem.problem
    configs["opsx.dlq"]["max.message.bytes"] = str(8 * 1024 * 1024)
    assert dead_letter_problems("opsx.", configs) == []
    configs["opsx.dlq"]["max.message.bytes"] = "1048588"  # config_problems names it
    assert dead_letter_problems("opsx.", configs) == []


async def test_the_translator_refuses_to_start_on_a_dlq_too_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tiny,) = _problems("dlq", {"cleanup.policy": "delete", "max.message.bytes": "1000"})

    async def checked(*_: Any, **__: Any) -> list[TopicProblem]:
        return [tiny]

    monkeypatch.setattr(translator_worker, "check_topics_patiently", checked)
    with pytest.raises(
        ConfigurationError, match=r"refuses to start: opsx\.dlq: max\.message\.bytes"
    ):
        await translator_worker.check_translator_topics(Settings())
