"""A validation worker whose judging is scripted by the document's text, around the real
``serve`` loop (its grouping, its progress slot), for ``test_validator_groups``:
``slow:<name>`` takes 0.3 s, ``crash:<name>`` ends the process at once, ``hang:<name>``
never ends; anything else is answered with the text itself at once."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

from gateway.ingress import validation_worker
from gateway.registry import ParticipantRegistry


def scripted(raw: bytes, participant: str, received_at: datetime, registry: object) -> object:
    del participant, received_at, registry
    if raw.startswith(b"slow:"):
        time.sleep(0.3)
    elif raw.startswith(b"crash:"):
        os._exit(3)
    elif raw.startswith(b"hang:"):
        time.sleep(3600)
    return "error", raw.decode()


def _no_warm_up(registry: ParticipantRegistry) -> None:
    del registry


if __name__ == "__main__":
    validation_worker.outcome_of = scripted  # type: ignore[assignment]
    validation_worker.warm_up = _no_warm_up
    sys.argv[0] = "scripted_worker"
    validation_worker.main()
