"""``kpgw send --url URL --token T FILE...``: the test client a national system would use.

One JSON line per file: ``{file, status, tracking_id, status_url}`` when accepted, else
``{file, status, problem}`` (the RFC 9457 document; an answer that is not JSON, such as a
proxy's error page, as ``{detail, not_json: true}``) or ``{file, status: null, error}`` when
the ingress could not be reached. 429, 502, 503 and 504 are retried (``--retries``) after
``Retry-After``; the same body carries the same default idempotency key, so a retry is
never a second message. Exit 0 when every file was accepted, 1 when any was refused (the
document was judged), 2 on a usage or connection error or a 429/5xx that persisted. The
token is never printed.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from pathlib import Path
from typing import Any

import aiohttp
import click

from gateway.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, emit_json

ROUTES = ("/v1/messages", "/v1/validate")


def base_url(url: str) -> str:
    """``http://host:port`` whether or not the user also typed a route."""
    url = url.rstrip("/")
    for route in ROUTES:
        if url.endswith(route):
            return url[: -len(route)]
    return url


def _ssl_context(cacert: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cacert is None and cert is None:
        return None
    context = ssl.create_default_context(cafile=str(cacert) if cacert else None)
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


#: Statuses that say nothing about the document (the ingress or its broker cannot take it
#: now): retried after ``Retry-After``, and exit 2 (environment) if they persist.
TRANSIENT = frozenset({429, 502, 503, 504})
MAX_RETRY_WAIT_S = 60.0


def _retry_after(headers: Any) -> float:
    try:
        return min(max(float(headers.get("Retry-After", "1")), 0.0), MAX_RETRY_WAIT_S)
    except ValueError:  # an HTTP date or garbage: a short pause
        return 1.0


def _document(payload: bytes) -> dict[str, Any]:
    """The JSON answer, or what a non-JSON one (a proxy's error page, aiohttp's plain-text
    400) says, so its status and text are not lost."""
    try:
        document = json.loads(payload) if payload else {}
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    text = payload.decode("utf-8", "replace").strip()
    return {"detail": text[:300] or "(empty body)", "not_json": True}


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
                body = path.read_bytes()
                for attempt in range(retries + 1):
                    # The same body gives the same default Idempotency-Key, so a retry of a
                    # request that did get through is answered with the original 202.
                    async with http.post(url, data=body, headers=headers, ssl=verify) as response:
                        status = response.status
                        document = _document(await response.read())
                        wait = _retry_after(response.headers)
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
                else:
                    result["problem"] = document
            except (aiohttp.ClientError, TimeoutError) as exc:  # before OSError:
                # aiohttp's connection errors are OSErrors too
                result.update(status=None, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
            except OSError as exc:  # the file became unreadable
                result.update(status=None, error=f"cannot read: {exc.strerror or exc}")
            results.append(result)
    return results


@click.command()
@click.option(
    "--url", required=True, envvar="KPGW_URL", help="The ingress, e.g. http://127.0.0.1:8080."
)
@click.option(
    "--token",
    envvar="KPGW_TOKEN",
    help="The participant's bearer token (or KPGW_TOKEN). Never printed.",
)
@click.option("--validate-only", is_flag=True, help="POST /v1/validate: check, send nothing.")
@click.option("--content-type", default="application/xml", show_default=True)
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=30.0, show_default=True
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Retries of a 429/502/503/504 answer, each after its Retry-After.",
)
@click.option(
    "--cacert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA of the ingress's TLS certificate.",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Client certificate (mutual TLS).",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Client certificate's key.",
)
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
    files: tuple[Path, ...],
) -> None:
    """Send XML documents to the ingress, one request per FILE."""  # fmt: skip
    if not token and cert is None:
        raise click.UsageError("give --token (or KPGW_TOKEN) or a client --cert")
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    target = base_url(url) + ROUTES[1 if validate_only else 0]
    try:
        context = _ssl_context(cacert, cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise click.UsageError(f"cannot load the TLS files: {exc}") from None
    results = asyncio.run(_send_all(target, files, headers, timeout_s, context, retries))
    for result in results:
        emit_json(result)
    if any(result["status"] is None or result["status"] in TRANSIENT for result in results):
        sys.exit(EXIT_USAGE)  # not a judgement of the documents: send them again later
    accepted = 200 if validate_only else 202
    sys.exit(EXIT_OK if all(r["status"] == accepted for r in results) else EXIT_INVALID)
