"""aiokafka client factories that apply the gateway's settings in one place."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from gateway.settings import Settings

log = structlog.get_logger(__name__)


def common_config(settings: Settings) -> dict[str, Any]:
    security = settings.kafka_security
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": security.protocol,
    }
    if security.sasl_mechanism:
        config["sasl_mechanism"] = security.sasl_mechanism
        config["sasl_plain_username"] = security.sasl_username
        if security.sasl_password is not None:
            config["sasl_plain_password"] = security.sasl_password.get_secret_value()
    if security.protocol in {"SSL", "SASL_SSL"}:
        from aiokafka.helpers import create_ssl_context

        config["ssl_context"] = create_ssl_context(
            cafile=str(security.ssl_cafile) if security.ssl_cafile else None
        )
    return config


#: How long an admin request or an operator command's read waits for a broker that does
#: not answer (aiokafka's default, 40 s, left an operator staring at a silent command for
#: that long per call when the broker hung: an operator review).
ADMIN_REQUEST_TIMEOUT_MS = 15_000


def admin_client(settings: Settings, **overrides: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        client_id=f"{settings.client_id}-admin",
        **{
            "request_timeout_ms": ADMIN_REQUEST_TIMEOUT_MS,
            **common_config(settings),
            **overrides,
        },
    )


#: Producers may send whole documents (kp.inbound, kp.dlq allow 4 MiB records).
MAX_REQUEST_SIZE = 4 * 1024 * 1024 + 64 * 1024


def idempotent_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """acks=all and idempotence: what the ingress acknowledges is durable and not doubled."""
    return AIOKafkaProducer(
        client_id=f"{settings.client_id}-producer",
        acks="all",
        enable_idempotence=True,
        **{"max_request_size": MAX_REQUEST_SIZE, **common_config(settings), **overrides},
    )


def transactional_producer(
    settings: Settings, transactional_id: str, **overrides: Any
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        client_id=f"{settings.client_id}-{transactional_id}",
        transactional_id=transactional_id,
        acks="all",
        enable_idempotence=True,
        **{"max_request_size": MAX_REQUEST_SIZE, **common_config(settings), **overrides},
    )


def committed_consumer(settings: Settings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """read_committed: never sees records of aborted or open transactions."""
    config: dict[str, Any] = {
        "client_id": f"{settings.client_id}-consumer",
        "isolation_level": "read_committed",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        **common_config(settings),
    }
    config.update(overrides)
    return AIOKafkaConsumer(*topics, **config)


#: How long stopping one Kafka client may take: a stop within Kubernetes' default 30 s
#: grace period even when the broker hangs (consumer, then all producers at once).
CLIENT_STOP_S = 10.0


async def stop_quietly(stopping: Awaitable[None], seconds: float, *, what: str) -> None:
    """Stop a Kafka client for good, whatever it raises: with the broker gone, aiokafka
    lets the ``CancelledError`` of its own fetch task escape from ``stop()``, which would
    end the shutdown there and leave the other clients open. A cancellation of this task
    itself still propagates."""
    try:
        await asyncio.wait_for(stopping, seconds)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.info("client_stop_cancelled_internally", client=what)
    except Exception as exc:  # noqa: BLE001 - stopping anyway
        log.info("client_stop_failed", client=what, error=repr(exc))
