"""``kpgw kafka up|down|status``: the local development broker."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gateway.cli.common import EXIT_INVALID, emit_json, environment_errors
from gateway.kafka.broker import KAFKA_VERSION, LocalBroker


def _broker(port: int, data_dir: Path | None) -> LocalBroker:
    return LocalBroker(port=port, data_dir=data_dir)


port_option = click.option(
    "--port",
    type=click.IntRange(1024, 65534),
    default=9092,
    show_default=True,
    help="Client port; the controller uses port+1.",
)
dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Broker state folder (default ~/.kpgw/kafka/PORT).",
)


@click.group()
def kafka() -> None:
    """Run a real single-node Apache Kafka broker on 127.0.0.1 (KRaft, from Maven Central)."""


@kafka.command()
@port_option
@dir_option
@click.option("--timeout", type=float, default=120, show_default=True, help="Seconds to wait.")
def up(port: int, data_dir: Path | None, timeout: float) -> None:
    """Start the broker (once; a running broker is left as it is) and print its address."""
    broker = _broker(port, data_dir)
    started = time.monotonic()
    with environment_errors():
        already = broker.pid() is not None
        status = broker.up(timeout_s=timeout)
    verb = "already running" if already else f"started in {time.monotonic() - started:.1f} s"
    click.echo(
        f"Kafka {KAFKA_VERSION} {verb} (pid {status.pid}); data in {status.data_dir}", err=True
    )
    click.echo(status.bootstrap)


@kafka.command()
@port_option
@dir_option
def down(port: int, data_dir: Path | None) -> None:
    """Stop the broker cleanly."""
    with environment_errors():
        stopped = _broker(port, data_dir).down()
    click.echo("stopped" if stopped else f"no broker was running on port {port}")


@kafka.command()
@port_option
@dir_option
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object: running, answers, pid, bootstrap."
)
def status(port: int, data_dir: Path | None, as_json: bool) -> None:
    """Say whether the broker runs and answers metadata (exit 1 when it does not)."""
    with environment_errors():
        state = _broker(port, data_dir).status()
    if as_json:
        emit_json(
            {
                "running": state.running,
                "answers": state.answers,
                "pid": state.pid if state.running else None,
                "bootstrap": state.bootstrap,
                "data_dir": str(state.data_dir),
            }
        )
        if not (state.running and state.answers):
            raise SystemExit(EXIT_INVALID)
        return
    if state.running and state.answers:
        click.echo(f"running (pid {state.pid}) at {state.bootstrap}")
        return
    if state.running:
        click.echo(f"process {state.pid} runs but {state.bootstrap} does not answer")
    else:
        click.echo(f"not running (port {port})")
    raise SystemExit(EXIT_INVALID)
