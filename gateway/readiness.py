"""The readiness of the workers (translator, router) of this process, for whichever endpoint
serves it: the operations endpoints of a worker-only process (``gateway.ops_http``), whose
``ready`` it is, and the ingress's ``/readyz`` under ``kpgw run``, which shows it under
``workers`` without failing on it (the ingress still accepts documents durably while the
router restores: they wait on kp.inbound). Pure: the caller asks the broker for its topics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gateway.metrics import pipeline_metrics
from gateway.registry.watch import RegistryWatcher
from gateway.settings import Settings

#: component -> the topic suffixes its readiness requires (from the registry for the router)
TopicsOf = Callable[[str], tuple[str, ...]]


def component_topics(settings: Settings, registry: RegistryWatcher | None = None) -> TopicsOf:
    """``registry``: the router's topics depend on it (re-read only when the file changes;
    the serving process polls it, or a failure it met stayed on /metrics until a probe)."""
    registry = registry or RegistryWatcher(settings.partners_file)

    def topics(component: str) -> tuple[str, ...]:
        if component == "translator":
            from gateway.translator.worker import TRANSLATOR_TOPICS

            return TRANSLATOR_TOPICS
        if component == "router":
            from gateway.router.preflight import router_topic_suffixes

            return router_topic_suffixes(registry.current())
        return ()

    return topics


def worker_checks(component: str, healths: Sequence[Any]) -> dict[str, Any]:
    """Readiness of one component from its workers' ``health()``: at least one worker, all
    in their group (``{component}_waiting`` says why one is not yet: after a crash the group
    waits for the dead member's session to time out), none holding partitions back, none
    whose writes the broker refuses for their time stamps (``{component}_clock`` says so:
    the host's clock is ahead), none holding a partition because a dead letter does not fit
    kp.dlq (``{component}_dead_letter_topic``: its limit, the size needed, the fix). A
    router's partitions held for states a newer router wrote are said as
    ``router_newer_states``, and a router host clock behind its records as
    ``router_clock_behind`` (ready all the same: nothing is decided early)."""
    held = sorted({p for health in healths for p in health.get("held", ())})
    clock = next((h["clock"] for h in healths if h.get("clock")), None)
    newer = next((h["newer_states"] for h in healths if h.get("newer_states")), None)
    behind = next((h["clock_behind"] for h in healths if h.get("clock_behind")), None)
    too_small = next((h["dead_letter_topic"] for h in healths if h.get("dead_letter_topic")), None)
    waiting = next(
        (h["waiting"] for h in healths if not h.get("joined") and h.get("waiting")), None
    )
    return {
        component: bool(healths)
        and all(h.get("joined") for h in healths)
        and not held
        and clock is None
        and too_small is None,
        **({f"{component}_waiting": waiting} if waiting else {}),
        **({f"{component}_restoring_partitions": held} if held else {}),
        **({f"{component}_newer_states": newer} if newer else {}),
        **({f"{component}_clock_behind": behind} if behind else {}),  # said, still ready
        **({f"{component}_clock": clock} if clock else {}),
        **({f"{component}_dead_letter_topic": too_small} if too_small else {}),
    }


def components_checks(
    components: Iterable[str], found: set[str] | None, prefix: str, topics_of: TopicsOf
) -> dict[str, Any]:
    """The checks of ``components`` together: the broker answered (``found``: its topic
    names, None when it did not), their topics exist (``missing_topics`` names those that
    do not), and each one's ``worker_checks``."""
    components = tuple(components)
    missing = sorted(
        {
            f"{prefix}{suffix}"
            for component in components
            for suffix in topics_of(component)
            if found is None or f"{prefix}{suffix}" not in found
        }
    )
    checks: dict[str, Any] = {"broker": found is not None, "topics": not missing}
    if found is not None and missing:
        checks["missing_topics"] = missing
    for component in components:
        checks.update(worker_checks(component, pipeline_metrics().health(component)))
    return checks


def verdict(checks: dict[str, Any]) -> bool:
    """Ready when every yes-or-no check is yes (the others say why one is not)."""
    return all(value for value in checks.values() if isinstance(value, bool))


def workers_report(
    components: Iterable[str], found: set[str] | None, prefix: str, topics_of: TopicsOf
) -> dict[str, dict[str, Any]]:
    """For each component, the ``ready`` and ``checks`` that ``kpgw run --only <component>``
    would answer on its own ``/readyz``: one vocabulary whichever process hosts it."""
    report = {}
    for component in components:
        checks = components_checks((component,), found, prefix, topics_of)
        report[component] = {"ready": verdict(checks), "checks": checks}
    return report
