"""What ``kpgw send`` and ``kpgw status`` share as clients of the ingress: the base URL,
TLS, the answers that mean "try again later" and reading an answer that may not be JSON."""

from __future__ import annotations

import json
import ssl
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gateway.ingress.exposure import LOOPBACK

ROUTES = ("/v1/messages", "/v1/validate")

#: Statuses that say nothing about the document (the ingress or its broker cannot take it
#: now): retried after ``Retry-After``, and exit 2 (environment) if they persist.
TRANSIENT = frozenset({429, 502, 503, 504})
MAX_RETRY_WAIT_S = 60.0

F = TypeVar("F", bound=Callable[..., Any])


def base_url(url: str) -> str:
    """``http://host:port`` whether or not the user also typed a route."""
    url = url.rstrip("/")
    for route in ROUTES:
        if url.endswith(route):
            return url[: -len(route)]
    return url


def ssl_context(cacert: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cacert is None and cert is None:
        return None
    context = ssl.create_default_context(cafile=str(cacert) if cacert else None)
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def retry_after(headers: Any) -> float:
    try:
        return min(max(float(headers.get("Retry-After", "1")), 0.0), MAX_RETRY_WAIT_S)
    except ValueError:  # an HTTP date or garbage: a short pause
        return 1.0


def answer_document(payload: bytes) -> dict[str, Any]:
    """The JSON answer, or what a non-JSON one (a proxy's error page) says, so its status
    and text are not lost."""
    try:
        document = json.loads(payload) if payload else {}
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    text = payload.decode("utf-8", "replace").strip()
    return {"detail": text[:300] or "(empty body)", "not_json": True}


def describe_client_error(exc: BaseException) -> str:
    """A failed call (no answer at all) in one line, with what to do where aiohttp's
    words do not say it."""
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, OSError) and "WRONG_VERSION_NUMBER" in str(exc):
        # The TLS handshake met an HTTP answer: the ingress has no TLS files.
        text += (
            "; the server answered without TLS: use http:// in --url (or give the ingress "
            "KPGW_INGRESS__TLS_CERTFILE and KPGW_INGRESS__TLS_KEYFILE)"
        )
    return text


def connection_options(command: F) -> F:
    """``--url``, ``--token`` and the TLS files, as every ingress client takes them."""
    for option in reversed(
        (
            click.option(
                "--url",
                required=True,
                envvar="KPGW_URL",
                help="The ingress, e.g. http://127.0.0.1:8080.",
            ),
            click.option(
                "--token",
                envvar="KPGW_TOKEN",
                help="The participant's bearer token (or KPGW_TOKEN). Never printed.",
            ),
            click.option(
                "--cacert",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="CA of the ingress's TLS certificate.",
            ),
            click.option(
                "--cert",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Client certificate (mutual TLS).",
            ),
            click.option(
                "--key",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Client certificate's key.",
            ),
        )
    ):
        command = option(command)
    return command


def client_setup(
    url: str, token: str | None, cacert: Path | None, cert: Path | None, key: Path | None
) -> tuple[dict[str, str], ssl.SSLContext | None]:
    """The request headers and TLS context of the options, or a usage error."""
    if not token and cert is None:
        raise click.UsageError("give --token (or KPGW_TOKEN) or a client --cert")
    if urllib.parse.urlsplit(url.strip()).scheme.lower() not in ("http", "https"):
        # aiohttp's own word for it, per file, was "NonHttpUrlClientError: <url>".
        raise click.UsageError(
            f"--url {url!r} needs http:// or https:// (the ingress's base URL, e.g. "
            "http://127.0.0.1:8080)"
        )
    host = urllib.parse.urlsplit(base_url(url)).hostname or ""
    if token and url.startswith("http://") and host not in LOOPBACK:
        # The bearer token would cross the network in clear text.
        click.echo(f"warning: sending the token over plain http to {host}; use https", err=True)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return headers, ssl_context(cacert, cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise click.UsageError(f"cannot load the TLS files: {exc}") from None
