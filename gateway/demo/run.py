"""``kpgw demo``: broker, topics, the whole gateway in this process, traffic over HTTP from
real partner pairs with a demo clock, live progress, and the closing summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateway import codec
from gateway.demo.clock import DemoClock
from gateway.demo.summary import Summary, render, summarise
from gateway.demo.traffic import DEMO_PAIRS, SendReport, send_wave, stories, waves
from gateway.dlq.store import DeadLetter, read_topic_to_end
from gateway.errors import EnvironmentProblem
from gateway.ingress.app import serve
from gateway.kafka.broker import LocalBroker, answers_metadata, local_port, port_free
from gateway.kafka.topics import create_topics, delete_topics, list_topics, partner_topic
from gateway.registry import load_registry
from gateway.router.driver import build_router
from gateway.settings import Settings
from gateway.translator.worker import build_translator

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    pairs: int = 60
    seed: int = 2026
    faults: float = 0.35
    day_seconds: float = 1.0
    serve_seconds: float = 0.0
    timeout_s: float = 300.0
    broker_port: int | None = None
    summary_json: Path | None = None


def choose_broker(settings: Settings, port: int | None) -> tuple[str, str]:
    """The demo's broker and what chose it: ``--port`` (127.0.0.1:PORT), else the configured
    KPGW_KAFKA_BOOTSTRAP, else the default 127.0.0.1:9092. Before, any broker answering
    at the bootstrap (9092 when unset) won over ``--port``, and the demo deleted old demo
    topics there (found by a new-user review)."""
    if port is not None:
        return f"127.0.0.1:{port}", f"--port {port}"
    if "kafka_bootstrap" in settings.model_fields_set:
        return settings.kafka_bootstrap, "KPGW_KAFKA_BOOTSTRAP"
    return settings.kafka_bootstrap, "the default; --port or KPGW_KAFKA_BOOTSTRAP choose another"


async def ensure_broker(settings: Settings, port: int | None, console: Console) -> Settings:
    """``settings`` on the broker :func:`choose_broker` names, started there when it is on
    this machine and does not answer. Everything the demo does, housekeeping included,
    uses the settings returned: it never touches another broker."""
    bootstrap, chosen_by = choose_broker(settings, port)
    settings = settings.model_copy(update={"kafka_bootstrap": bootstrap})
    if await asyncio.to_thread(answers_metadata, bootstrap, timeout_s=3):
        console.print(f"Using the Kafka broker at {bootstrap} ({chosen_by})", markup=False)
        return settings
    local = local_port(bootstrap)
    if local is None:
        raise EnvironmentProblem(
            f"no Kafka broker answers at {bootstrap} ({chosen_by}), and the demo starts one "
            "only on 127.0.0.1; check the address, or run the demo on a local broker with "
            "--port"
        )
    broker = LocalBroker(port=local)
    console.print(
        f"No Kafka broker answers at {bootstrap} ({chosen_by}); starting a local one on "
        f"127.0.0.1:{local} (first run downloads it) ...",
        markup=False,
    )
    started = time.monotonic()
    status = await asyncio.to_thread(broker.up)
    console.print(f"Kafka ready at {status.bootstrap} in {time.monotonic() - started:.1f} s")
    return settings.model_copy(update={"kafka_bootstrap": status.bootstrap})


#: Demo runs whose topics a new run deletes: older than this. Not every demo topic: a
#: partner may be reading an earlier run's, or another person's demo may be running on a
#: shared broker (found by a partner-consumer review).
DEMO_TOPICS_KEPT = timedelta(days=1)
_RUN_ID = "%Y%m%d%H%M%S"
#: A run id: its start to the second, and since two runs may start in the same second on
#: a shared broker (the two demo tests of a parallel ``make test``), a random suffix:
#: they would have shared their topics, groups and transactional ids. Runs of versions
#: before the suffix have none.
_RUN_ID_FORM = re.compile(r"(?P<started>\d{14})(?:-[0-9a-f]{6})?")


def new_run_id(now: datetime) -> str:
    """``<YYYYmmddHHMMSS>-<6 hex digits>``, unique to this run."""
    return f"{now.strftime(_RUN_ID)}-{secrets.token_hex(3)}"


def stale_demo_prefixes(topics: Iterable[str], now: datetime) -> list[str]:
    """The ``demo.<run id>.`` prefixes among ``topics`` of runs older than a day."""
    stale = set()
    for topic in topics:
        parts = topic.split(".")
        if len(parts) < 3 or parts[0] != "demo":
            continue
        run_id = _RUN_ID_FORM.fullmatch(parts[1])
        if run_id is None:
            continue  # not a run id: not ours to delete
        try:
            started = datetime.strptime(run_id["started"], _RUN_ID).replace(tzinfo=UTC)
        except ValueError:
            continue  # fourteen digits that are no date: not ours either
        if now - started > DEMO_TOPICS_KEPT:
            stale.add(f"demo.{parts[1]}.")
    return sorted(stale)


async def _forget_old_demo_topics(settings: Settings, console: Console) -> None:
    """Deletes the topics of demo runs older than a day on the demo's broker, and says so."""
    deleted = 0
    with contextlib.suppress(Exception):  # housekeeping only: never fail the demo for it
        topics = await list_topics(settings)
        for prefix in stale_demo_prefixes(topics, datetime.now(UTC)):
            await delete_topics(settings.model_copy(update={"topic_prefix": prefix}))
            deleted += 1
    if deleted:
        console.print(
            f"Deleted the topics of {deleted} demo run(s) older than a day at "
            f"{settings.kafka_bootstrap}",
            markup=False,
        )


@contextlib.asynccontextmanager
async def gateway_running(settings: Settings, clock: DemoClock) -> AsyncIterator[str]:
    """Ingress + translator + router in this process; yields the ingress URL."""
    stop = asyncio.Event()
    translator, _ = build_translator(settings)
    router, router_handler = build_router(settings, clock=clock)
    port = settings.http_port if port_free(settings.http_port) else 0
    async with serve(settings, port=port) as ingress:
        tasks = [
            asyncio.create_task(translator.run(stop), name="translator"),
            asyncio.create_task(router.run(stop), name="router"),
            asyncio.create_task(router_handler.run_timer(stop), name="router-timer"),
        ]
        try:
            await asyncio.wait_for(
                asyncio.gather(translator.ready.wait(), router.ready.wait()), 120
            )
            yield ingress.url
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=60)
            await router_handler.close()


async def collect(
    settings: Settings,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]:
    """What the gateway decided, read back from the topics (read_committed)."""
    prefix = settings.topic_prefix
    outcomes = [
        codec.decode(r.value, "Outcome")
        for r in await read_topic_to_end(settings, f"{prefix}outcomes")
    ]
    announced: list[dict[str, Any]] = []
    for importer in sorted({i for _, i in DEMO_PAIRS}):
        for record in await read_topic_to_end(settings, partner_topic(prefix, importer)):
            notification = codec.decode(record.value, "PartnerNotification")
            if notification["notification_type"] == "SHIPMENT_ANNOUNCED":
                announced.append(notification)
    dead = [dead_letter_entry(r) for r in await read_topic_to_end(settings, f"{prefix}dlq")]
    return outcomes, announced, dead


def dead_letter_entry(record: Any) -> tuple[str, str]:
    """(sender, reason) of a kp.dlq record for the summary, read as ``kpgw dlq`` reads it
    (``DeadLetter.of``): every sender its ``kpgw-sender`` headers name, joined by ", " when
    a Kafka-native sender gave conflicting ones, as ``kpgw dlq list`` shows it. The demo
    took the last value alone, unstripped."""
    letter = DeadLetter.of(record)
    return letter.sender, letter.reason


async def run_demo(base: Settings, options: DemoOptions, console: Console) -> Summary:
    settings = await ensure_broker(base, options.broker_port, console)
    run_id = new_run_id(datetime.now(UTC))
    settings = settings.with_prefix(f"demo.{run_id}.")
    settings = settings.model_copy(
        update={
            "router": settings.router.model_copy(
                update={"timer_interval_s": min(0.5, options.day_seconds / 2)}
            ),
        }
    )
    registry = load_registry(settings.partners_file)
    await _forget_old_demo_topics(settings, console)
    report = await create_topics(settings, registry)
    console.print(
        f"Topics ready under prefix {settings.topic_prefix} ({len(report.created)} created)"
    )

    items = stories(registry, pairs=options.pairs, seed=options.seed, faults=options.faults)
    first, later = waves(items)
    expected_outcomes = sum(len(i.scenario.expected_outcomes) for i in items)
    expected_dead = sum(1 for i in items if i.scenario.expected_findings)
    clock = DemoClock(options.day_seconds)
    sent = SendReport()
    async with gateway_running(settings, clock) as url:
        console.print(
            f"Gateway running: ingress {url}; demo clock: 1 day = {options.day_seconds:g} s"
        )
        with Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            certs = progress.add_task("certificates sent (exporters)", total=len(first))
            await send_wave(url, settings, first, sent, progress=lambda: progress.advance(certs))
            await asyncio.sleep(clock.real_seconds(3))  # confirmations come days later
            confs = progress.add_task("confirmations sent (importers)", total=len(later))
            await send_wave(url, settings, later, sent, progress=lambda: progress.advance(confs))
            decided = progress.add_task("outcomes decided (router)", total=expected_outcomes)
            deadline = time.monotonic() + options.timeout_s
            # Deadlines are at most 30 demo days after a certificate, orphans 14 days.
            settle_until = time.monotonic() + clock.real_seconds(33)
            seen, quiet = -1, 0
            while time.monotonic() < deadline:
                outcomes, _, dead = await collect(settings)
                progress.update(decided, completed=min(len(outcomes), expected_outcomes))
                quiet = quiet + 1 if len(outcomes) + len(dead) == seen else 0
                seen = len(outcomes) + len(dead)
                settled = time.monotonic() >= settle_until
                if settled and len(outcomes) >= expected_outcomes and len(dead) >= expected_dead:
                    break
                if settled and quiet >= 4:  # nothing new for a while: the gateway has decided
                    break
                await asyncio.sleep(1.0)
        outcomes, announced, dead = await collect(settings)
        summary = summarise(outcomes, announced, dead, refused=sent.refused)
        console.rule("kpgw demo: what the gateway decided")
        console.print(
            f"{len(items)} certificate stories: {sent.accepted} documents accepted over HTTP, "
            f"{sent.via_kafka} produced straight into Kafka, "
            f"{sum(sent.refused.values())} refused by the HTTP API at once; "
            f"{clock.days_elapsed():.0f} demo days"
        )
        dashboard = f"{url}/dashboard" if await _has_dashboard(url) else None
        render(summary, console, dashboard_url=dashboard, serving=options.serve_seconds > 0)
        summary.surprises = _check_against_manifest(items, outcomes, dead, sent, console)
        if options.summary_json:
            options.summary_json.write_text(
                json.dumps(
                    {
                        "prefix": settings.topic_prefix,
                        # Where to look while --serve keeps the gateway up (the port may
                        # be any free one when KPGW_HTTP_PORT is taken or 0).
                        "ingress_url": url,
                        "dashboard_url": dashboard,
                        "accepted": sent.accepted,
                        "via_kafka": sent.via_kafka,
                        **summary.as_dict(),
                    },
                    indent=2,
                    default=str,
                )
            )
        if options.serve_seconds > 0:
            console.print(
                f"Serving the dashboard for {options.serve_seconds:.0f} s (Ctrl-C stops) ..."
            )
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(options.serve_seconds)
    return summary


async def _has_dashboard(url: str) -> bool:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{url}/dashboard") as response:
        return response.status == 200


def _check_against_manifest(
    items: list[Any],
    outcomes: list[dict[str, Any]],
    dead: list[tuple[str, str]],
    sent: SendReport,
    console: Console,
) -> list[str]:
    """Say plainly whether every certificate ended as its story predicted; the surprises."""
    by_certificate: dict[str, list[str]] = {}
    for outcome in outcomes:
        by_certificate.setdefault(outcome["certificate_id"], []).append(str(outcome["outcome"]))
    surprises = []
    for item in items:
        if item.scenario.expected_findings:
            continue
        got = sorted(by_certificate.get(item.certificate_id, []))
        want = sorted(item.scenario.expected_outcomes)
        if got != want:
            surprises.append(f"{item.certificate_id}: expected {want}, got {got}")
    broken = sum(1 for i in items if i.scenario.expected_findings)
    if surprises:
        console.print(
            f"[yellow]{len(surprises)} certificate(s) ended differently than generated:[/]"
        )
        for line in surprises[:10]:
            console.print(f"  {line}", markup=False)
    else:
        refused = sum(sent.refused.values())
        console.print(
            f"Every certificate ended as generated; the {broken} broken document(s) were "
            f"refused over HTTP ({refused}) or dead-lettered from Kafka ({len(dead)})."
        )
    return surprises
