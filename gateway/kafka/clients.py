"""aiokafka client factories that apply the gateway's settings in one place."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Any, TypeAlias, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import CloseReason
from aiokafka.errors import KafkaTimeoutError

from gateway.errors import EnvironmentProblem, GatewayError
from gateway.kafka import lenient_headers
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
    """read_committed: never sees records of aborted or open transactions. A header name
    that is not UTF-8 does not stop it (``gateway.kafka.lenient_headers``); a consumer
    without a group says so at debug only, since it reads its topic again at every start."""
    lenient_headers.install()
    config: dict[str, Any] = {
        "client_id": f"{settings.client_id}-consumer",
        "isolation_level": "read_committed",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        **common_config(settings),
    }
    config.update(overrides)
    if config.get("group_id") is None:
        return _RereadingConsumer(*topics, **config)
    return AIOKafkaConsumer(*topics, **config)


class _RereadingConsumer(AIOKafkaConsumer):  # type: ignore[misc]  # aiokafka is untyped
    """A consumer without a group (the ingress's mirrors, the dashboard, a router's
    restore, the operator commands): what it reads, the topic's own consumer group took in
    before, so its records are read inside ``lenient_headers.rereading``."""

    async def getone(self, *partitions: TopicPartition) -> Any:
        with lenient_headers.rereading():
            return await super().getone(*partitions)

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> Any:
        with lenient_headers.rereading():
            return await super().getmany(
                *partitions, timeout_ms=timeout_ms, max_records=max_records
            )


#: How long stopping one Kafka client may take: a worker's stop (drain, the consumer,
#: then all producers at once, each stop plus ``RELEASE_S``) stays within Kubernetes'
#: default 30 s grace period even when the broker hangs.
CLIENT_STOP_S = 8.0

#: A read to known end offsets that gets no record for this long while records are due
#: has lost its broker: it says so (exit 2) instead of polling for ever.
READ_STALL_S = 60.0


class ReadProgress:
    """The stall guard of a read of whole partitions (a rebuild, ``kpgw dlq ...``; a
    router's restore, which is retried, with ``error=TransientFailure``)."""

    def __init__(self, error: type[GatewayError] = EnvironmentProblem) -> None:
        self._since = time.monotonic()
        self._error = error

    def advanced(self) -> None:
        self._since = time.monotonic()

    def check(self, topic: str) -> None:
        """The error (``EnvironmentProblem``) once nothing came for ``READ_STALL_S``."""
        if time.monotonic() - self._since > READ_STALL_S:
            raise self._error(
                f"reading {topic} made no progress for {READ_STALL_S:.0f} s; is the broker up?"
            )


#: How long a task cancelled after its time was up (a client's stop, a worker's batch) is
#: still waited for before it is left running (``release`` cancels a stop's again).
CANCEL_GRACE_S = 0.5


async def wait_bounded(
    task: asyncio.Future[Any], seconds: float, *, grace: float = CANCEL_GRACE_S
) -> bool:
    """Wait up to ``seconds`` for ``task``, then cancel it and wait up to ``grace`` more; True
    when it has ended. Never waits longer: ``asyncio.wait_for`` (Python 3.11), once its
    timeout is up, waits for the cancelled task however long it takes, and aiokafka's
    ``stop()`` swallows a cancellation wherever it awaits one of its own tasks (heartbeat,
    fetch, commit refresh) and goes on to its next step: a stop that timed out could then
    hang its caller for good. A cancellation of the caller cancels ``task`` and propagates
    at once."""
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=grace)
    except asyncio.CancelledError:
        task.cancel()
        raise
    return bool(done)


async def stop_quietly(stopping: Awaitable[None], seconds: float, *, what: str) -> bool:
    """Stop a Kafka client, whatever it raises: with the broker gone, aiokafka lets the
    ``CancelledError`` of its own fetch task escape from ``stop()``, which would end the
    shutdown there and leave the other clients open. A cancellation of this task itself
    still propagates. Bounded (``wait_bounded``): a stop that did not end within
    ``seconds`` is cancelled, and left running if it swallows that. True when the stop
    completed; when it did not, aiokafka may have left tasks and connections behind (and
    the stop itself): ``close_for_good`` releases them."""
    task = asyncio.ensure_future(stopping)
    task.add_done_callback(_retrieve)  # a stop left running may fail later, unheard
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
            log.info("client_stop_timed_out", client=what, left_running=not task.done())
            return False
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.cancelled():
        log.info("client_stop_cancelled_internally", client=what)
    elif (error := task.exception()) is not None:
        log.info("client_stop_failed", client=what, error=repr(error))
    else:
        return True
    return False


T = TypeVar("T")

#: How long a consumer's answer about offsets (``position``, ``end_offsets``...) is
#: waited for: as long as an admin request (``ADMIN_REQUEST_TIMEOUT_MS``).
ANSWER_WAIT_S = ADMIN_REQUEST_TIMEOUT_MS / 1000


async def broker_answer(
    request: Awaitable[T],
    what: str,
    *,
    seconds: float | None = None,
    error: type[GatewayError] = EnvironmentProblem,
) -> T:
    """The result of ``request`` (a consumer's ``position(...)``, ``end_offsets(...)``,
    ``beginning_offsets(...)``, an admin client's ``start()``), or ``error`` naming
    ``what`` was waited for once the broker has not answered for ``seconds``
    (``ANSWER_WAIT_S``; a ``KafkaTimeoutError`` of aiokafka's own counts as that).
    aiokafka's ``position`` waits for ever for a position a seek (to the beginning, after
    a reset) has not settled while the broker is gone, and its offset lookups retry for
    their whole ``request_timeout_ms``. Bounded (``wait_bounded``); a cancellation of the
    caller cancels the request and propagates."""
    seconds = seconds or ANSWER_WAIT_S
    task = asyncio.ensure_future(request)
    task.add_done_callback(_retrieve)  # left running (it swallowed its cancel): unheard
    ended = await wait_bounded(task, seconds)
    if ended and not task.cancelled() and not isinstance(task.exception(), KafkaTimeoutError):
        return task.result()  # or raises what the request raised
    raise error(f"the broker did not answer {what} within {seconds:g} s; is it up?")


Offsets: TypeAlias = dict[TopicPartition, int]


async def bounded_position(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    *,
    error: type[GatewayError] = EnvironmentProblem,
) -> int:
    """``consumer.position(tp)``, bounded (``broker_answer``)."""
    what = f"the position of {tp.topic}-{tp.partition}"
    return int(await broker_answer(consumer.position(tp), what, error=error))


async def bounded_end_offsets(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    *,
    error: type[GatewayError] = EnvironmentProblem,
) -> Offsets:
    """``consumer.end_offsets(tps)``, bounded (``broker_answer``)."""
    what = f"the end offsets of {_topics(tps)}"
    ends: Offsets = await broker_answer(consumer.end_offsets(tps), what, error=error)
    return ends


async def bounded_first_offsets(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    *,
    error: type[GatewayError] = EnvironmentProblem,
) -> Offsets:
    """``consumer.beginning_offsets(tps)``, bounded (``broker_answer``)."""
    what = f"the first offsets of {_topics(tps)}"
    firsts: Offsets = await broker_answer(consumer.beginning_offsets(tps), what, error=error)
    return firsts


def _topics(tps: list[TopicPartition]) -> str:
    return ", ".join(sorted({tp.topic for tp in tps}))


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


#: How long releasing what an unfinished stop left behind may take.
RELEASE_S = 2.0

KafkaClient: TypeAlias = AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient


async def close_for_good(client: KafkaClient, *, what: str, seconds: float | None = None) -> None:
    """Stop ``client`` within ``seconds`` (``CLIENT_STOP_S``) and, when that did not
    complete (a timeout, an error: a broker outage), ``release`` what aiokafka left running.
    Never raises but for a cancellation of the calling task, which still releases the
    client (without waiting)."""
    stopping = client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop()
    stopped = False
    try:
        stopped = await stop_quietly(stopping, seconds or CLIENT_STOP_S, what=what)
    except BaseException:
        abandon(client)
        raise
    if not stopped:
        await release(client, what=what)


async def release(client: KafkaClient, *, what: str, seconds: float = RELEASE_S) -> None:
    """``abandon`` the client, then wait up to ``seconds`` for its tasks to end, cancelling
    again those still running (aiokafka's sender, cancelled, awaits its in-flight requests).
    Never raises; a cancellation of the calling task only ends the wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        tasks, connections = abandon(client)
        while (left := _tasks_of(client)) and (remaining := deadline - loop.time()) > 0:
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=min(1.0, remaining))
        _close_connections(client)  # any that a task opened before it ended
    except Exception as exc:  # noqa: BLE001 - best effort, never in the caller's way
        log.warning("client_release_failed", client=what, error=repr(exc))
        return
    if tasks or connections or left:
        log.info(
            "client_released",
            client=what,
            tasks_cancelled=len(tasks),
            connections_closed=connections,
            tasks_left=len(left),
        )


def abandon(client: KafkaClient) -> tuple[list[asyncio.Task[Any]], int]:
    """Cancel every task aiokafka runs for ``client`` and close its connections, at once
    (synchronous). Returns the tasks cancelled and the number of connections closed.

    An aiokafka ``stop()`` that times out or fails (the broker is down) has marked the
    client closed but not reached ``client.close()``: its metadata sync task, its sender
    (which keeps retrying a pending transactional request, and would later be fenced) and
    its connections would run forever, more of them after every outage (a soak review).
    aiokafka has no public way to reach them, so this relies on its internals, every one
    read with a default so that a future version degrades to a no-op, never an error."""
    client._closed = True  # stop() set it already; aiokafka warns about unclosed clients
    tasks = _tasks_of(client)
    for task in tasks:
        task.cancel()
    return tasks, _close_connections(client)


def coordinator_known(consumer: AIOKafkaConsumer) -> bool | None:
    """Whether the group coordinator of ``consumer`` is known: aiokafka forgets it as soon
    as a heartbeat or a commit gets no answer (the broker gone) and looks it up until the
    broker answers again. None without a group, or where a future aiokafka keeps it
    elsewhere (an internal, read with a default like ``abandon``'s)."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "coordinator_id"):
        return None
    return coordinator.coordinator_id is not None


def _parts(client: KafkaClient) -> list[object]:
    """The objects whose methods aiokafka runs as tasks for ``client``: the client, its
    network client (``client`` of a producer, ``_client`` of a consumer or admin), a
    producer's sender and accumulator, a consumer's group coordinator and fetcher."""
    names = ("client", "_client", "_sender", "_message_accumulator", "_coordinator", "_fetcher")
    return [client, *(part for name in names if (part := getattr(client, name, None)))]


def _tasks_of(client: KafkaClient) -> list[asyncio.Task[Any]]:
    """The live tasks running a method of one of ``client``'s parts, found by the ``self``
    of their coroutine: the sender's in-flight requests, for one, live only in a local
    variable of its routine."""
    parts = {id(part) for part in _parts(client)}
    current = asyncio.current_task()
    found = []
    for task in asyncio.all_tasks():
        frame = getattr(task.get_coro(), "cr_frame", None)
        owner = frame.f_locals.get("self") if frame is not None else None
        if task is not current and not task.done() and owner is not None and id(owner) in parts:
            found.append(task)
    return found


def _close_connections(client: KafkaClient) -> int:
    """Close the network client's open connections (their read tasks end, their pending
    requests fail) and abort their sockets: a graceful close could wait forever to flush
    to a broker that is gone. Returns how many were open."""
    network = getattr(client, "client", None) or getattr(client, "_client", None)
    closed = 0
    for connection in list(getattr(network, "_conns", {}).values()):
        writer = getattr(connection, "_writer", None)
        if writer is None:
            continue  # closed already
        with contextlib.suppress(Exception):
            connection.close(reason=CloseReason.SHUTDOWN)
        writer.transport.abort()
        closed += 1
    return closed
