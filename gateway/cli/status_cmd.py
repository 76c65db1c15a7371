"""``kpgw status --url URL --token T TRACKING_ID...``: where sent messages are now, as a
national system asks it (``GET /v1/messages/{tracking_id}``).

For people, one line per tracking id (the state, its reason and certificate), then the
detail (less the reason it repeats), each outcome's sentence ("WRONG_DESTINATION:
certificate for EU confirmed by IN") and each difference of a discrepancy, its two values
named by what they are for its outcome (``LABELS``), a value per carat with the band it
lies outside. With ``--json``, one JSON line per tracking id instead: the status document
(``status``, ``reason``, ``detail``, ``certificate_id``, ``differences``, ``outcomes``,
``updated_at``) with ``http_status`` 200, else ``{tracking_id, http_status, problem}`` or
``{tracking_id, http_status: null, error}``.
``--wait`` polls each id until it reaches a settled state (dead-lettered, matched or
discrepancy; ``--wait-for`` names others) or ``--timeout`` passes. Exit 0 when every id was
found (and reached what was waited for), 1 when any is unknown to this participant (the
status endpoint's own 404), 2 when the call itself failed (a usage or connection error, no
or a wrong token: 401, 403, a 5xx, a 404 of no status endpoint: a wrong URL), a
429/502/503/504 that persisted, or a wait that timed out: as ``kpgw send``.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import click

from gateway import aio_run
from gateway.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, emit_json, fail
from gateway.cli.http_client import (
    TRANSIENT,
    answer_document,
    base_url,
    client_setup,
    connection_options,
    describe_client_error,
    retry_after,
)
from gateway.ingress.problems import TYPE_BASE, UNKNOWN_MESSAGE, UNKNOWN_MESSAGE_TYPE
from gateway.text import printable_line

#: The API's words (gateway.ingress.status.STATES).
STATES = (
    "accepted",
    "translated",
    "dead-lettered",
    "announced",
    "matched",
    "discrepancy",
    "overdue",
)
#: Where a message normally stays: an overdue certificate may still be matched later.
SETTLED = ("dead-lettered", "matched", "discrepancy")


async def _one(
    http: aiohttp.ClientSession,
    url: str,
    tracking_id: str,
    headers: dict[str, str],
    verify: ssl.SSLContext | bool,
    *,
    until: frozenset[str] | None,
    deadline: float,
    interval_s: float,
) -> dict[str, Any]:
    result: dict[str, Any] = {"tracking_id": tracking_id}
    while True:
        try:
            target = f"{url}/v1/messages/{quote(tracking_id, safe='')}"
            async with http.get(target, headers=headers, ssl=verify) as response:
                status = response.status
                document = answer_document(await response.read())
                wait = retry_after(response.headers) if status in TRANSIENT else interval_s
        except (aiohttp.ClientError, TimeoutError) as exc:
            return {
                **result,
                "http_status": None,
                "error": describe_client_error(exc),
            }
        settled = status == 200 and (until is None or document.get("status") in until)
        if settled or status not in (200, *TRANSIENT) or time.monotonic() + wait > deadline:
            break
        await asyncio.sleep(wait)
    if status != 200:
        return {**result, "http_status": status, "problem": document}
    found = {**result, "http_status": status, **document}
    if not settled:
        found["timed_out"] = True
    return found


async def _status_all(
    url: str,
    tracking_ids: tuple[str, ...],
    headers: dict[str, str],
    context: ssl.SSLContext | None,
    *,
    until: frozenset[str] | None,
    timeout_s: float,
    interval_s: float,
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    verify: ssl.SSLContext | bool = context if context is not None else True
    timeout = aiohttp.ClientTimeout(total=max(timeout_s, 1.0))
    async with aiohttp.ClientSession(timeout=timeout) as http:
        return list(
            await asyncio.gather(
                *(
                    _one(
                        http,
                        url,
                        tracking_id,
                        headers,
                        verify,
                        until=until,
                        deadline=deadline,
                        interval_s=interval_s,
                    )
                    for tracking_id in tracking_ids
                )
            )
        )


@click.command()
@connection_options
@click.option(
    "--wait",
    is_flag=True,
    help="Poll until each message is dead-lettered, matched or a discrepancy (or --wait-for).",
)
@click.option(
    "--wait-for",
    "wait_for",
    multiple=True,
    type=click.Choice(STATES),
    help="Poll until each message is in one of these states instead (repeatable; implies --wait).",
)
@click.option(
    # The old spelling of --wait-for: in the dlq commands --until is a time.
    "--until",
    "old_until",
    multiple=True,
    type=click.Choice(STATES),
    hidden=True,
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds for the whole command, waits included.",
)
@click.option(
    "--interval",
    "interval_s",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between polls with --wait.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tracking id and line.")
@click.argument("tracking_ids", nargs=-1, required=True)
def status(
    *,
    url: str,
    token: str | None,
    cacert: Path | None,
    cert: Path | None,
    key: Path | None,
    wait: bool,
    wait_for: tuple[str, ...],
    old_until: tuple[str, ...],
    timeout_s: float,
    interval_s: float,
    as_json: bool,
    tracking_ids: tuple[str, ...],
) -> None:
    """Where sent messages are now, one line per TRACKING_ID."""  # fmt: skip
    if old_until:
        click.echo(
            "warning: status --until is now --wait-for (--until is a time elsewhere)", err=True
        )
    states = wait_for + old_until
    headers, context = client_setup(url, token, cacert, cert, key)
    until = frozenset(states or SETTLED) if wait or states else None
    results = aio_run.run(
        _status_all(
            base_url(url),
            tracking_ids,
            headers,
            context,
            until=until,
            timeout_s=timeout_s,
            interval_s=interval_s,
        )
    )
    for result in results:
        if as_json:
            emit_json(result)
        else:
            for line in describe(result, base_url(url)):
                click.echo(printable_line(line))  # the detail quotes what the sender wrote
    failed = [r for r in results if _answer(r) == "failed"]
    unsettled = [r for r in results if _answer(r) == "unsettled"]
    said: list[str] = []
    if failed:  # the call, not the message: 401, 403, 5xx, no connection
        said.append(
            f"{len(failed)} of {len(results)} request(s) failed (the URL, the token or the "
            "ingress, not the message); fix the call and ask again"
        )
    if unsettled:  # nothing judged: ask again later; say so beside the JSON (stderr)
        waited = " within --timeout" if any(r.get("timed_out") for r in unsettled) else ""
        said.append(
            f"{len(unsettled)} of {len(results)} message(s) had no final answer{waited}; "
            "ask again later"
        )
    if said:
        fail("; ".join(said), EXIT_USAGE)
    sys.exit(EXIT_OK if all(_answer(r) == "found" for r in results) else EXIT_INVALID)


def _answer(result: dict[str, Any]) -> str:
    """What one answer says: ``found`` (a status), ``unknown`` (the id, exit 1),
    ``unsettled`` (a 429/502/503/504 that persisted, or a wait that timed out: ask again
    later) or ``failed`` (the call itself: no connection, the token, the ingress)."""
    http_status = result["http_status"]
    if http_status == 200:
        return "unsettled" if result.get("timed_out") else "found"
    if http_status in TRANSIENT:
        return "unsettled"
    if http_status == 404 and unknown_message(result.get("problem") or {}):
        return "unknown"
    return "failed"  # a 404 of another route too: a wrong --url


def unknown_message(problem: dict[str, Any]) -> bool:
    """The status endpoint's own 404 (no such message for this participant), not an
    unknown route's (a wrong base URL: the ingress's "Not Found", or another server's
    page): its own problem type, or from a server older than that type, the generic
    not-found type with the endpoint's wording."""
    if problem.get("type") == UNKNOWN_MESSAGE_TYPE:
        return True
    detail = problem.get("detail")
    return (
        problem.get("type") == TYPE_BASE + "not-found"
        and isinstance(detail, str)
        and detail.startswith(UNKNOWN_MESSAGE.split("{", 1)[0])
    )


def describe(result: dict[str, Any], url: str | None = None) -> list[str]:
    """One message's state for people: a line, then its detail and differences; ``url``:
    the base URL asked, named when it has no status endpoint."""
    tracking_id, http_status = result["tracking_id"], result["http_status"]
    if http_status is None:
        return [f"{tracking_id}: no answer: {result['error']}"]
    if http_status != 200:
        problem = result.get("problem") or {}
        texts = [str(problem[k]) for k in ("title", "detail") if problem.get(k)]
        if len(texts) == 2 and texts[0].casefold() == texts[1].casefold():
            texts.pop()  # aiohttp's "Not found: Not Found"
        said = ": ".join(texts)
        if http_status == 404 and unknown_message(problem):
            said = f": {problem['detail']}" if problem.get("detail") else ""
            return [f"{tracking_id}: unknown to this participant (404){said}"]
        first = f"{tracking_id}: no status ({http_status})" + (f" {said}" if said else "")
        if http_status == 404:
            where = f" at {url}" if url else ""
            first += f"; no kpgw status endpoint{where}: check --url"
        return [first]
    first = f"{tracking_id}: {result.get('status')}"
    if result.get("reason"):
        first += f" {result['reason']}"
    if result.get("certificate_id"):
        first += f", certificate {result['certificate_id']}"
    if result.get("updated_at"):
        first += f", at {result['updated_at']}"
    if result.get("timed_out"):
        first += " (still so at --timeout)"
    lines = [first]
    detail = _detail(result.get("reason"), result.get("detail"))
    if detail:
        lines.append(f"  {detail}")
    outcomes = [item for item in result.get("outcomes") or () if isinstance(item, dict)]
    lines.extend(
        f"  {item.get('outcome')}: {item['detail']}" for item in outcomes if item.get("detail")
    )
    band = next((item["value_band"] for item in outcomes if item.get("value_band")), None)
    lines.extend(f"  {_difference(item, band)}" for item in result.get("differences") or ())
    return lines


def _detail(reason: Any, detail: Any) -> str | None:
    """The status's detail without the reason the first line gave: a discrepancy's detail
    lists its outcome kinds, the reason (the most severe) first."""
    if not detail:
        return None
    text = str(detail)
    if not reason:
        return text
    if text == reason:
        return None
    if text.startswith(f"{reason}, "):
        return "also " + text[len(reason) + 2 :]
    if text.startswith(f"{reason}; "):
        return text[len(reason) + 2 :]
    return text


#: What a difference's two values are, by the outcome that found it (gateway.router.core
#: fills ``certificate`` and ``confirmation`` so; docs/router.md): the labels of the first
#: and the second, None when the second is never given.
LABELS: dict[str, tuple[str, str | None]] = {
    "CONFLICTING_REISSUE": ("original certificate", "re-issued certificate"),
    "DUPLICATE_CONFIRMATION": ("first confirmation", "later confirmation"),
    "CONFIRMED_AFTER_EXPIRY": ("certificate valid until", "received"),
    "CONFIRMED_AFTER_VOID": ("voided on", "received"),
    "VOIDED_AFTER_RECEIPT": ("voided on", "received"),
    "VALUE_PER_CARAT_OUT_OF_BAND": ("certificate", None),
}
#: The certificate against a confirmation (MATCHED_WITH_DISCREPANCIES, WRONG_DESTINATION).
COMPARED = ("certificate", "confirmation")


def _difference(item: dict[str, Any], band: dict[str, Any] | None = None) -> str:
    """One difference for people, each value named by what it is; a value a document does
    not give is said so, never printed as None. ``band``: the value band of the status's
    VALUE_PER_CARAT_OUT_OF_BAND outcome, named beside its value (none from an older
    server)."""
    outcome, field = item.get("outcome"), item.get("field")
    first, second = LABELS.get(str(outcome), COMPARED)
    if outcome == "WRONG_DESTINATION" and field == "confirming_participant":
        first, second = "certificate's importer", "confirmed by"
    parts = [_value(first, item.get("certificate"))]
    if second is not None:
        parts.append(_value(second, item.get("confirmation")))
    elif outcome == "VALUE_PER_CARAT_OUT_OF_BAND":
        parts.append(_band(band))
    return f"{field}: {', '.join(parts)} ({outcome})"


def _band(band: dict[str, Any] | None) -> str:
    """Where a value per carat should have been: its origin's band, or only the upper end
    an industrial line is held to."""
    if not band or not band.get("high"):
        return "out of its origin's band"
    if band.get("low") is None:
        return f"above its origin's {band['high']} USD/ct"
    return f"outside its origin's band {band['low']}-{band['high']} USD/ct"


def _value(label: str, value: Any) -> str:
    return f"not on the {label}" if value is None else f"{label} {value}"
