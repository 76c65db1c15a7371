"""Identity: bearer tokens against registry hashes, client certificate subjects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.demo_tokens import demo_token
from gateway.errors import ConfigurationError
from gateway.ingress.auth import (
    Authenticator,
    bearer_token,
    participant_from_subject,
    server_ssl_context,
)
from gateway.ingress.problems import Problem
from gateway.registry import ParticipantRegistry, load_registry_text
from gateway.registry.loader import example_registry_path
from gateway.settings import IngressSettings


@pytest.fixture(scope="module")
def registry() -> ParticipantRegistry:
    text = example_registry_path().read_text()
    return load_registry_text(
        text.replace("[participants.SL]\n", '[participants.SL]\nstatus = "suspended"\n')
    )


class Transport:
    def __init__(self, peercert: dict[str, Any] | None) -> None:
        self.peercert = peercert

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.peercert if name == "peercert" else default

    def is_closing(self) -> bool:
        return False


def request(authorization: str | None = None, peercert: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return make_mocked_request(
        "POST", "/v1/messages", headers=headers, transport=Transport(peercert)
    )


def subject(**fields: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    return tuple(((name, value),) for name, value in fields.items())


def test_bearer_header_parsing() -> None:
    assert bearer_token(None) is None
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    bad_bytes = ("Bearer \udcff", "Bearer tok\u00e9n", "Bearer a\x00b", "Bearer a\tb")
    for bad in ("Basic abc", "Bearer", "Bearer a b", "abc", "Bearer " + "x" * 600, *bad_bytes):
        with pytest.raises(Problem) as caught:
            bearer_token(bad)
        assert caught.value.status == 401
        assert 'error="invalid_request"' in caught.value.headers["WWW-Authenticate"]


def test_tokens_name_their_participant(registry: ParticipantRegistry) -> None:
    auth = Authenticator(lambda: registry, mutual_tls=False)
    identity = auth.authenticate(request(f"Bearer {demo_token('RU')}"))
    assert (identity.participant, identity.method) == ("RU", "token")
    assert auth.authenticate(request(f"Bearer {demo_token('EU')}")).participant == "EU"


@pytest.mark.parametrize("header", [None, "Bearer kpgw_ru_guess", f"Bearer {demo_token('RU')}x"])
def test_missing_or_wrong_tokens_are_401_with_a_challenge(
    registry: ParticipantRegistry, header: str | None
) -> None:
    auth = Authenticator(lambda: registry, mutual_tls=False)
    with pytest.raises(Problem) as caught:
        auth.authenticate(request(header))
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"].startswith('Bearer realm="kpgw"')
    assert demo_token("RU") not in caught.value.detail


def test_a_suspended_participant_is_403(registry: ParticipantRegistry) -> None:
    auth = Authenticator(lambda: registry, mutual_tls=False)
    with pytest.raises(Problem) as caught:
        auth.authenticate(request(f"Bearer {demo_token('SL')}"))
    assert caught.value.status == 403 and caught.value.slug == "participant-suspended"


def test_certificate_subject_cn_then_o(registry: ParticipantRegistry) -> None:
    assert participant_from_subject(subject(countryName="RU", commonName="RU"), registry) == "RU"
    assert (
        participant_from_subject(subject(organizationName="EU", commonName="traces"), registry)
        == "EU"
    )
    assert participant_from_subject(subject(commonName="ZZ"), registry) is None
    assert participant_from_subject(None, registry) is None


def test_certificate_identity_and_its_agreement_with_a_token(registry: ParticipantRegistry) -> None:
    auth = Authenticator(lambda: registry, mutual_tls=True)
    ru_cert = {"subject": subject(commonName="RU")}
    identity = auth.authenticate(request(None, ru_cert))
    assert (identity.participant, identity.method) == ("RU", "certificate")
    assert auth.authenticate(request(f"Bearer {demo_token('RU')}", ru_cert)).participant == "RU"
    with pytest.raises(Problem, match="different participants"):
        auth.authenticate(request(f"Bearer {demo_token('BW')}", ru_cert))
    with pytest.raises(Problem, match="names no participant"):
        auth.authenticate(request(None, {"subject": subject(commonName="ZZ")}))
    # Without mutual TLS configured, a peer certificate is ignored entirely.
    plain = Authenticator(lambda: registry, mutual_tls=False)
    with pytest.raises(Problem):
        plain.authenticate(request(None, ru_cert))


def test_tls_settings(tmp_path: Path) -> None:
    """More in test_tls_files.py."""
    assert server_ssl_context(IngressSettings()) is None
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigurationError, match=f"KPGW_INGRESS__TLS_CERTFILE={missing}: no such"):
        server_ssl_context(IngressSettings(tls_certfile=missing, tls_keyfile=missing))


def test_a_verified_token_is_remembered_per_registry_and_unknown_ones_never(
    registry: ParticipantRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[str] = []
    full_scan = ParticipantRegistry.participant_for_token

    def counting(self: ParticipantRegistry, token: str) -> str | None:
        scans.append(token)
        return full_scan(self, token)

    monkeypatch.setattr(ParticipantRegistry, "participant_for_token", counting)
    current = [registry]
    auth = Authenticator(lambda: current[0], mutual_tls=False)
    good = f"Bearer {demo_token('RU')}"
    assert auth.authenticate(request(good)).participant == "RU"
    assert auth.authenticate(request(good)).participant == "RU"
    assert len(scans) == 1  # the second request found the verified token
    for _ in range(2):
        with pytest.raises(Problem):
            auth.authenticate(request("Bearer not-a-token"))
    assert len(scans) == 3  # a token that matched nothing is scanned every time
    # A reloaded registry (a token may have been revoked) starts from nothing.
    current[0] = registry.model_copy()
    assert auth.authenticate(request(good)).participant == "RU"
    assert len(scans) == 4


def test_a_certificate_naming_a_member_state_is_told_its_participant(
    registry: ParticipantRegistry,
) -> None:
    """An importing authority's walkthrough: a Belgian system's certificate (CN=BE) was
    refused as naming "no participant", as if Belgium were unknown; the EU is the KP
    participant its systems send as. Still refused: the CA must issue the identity."""
    auth = Authenticator(lambda: registry, mutual_tls=True)
    be_cert = {"subject": subject(commonName="BE", organizationName="FPS Economy")}
    with pytest.raises(Problem) as caught:
        auth.authenticate(request(None, be_cert))
    assert caught.value.status == 401
    assert caught.value.detail.endswith(
        "names no participant (BE is a member state of EU, which is the KP participant: a "
        "certificate for its systems names EU as CN or O)"
    )
    with pytest.raises(Problem) as unknown:
        auth.authenticate(request(None, {"subject": subject(commonName="ZZ")}))
    assert unknown.value.detail.endswith("names no participant")


def test_an_authorization_header_given_twice_with_different_values_is_refused(
    registry: ParticipantRegistry,
) -> None:
    """The first was taken without a word: a request carrying two tokens (its own and a
    proxy's, say) was judged by whichever came first."""
    from multidict import CIMultiDict

    auth = Authenticator(lambda: registry, mutual_tls=False)
    for second in (f"Bearer {demo_token('EU')}", "Bearer kpgw_ru_guess"):
        headers = CIMultiDict([("Authorization", f"Bearer {demo_token('RU')}")])
        headers.add("Authorization", second)
        twice = make_mocked_request(
            "POST", "/v1/messages", headers=headers, transport=Transport(None)
        )
        with pytest.raises(Problem) as caught:
            auth.authenticate(twice)
        assert caught.value.status == 401
        assert "given 2 times with different values" in caught.value.detail
        assert 'error="invalid_request"' in caught.value.headers["WWW-Authenticate"]
    same = CIMultiDict([("Authorization", f"Bearer {demo_token('RU')}")] * 2)
    repeated = make_mocked_request("POST", "/v1/messages", headers=same, transport=Transport(None))
    assert auth.authenticate(repeated).participant == "RU"
