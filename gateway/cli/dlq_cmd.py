"""``kpgw dlq list|show|stats|replay``: the operator's view of dead letters."""

from __future__ import annotations

import getpass
import re
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from lxml import etree
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from gateway import aio_run
from gateway.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    emit_json,
    environment_errors,
    fail,
    instant_callback,
    registry,
    registry_option,
    settings,
)
from gateway.dlq.headers import (
    DLQ_HEADERS,
    VALUE_OMITTED,
    readable_header_list,
    readable_headers,
    text_header,
)
from gateway.dlq.replay import ReplayInterrupted, ReplayReport, ReplayStopped, replay_history
from gateway.dlq.replay import replay as run_replay
from gateway.dlq.store import DeadLetter, DlqFilter, DlqScan, scan_dead_letters, stats
from gateway.errors import finding_line
from gateway.text import audit_text, printable, printable_line
from gateway.translator.predict import predict

F = TypeVar("F", bound=Callable[..., Any])


def filters(function: F) -> F:
    for option in reversed(
        [
            click.option(
                "--reason", multiple=True, help="Reason code, e.g. XSD_VIOLATION (repeatable)."
            ),
            click.option(
                "--sender",
                multiple=True,
                help="Sender participant (repeatable); a letter whose kpgw-sender is given "
                'with several values matches each. "(none)": letters without one.',
            ),
            click.option(
                "--stage",
                multiple=True,
                type=click.Choice(["ingress", "translator", "router"]),
                help="Where it failed (repeatable); the translator and the router write "
                "dead letters, the ingress answers with a problem instead.",
            ),
            click.option(
                "--since",
                callback=instant_callback,
                help="Dead-lettered at or after this instant: ISO 8601, e.g. 2026-03-02 or "
                "2026-03-02T10:15:30Z (without an offset: UTC).",
            ),
            click.option(
                "--until",
                callback=instant_callback,
                help="Dead-lettered before this instant (ISO 8601, as --since).",
            ),
            click.option(
                "--pending",
                is_flag=True,
                help="Only dead letters no replay has re-sent yet (kp.dlq.audit).",
            ),
        ]
    ):
        function = option(function)
    return function


def _filter(
    reason: tuple[str, ...],
    sender: tuple[str, ...],
    stage: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[str, ...] = (),
) -> DlqFilter:
    # Reason and participant codes are upper case everywhere: a lower-case filter would
    # silently match nothing. A sender is also matched as typed: a Kafka-native record may
    # name one in lower case (refused, dead-lettered), which ``dlq stats`` counts as such.
    # "(none)" is how ``dlq stats`` labels letters without a sender.
    if since is not None and until is not None and since >= until:
        raise click.BadParameter(
            f"--since {since.isoformat()} is not before --until {until.isoformat()}"
        )
    return DlqFilter(
        reasons=tuple(code.strip().upper() for code in reason),
        senders=tuple(
            dict.fromkeys(
                form
                for code in sender
                for form in (("",) if code == "(none)" else (code.strip().upper(), code.strip()))
            )
        ),
        stages=stage,
        since=since,
        until=until,
        ids=ids,
    )


def _read(selection: DlqFilter) -> list[DeadLetter]:
    """The dead letters ``selection`` matches (see ``_scan``)."""
    return _scan(selection).letters


def _scan(selection: DlqFilter) -> DlqScan:
    """The dead letters ``selection`` matches, and what the part of the DLQ read holds;
    when none matches although that part holds some, say on stderr which reasons and
    senders it does hold (a typo matches nothing)."""
    config = settings()
    with environment_errors():
        scan = aio_run.run(scan_dead_letters(config, selection))
    if not scan.letters and scan.scanned and (selection.reasons or selection.senders):
        click.echo(
            printable_line(
                f"no dead letter matches; the {scan.scanned} dead letter(s) read have reasons "
                f"{', '.join(sorted(scan.reasons))} from senders {', '.join(sorted(scan.senders))}"
            ),
            err=True,
        )
    return scan


def _fail_unless_found(ids: tuple[str, ...], scan: DlqScan) -> None:
    """Exit 1 naming each id that is not a dead letter, and why (no such partition, not
    written yet, removed by retention, a transaction marker)."""
    found = {letter.id for letter in scan.letters}
    absent = [f"{x} ({scan.why_absent(x)})" for x in ids if x not in found]
    if absent:
        fail(f"no dead letter {'; '.join(absent)}", EXIT_INVALID)


def _console() -> Console:
    """A terminal's width on a terminal; piped, wide enough that a row stays one line
    (Rich assumes 80 columns, which split time stamps and reasons across lines)."""
    return Console() if sys.stdout.isatty() else Console(width=240)


def _replay_history() -> dict[str, str]:
    """For each dead letter a replay re-sent (``topic/partition/offset``), that replay's id."""
    with environment_errors():
        return aio_run.run(replay_history(settings()))


def _read_with_history(
    selection: DlqFilter, pending: bool
) -> tuple[list[DeadLetter], dict[str, str]]:
    """The selected dead letters (only those not yet replayed with ``pending``) and, for
    each one a replay re-sent, that replay's id."""
    letters = _read(selection)
    history = _replay_history()
    if pending:
        letters = [x for x in letters if x.coordinates not in history]
    return letters, history


_DEAD_LETTER_ID = re.compile(r"^([0-9]+)-([0-9]+)$")
#: ``topic/partition/offset``, as kp.dlq.audit and ``kpgw-replayed-from`` name a record.
_RECORD_PLACE = re.compile(r"^(.+)/([0-9]+)/([0-9]+)$")
ID_FORMS = (
    "ids look like 0-42 (partition-offset, as `kpgw dlq list` shows them) or dlq/0/42 "
    "(as kp.dlq.audit names them)"
)


def dead_letter_id(text: str) -> str:
    """The dead letter ``text`` names, as ``partition-offset`` (``0-42``): given so, or as
    the audit names it (``dlq/0/42``, or with the topic's full name, ``kp.dlq/0/42``).
    Anything else is a usage error (exit 2), not a dead letter that is not there."""
    given = text.strip()
    if match := _DEAD_LETTER_ID.match(given):
        return f"{int(match[1])}-{int(match[2])}"
    if match := _RECORD_PLACE.match(given):
        topic = match[1]
        if topic in ("dlq", f"{settings().topic_prefix}dlq"):
            return f"{int(match[2])}-{int(match[3])}"
        raise click.BadParameter(
            f"{text!r} names a record of {topic}, not a dead letter ({ID_FORMS})"
        )
    raise click.BadParameter(f"{text!r} is no dead letter id; {ID_FORMS}")


def _checked_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dead_letter_id(text) for text in ids)


@click.group()
def dlq() -> None:
    """Inspect and replay dead letters (kp.dlq)."""


@dlq.command(name="list")
@filters
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Newest N only.")
def list_(
    reason: tuple[str, ...],
    sender: tuple[str, ...],
    stage: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    pending: bool,
    as_json: bool,
    limit: int | None,
) -> None:
    """List dead letters, oldest first, with the replay that re-sent each (if any)."""
    letters, history = _read_with_history(_filter(reason, sender, stage, since, until), pending)
    if limit:
        letters = letters[-limit:]
    if as_json:
        for letter in letters:
            emit_json({**letter.summary(), "replayed_by": history.get(letter.coordinates)})
        return
    table = Table(title=f"{len(letters)} dead letter(s)")
    columns = ("id", "dead-lettered at", "reason", "stage", "sender", "original", "message")
    for column in (*columns, "replay of", "replayed by"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        s = letter.summary()
        message = s["message"] if len(s["message"]) <= 80 else s["message"][:79] + "\u2026"
        cells = (s["id"], s["reason"], s["stage"], s["sender"], s["original"], message)
        safe = [Text(printable_line(cell)) for cell in cells]  # no markup, no escapes
        replayed = history.get(letter.coordinates, "-")[:8]  # a replay id's first block
        table.add_row(
            *safe[:1],
            letter.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            *safe[1:],
            letter.replay_of or "-",
            replayed,
        )
    _console().print(table)


def _pretty(value: bytes | None) -> str:
    if not value:
        return "(empty)"
    try:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True
        )
        root = etree.fromstring(value, parser=parser)
        return etree.tostring(root, pretty_print=True, encoding="unicode")
    except (etree.XMLSyntaxError, ValueError):
        return value.decode("utf-8", errors="replace")


@dlq.command()
@click.argument("dead_letter_id", callback=lambda _c, _p, value: dead_letter_id(value))
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option(
    "--raw",
    is_flag=True,
    help="Write the document's stored bytes, unchanged, to stdout (redirect to a file).",
)
def show(dead_letter_id: str, as_json: bool, raw: bool) -> None:
    """One dead letter: headers, findings and the raw document pretty-printed. Text from
    the sender is shown with control characters escaped.

    DEAD_LETTER_ID is 0-42 (partition-offset, as `kpgw dlq list` shows it) or dlq/0/42
    (as kp.dlq.audit names it)."""
    scan = _scan(DlqFilter(ids=(dead_letter_id,)))
    _fail_unless_found((dead_letter_id,), scan)  # as replay says it; JSON under --log-format json
    letter = scan.letters[0]
    history = _replay_history()
    omitted = text_header(letter.headers, VALUE_OMITTED)
    if raw and omitted is not None:
        fail(
            f"dead letter {letter.id} does not hold the document: {omitted} (for that "
            "topic's retention)",
            EXIT_INVALID,
        )
    if raw:
        sys.stdout.buffer.write(letter.value or b"")
        sys.stdout.buffer.flush()
        return
    in_order = readable_header_list(letter.headers)
    if as_json:
        emit_json(
            {
                **letter.summary(),
                "replayed_by": history.get(letter.coordinates),
                # By name (a repeated name: the list of its values), and every header in
                # order, as Kafka holds them.
                "headers": readable_headers(letter.headers),
                "header_list": [[key, value] for key, value in in_order],
                "findings": letter.findings,
                "document": (letter.value or b"").decode("utf-8", errors="replace"),
                "document_omitted": omitted,
            }
        )
        return
    console = _console()
    console.rule(Text(printable_line(f"dead letter {letter.id}: {letter.reason}")))
    replayed_by = history.get(letter.coordinates)
    console.print(
        f"replayed by {replayed_by}" if replayed_by else "not replayed yet",
        highlight=False,
    )
    if letter.replay_of:
        console.print(f"a replay of dead letter {letter.replay_of}, failing again", highlight=False)
    for key, value in in_order:  # every one, in order: a name may be given more than once
        line = Text(printable_line(key), style="bold" if key in DLQ_HEADERS else "")
        line.append(": " + printable(str(value)))  # a stack trace keeps its lines
        console.print(line, highlight=False)
    for key, count in Counter(key for key, _ in in_order).items():
        if count > 1:
            console.print(
                Text(printable_line(f"({key} is given {count} times, each shown above)")),
                highlight=False,
            )
    console.rule("findings")
    if not letter.findings:  # a router's or a poison pill's letter: the reason says it
        console.print(Text("(none: the reason above is the whole finding)"), highlight=False)
    for finding in letter.findings:
        # As kpgw send and validate write a finding: CODE (line 3, /path): message.
        text = finding_line(
            finding.get("code"), finding.get("message"), finding.get("line"), finding.get("path")
        )
        console.print(Text(printable_line(text)), highlight=False)
    if omitted is not None:  # the bare "(empty)" would hide where the document is
        console.rule("document: left out of the dead letter")
        console.print(
            Text(
                printable_line(
                    f"{omitted} (for that topic's retention); this dead letter cannot be replayed"
                )
            ),
            highlight=False,
        )
        return
    console.rule("document (pretty-printed; --raw for the stored bytes)")
    console.print(Text(printable(_pretty(letter.value))), highlight=False)


@dlq.command(name="stats")
@filters
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def stats_(
    reason: tuple[str, ...],
    sender: tuple[str, ...],
    stage: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    pending: bool,
    as_json: bool,
) -> None:
    """Counts by reason, sender, stage and age, and how many still wait for a replay. A
    letter naming conflicting senders counts under each (the line under the senders, and
    conflicting_senders in --json, say how many)."""
    letters, history = _read_with_history(_filter(reason, sender, stage, since, until), pending)
    report = stats(letters, datetime.now(UTC))
    report["pending"] = sum(1 for x in letters if x.coordinates not in history)
    # A replay that failed again left a new letter for the same document: not a new one.
    report["failed_again_after_replay"] = sum(1 for x in letters if x.replay_of)
    if as_json:
        emit_json(report)
        return
    for line in stats_lines(report):
        click.echo(line)


def stats_lines(report: dict[str, Any]) -> list[str]:
    """``dlq stats`` for people."""
    lines = [
        f"{report['total']} dead letter(s), {report['pending']} not replayed yet (--pending), "
        f"{report['failed_again_after_replay']} from replays that failed again"
    ]
    for group in ("by_reason", "by_sender", "by_stage", "by_age"):
        if not report[group]:  # no letter: no bare headings under the count
            continue
        lines.append(f"{group.removeprefix('by_')}:")
        for name, count in report[group].items():
            # Reasons and senders are the headers' text, whoever wrote them: escaped.
            lines.append(f"  {printable_line(name):<32} {count}")
        if group == "by_sender" and report["conflicting_senders"]:
            lines.append(
                f"  ({report['conflicting_senders']} dead letter(s) name conflicting senders "
                "and are counted under each)"
            )
    return lines


def _say_replayed(report: ReplayReport, audit: str) -> None:
    """The text summary of a replay (or a dry run) that ran to its end."""
    verb = "would replay" if report.dry_run else "replayed"
    click.echo(
        f"{verb} {len(report.replayed)} of {len(report.selected)} selected dead letter(s); "
        f"{len(report.skipped)} skipped as already replayed"
        + ("" if report.dry_run else f"; replay id {report.replay_id}")
    )
    for letter in report.replayed:
        again = report.failing_again.get(letter.id)
        note = f" (would fail again: {again})" if again else ""
        why_failed, topic = audit_text(letter.reason), audit_text(letter.original_topic)
        click.echo(f"  {letter.id} {why_failed} -> {topic}{note}")
    for letter in report.unreplayable:
        why = report.why_unreplayable.get(letter.id, "")
        # The reason quotes the dead letter's headers: bounded and escaped.
        click.echo(f"  {letter.id} not replayable: {audit_text(why)}")
    if report.chunks > 1:  # a bulk replay: one transaction per chunk, each with its audit
        click.echo(f"re-sent in {report.chunks} chunks, each audited in its own transaction")
    if not report.dry_run:
        if report.audit_records > 1:  # a bulk replay: parts that each fit the topic
            click.echo(f"audit on {audit}, in {report.audit_records} records: {report.result}")
        else:
            click.echo(f"audit record on {audit}: {report.result}")


@dlq.command()
@filters
@click.option(
    "--id",
    "ids",
    multiple=True,
    callback=lambda _c, _p, value: _checked_ids(value),
    help="Only these dead letters (repeatable): 0-42 (partition-offset) or dlq/0/42 (as "
    "kp.dlq.audit names them).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be replayed; send nothing.")
@click.option("--force", is_flag=True, help="Replay even dead letters replayed before.")
@click.option("--operator", default=None, help="Who replays (default: the login name).")
@click.option(
    "--all", "everything", is_flag=True, help="Replay every dead letter (no filter given)."
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@registry_option
def replay(
    reason: tuple[str, ...],
    sender: tuple[str, ...],
    stage: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    pending: bool,
    ids: tuple[str, ...],
    dry_run: bool,
    force: bool,
    operator: str | None,
    everything: bool,
    as_json: bool,
    registry_path: Path | None,
) -> None:
    """Re-send dead letters' original bytes and headers to their original topic. Translator
    dead letters are first translated again against the participant registry (--registry,
    else the configured one, as the translator uses it) to say which would fail again."""
    config = settings()
    who = operator or getpass.getuser()
    selection = _filter(reason, sender, stage, since, until, ids)
    if pending and force:  # --pending is what a replay does anyway; --force undoes it
        fail("--pending and --force contradict each other: a replay skips replayed letters")
    if selection == DlqFilter() and not (everything or dry_run):
        fail(
            "a replay without a filter re-sends every dead letter: give --reason, --sender, "
            "--stage, --since, --until or --id, or --all if that is what you mean"
        )
    if ids:  # an unknown id is a mistake to say, not an empty replay with an audit record
        _fail_unless_found(ids, _scan(selection))
    current = registry(registry_path)  # the one the translator routes by: what happens now
    # Unset, the translator routes by the shipped example registry (as `registry check`).
    used = registry_path or config.partners_file or "the example registry"
    inbound = f"{config.topic_prefix}inbound"

    def judge(letters: list[DeadLetter]) -> tuple[dict[str, str], str | None]:
        prediction = predict(letters, current, inbound)
        warning = prediction.summary()
        if warning and not as_json:
            judged = used if isinstance(used, str) else f"the registry {used}"
            click.echo(f"warning: {warning} (judged with {judged})", err=True)
        if prediction.translating and isinstance(used, str) and not as_json:
            # A verdict of "would pass" was said without naming the registry: an operator
            # whose shell lacked the gateway's KPGW_PARTNERS_FILE was told the pair it had
            # not enabled yet was fine, by the example registry, which enables it (a
            # night-duty walkthrough); the replay then fails again.
            click.echo(
                f"note: {len(prediction.translating)} of them would translate as judged with "
                "the example registry (KPGW_PARTNERS_FILE is unset here): if the gateway "
                "runs with another registry, give it (--registry or KPGW_PARTNERS_FILE), "
                "else letters it still refuses go back only to fail again",
                err=True,
            )
        if prediction.not_predicted and dry_run and not as_json:
            # Said: the list showed router letters (UNDECODABLE_AVRO) bare beside the
            # judged ones, as if they would pass (a night-duty walkthrough).
            click.echo(
                f"note: {len(prediction.not_predicted)} of them were not judged (only "
                "documents for kp.inbound are translated again here, poison pills never): "
                "make sure their cause is fixed before replaying them",
                err=True,
            )
        return prediction.failing_again, warning

    # A progress bar only on a terminal: piped, it left a blank line on stdout.
    shown = not as_json and sys.stdout.isatty()
    with environment_errors(), Progress(transient=True, disable=not shown) as bar:
        task = bar.add_task("replaying", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = aio_run.run(
                run_replay(
                    config,
                    selection,
                    operator=who,
                    dry_run=dry_run,
                    force=force,
                    progress=advance,
                    judge=judge,
                )
            )
        except ReplayStopped as stopped:
            # What the chunks before it re-sent and audited stays: the report says it too,
            # and the message (exit 2, 130 for Ctrl-C) how many were and were not re-sent.
            if as_json:
                emit_json(stopped.report.as_dict())
            if isinstance(stopped, ReplayInterrupted):
                bar.stop()
                fail(stopped.message, EXIT_INTERRUPTED)
            raise
    if as_json:
        emit_json(report.as_dict())
        return
    _say_replayed(report, f"{config.topic_prefix}dlq.audit")
    if not report.selected and (reason or sender):
        _read(selection)  # a typo: say which reasons and senders the DLQ does hold
