"""One ingress instance: its parts, their background tasks, and its readiness."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka.client import AIOKafkaClient

from gateway.ingress.auth import Authenticator
from gateway.ingress.dashboard import Dashboard, tee
from gateway.ingress.idempotency import IdempotencyIndex
from gateway.ingress.limits import RateLimiter
from gateway.ingress.metrics import IngressMetrics
from gateway.ingress.mirror import TopicMirror
from gateway.ingress.publisher import InboundPublisher
from gateway.ingress.status import StatusView
from gateway.ingress.validator import Validator, validator_for
from gateway.kafka.clients import common_config, stop_quietly, wait_bounded
from gateway.kafka.clock import recently_refused
from gateway.metrics import dead_letter_note, pipeline_metrics
from gateway.probe import SharedCheck
from gateway.readiness import TopicsOf, component_topics, workers_report
from gateway.registry.watch import RegistrySnapshot, RegistryWatcher, polled, readiness_note
from gateway.settings import Settings

log = structlog.get_logger(__name__)
READY_TIMEOUT_S = 2.0
STOP_GRACE_S = 2.0
READY_CACHE_S = 1.0
REQUIRED_TOPICS = ("inbound", "status")


@dataclass(eq=False)
class Ingress:
    settings: Settings
    registry: RegistrySnapshot
    auth: Authenticator
    limiter: RateLimiter
    publisher: InboundPublisher
    accepted: IdempotencyIndex
    statuses: StatusView
    inbound_mirror: TopicMirror
    status_mirror: TopicMirror
    metrics: IngressMetrics
    dashboard: Dashboard
    validator: Validator
    #: The topics each worker's readiness requires (``gateway.readiness``).
    worker_topics: TopicsOf
    #: The workers that run in this process beside it (``kpgw run``: translator, router):
    #: /readyz shows their checks under ``workers``, without failing on them.
    workers: tuple[str, ...] = ()
    readiness: SharedCheck = field(init=False)
    #: Stopping: /readyz fails while requests are still served (``app.run_ingress``).
    draining: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        #: Broker reachable, topics present, producer connected, views caught up.
        self.readiness = SharedCheck(self._check_readiness, READY_CACHE_S)

    @classmethod
    def build(cls, settings: Settings, workers: tuple[str, ...] = ()) -> Ingress:
        prefix = settings.topic_prefix
        registry = RegistrySnapshot(RegistryWatcher(settings.partners_file))
        accepted = IdempotencyIndex()
        statuses = StatusView()
        metrics = IngressMetrics()
        metrics.track("accepted", accepted.__len__)
        metrics.track("status", statuses.__len__)
        dashboard = Dashboard(settings, registry)
        return cls(
            settings=settings,
            registry=registry,
            auth=Authenticator(registry, mutual_tls=settings.ingress.tls_client_cafile is not None),
            limiter=RateLimiter(settings.ingress.rate_limit_per_minute),
            publisher=InboundPublisher(settings),
            accepted=accepted,
            statuses=statuses,
            inbound_mirror=TopicMirror(
                settings, f"{prefix}inbound", tee(accepted.apply, dashboard.on_inbound)
            ),
            status_mirror=TopicMirror(
                settings, f"{prefix}status", tee(statuses.apply, dashboard.on_status)
            ),
            metrics=metrics,
            dashboard=dashboard,
            validator=validator_for(
                settings.ingress.validation_processes if settings.ingress.validate_sync else 0,
                registry,
            ),
            worker_topics=component_topics(settings, registry.watcher),
            workers=workers,
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The background work: producer lanes, the two mirrors, the dashboard (its feed
        starts on the first request), the consumer-lag sampler of this process and the
        registry file's polling."""
        stop = asyncio.Event()
        await self.validator.start()
        await self.publisher.start()
        tasks = [
            asyncio.create_task(self.inbound_mirror.run(stop), name="mirror-inbound"),
            asyncio.create_task(self.status_mirror.run(stop), name="mirror-status"),
            asyncio.create_task(pipeline_metrics().sample_lag(self.settings, stop), name="lag"),
        ]
        try:
            async with polled(self.registry.watcher), self.dashboard.running():
                yield
        finally:
            stop.set()  # the mirrors finish their poll and close their consumers
            await asyncio.gather(*(wait_bounded(task, STOP_GRACE_S) for task in tasks))
            await self.publisher.close()
            await self.validator.close()

    async def _check_readiness(self) -> dict[str, Any]:
        topics = await broker_topics(self.settings, READY_TIMEOUT_S)
        wanted = [f"{self.settings.topic_prefix}{suffix}" for suffix in REQUIRED_TOPICS]
        checks = {
            "broker": topics is not None,
            "topics": topics is not None and all(name in topics for name in wanted),
            # A lane's connection is known lost only when it next sends: with the broker
            # not answering the probe, the producer is not usable either (SRE review).
            "producer": topics is not None and self.publisher.connected,
            "inbound_view": self.inbound_mirror.caught_up.is_set(),
            "status_view": self.status_mirror.caught_up.is_set(),
            "validation": self.validator.ready(),
            # The broker refused our time stamps lately: this host's clock is ahead of
            # the broker's, and every request would get 503 (gateway.kafka.clock).
            "clock": not recently_refused("ingress"),
        }
        note = {**readiness_note(), **dead_letter_note()}
        report: dict[str, Any] = {"ready": all(checks.values()), "checks": checks, **note}
        if self.workers:
            # Not part of ``ready``: a load balancer routes documents on it, and they are
            # accepted durably (they wait on kp.inbound) while the router restores or the
            # translator joins its group. An operator sees each worker's own verdict.
            report["workers"] = workers_report(
                self.workers, topics, self.settings.topic_prefix, self.worker_topics
            )
        return report


async def broker_topics(settings: Settings, timeout_s: float) -> set[str] | None:
    """The broker's topic names, or None when it does not answer within ``timeout_s``."""
    client = AIOKafkaClient(
        client_id=f"{settings.client_id}-ingress-ready",
        request_timeout_ms=int(timeout_s * 1000),
        **common_config(settings),
    )
    try:
        # aiokafka's own request timeout fires first, so a hung bootstrap closes its socket.
        async with asyncio.timeout(timeout_s + 1.0):
            await client.bootstrap()
            metadata = await client.fetch_all_metadata()
        return set(metadata.topics())
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        log.info("readiness_broker_unreachable", error=repr(exc))
        return None
    finally:  # bounded: with the broker hung a close may never end, and every probe waits
        await stop_quietly(client.close(), STOP_GRACE_S, what="readiness client")
