"""``kpgw validate FILE...`` and ``kpgw translate FILE...`` (DESIGN.md section 8).

Both run the one translation path the ingress and the translator worker run
(``gateway.translation.translate``: hardened parse, detection, XSD, mapping, sender check,
KP rules). ``-`` reads standard input. Exit 0 when every file is valid, 1 when any is
invalid, 2 for usage or environment problems (an unreadable file, a broken registry).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from adapters import registry as adapter_registry
from adapters.contract import RootName
from adapters.xmlsafe import DEFAULT_MAX_BYTES, DOCUMENT_TOO_LARGE, parse
from gateway import translation
from gateway.cli import common
from gateway.errors import Finding, MessageRejected
from gateway.events import (
    CertificateEvent,
    event_to_avro,
    kind_of,
    to_json,
)
from gateway.registry import ParticipantRegistry
from gateway.text import json_text, printable_line

UNREADABLE_FILE = "UNREADABLE_FILE"
STDIN = "-"


@dataclass(slots=True)
class FileResult:
    """The judgement of one file, in the shape of ``validate --json``."""

    file: str
    event: CertificateEvent | None = None
    format: str | None = None
    findings: list[Finding] = field(default_factory=list)
    unreadable: bool = False
    #: What a refused document was read as, when it was read before the refusal (KP
    #: rules, sender check): the sender still learns which certificate failed.
    refused_kind: str | None = None
    refused_certificate_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.event is not None

    @property
    def kind(self) -> str | None:
        return kind_of(self.event.payload) if self.event else self.refused_kind

    @property
    def certificate_id(self) -> str | None:
        return self.event.certificate_id if self.event else self.refused_certificate_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "format": self.format,
            "kind": self.kind,
            "certificate_id": self.certificate_id,
            "findings": [finding.as_dict() for finding in self.findings],
        }


def judge(
    name: str,
    raw: bytes,
    registry: ParticipantRegistry,
    *,
    format_hint: str | None = None,
    sender: str | None = None,
    received_at: datetime | None = None,
) -> FileResult:
    """Translate one document's bytes; never raises for a document the gateway rejects."""
    meta = translation.InboundMeta(
        sender=sender, received_at=received_at or datetime.now(UTC), format_hint=format_hint
    )
    try:
        event = translation.translate(raw, meta, registry)
    except MessageRejected as exc:
        findings = list(exc.findings) or [Finding(exc.code, exc.message)]
        return FileResult(
            name,
            # The file's own format (an envelope, even when its inner document failed).
            format=format_hint or _detected(raw) or exc.adapter,
            findings=findings,
            refused_kind=exc.document_kind,
            refused_certificate_id=exc.certificate_id,
        )
    return FileResult(name, event=event, format=event.source.adapter)


def _detected(raw: bytes) -> str | None:
    """The outer format of a rejected document, when it can be told at all."""
    try:
        return adapter_registry.detect(RootName.of(parse(raw).root)).name
    except MessageRejected:
        return None


class _TooLarge(Exception):
    """The file is larger than any document the gateway reads."""


def _read(path: str, limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """At most ``limit`` bytes, else ``_TooLarge``: reading a whole ``/dev/zero`` (or a
    disk image given by mistake) hung the command while its memory grew."""
    if path == STDIN:
        raw = sys.stdin.buffer.read(limit + 1)
    else:
        with Path(path).open("rb") as file:
            raw = file.read(limit + 1)
    if len(raw) > limit:
        raise _TooLarge
    return raw


def _too_large(path: str, limit: int = DEFAULT_MAX_BYTES) -> FileResult:
    message = (
        f"{'the standard input' if path == STDIN else path} is larger than {limit:,} bytes, "
        "the largest document the gateway reads; "
        "it was not read further"
    )
    return FileResult(path, findings=[Finding(DOCUMENT_TOO_LARGE, message)])


def _unreadable(path: str, exc: OSError) -> FileResult:
    reason = exc.strerror or str(exc)
    finding = Finding(UNREADABLE_FILE, f"cannot read {path}: {reason}")
    return FileResult(path, findings=[finding], unreadable=True)


def _results(
    files: tuple[str, ...],
    registry_path: Path | None,
    format_name: str | None,
    sender: str | None,
    received_at: datetime | None,
) -> list[FileResult]:
    registry = common.registry(registry_path)
    results = []
    with common.environment_errors():  # a broken adapter or registry: one sentence, exit 2
        _check_options(registry, format_name, sender)
        for path in files:
            try:
                raw = _read(path)
            except OSError as exc:
                results.append(_unreadable(path, exc))
                continue
            except _TooLarge:
                results.append(_too_large(path))
                continue
            results.append(
                judge(
                    path,
                    raw,
                    registry,
                    format_hint=format_name,
                    sender=sender,
                    received_at=received_at,
                )
            )
    return results


def _check_options(
    registry: ParticipantRegistry, format_name: str | None, sender: str | None
) -> None:
    known = adapter_registry.adapters()
    if not known:
        common.fail("no message format adapters are installed (see adapters.registry)")
    if format_name is not None and format_name not in known:
        common.fail(f"unknown format {format_name!r}; known formats: {', '.join(sorted(known))}")
    if sender is not None and registry.get(sender) is None:
        owner = registry.participant_of(sender.upper())
        hint = f" ({sender.upper()} is a member state of {owner}: use --sender {owner})"
        common.fail(
            f"--sender {sender} is not a participant of the registry" + (hint if owner else "")
        )


def _exit_code(results: list[FileResult]) -> int:
    if any(result.unreadable for result in results):
        return common.EXIT_USAGE
    if any(not result.ok for result in results):
        return common.EXIT_INVALID
    return common.EXIT_OK


def _common_options(function: Any) -> Any:
    function = click.option(
        "--received-at",
        default=None,
        callback=common.instant_callback,
        help="Reception instant recorded in the event, ISO 8601 (e.g. a dead letter's "
        "kpgw-received-at, 2026-03-02T10:15:30.123Z; without an offset: UTC); default: now.",
    )(function)
    function = click.option(
        "--sender",
        default=None,
        callback=lambda _ctx, _param, value: value.upper() if value else None,
        help="Participant the file came from: check it may send this document.",
    )(function)
    function = click.option(
        "--format",
        "format_name",
        default=None,
        help="Format (adapter name) to use instead of detecting it from the root element.",
    )(function)
    function = common.registry_option(function)
    return click.argument("files", nargs=-1, required=True)(function)


@click.command()
@_common_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file and line.")
def validate(
    *,
    files: tuple[str, ...],
    registry_path: Path | None,
    format_name: str | None,
    sender: str | None,
    received_at: datetime | None,
    as_json: bool,
) -> None:
    """Check each FILE the way the gateway would, and list every finding with its line and
    path. Exit 0 all valid, 1 any invalid, 2 a file could not be read."""
    results = _results(files, registry_path, format_name, sender, received_at)
    if as_json:
        for result in results:
            common.emit_json(result.as_dict())
    else:
        _table(results)
    sys.exit(_exit_code(results))


@click.command()
@_common_options
@click.option("--json", "as_json", is_flag=True, help="One event per line (default: indented).")
def translate_command(
    *,
    files: tuple[str, ...],
    registry_path: Path | None,
    format_name: str | None,
    sender: str | None,
    received_at: datetime | None,
    as_json: bool,
) -> None:
    """Print each FILE's canonical event as JSON (decimals as strings) on standard output;
    findings of files that do not translate go to standard error. Exit codes as validate."""
    results = _results(files, registry_path, format_name, sender, received_at)
    for result in results:
        if result.event is not None:
            event = to_json(event_to_avro(result.event))
            click.echo(json_text(event, indent=None if as_json else 2))
            continue
        for finding in result.findings:
            click.echo(printable_line(f"{result.file}: {finding.describe()}"), err=True)
    sys.exit(_exit_code(results))


translate_command.name = "translate"


#: Below this many columns the findings are listed under the table, not in a column of
#: it: squeezed beside five others, a column folded a finding's code mid-word.
FINDINGS_COLUMN_WIDTH = 140


def _table_width() -> int | None:
    """The terminal's width (None: Rich asks it); piped, Rich assumes 80 columns and folds
    a code ('TRUNCATED_DO' / 'CUMENT') or a path mid-word, so, as kpgw dlq list does, a
    pipe gets room enough for whole rows."""
    return None if sys.stdout.isatty() else 240


def _table(results: list[FileResult]) -> None:
    console = Console(highlight=False, width=_table_width())
    beside = console.width >= FINDINGS_COLUMN_WIDTH
    table = Table(show_lines=True)
    columns = ("file", "result", "format", "kind", "certificate")
    for column in (*columns, "findings" if beside else "finding(s)"):
        table.add_column(column, overflow="fold")
    for result in results:
        said = [printable_line(f.describe()) for f in result.findings]
        table.add_row(
            Text(result.file),
            Text("valid", style="green") if result.ok else Text("invalid", style="red"),
            Text(result.format or "-"),
            Text(result.kind or "-"),
            Text(result.certificate_id or "-"),
            Text("\n".join(said) if beside else str(len(said)) if said else "-"),
        )
    console.print(table)
    if not beside:  # whole lines, wrapped between words: a code stays whole
        for result in results:
            for line in (printable_line(f.describe()) for f in result.findings):
                console.print(Text(f"{result.file}: {line}"))
    invalid = sum(1 for result in results if not result.ok)
    console.print(f"{len(results) - invalid} valid, {invalid} invalid")


# gateway.cli.COMMANDS looks these names up.
translate = translate_command
