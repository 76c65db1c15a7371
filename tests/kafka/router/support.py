"""Helpers for the router's broker tests: canonical events produced straight to
``kp.events`` (as the translator writes them), an in-process router with its timer, the
router as an OS process, and reading what it wrote."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway import codec
from gateway.events import CertificateEvent, CertificateIssued, ImportConfirmed, event_to_avro
from gateway.kafka.clients import idempotent_producer
from gateway.router.driver import Clock, RouterHandler, build_router, wall_clock
from gateway.settings import Settings
from tests.kafka.helpers import certificate, confirmation, decoded, read_until, stopped
from tests.unit.router.factories import event

__all__ = ["certificate", "confirmation", "decoded", "event", "read_until"]


def pair(number: str, *, carats: str | None = None) -> tuple[CertificateEvent, CertificateEvent]:
    """A RU -> EU certificate and its confirmation (with other carats: a discrepancy)."""
    cert = certificate(number)
    conf: ImportConfirmed = confirmation(cert)
    if carats is not None:
        line = replace(conf.lines[0], carats=Decimal(carats))
        conf = replace(conf, lines=(line,), total_carats=line.carats)
    return event(cert), event(conf)


def issued(item: CertificateEvent) -> CertificateIssued:
    assert isinstance(item.payload, CertificateIssued)
    return item.payload


async def produce_events(
    settings: Settings,
    events: Sequence[CertificateEvent],
    *,
    raw: Sequence[tuple[bytes | None, bytes | None]] = (),
    partition: int | None = None,
) -> None:
    """Canonical events to kp.events keyed by certificate id (plus any raw records)."""
    producer = idempotent_producer(settings, linger_ms=5)
    await producer.start()
    try:
        topic = f"{settings.topic_prefix}events"
        futures = [
            await producer.send(
                topic,
                codec.encode("CertificateEvent", event_to_avro(item)),
                key=item.certificate_id.encode(),
                partition=partition,
            )
            for item in events
        ]
        futures += [
            await producer.send(topic, value, key=key, partition=partition) for key, value in raw
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def routing(
    settings: Settings, registry: Path, *, clock: Clock = wall_clock
) -> AsyncIterator[RouterHandler]:
    """The router in this process (worker + timer) until the block ends."""
    worker, handler = build_router(settings, registry_path=registry, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    timer = asyncio.create_task(handler.run_timer(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 60)
        yield handler
    finally:
        stop.set()
        await stopped(task, timer)
        await handler.close()


async def outcomes(
    settings: Settings, count: int, *, timeout_s: float = 60
) -> list[dict[str, Any]]:
    return decoded(await read_until(settings, "outcomes", count, timeout_s=timeout_s), "Outcome")


async def partner(settings: Settings, code: str, count: int, *, timeout_s: float = 60) -> list[str]:
    """What ``code``'s partner topic got: notification types, outcomes by kind."""
    records = decoded(
        await read_until(settings, f"partner.{code}", count, timeout_s=timeout_s),
        "PartnerNotification",
    )
    return [r["outcome"]["outcome"] if r["outcome"] else r["notification_type"] for r in records]


class RouterProcess:
    """``python -m gateway run --only router`` as a child process, logs to a file."""

    def __init__(self, settings: Settings, registry: Path, log_file: Path, **env: str) -> None:
        self.log_file = log_file
        self.env = {
            **os.environ,
            "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "KPGW_TOPIC_PREFIX": settings.topic_prefix,
            "KPGW_PARTNERS_FILE": str(registry),
            "KPGW_ROUTER__TIMER_INTERVAL_S": "0.5",
            "KPGW_ROUTER__GROUP_ID": settings.router.group_id,
            "KPGW_LOG_FORMAT": "json",
            "KPGW_HTTP_PORT": "0",  # its probes and metrics: two routers run side by side
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self) -> None:
        self._offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--only", "router"],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def log_since_start(self) -> str:
        with self.log_file.open("rb") as source:
            source.seek(self._offset)
            return source.read().decode("utf-8", "replace")

    async def wait_for_log(self, text: str, *, timeout_s: float = 90) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while text not in self.log_since_start():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"router exited {self.process.returncode}: {self.tail()}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"no {text!r} in the router log after {timeout_s} s: {self.tail()}"
                )
            await asyncio.sleep(0.1)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_since_start().splitlines()[-lines:])

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    async def terminate(self, *, timeout_s: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout_s)

    def stop_quietly(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def stamp() -> datetime:
    return wall_clock()


def stream(
    pairs: int, *, first: int = 9_000_000, lag: int = 40
) -> tuple[list[CertificateEvent], dict[str, str]]:
    """``pairs`` certificates with their confirmations, and the outcome each must get.

    A confirmation mostly follows its certificate ``lag`` certificates later; every 7th
    comes first (it waits for its certificate); every 10th differs in carats."""
    certs: list[CertificateEvent] = []
    confs: list[CertificateEvent] = []
    expected: dict[str, str] = {}
    for i in range(pairs):
        number = f"RU{first + i}"
        odd = i % 10 == 3
        cert, conf = pair(number, carats="1500.000" if odd else None)
        certs.append(cert)
        confs.append(conf)
        expected[number] = "MATCHED_WITH_DISCREPANCIES" if odd else "MATCHED"
    ordered: list[CertificateEvent] = []
    for i in range(pairs):
        ordered += [confs[i], certs[i]] if i % 7 == 0 else [certs[i]]
        if i >= lag and (i - lag) % 7 != 0:
            ordered.append(confs[i - lag])
    ordered += [confs[j] for j in range(max(0, pairs - lag), pairs) if j % 7 != 0]
    return ordered, expected


async def produce_paced(
    settings: Settings, events: Sequence[CertificateEvent], *, seconds: float, chunk: int = 50
) -> None:
    """Produce ``events`` in chunks spread over about ``seconds``."""
    chunks = [events[i : i + chunk] for i in range(0, len(events), chunk)]
    pause = seconds / max(1, len(chunks))
    for part in chunks:
        await produce_events(settings, part)
        await asyncio.sleep(pause)


async def check_exactly_once(
    settings: Settings, expected: dict[str, str], *, timeout_s: float
) -> dict[str, Any]:
    """Wait (bounded) for every expected outcome, then check every output topic holds each
    expected record exactly once and nothing else. Returns counts for the report."""
    found = await outcomes(settings, len(expected), timeout_s=timeout_s)
    await asyncio.sleep(2)  # anything extra would be committed by now
    found = await outcomes(settings, len(expected), timeout_s=1)
    got = Counter((o["certificate_id"], o["outcome"]) for o in found)
    missing = set(expected.items()) - set(got)
    doubled = {key: n for key, n in got.items() if n > 1}
    extra = set(got) - set(expected.items())
    assert not missing and not doubled and not extra, (
        f"{len(missing)} missing, {len(doubled)} doubled, {len(extra)} unexpected: "
        f"{sorted(missing)[:3]} {sorted(doubled)[:3]} {sorted(extra)[:3]}"
    )
    assert len({o["outcome_id"] for o in found}) == len(found)
    n = len(expected)
    kinds = Counter(expected.values())
    for code, count, announce in (
        ("EU", 2 * n, "SHIPMENT_ANNOUNCED"),
        ("RU", 2 * n, "IMPORT_CONFIRMED"),
    ):
        records = decoded(
            await read_until(settings, f"partner.{code}", count, timeout_s=30),
            "PartnerNotification",
        )
        keys = Counter(
            (
                r["certificate_id"],
                r["outcome"]["outcome"] if r["outcome"] else r["notification_type"],
            )
            for r in records
        )
        assert all(v == 1 for v in keys.values()), f"duplicates on partner.{code}"
        assert Counter(kind for _, kind in keys) == {announce: n, **kinds}, f"partner.{code}"
    statuses = decoded(await read_until(settings, "status", 0), "DeliveryStatus")
    pairs = Counter((s["tracking_id"], s["status"]) for s in statuses)
    assert all(v == 1 for v in pairs.values()), "a delivery status was written twice"
    assert await read_until(settings, "dlq", 0, timeout_s=1) == []
    return {"outcomes": len(found), "statuses": len(statuses)}


def log_events(text: str, name: str) -> list[dict[str, Any]]:
    """The JSON log lines of one event name (other lines are skipped)."""
    found = []
    for line in text.splitlines():
        if f'"{name}"' in line:
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                if item.get("event") == name:
                    found.append(item)
    return found
