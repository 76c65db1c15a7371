"""The host's clock as the broker judges it.

Every record a producer writes carries this host's time as its CreateTime (aiokafka's
compiled record builder reads ``gettimeofday``, not ``time.time``). A Kafka 4 broker
refuses a batch whose time stamp is more than ``log.message.timestamp.after.max.ms``
(default 1 hour since 4.0) ahead of its own clock with ``InvalidTimestampException``
(error 32); a stamp in the past is accepted (``before.max.ms`` is unbounded by default).
Retrying cannot help until the clock is fixed, and the generic "the batch failed" said
nothing of the cause: each component reports it here, the log line and the gauge naming
the clock (docs/metrics.md, ``kpgw_clock_ahead_of_broker``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import structlog
from aiokafka.errors import InvalidTimestampError

from gateway.metrics import CLOCK_REFUSED, pipeline_metrics

log = structlog.get_logger(__name__)

HINT = (
    "the broker refused records stamped with this host's clock (InvalidTimestampException): "
    "the clock is ahead of the broker's by more than log.message.timestamp.after.max.ms "
    "(1 hour by default in Kafka 4); nothing was written (a worker retries its batch, the "
    "ingress answers 503): "
    "set the host's time right (NTP)"
)
#: A component refused this recently is not ready (``recently_refused``): long enough
#: for a load balancer to take an ingress out, short enough that it gets requests again
#: (and so learns) once the clock was set right.
READY_HOLD_S = 30.0


def refused_for_clock(error: BaseException | None) -> bool:
    """Whether ``error`` (or an exception it was raised from) is the broker refusing our
    time stamps."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, InvalidTimestampError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def clock_refused(component: str, **context: object) -> None:
    """Record and log a write of ``component`` refused for its time stamps."""
    CLOCK_REFUSED[component] = time.monotonic()
    pipeline_metrics().clock_refusals.labels(component).inc()
    log.warning(
        "clock_ahead_of_broker",
        component=component,
        host_time=datetime.now(UTC).isoformat(timespec="seconds"),
        hint=HINT,
        **context,
    )


def clock_accepted(component: str) -> None:
    """A write of ``component`` was accepted: its clock is (again) within the broker's
    bound."""
    if CLOCK_REFUSED.pop(component, None) is not None:
        log.info("clock_accepted_by_broker", component=component)


def recently_refused(component: str, within_s: float = READY_HOLD_S) -> bool:
    at = CLOCK_REFUSED.get(component)
    return at is not None and time.monotonic() - at < within_s
