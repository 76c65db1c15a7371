"""``kpgw demo``."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from click.core import ParameterSource
from rich.console import Console

from gateway import aio_run
from gateway.cli.common import environment_errors, settings
from gateway.logs import configure_logging

#: The Kafka client's loggers. On a fresh broker the client logs errors it retries itself
#: while the group coordinator and the partition leaders are elected
#: (GroupCoordinatorNotAvailableError, NotLeaderForPartitionError); in the middle of the
#: demo's story a newcomer reads them as failures (found by a new-user review).
CLIENT_LOGGERS = ("aiokafka",)


def configure_demo_logging() -> None:
    """The demo's own output is the story: logs only on error, and none of the Kafka
    client's below critical. With a log level asked for (``kpgw --log-level``, or
    KPGW_LOG_LEVEL), the logs asked for, all of them; a log format asked for is kept.
    ``kpgw run`` keeps the client's lines (its transient errors at warning, gateway.logs)."""
    if _asked("log_level"):
        return
    root = click.get_current_context().find_root()
    fmt = str(root.params["log_format"]) if _asked("log_format") else "console"
    configure_logging(fmt=fmt, level="error")
    logging.getLogger().setLevel(logging.ERROR)
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _asked(option: str) -> bool:
    """Whether the command group's ``option`` was given, on the command line or by its
    environment variable: only the environment variable counted, so ``kpgw --log-level
    info demo`` still got the demo's quiet logs."""
    source = click.get_current_context().find_root().get_parameter_source(option)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


@click.command()
@click.option(
    "--pairs",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Certificate stories to send.",
)
@click.option(
    "--seed", type=int, default=2026, show_default=True, help="Random seed of the traffic."
)
@click.option(
    "--faults",
    type=click.FloatRange(0, 1),
    default=0.35,
    show_default=True,
    help="Share of stories with a discrepancy, fraud signal or broken document.",
)
@click.option(
    "--day-seconds",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Real seconds per demo day (deadlines of 14-30 days pass while you watch).",
)
@click.option("--short", is_flag=True, help="A quick run (CI): 24 stories, 0.25 s per day.")
@click.option(
    "--serve",
    "serve_seconds",
    type=float,
    default=0.0,
    help="Keep the gateway and dashboard up this many seconds after the summary.",
)
@click.option(
    "--summary-json",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the summary as JSON to this file.",
)
@click.option(
    "--port",
    "broker_port",
    type=click.IntRange(1024, 65534),
    default=None,
    help="Use the broker on 127.0.0.1:PORT, started there when none answers. Default: "
    "KPGW_KAFKA_BOOTSTRAP (started there when it is 127.0.0.1 or localhost), else "
    "127.0.0.1:9092.",
)
def demo(
    pairs: int,
    seed: int,
    faults: float,
    day_seconds: float,
    short: bool,
    serve_seconds: float,
    summary_json: Path | None,
    broker_port: int | None,
) -> None:
    """The main job: a local broker, the gateway, realistic traffic from real partner pairs
    (RU's and BW's systems producing straight into Kafka, the others over HTTP), and a
    summary per partner pair. Exit 1 when a certificate ends otherwise than its generated
    story predicts.

    The broker: --port, else KPGW_KAFKA_BOOTSTRAP, else 127.0.0.1:9092; the demo says
    which it uses. The ingress: KPGW_HTTP_PORT (8080), else any free port. Each run uses
    topics of its own, under demo.<run id>. (KPGW_TOPIC_PREFIX does not apply); a run
    deletes the demo topics of runs older than a day on that broker, and only there."""
    from gateway.demo.run import DemoOptions, run_demo

    if short:
        pairs, day_seconds = min(pairs, 24), min(day_seconds, 0.25)
    options = DemoOptions(
        pairs=pairs,
        seed=seed,
        faults=faults,
        day_seconds=day_seconds,
        serve_seconds=serve_seconds,
        broker_port=broker_port,
        summary_json=summary_json,
    )
    configure_demo_logging()
    config = settings()
    console = Console()
    with environment_errors():
        try:
            summary = aio_run.run(run_demo(config, options, console))
        except KeyboardInterrupt:
            console.print("Stopped.")
            return
    if summary.surprises:  # a certificate ended otherwise than its story: a check failed
        raise SystemExit(1)
