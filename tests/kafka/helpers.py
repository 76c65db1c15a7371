"""Helpers for tests against the real broker: documents, producing inbound records,
reading topics to the end, running workers in-process."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from adapters import registry as adapter_registry
from gateway import codec
from gateway.dlq.store import read_topic_to_end
from gateway.events import CertificateIssued, HsLine, ImportConfirmed, Party
from gateway.kafka.broker import LocalBroker
from gateway.kafka.clients import idempotent_producer, wait_bounded
from gateway.registry import load_registry
from gateway.settings import Settings
from gateway.translator.inbound import inbound_headers, inbound_key
from tests.hang_watchdog import await_chain


def certificate(
    number: str,
    *,
    exporter: str = "RU",
    importer: str = "EU",
    importer_state: str | None = "BE",
    hs_code: str = "7102.31",
    carats: str = "1520.350",
    value: str = "147474.00",
    origin: str | None = None,
    issued: date = date(2026, 3, 2),
) -> CertificateIssued:
    line = HsLine(hs_code, Decimal(carats), Decimal(value))
    return CertificateIssued(
        certificate_number=number,
        issuing_participant=exporter,
        exporting_participant=exporter,
        importing_participant=importer,
        importing_member_state=importer_state,
        exporter=Party(
            "ALROSA PJSC" if exporter == "RU" else "Petra Diamonds SA (Pty) Ltd",
            "Moscow" if exporter == "RU" else "Kimberley",
            exporter,
        ),
        importer=Party(
            "Antwerp Rough Trading BV", "Hoveniersstraat 22, Antwerpen", importer_state or importer
        ),
        origin=origin or exporter,
        issue_date=issued,
        expiry_date=issued + timedelta(days=60),
        parcels=3,
        lines=(line,),
        total_carats=line.carats,
        total_value_usd=line.value_usd,
        authority="Gokhran of Russia" if exporter == "RU" else "SADPMR",
    )


def confirmation(cert: CertificateIssued, *, received: date | None = None) -> ImportConfirmed:
    return ImportConfirmed(
        certificate_number=cert.certificate_number,
        confirming_participant=cert.importing_participant,
        confirming_member_state=cert.importing_member_state,
        date_of_receipt=received or cert.issue_date + timedelta(days=5),
        parcels=cert.parcels,
        lines=cert.lines,
        total_carats=cert.total_carats,
        total_value_usd=cert.total_value_usd,
        importer=cert.importer,
        exporter=cert.exporter,
        authority="FPS Economy, Antwerp Diamond Office (BE)",
    )


def render(payload: Any, fmt: str = "uncefact", message_id: str | None = None) -> bytes:
    adapter = adapter_registry.get(fmt)
    return adapter.render(
        payload, message_id=message_id or str(uuid.uuid4()), registry=load_registry()
    )


def with_hs(cert: CertificateIssued, hs_code: str) -> CertificateIssued:
    line = replace(cert.lines[0], hs_code=hs_code)
    return replace(cert, lines=(line,))


async def produce_inbound(
    settings: Settings,
    documents: Sequence[tuple[str | None, str, bytes]],
    *,
    partition: int | None = None,
    extra_headers: Sequence[tuple[str, bytes]] = (),
    tracking_ids: Sequence[str] = (),
) -> list[str]:
    """Send (sender, message id, bytes) as the ingress would; returns the tracking ids
    (``tracking_ids``: given ones, in order, e.g. to send a record again; else new)."""
    producer = idempotent_producer(settings)
    await producer.start()
    given = list(tracking_ids)
    tracking_ids = []
    try:
        for sender, message_id, body in documents:
            tracking_id = given.pop(0) if given else str(uuid.uuid4())
            headers = inbound_headers(
                sender=sender or "",
                message_id=message_id,
                tracking_id=tracking_id,
                received_at=datetime.now(UTC),
            )
            if sender is None:
                headers = [(k, v) for k, v in headers if k != "kpgw-sender"]
            await producer.send_and_wait(
                f"{settings.topic_prefix}inbound",
                body,
                key=inbound_key(sender or "?", message_id),
                headers=[*headers, *extra_headers],
                partition=partition,
            )
            tracking_ids.append(tracking_id)
    finally:
        await producer.stop()
    return tracking_ids


async def read_until(
    settings: Settings, suffix: str, count: int, *, timeout_s: float = 60
) -> list[Any]:
    """Committed records of ``<prefix><suffix>`` once there are at least ``count`` of them."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        records = await read_topic_to_end(settings, f"{settings.topic_prefix}{suffix}")
        if len(records) >= count or asyncio.get_running_loop().time() > deadline:
            return records
        await asyncio.sleep(0.5)


def decoded(records: Sequence[Any], schema: str) -> list[dict[str, Any]]:
    return [codec.decode(r.value, schema) for r in records]


async def stopped(*tasks: asyncio.Task[Any], seconds: float = 60) -> None:
    """Wait for a worker's tasks to end once told to stop, and raise what one raised.
    Bounded, unlike ``asyncio.wait_for``, which once its timeout is up waits for the
    cancelled task however long it takes (Python 3.11): a worker that does not stop fails
    the test, with where its tasks wait."""
    together = asyncio.gather(*tasks)
    if not await wait_bounded(together, seconds, grace=5) or together.cancelled():
        if together.done() and not together.cancelled():
            together.exception()
        where = "\n".join(line for task in tasks for line in [repr(task), *await_chain(task)])
        raise AssertionError(f"the worker did not stop within {seconds:.0f} s:\n{where}")
    together.result()


@contextlib.asynccontextmanager
async def running(worker_factory: Callable[[], Any]) -> AsyncIterator[Any]:
    """Run ``worker.run(stop)`` in a task; stop it gracefully on exit."""
    worker = worker_factory()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 60)
        yield worker
    finally:
        stop.set()
        await stopped(task)


def registry_copy(tmp_path: Path, *, enable: tuple[str, str] | None = None) -> Path:
    from gateway.registry.loader import example_registry_path

    text = example_registry_path().read_text()
    if enable:
        exporter, importer = enable
        text = text.replace(
            f'exporter = "{exporter}"\nimporter = "{importer}"\nenabled = false',
            f'exporter = "{exporter}"\nimporter = "{importer}"\nenabled = true',
        )
    target = tmp_path / "participants.toml"
    target.write_text(text)
    return target


TP = TopicPartition


def free_port_pair() -> int:
    """A free client port whose controller port (port + 1) is free too, below the kernel's
    ephemeral range: a port in that range, even one free now, can be taken by any
    program's outgoing connection before the broker binds it. Call it right before use."""
    from gateway.kafka.broker import port_free

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = list(range(max(20000, low - 12000), low - 1))
    random.shuffle(candidates)
    for port in candidates[:200]:
        if port_free(port) and port_free(port + 1):
            return port
    raise RuntimeError("no free port pair found")


@contextlib.contextmanager
def outage_broker_port() -> Iterator[int]:
    """The port of a test's own broker (one it stops, freezes or restarts): a free pair,
    or ``KPGW_TEST_OUTAGE_BROKER_PORT`` where ports are scarce. That one port serves every
    such test, and the two processes of ``make test`` (pytest-xdist) run two test files at
    once: its use is serialised by a lock file, held until the test is done with it."""
    given = int(os.environ.get("KPGW_TEST_OUTAGE_BROKER_PORT", "0"))
    if not given:
        yield free_port_pair()
        return
    lock = Path(tempfile.gettempdir()) / f"kpgw-test-broker-{given}.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # released when the file is closed
        yield given


@contextlib.contextmanager
def broker_of_its_own(data_dir: Path) -> Iterator[LocalBroker]:
    """A broker of the test's own (on ``outage_broker_port``): stopping, freezing or
    restarting it disturbs no other test. Stopped at the end, never left frozen."""
    with outage_broker_port() as port:
        broker = LocalBroker(port=port, data_dir=data_dir)
        broker.up(timeout_s=120)
        try:
            yield broker
        finally:
            pid = broker.pid()
            if pid is not None:
                os.kill(pid, signal.SIGCONT)
            broker.down()


def run_kpgw(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m gateway ARGS`` in a child process, with ``environment`` on top of ours."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def host_clock_off(seconds: float) -> Iterator[None]:
    """Records produced in this block are stamped ``seconds`` off this host's clock, as a
    host whose clock is that far ahead (or behind, negative) would stamp them. aiokafka's
    compiled record builder reads ``gettimeofday`` itself, so patching ``time.time`` would
    not do: the batch builder is given the time stamp instead."""
    from aiokafka.producer.message_accumulator import BatchBuilder

    original = BatchBuilder.append

    def append(self: Any, *, timestamp: Any, key: Any, value: Any, headers: Any = ()) -> Any:
        if timestamp is None:
            timestamp = int((time.time() + seconds) * 1000)
        return original(self, timestamp=timestamp, key=key, value=value, headers=headers)

    BatchBuilder.append = append  # type: ignore[method-assign]
    try:
        yield
    finally:
        BatchBuilder.append = original  # type: ignore[method-assign]
