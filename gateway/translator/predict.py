"""What a replay would do with a translator's dead letter now: translate the stored bytes,
with the headers a replay re-sends, against the registry in use, exactly as the translator
would. A letter whose cause is not fixed yet (the pair still not enabled, the number series
still unregistered) would come straight back; an operator should hear that before the
replay, and the audit trail must not read as a remediation (an operator review).

Only translator-stage letters are predicted (their original topic is ``kp.inbound``): a
router's dead letter depends on the certificate's state, which only the router holds. A
poison pill is not translated either.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.dlq.replay import replay_headers
from gateway.dlq.store import DeadLetter
from gateway.errors import GatewayError
from gateway.registry import ParticipantRegistry
from gateway.translator.inbound import Inbound
from gateway.translator.worker import translate_record


@dataclass(slots=True)
class Prediction:
    #: dead letter id -> the reason it would be dead-lettered with again
    failing_again: dict[str, str] = field(default_factory=dict)
    translating: list[str] = field(default_factory=list)
    not_predicted: list[str] = field(default_factory=list)

    def by_reason(self) -> dict[str, int]:
        return dict(Counter(self.failing_again.values()).most_common())

    def summary(self) -> str | None:
        """One line for the operator, or None when every predicted letter translates."""
        if not self.failing_again:
            return None
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.by_reason().items())
        return (
            f"{len(self.failing_again)} of them would be dead-lettered again now ({reasons}): "
            "their cause is not fixed in the registry or the documents"
        )


def predict(
    letters: list[DeadLetter], registry: ParticipantRegistry, inbound_topic: str
) -> Prediction:
    prediction = Prediction()
    for letter in letters:
        if letter.original_topic != inbound_topic or letter.reason == "POISON_PILL":
            # A record that crashed or killed the translator is not translated here: it
            # could do the same to the operator's command.
            prediction.not_predicted.append(letter.id)
            continue
        reason = _translator_verdict(letter, registry)
        if reason is None:
            prediction.translating.append(letter.id)
        else:
            prediction.failing_again[letter.id] = reason
    return prediction


def _translator_verdict(letter: DeadLetter, registry: ParticipantRegistry) -> str | None:
    """The reason the translator would give now, or None when it would translate."""
    headers = replay_headers(letter, "prediction")
    timestamp_ms = int(letter.timestamp.timestamp() * 1000)
    coordinates = f"{letter.original_topic}/{letter.original_partition}/{letter.original_offset}"
    inbound = Inbound.of(letter.key, headers, timestamp_ms, coordinates)
    try:
        result = translate_record(letter.value, inbound, registry, max_attempts=1)
    except GatewayError:  # a retriable failure: nothing to say about the document
        return None
    return None if result.failure is None else result.failure.reason
