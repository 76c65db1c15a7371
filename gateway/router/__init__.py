"""The router: match every certificate with its import confirmation (DESIGN.md section 4).

The pure core lives here: ``decide`` (one event) and ``tick`` (the wall clock) turn one
certificate's ``CertificateState`` into a ``Decision`` (new state + ``Emission`` records).
No Kafka, no asyncio, no clock reading; the Kafka driver builds on this API. See
docs/router.md.
"""

from gateway.router.core import Decision, decide, tick
from gateway.router.records import (
    DeliveryState,
    Difference,
    Emission,
    NotificationType,
    OutcomeKind,
    TopicKind,
)
from gateway.router.state import (
    STATE_SCHEMA,
    CertificateState,
    ConfirmationStatus,
    state_from_avro,
    state_to_avro,
)
from gateway.router.timers import DEFAULT_CONFIG, RouterConfig, next_deadline

__all__ = [
    "DEFAULT_CONFIG",
    "STATE_SCHEMA",
    "CertificateState",
    "ConfirmationStatus",
    "Decision",
    "DeliveryState",
    "Difference",
    "Emission",
    "NotificationType",
    "OutcomeKind",
    "RouterConfig",
    "TopicKind",
    "decide",
    "next_deadline",
    "state_from_avro",
    "state_to_avro",
    "tick",
]
