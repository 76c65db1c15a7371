"""``kpgw send --url URL --token T FILE...``: the test client a national system would use.

One JSON line per file: ``{file, status, tracking_id, status_url}`` when accepted, else
``{file, status, problem}`` (the RFC 9457 document) or ``{file, status: null, error}`` when
the ingress could not be reached. Exit 0 when every file was accepted, 1 when any was
refused, 2 on a usage or connection error. The token is never printed.
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


async def _send_all(
    url: str,
    files: tuple[Path, ...],
    headers: dict[str, str],
    timeout_s: float,
    context: ssl.SSLContext | None,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    verify: ssl.SSLContext | bool = context if context is not None else True
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for path in files:
            result: dict[str, Any] = {"file": str(path)}
            try:
                body = path.read_bytes()
                async with http.post(url, data=body, headers=headers, ssl=verify) as response:
                    result["status"] = response.status
                    payload = await response.read()
                    document = json.loads(payload) if payload else {}
                    if response.status in (200, 202):
                        result.update(document)
                    else:
                        result["problem"] = document
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # before OSError:
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
    results = asyncio.run(_send_all(target, files, headers, timeout_s, context))
    for result in results:
        emit_json(result)
    if any(result["status"] is None for result in results):
        sys.exit(EXIT_USAGE)
    accepted = 200 if validate_only else 202
    sys.exit(EXIT_OK if all(r["status"] == accepted for r in results) else EXIT_INVALID)
