"""What is safe on loopback only: the public demo tokens of the example registry, and the
operator pages without a token. Off loopback the ingress refuses to start with them
(found by a security review: a plain ``kpgw run`` on 0.0.0.0 accepted the demo tokens,
which anyone can compute, for every participant)."""

from __future__ import annotations

from gateway.errors import ConfigurationError
from gateway.registry import ParticipantRegistry
from gateway.settings import Settings

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def exposure_problems(settings: Settings, registry: ParticipantRegistry, host: str) -> list[str]:
    """Why serving on ``host`` would be unsafe (empty on loopback, or when allowed)."""
    if host in LOOPBACK or settings.ingress.allow_insecure_off_loopback:
        return []
    found = []
    holders = registry.demo_token_holders()
    if holders:
        found.append(
            f"the participant registry accepts the public demo tokens of {', '.join(holders)} "
            "(anyone can compute them): use a registry with your own tokens "
            "(KPGW_PARTNERS_FILE, kpgw registry token P)"
        )
    if settings.ingress.dashboard_token is None:
        found.append("the dashboard is open without a token: set KPGW_INGRESS__DASHBOARD_TOKEN")
    found += open_metrics_problems(settings, host)
    return found


def open_metrics_problems(settings: Settings, host: str) -> list[str]:
    """The ingress's rule for ``/metrics``, which a worker's operations endpoints follow
    too (``gateway.ops_http``)."""
    if host in LOOPBACK or settings.ingress.allow_insecure_off_loopback:
        return []
    if settings.ingress.metrics_token is None:
        return ["/metrics is open without a token: set KPGW_INGRESS__METRICS_TOKEN"]
    return []


def refuse_unsafe_exposure(settings: Settings, registry: ParticipantRegistry, host: str) -> None:
    problems = exposure_problems(settings, registry, host)
    if problems:
        raise ConfigurationError(
            f"refusing to serve on {host} (not loopback): "
            + "; ".join(problems)
            + ". For a local trial behind a port bound to loopback (docker-compose), set "
            "KPGW_INGRESS__ALLOW_INSECURE_OFF_LOOPBACK=true."
        )
