"""Prometheus metrics of one ingress (its own registry, so several can live in a process):
requests by route, method and status, latency by route, and what the ingress holds."""

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

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def track(self, view: str, size: Callable[[], int]) -> None:
        self.tracked.labels(view).set_function(lambda: float(size()))

    def render(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data
