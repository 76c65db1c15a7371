"""Mutual TLS: the participant is taken from the verified client certificate (CN, else O),
as the ePhyto Hub does; a token, if also sent, must name the same participant; a
certificate from another CA never gets through the handshake."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from gateway.demo_tokens import demo_token
from gateway.settings import Settings
from tests.kafka.helpers import certificate, confirmation, read_until, render
from tests.kafka.ingress.conftest import started

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]
KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", *KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem",
             "-days", "2", "-subj", f"/CN={name}", cwd=folder)  # fmt: skip


def _issued(folder: Path, ca: str, name: str, subject: str, extensions: str) -> None:
    _openssl("req", *KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
             cwd=folder)  # fmt: skip
    (folder / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
             cwd=folder)  # fmt: skip


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    _ca(tmp_path, "ca")
    _ca(tmp_path, "rogue")
    _issued(tmp_path, "ca", "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n")
    client = "extendedKeyUsage=clientAuth\n"
    _issued(tmp_path, "ca", "ru", "/C=RU/O=Gokhran/CN=RU", client)
    _issued(tmp_path, "ca", "bw", "/C=BW/CN=BW", client)
    _issued(tmp_path, "ca", "eu", "/O=EU/CN=traces-gateway.example", client)
    _issued(tmp_path, "ca", "zz", "/CN=ZZ", client)
    _issued(tmp_path, "rogue", "fake", "/CN=RU", client)
    return tmp_path


def _context(pki: Path, client: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if client is not None:
        context.load_cert_chain(str(pki / f"{client}.pem"), str(pki / f"{client}.key"))
    return context


async def _post(
    url: str,
    pki: Path,
    client: str | None,
    body: bytes,
    *,
    token: str | None = None,
    path: str = "/v1/messages",
) -> tuple[int, dict[str, object] | str]:
    headers = {"Content-Type": "application/xml"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + path, data=body, headers=headers, ssl=_context(pki, client)) as response,
    ):
        parsed = await response.json() if "json" in response.content_type else await response.text()
        return response.status, parsed


async def test_participant_from_the_client_certificate(created_topics: Settings, pki: Path) -> None:
    cert = certificate("RU0640001")
    async with started(
        created_topics,
        ready=False,
        tls_certfile=pki / "server.pem",
        tls_keyfile=pki / "server.key",
        tls_client_cafile=pki / "ca.pem",
    ) as client:
        url = client.url
        assert url.startswith("https://")
        ingress = client.running.ingress
        for _ in range(300):
            if ingress.inbound_mirror.caught_up.is_set() and ingress.publisher.connected:
                break
            await asyncio.sleep(0.1)
        status, _ = await _post(url, pki, "ru", render(cert))
        assert status == 202  # no token: the certificate says RU
        status, body = await _post(url, pki, "bw", render(cert))
        assert status == 403 and isinstance(body, dict)
        assert "UNAUTHORISED_SENDER" in json.dumps(body["findings"])
        status, _ = await _post(url, pki, "ru", render(cert), token=demo_token("BW"))
        assert status == 401  # certificate and token disagree
        status, _ = await _post(url, pki, "zz", render(cert))
        assert status == 401  # a certificate naming no participant
        status, body = await _post(url, pki, "eu", render(confirmation(cert)), path="/v1/validate")
        assert status == 200 and isinstance(body, dict) and body["kind"] == "confirmation"  # O=EU
        status, _ = await _post(
            url, pki, None, render(certificate("RU0640002")), token=demo_token("RU")
        )
        assert status == 202  # without a certificate, a token still works
        status, _ = await _post(url, pki, None, render(certificate("RU0640003")))
        assert status == 401
        with pytest.raises(aiohttp.ClientError):
            await _post(url, pki, "fake", render(certificate("RU0640004")))  # another CA's cert
    records = await read_until(created_topics, "inbound", 2)
    assert len(records) == 2
