"""The ingress's TLS files: both or neither, and every error names the setting and its file
(found by an operations review: a key alone served plain HTTP without a word, a certificate
alone failed with "[SSL] PEM lib", a missing file with "[Errno 2]" and no path)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.errors import ConfigurationError
from gateway.ingress.auth import server_ssl_context
from gateway.settings import IngressSettings, load_settings

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """server.pem/.key, other.pem/.key, encrypted.key (server's), both.pem, junk.pem."""
    folder = tmp_path_factory.mktemp("pem")
    for name in ("server", "other"):
        _openssl("req", "-x509", *KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem",
                 "-days", "2", "-subj", f"/CN={name}", cwd=folder)  # fmt: skip
    _openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret",
             "-out", "encrypted.key", cwd=folder)  # fmt: skip
    (folder / "both.pem").write_text(
        (folder / "server.pem").read_text() + (folder / "server.key").read_text()
    )
    (folder / "junk.pem").write_text("not PEM\n")
    return folder


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        (
            {"TLS_KEYFILE": "k.pem"},
            "KPGW_INGRESS__TLS_KEYFILE is set without KPGW_INGRESS__TLS_CERTFILE",
        ),
        (
            {"TLS_CERTFILE": "c.pem"},
            "KPGW_INGRESS__TLS_CERTFILE is set without KPGW_INGRESS__TLS_KEYFILE",
        ),
        (
            {"TLS_CLIENT_CAFILE": "ca.pem"},
            "KPGW_INGRESS__TLS_CLIENT_CAFILE (mutual TLS) needs KPGW_INGRESS__TLS_CERTFILE",
        ),
        ({"TLS_CERTFILE": "", "TLS_KEYFILE": "k.pem"}, "KPGW_INGRESS__TLS_CERTFILE: "),
    ],
)
def test_half_configured_tls_is_a_configuration_error(
    clean_env: pytest.MonkeyPatch, variables: dict[str, str], said: str
) -> None:
    for name, value in variables.items():
        clean_env.setenv(f"KPGW_INGRESS__{name}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert said in caught.value.message
    result = CliRunner().invoke(cli, ["run", "--only", "ingress"])
    assert result.exit_code == 2
    assert said in result.output


def _context(pem: Path, cert: str, key: str, ca: str | None = None) -> ssl.SSLContext | None:
    return server_ssl_context(
        IngressSettings(
            tls_certfile=pem / cert,
            tls_keyfile=pem / key,
            tls_client_cafile=pem / ca if ca else None,
        )
    )


def test_a_certificate_and_its_key_load(pem: Path) -> None:
    assert _context(pem, "server.pem", "server.key") is not None
    assert _context(pem, "both.pem", "both.pem") is not None  # one file holding both
    mutual = _context(pem, "server.pem", "server.key", "other.pem")
    assert mutual is not None and mutual.verify_mode == ssl.CERT_OPTIONAL


@pytest.mark.parametrize(
    ("cert", "key", "ca", "said"),
    [
        ("missing.pem", "server.key", None, "KPGW_INGRESS__TLS_CERTFILE={pem}/missing.pem: no such file"),
        ("server.pem", "missing.key", None, "KPGW_INGRESS__TLS_KEYFILE={pem}/missing.key: no such file"),
        ("server.pem", "server.key", "missing.pem", "KPGW_INGRESS__TLS_CLIENT_CAFILE={pem}/missing.pem: no such file"),
        (".", "server.key", None, "KPGW_INGRESS__TLS_CERTFILE={pem}: not a file"),
        ("junk.pem", "server.key", None, "KPGW_INGRESS__TLS_CERTFILE={pem}/junk.pem: not a PEM certificate"),
        ("server.key", "server.key", None, "KPGW_INGRESS__TLS_CERTFILE={pem}/server.key: not a PEM certificate"),
        ("server.pem", "other.key", None, "KPGW_INGRESS__TLS_CERTFILE={pem}/server.pem: does not match KPGW_INGRESS__TLS_KEYFILE={pem}/other.key"),
        ("server.pem", "junk.pem", None, "KPGW_INGRESS__TLS_KEYFILE={pem}/junk.pem: not a PEM private key"),
        ("server.pem", "encrypted.key", None, "KPGW_INGRESS__TLS_KEYFILE={pem}/encrypted.key: the private key is encrypted"),
        ("server.pem", "server.key", "junk.pem", "KPGW_INGRESS__TLS_CLIENT_CAFILE={pem}/junk.pem: not PEM CA certificates"),
    ],
)  # fmt: skip
def test_each_tls_file_error_names_its_setting_and_file(
    pem: Path, cert: str, key: str, ca: str | None, said: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _context(pem, cert, key, ca)
    assert said.format(pem=pem) in caught.value.message
