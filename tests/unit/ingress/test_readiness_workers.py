"""The ingress's /readyz under ``kpgw run`` (ingress, translator and router in one process):
it showed only the ingress's own checks, so an operator of the all-in-one could not see that
the router was restoring, held partitions, or that the translator had not joined its group.
The workers' checks are now shown under ``workers``, as a worker-only process answers them,
without deciding the ingress's ``ready`` (a load balancer routes documents on it, and they
are accepted while the workers catch up). The real thing: tests/kafka/ingress/
test_all_in_one_readiness.py."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import SecretStr

from gateway import ops_http
from gateway.ingress import handlers, service
from gateway.ingress.service import Ingress
from gateway.metrics import pipeline_metrics
from gateway.ops_http import Operations
from gateway.readiness import component_topics
from gateway.registry.loader import load_registry
from gateway.router.preflight import router_topic_suffixes
from gateway.settings import Settings, load_settings
from gateway.translator.worker import TRANSLATOR_TOPICS
from tests.openapi_shapes import component as schema
from tests.openapi_shapes import spec, undocumented

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


@pytest.fixture(autouse=True)
def only_these_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's watched workers are this test's alone: a worker an earlier test of the
    same process left uncollected (the order differs in each of make test's processes)
    answered beside them, and a stopped router here still read as ready."""
    monkeypatch.setattr(pipeline_metrics(), "_watched", [])


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


async def test_while_draining_the_workers_are_still_shown(
    settings: Settings, every_topic: set[str], workers: list[_Worker]
) -> None:
    """After SIGTERM the ingress fails /readyz on purpose (``checks`` empty) while the
    workers beside it stop: the draining answer left ``workers`` out, so an operator
    watching a rolling restart could not see them finish."""
    ingress = Ingress.build(settings, ("translator", "router"))
    app = web.Application()
    app[handlers.INGRESS] = ingress
    ingress.draining = True
    answer = await handlers.readyz(make_mocked_request("GET", "/readyz", app=app))
    assert answer.status == 503
    assert isinstance(answer, web.Response) and answer.body is not None
    report = json.loads(bytes(answer.body))
    assert report == {
        "ready": False,
        "draining": True,
        "checks": {},
        "workers": (await ingress._check_readiness())["workers"],
    }
    assert report["workers"]["router"]["checks"]["router_restoring_partitions"] == [1, 4]
    openapi = spec()
    assert undocumented(report, schema("Readiness"), openapi) == []
    workers.clear()  # stopped and collected: shown as not ready, not left out
    ingress.readiness._last = None
    report = json.loads(
        bytes((await handlers.readyz(make_mocked_request("GET", "/readyz", app=app))).body)
    )
    assert report["workers"]["translator"]["ready"] is False
    assert report["workers"]["router"]["checks"]["router"] is False


async def test_while_draining_without_workers_the_answer_is_as_it_was(
    settings: Settings, every_topic: set[str]
) -> None:
    """``kpgw run --only ingress``: nothing to show, no broker check."""
    ingress = Ingress.build(settings)
    ingress.draining = True
    assert await handlers.draining_report(ingress) == {
        "ready": False,
        "draining": True,
        "checks": {},
    }


async def _readyz(app: web.Application, authorization: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": authorization} if authorization else {}
    answer = await handlers.readyz(make_mocked_request("GET", "/readyz", headers, app=app))
    assert isinstance(answer, web.Response) and answer.body is not None
    return dict(json.loads(bytes(answer.body)))


@pytest.mark.parametrize("draining", [False, True])
async def test_with_a_metrics_token_only_operators_see_the_details(
    settings: Settings, every_topic: set[str], workers: list[_Worker], draining: bool
) -> None:
    """The ingress's port is the participants' too (a code review): its /readyz named the
    partitions held, the partner topics missing (so the participants) and the text of a
    dead-letter problem to anyone. With a metrics token set, a probe without it gets every
    verdict and no detail; the operator presenting it gets everything, as before."""
    settings.ingress.metrics_token = SecretStr("m" * 32)
    ingress = Ingress.build(settings, ("translator", "router"))
    ingress.draining = draining
    app = web.Application()
    app[handlers.INGRESS] = ingress
    full = await _readyz(app, "Bearer " + "m" * 32)
    assert full["workers"]["router"]["checks"]["router_restoring_partitions"] == [1, 4]
    for presented in (None, "Bearer wrong", "Bearer "):
        public = await _readyz(app, presented)
        assert public["ready"] is full["ready"] is False
        assert public["checks"] == full["checks"]
        assert public["workers"] == {
            "translator": {
                "ready": False,
                "checks": {"broker": True, "topics": True, "translator": False},
            },
            "router": {
                "ready": False,
                "checks": {"broker": True, "topics": True, "router": False},
            },
        }
        assert set(public) <= {"ready", "draining", "checks", "workers"}
        assert undocumented(public, schema("Readiness"), spec()) == []
    settings.ingress.metrics_token = None  # no token set: everyone is the operator
    assert await _readyz(app) == full
