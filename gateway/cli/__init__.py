"""``kpgw``: the command line (DESIGN.md section 8).

Exit codes: 0 success, 1 the input was judged invalid or a check failed, 2 usage or
environment error. Machine output is one JSON object per line with ``--json``.
Sub-commands live in their own modules and are imported only when invoked.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import click

#: command name -> "module:attribute" of a click command, imported on first use.
COMMANDS: dict[str, str] = {
    "kafka": "gateway.cli.kafka_cmd:kafka",
    "topics": "gateway.cli.topics_cmd:topics",
    "tail": "gateway.cli.tail_cmd:tail",
    "registry": "gateway.cli.registry_cmd:registry",
    "schemas": "gateway.cli.schemas_cmd:schemas",
    "validate": "gateway.cli.adapters_cmd:validate",
    "translate": "gateway.cli.adapters_cmd:translate",
    "generate": "gateway.cli.generate_cmd:generate",
    "bench": "gateway.cli.bench_cmd:bench",
    "dlq": "gateway.cli.dlq_cmd:dlq",
    "run": "gateway.cli.run_cmd:run",
    "send": "gateway.cli.send_cmd:send",
    "status": "gateway.cli.status_cmd:status",
    "demo": "gateway.cli.demo_cmd:demo",
    "router": "gateway.cli.router_cmd:router",
}


class LazyGroup(click.Group):
    """Sub-commands imported on first use; with JSON logs, a usage error (an unknown option,
    a missing argument) is a ``command_failed`` JSON line like every other failure, since a
    log shipper reads stderr."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **extra: Any) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().main(args, *rest, **extra)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with self._usage_errors_as_json():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with self._usage_errors_as_json():
            return super().invoke(ctx)

    @contextlib.contextmanager
    def _usage_errors_as_json(self) -> Iterator[None]:
        try:
            yield
        except click.ClickException as caught:
            argv = getattr(self, "_argv", sys.argv[1:])
            exc = caught
            if isinstance(caught, click.NoSuchOption) and caught.option_name in _GROUP_OPTIONS:
                exc = click.UsageError(
                    caught.message.rstrip(".")
                    + ": it is kpgw's own option and goes before the command: "
                    + _group_option_first(argv, caught.option_name),
                    caught.ctx,
                )
            if not _json_logs_asked(argv):
                if exc is caught:
                    raise
                raise exc from None
            from gateway.cli.common import write_failure_line

            usage = exc.ctx.get_usage() if isinstance(exc, click.UsageError) and exc.ctx else ""
            write_failure_line(
                exc.format_message(), exc.exit_code, **({"usage": usage} if usage else {})
            )
            raise click.exceptions.Exit(exc.exit_code) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kpgw", prog_name="kpgw")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default="auto",
    envvar="KPGW_LOG_FORMAT",
    help="Log rendering: JSON lines, readable, or auto (tty).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default="info",
    envvar="KPGW_LOG_LEVEL",
    show_default=True,
)
def cli(log_format: str, log_level: str) -> None:
    """kpgw: the Kimberley Process certificate gateway."""
    from gateway.logs import configure_logging

    configure_logging(fmt=log_format, level=log_level)


def _json_logs_asked(argv: Sequence[str]) -> bool:
    """``--log-format json`` among the group's options, or KPGW_LOG_FORMAT=json: read from
    the arguments, since a usage error can come before the options are parsed."""
    chosen = os.environ.get("KPGW_LOG_FORMAT", "")
    arguments = iter(argv)
    for argument in arguments:
        if argument in _GROUP_OPTIONS_WITH_VALUES:
            value = next(arguments, "")
            if argument == "--log-format":
                chosen = value
        elif argument.startswith("--log-format="):
            chosen = argument.partition("=")[2]
        elif not argument.startswith("-"):
            break  # the sub-command: what follows is its own
    return chosen == "json"


#: The group's options that take a value as the next argument (not the sub-command).
_GROUP_OPTIONS_WITH_VALUES = frozenset({"--log-format", "--log-level"})
_GROUP_OPTIONS = _GROUP_OPTIONS_WITH_VALUES


def _group_option_first(argv: Sequence[str], option: str) -> str:
    """The command line with the group's ``option`` (and its value) moved before the
    command, as the user should have typed it."""
    moved: list[str] = []
    rest: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == option:
            moved = [argument, next(arguments, "")]
        elif argument.startswith(option + "="):
            moved = [argument]
        else:
            rest.append(argument)
    return shlex.join(["kpgw", *[part for part in moved if part], *rest])


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="kpgw")
    except SystemExit as done:
        from gateway.aio_run import exit_now_if_threads_left

        exit_now_if_threads_left(done.code)  # a thread left stuck would hold the exit
        raise
