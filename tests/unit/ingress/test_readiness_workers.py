"""The ingress's /readyz under ``kpgw run`` (ingress, translator and router in one process):
it showed only the ingress's own checks, so an operator of the all-in-one could not see that
the router was restoring, held partitions, or that the translator had not joined its group.
The workers' checks are now shown under ``workers``, as a worker-only process answers them,
without deciding the ingress's ``ready`` (a load balancer routes documents on it, and they
are accepted while the workers catch up). The real thing: tests/kafka/ingress/
test_all_in_one_readiness.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from gateway import ops_http
from gateway.ingress import service
from gateway.ingress.service import Ingress
from gateway.metrics import pipeline_metrics
from gateway.ops_http import Operations
from gateway.readiness import component_topics
from gateway.registry.loader import load_registry
from gateway.router.preflight import router_topic_suffixes
from gateway.settings import Settings, load_settings
from gateway.translator.worker import TRANSLATOR_TOPICS

WAITING = "waiting for the consumer group to assign partitions (...); waiting 7 s"


class _Worker:
    """Stands for a worker's ``health()`` (``TransactionalWorker``, ``RouterHandler``)."""

    def __init__(self, health: Mapping[str, Any]) -> None:
        self.said = health


def _watch(component: str, worker: _Worker) -> None:
    async def position(owner: Any, tp: Any) -> int | None:
        return None

    pipeline_metrics().watch(component, worker, lambda _: [], position, health=lambda w: w.said)


@pytest.fixture
def settings() -> Settings:
    return load_settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="ready.")


@pytest.fixture
def every_topic(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The broker answers, with every topic of both workers."""
    suffixes = (*TRANSLATOR_TOPICS, *router_topic_suffixes(load_registry(settings.partners_file)))
    found = {f"{settings.topic_prefix}{suffix}" for suffix in suffixes}

    async def broker_topics(settings: Any, timeout_s: float) -> set[str] | None:
        return found

    monkeypatch.setattr(service, "broker_topics", broker_topics)
    monkeypatch.setattr(ops_http, "broker_topics", broker_topics)
    return found


@pytest.fixture
def workers() -> Iterator[list[_Worker]]:
    """A translator not in its group yet, a router restoring partitions 1 and 4."""
    running = [
        _Worker({"joined": False, "held": [], "waiting": WAITING}),
        _Worker({"joined": True, "held": [4, 1]}),
    ]
    _watch("translator", running[0])
    _watch("router", running[1])
    yield running
    running.clear()  # collected: forgotten by pipeline_metrics()


async def test_the_all_in_one_readiness_shows_the_workers_beside_the_ingress(
    settings: Settings, every_topic: set[str], workers: list[_Worker]
) -> None:
    report = await Ingress.build(settings, ("translator", "router"))._check_readiness()
    assert report["workers"] == {
        "translator": {
            "ready": False,
            "checks": {
                "broker": True,
                "topics": True,
                "translator": False,
                "translator_waiting": WAITING,
            },
        },
        "router": {
            "ready": False,
            "checks": {
                "broker": True,
                "topics": True,
                "router": False,
                "router_restoring_partitions": [1, 4],
            },
        },
    }
    # The ingress's own checks, and so its ``ready``, are what they were.
    assert set(report["checks"]) == {
        "broker", "topics", "producer", "inbound_view", "status_view", "validation", "clock",
    }  # fmt: skip
    assert report["ready"] is all(report["checks"].values())


async def test_a_worker_is_shown_as_its_own_process_would_answer(
    settings: Settings, every_topic: set[str], workers: list[_Worker]
) -> None:
    """One vocabulary: what ``kpgw run --only router`` answers on its /readyz is what the
    all-in-one shows under ``workers.router`` (the docs and the log name these keys)."""
    ingress = Ingress.build(settings, ("translator", "router"))
    for component in ("translator", "router"):
        alone = await Operations(settings, (component,), component_topics(settings))._check()
        shown = (await ingress._check_readiness())["workers"][component]
        assert shown == {"ready": alone["ready"], "checks": alone["checks"]}
    workers[1].said = {"joined": True, "held": []}  # restored
    ingress.readiness._last = None
    assert (await ingress.readiness())["workers"]["router"]["ready"] is True


async def test_without_workers_in_the_process_there_is_no_workers_entry(
    settings: Settings, every_topic: set[str], workers: list[_Worker]
) -> None:
    """``kpgw run --only ingress``: workers elsewhere are not this process's to report
    (those watched here belong to no ingress, as in a test process)."""
    assert "workers" not in await Ingress.build(settings)._check_readiness()


async def test_a_worker_not_built_yet_is_not_ready(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The translator waits for the broker before it builds its worker: shown as not
    ready rather than left out."""

    async def broker_topics(settings: Any, timeout_s: float) -> set[str] | None:
        return None

    monkeypatch.setattr(service, "broker_topics", broker_topics)
    report = await Ingress.build(settings, ("translator",))._check_readiness()
    assert report["workers"] == {
        "translator": {
            "ready": False,
            "checks": {"broker": False, "topics": False, "translator": False},
        }
    }
