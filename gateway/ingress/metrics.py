"""The ingress's Prometheus metrics (docs/metrics.md lists every name, type and label):
one ingress's requests and views, in its own registry (tests and the demo run several
ingresses in one process), with the process's pipeline metrics (``gateway.metrics``)
registered into it, so under ``kpgw run`` one ``GET /metrics`` shows all components.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from gateway.metrics import pipeline_metrics

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class IngressMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kpgw_ingress_requests",
            "HTTP requests by route template, method and status code",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "kpgw_ingress_request_seconds",
            "HTTP request latency by route template",
            ("route", "method"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.accepted = Counter(
            "kpgw_ingress_accepted_messages",
            "Messages acknowledged by the broker and answered 202, by participant",
            ("participant",),
            registry=self.registry,
        )
        self.refused = Counter(
            "kpgw_ingress_refused_messages",
            "Messages refused, by participant and problem type",
            ("participant", "problem"),
            registry=self.registry,
        )
        self.tracked = Gauge(
            "kpgw_ingress_tracked_messages",
            "Tracking ids known to this instance (from kp.inbound and kp.status)",
            ("view",),
            registry=self.registry,
        )
        self.registry.register(pipeline_metrics().registry)  # the workers of this process
        # The labelled children per (route, method, status): ``labels()`` validates and
        # looks up its arguments on every call, a measurable cost per request.
        self._observed: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._accepted: dict[str, Counter] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        children = self._observed.get((route, method, status))
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._observed[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def accept(self, participant: str) -> None:
        """One more message acknowledged and answered 202 for ``participant``."""
        child = self._accepted.get(participant)
        if child is None:
            child = self._accepted[participant] = self.accepted.labels(participant)
        child.inc()

    def track(self, view: str, size: Callable[[], int]) -> None:
        self.tracked.labels(view).set_function(lambda: float(size()))

    def render(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data
