"""A listener that cannot bind says in one line which setting to change (an operations
review: ``--only router`` with KPGW_HTTP_HOST=192.0.2.1 said to choose another
KPGW_HTTP_PORT, and the ingress printed a raw ``OSError: [Errno 99]``)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.errors import ConfigurationError
from gateway.ingress.app import serve
from gateway.kafka.broker import port_free
from gateway.listen import bind_problem
from gateway.ops_http import serve_operations
from gateway.settings import Settings

NOT_OURS = "192.0.2.1"  # TEST-NET-1: no host has it


@pytest.fixture
def taken_port() -> Iterator[int]:
    port = next(p for p in range(29750, 29800) if port_free(p))
    with socket.socket() as held:
        held.bind(("127.0.0.1", port))
        held.listen()
        yield port


@pytest.mark.parametrize(
    ("code", "named", "not_named"),
    [
        (errno.EADDRNOTAVAIL, "KPGW_HTTP_HOST", "KPGW_HTTP_PORT"),
        (errno.EADDRINUSE, "KPGW_HTTP_PORT", "KPGW_HTTP_HOST"),
        (errno.EACCES, "KPGW_HTTP_PORT", "KPGW_HTTP_HOST"),
    ],
)
def test_the_line_names_the_setting_at_fault(code: int, named: str, not_named: str) -> None:
    problem = bind_problem(OSError(code, "some reason"), "10.0.0.9", 80, "the ingress")
    assert problem.message.startswith("cannot serve the ingress on 10.0.0.9:80: ")
    assert named in problem.message and not_named not in problem.message


async def test_operations_endpoints_on_an_address_not_ours() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", http_host=NOT_OURS, http_port=0)
    settings.ingress.allow_insecure_off_loopback = True
    with pytest.raises(ConfigurationError) as refused:
        async with serve_operations(settings, ("router",)):
            pass
    message = refused.value.message
    assert message == (
        "cannot serve the operations endpoints on 192.0.2.1:0: 192.0.2.1 is not an address "
        "of this host (cannot assign requested address); set KPGW_HTTP_HOST to one of its "
        "addresses (0.0.0.0 for all of them, 127.0.0.1 for loopback only)"
    )
    assert "KPGW_HTTP_HOST" in message and "KPGW_HTTP_PORT" not in message


async def test_operations_endpoints_on_a_port_in_use(taken_port: int) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", http_port=taken_port)
    with pytest.raises(ConfigurationError, match=rf"port {taken_port} is in use.*KPGW_HTTP_PORT"):
        async with serve_operations(settings, ("router",)):
            pass


async def test_the_ingress_on_an_address_not_ours() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", http_host=NOT_OURS, http_port=0)
    settings.ingress.allow_insecure_off_loopback = True
    with pytest.raises(ConfigurationError, match=r"not an address of this host.*KPGW_HTTP_HOST"):
        async with serve(settings):
            pass


def test_kpgw_run_says_it_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, taken_port: int
) -> None:
    monkeypatch.setenv("KPGW_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("KPGW_HTTP_PORT", str(taken_port))
    result = CliRunner().invoke(cli, ["run", "--only", "ingress"])
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("kpgw: cannot serve the ingress on 127.0.0.1:")
    assert "OSError" not in result.output and "KPGW_HTTP_PORT (0 picks a free one)" in last
