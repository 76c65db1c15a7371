"""``kpgw send --url URL --token T FILE...``: the test client a national system would use.

One line per file, for people: accepted with its tracking id, valid, refused with the
problem and its findings, or not sent and why. With ``--json``, one JSON line per file
instead: ``{file, status, tracking_id, status_url}`` when accepted, else ``{file, status,
title, problem}`` (``title``: the problem's, or the HTTP reason of an answer that is not a
problem document; ``problem``: the RFC 9457 document, an answer that is not JSON, such as a
proxy's error page, as ``{detail, not_json: true}``) or ``{file, status: null, error}``
when the ingress could not be reached. 429, 502, 503 and 504 are retried (``--retries``) after
``Retry-After`` (a line on stderr each time); the same body carries the same default
idempotency key, so a retry is never a second message. Exit 0 when every file was
accepted, 1 when any was refused (the document was judged: 400, 403, 409, 413, 422), 2 on
a usage or connection error (no or a wrong token, a wrong URL, a content type the ingress
does not take: 401, 404, 405, 415) or a 429/5xx that persisted. The token is never printed.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path
from typing import Any

import aiohttp
import click

from adapters.xmlsafe import DEFAULT_MAX_BYTES
from gateway import aio_run
from gateway.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, emit_json
from gateway.cli.http_client import (
    ROUTES,
    TRANSIENT,
    answer_document,
    base_url,
    client_setup,
    connection_options,
    describe_client_error,
    retry_after,
)
from gateway.errors import finding_line
from gateway.text import printable_line

#: Refusals of the call, not of the document: the token, the URL, the content type.
NOT_A_JUDGEMENT = frozenset({401, 404, 405, 415})


async def _send_all(
    url: str,
    files: tuple[Path, ...],
    headers: dict[str, str],
    timeout_s: float,
    context: ssl.SSLContext | None,
    retries: int = 3,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    verify: ssl.SSLContext | bool = context if context is not None else True
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for path in files:
            result: dict[str, Any] = {"file": str(path)}
            try:
                body = _body(path)
                for attempt in range(retries + 1):
                    # The same body gives the same default Idempotency-Key, so a retry of a
                    # request that did get through is answered with the original 202.
                    async with http.post(url, data=body, headers=headers, ssl=verify) as response:
                        status = response.status
                        document = answer_document(await response.read())
                        wait = retry_after(response.headers)
                        reason = response.reason
                    if status not in TRANSIENT or attempt == retries:
                        break
                    print(
                        f"kpgw send: {path}: {status}, retrying in {wait:g} s",
                        file=sys.stderr,
                    )
                    await asyncio.sleep(wait)
                result["status"] = status
                if attempt:
                    result["attempts"] = attempt + 1
                if status in (200, 202):
                    result.update(document)
                else:  # the title beside file and status, as tracking_id is when accepted
                    result["title"] = str(document.get("title") or reason or status)
                    result["problem"] = document
            except (aiohttp.ClientError, TimeoutError) as exc:  # before OSError:
                # aiohttp's connection errors are OSErrors too
                result.update(status=None, error=describe_client_error(exc))
            except OSError as exc:  # the file became unreadable
                result.update(status=None, error=f"cannot read: {exc.strerror or exc}")
            except _TooLarge:
                result.update(
                    status=None,
                    error=f"larger than {DEFAULT_MAX_BYTES:,} bytes, more than any ingress "
                    "accepts; not sent",
                )
            results.append(result)
    return results


class _TooLarge(Exception):
    """The file is larger than any ingress accepts."""


def _body(path: Path, limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """The file, at most ``limit`` bytes: reading a whole ``/dev/zero`` hung the command
    while its memory grew."""
    with path.open("rb") as file:
        body = file.read(limit + 1)
    if len(body) > limit:
        raise _TooLarge
    return body


@click.command()
@connection_options
@click.option("--validate-only", is_flag=True, help="POST /v1/validate: check, send nothing.")
@click.option(
    "--content-type",
    default="application/xml",
    show_default=True,
    help="The Content-Type header (add '; charset=...' only if it agrees with the document).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Retries of a 429/502/503/504 answer, each after its Retry-After.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file and line.")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
def send(
    *,
    url: str,
    token: str | None,
    validate_only: bool,
    content_type: str,
    timeout_s: float,
    retries: int,
    cacert: Path | None,
    cert: Path | None,
    key: Path | None,
    as_json: bool,
    files: tuple[Path, ...],
) -> None:
    """Send XML documents to the ingress, one request per FILE."""  # fmt: skip
    headers, context = client_setup(url, token, cacert, cert, key)
    headers["Content-Type"] = content_type
    target = base_url(url) + ROUTES[1 if validate_only else 0]
    results = aio_run.run(_send_all(target, files, headers, timeout_s, context, retries))
    for result in results:
        if as_json:
            emit_json(result)
        else:
            for line in describe(result):
                click.echo(printable_line(line))  # the answer quotes the document
    if any(
        result["status"] is None or result["status"] in TRANSIENT | NOT_A_JUDGEMENT
        for result in results
    ):
        sys.exit(EXIT_USAGE)  # not a judgement of the documents: fix the call, send again
    accepted = 200 if validate_only else 202
    sys.exit(EXIT_OK if all(r["status"] == accepted for r in results) else EXIT_INVALID)


def describe(result: dict[str, Any]) -> list[str]:
    """One file's answer for people: a line, then one per finding."""
    name, status = result["file"], result["status"]
    if status is None:
        return [f"{name}: not sent: {result['error']}"]
    if status in (200, 202):
        if "tracking_id" in result:
            first = f"{name}: accepted, tracking id {result['tracking_id']}"
        else:
            what = " ".join(str(result[k]) for k in ("kind", "certificate_id") if result.get(k))
            first = f"{name}: valid" + (f" {what}" if what else "")
        findings: list[dict[str, Any]] = []
    else:
        problem = result.get("problem") or {}
        said = ": ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
        judged = status not in TRANSIENT | NOT_A_JUDGEMENT
        first = f"{name}: {'refused' if judged else 'not taken'} ({status})" + (
            f" {said}" if said else ""
        )
        findings = [f for f in problem.get("findings") or () if isinstance(f, dict)]
    if result.get("attempts"):
        first += f" (after {result['attempts']} attempts)"
    if status in TRANSIENT:  # the ingress kept nothing: the sender's move, said
        first += "; nothing was kept: send it again later (--retries waits and retries)"
    return [first, *(f"  {_finding(finding)}" for finding in findings)]


def _finding(finding: dict[str, Any]) -> str:
    return finding_line(
        finding.get("code"), finding.get("message"), finding.get("line"), finding.get("path")
    )
