"""The participant registry: who takes part, which pairs exchange digitally, and how."""

from gateway.registry.loader import load_registry, load_registry_text
from gateway.registry.model import (
    NumberSeries,
    Pair,
    Participant,
    ParticipantRegistry,
    ParticipantStatus,
)

__all__ = [
    "NumberSeries",
    "Pair",
    "Participant",
    "ParticipantRegistry",
    "ParticipantStatus",
    "load_registry",
    "load_registry_text",
]
