"""Binding the HTTP listener (the ingress, or a worker-only process's operations
endpoints): a failure to bind is a configuration problem, said in one line that names the
setting to change. An address the host does not have is KPGW_HTTP_HOST's fault, not the
port's (an operations review: the message said to choose another port)."""

from __future__ import annotations

import errno
import os
import socket

from aiohttp import web

from gateway.errors import ConfigurationError


def bind_problem(error: OSError, host: str, port: int, what: str) -> ConfigurationError:
    """``error`` from binding ``host``:``port`` as one sentence naming the setting."""
    where = f"cannot serve {what} on {host}:{port}"
    # The plain reason: asyncio's strerror repeats the address ("error while attempting
    # to bind on address (...): cannot assign requested address").
    code = error.errno
    plain = os.strerror(code) if code is not None and code > 0 else None
    reason = (plain or error.strerror or str(error)).lower()
    if isinstance(error, socket.gaierror):
        return ConfigurationError(
            f"{where}: KPGW_HTTP_HOST={host} does not resolve ({reason}); set it to an "
            "address of this host (0.0.0.0 for all of them)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return ConfigurationError(
            f"{where}: {host} is not an address of this host ({reason}); set KPGW_HTTP_HOST "
            "to one of its addresses (0.0.0.0 for all of them, 127.0.0.1 for loopback only)"
        )
    if error.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"{where}: port {port} is in use ({reason}); choose another KPGW_HTTP_PORT "
            "(0 picks a free one)"
        )
    if error.errno == errno.EACCES:
        return ConfigurationError(
            f"{where}: port {port} needs privileges this process lacks ({reason}); choose "
            "another KPGW_HTTP_PORT, above 1023 (0 picks a free one)"
        )
    return ConfigurationError(f"{where} ({reason}): check KPGW_HTTP_HOST and KPGW_HTTP_PORT")


async def start_site(site: web.TCPSite, host: str, port: int, what: str) -> None:
    """``site.start()``, a bind failure raised as ``bind_problem``."""
    try:
        await site.start()
    except OSError as exc:
        raise bind_problem(exc, host, port, what) from exc
