"""``kpgw run [--only COMPONENT]``."""

from __future__ import annotations

import click

from gateway import aio_run
from gateway.cli.common import environment_errors, settings
from gateway.runtime import run as run_gateway


@click.command()
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(["ingress", "translator", "router"]),
    help="Run only this component (repeatable); default: all of them.",
)
def run(only: tuple[str, ...]) -> None:
    """Run the gateway until SIGTERM or Ctrl-C."""
    config = settings()
    with environment_errors():
        try:
            aio_run.run(run_gateway(config, only))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
