"""Off loopback, the ingress refuses what is only safe on loopback (found by a security
review: ``kpgw run`` on 0.0.0.0 with the default registry accepted the public demo
tokens for every participant, and the operator pages were open)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.errors import ConfigurationError
from gateway.ingress.app import serve
from gateway.ingress.exposure import exposure_problems
from gateway.registry import ParticipantRegistry, load_registry_text
from gateway.registry.model import hash_token
from gateway.settings import IngressSettings, Settings
from tests.log_capture import captured

OWN = load_registry_text(
    f'[participants.RU]\nname = "Russia"\ntoken_hashes = ["{hash_token("own")}"]\n'
)


def _settings(**ingress: object) -> Settings:
    return Settings(ingress=IngressSettings(**ingress))  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_may_use_the_demo_tokens_and_open_pages(
    example_registry: ParticipantRegistry, host: str
) -> None:
    assert exposure_problems(_settings(), example_registry, host) == []


def test_off_loopback_each_unsafe_default_is_named(example_registry: ParticipantRegistry) -> None:
    problems = exposure_problems(_settings(), example_registry, "0.0.0.0")
    assert len(problems) == 3
    assert "public demo tokens of" in problems[0] and "RU" in problems[0]
    assert "KPGW_INGRESS__DASHBOARD_TOKEN" in problems[1]
    assert "KPGW_INGRESS__METRICS_TOKEN" in problems[2]


def test_off_loopback_with_own_tokens_and_operator_tokens_is_fine() -> None:
    settings = _settings(dashboard_token=SecretStr("d" * 32), metrics_token=SecretStr("m" * 32))
    assert exposure_problems(settings, OWN, "10.0.0.5") == []


def test_an_explicit_trial_setting_allows_it(example_registry: ParticipantRegistry) -> None:
    settings = _settings(allow_insecure_off_loopback=True)
    assert exposure_problems(settings, example_registry, "0.0.0.0") == []


async def test_the_server_refuses_to_start_before_binding() -> None:
    with pytest.raises(ConfigurationError, match=r"refusing to serve on 0\.0\.0\.0"):
        async with serve(Settings(), host="0.0.0.0", port=0):
            pytest.fail("the ingress started")


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
async def test_plain_http_off_loopback_starts_with_a_warning(
    tmp_path: Path, host: str, warned: bool
) -> None:
    """Found by an operations review: off loopback without TLS the ingress started without
    a word. Plain HTTP behind a TLS-terminating proxy is legitimate, so it still starts."""
    registry = tmp_path / "participants.toml"
    registry.write_text(
        f'[participants.RU]\nname = "Russia"\ntoken_hashes = ["{hash_token("own")}"]\n'
    )
    settings = Settings(
        kafka_bootstrap="127.0.0.1:1",
        partners_file=registry,
        ingress=IngressSettings(
            validation_processes=0,
            dashboard_token=SecretStr("d" * 32),
            metrics_token=SecretStr("m" * 32),
        ),
    )
    with captured("gateway.ingress.app") as logs:
        async with serve(settings, host=host, port=0) as running:
            assert running.url.startswith(f"http://{host}:")
    plain = [line for line in logs if line["event"] == "ingress_plain_http_off_loopback"]
    assert bool(plain) is warned
    if warned:
        assert plain[0]["log_level"] == "warning"
        assert "TLS-terminating proxy" in plain[0]["detail"]
