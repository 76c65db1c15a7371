"""``kpgw kafka up|down|status``: the local development broker."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gateway.cli.common import EXIT_INVALID, emit_json, environment_errors, settings
from gateway.kafka.broker import KAFKA_VERSION, LocalBroker, describe_elsewhere, local_port

#: The ports ``--port`` accepts (the controller listens on port+1).
FIRST_PORT, LAST_PORT = 1024, 65534


def _broker(port: int, data_dir: Path | None) -> LocalBroker:
    return LocalBroker(port=port, data_dir=data_dir)


def broker_port(port: int | None) -> int:
    """``--port``, else the port of the configured bootstrap (KPGW_KAFKA_BOOTSTRAP,
    127.0.0.1:9092 when unset) when it is on this machine's loopback. A bootstrap elsewhere
    is a usage error: acting on 9092 instead would start, report on or stop whatever
    broker runs there, someone else's (found by a new-user review)."""
    if port is not None:
        return port
    bootstrap = settings().kafka_bootstrap
    local = local_port(bootstrap)
    if local is None:
        raise click.UsageError(
            f"the configured Kafka bootstrap {bootstrap} (KPGW_KAFKA_BOOTSTRAP) is not a "
            "single broker on 127.0.0.1 or localhost, where the local broker runs; "
            "name the local broker's port with --port"
        )
    if not FIRST_PORT <= local <= LAST_PORT:
        raise click.UsageError(
            f"the configured Kafka bootstrap {bootstrap} (KPGW_KAFKA_BOOTSTRAP) has port "
            f"{local}, outside {FIRST_PORT}-{LAST_PORT} where a local broker can run; "
            "name its port with --port"
        )
    return local


port_option = click.option(
    "--port",
    type=click.IntRange(FIRST_PORT, LAST_PORT),
    default=None,
    help="Client port; the controller uses port+1. Default: the port of "
    "KPGW_KAFKA_BOOTSTRAP when it is 127.0.0.1 or localhost (9092 when unset); "
    "with a bootstrap elsewhere, --port is required.",
)
dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Broker state folder (default ~/.kpgw/kafka/PORT).",
)


@click.group()
def kafka() -> None:
    """Run a real single-node Apache Kafka broker on 127.0.0.1 (KRaft, from Maven Central).

    Each command acts on the broker of --port, by default the one KPGW_KAFKA_BOOTSTRAP
    names (127.0.0.1:9092 when unset)."""


@kafka.command()
@port_option
@dir_option
@click.option("--timeout", type=float, default=120, show_default=True, help="Seconds to wait.")
def up(port: int | None, data_dir: Path | None, timeout: float) -> None:
    """Start the broker (once; a running broker is left as it is) and print its address."""
    broker = _broker(broker_port(port), data_dir)
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
def down(port: int | None, data_dir: Path | None) -> None:
    """Stop the broker cleanly."""
    port = broker_port(port)
    broker = _broker(port, data_dir)
    with environment_errors():
        stopped = broker.down()
    if stopped:
        click.echo(f"stopped the broker on port {port}")
    elif (elsewhere := broker.running_elsewhere()) is not None:
        # Left running: it is not the one --data-dir names, and may be someone's demo.
        click.echo(
            f"no broker with its data in {broker.paths.root} was running on port {port}; "
            f"the one there {describe_elsewhere(*elsewhere)}: kpgw kafka down --port {port} "
            "stops it"
        )
    else:
        click.echo(f"no broker was running on port {port}")


@kafka.command()
@port_option
@dir_option
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object: running, answers, pid, bootstrap."
)
def status(port: int | None, data_dir: Path | None, as_json: bool) -> None:
    """Say whether the broker runs and answers metadata (exit 1 when it does not)."""
    port = broker_port(port)
    broker = _broker(port, data_dir)
    with environment_errors():
        state = broker.status()
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
    elif (elsewhere := broker.running_elsewhere()) is not None:
        click.echo(
            f"not running with its data in {broker.paths.root} (port {port}); the broker on "
            f"port {port} {describe_elsewhere(*elsewhere)}: drop --data-dir"
        )
    else:
        click.echo(f"not running (port {port})")
    raise SystemExit(EXIT_INVALID)
