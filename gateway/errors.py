"""One error tree for the whole gateway.

Every failure a message can meet is a ``GatewayError`` with a stable machine ``code`` and a
``retriable`` flag. Workers branch on the flag, never on type names: retriable errors are
retried with backoff and never dead-lettered; everything else is dead-lettered at once with
``code`` as the ``kpgw-reason`` header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

#: A finding or an error may quote what the document holds (a TypeCode, an HS code, a
#: sender's value): a document built for it made a 100 KB value a 100 KB message in
#: ``kpgw validate``'s output and the DLQ's headers (a fuzzing review). Cut in the middle,
#: so the advice at the end of a message survives.
MAX_MESSAGE_CHARS = 1000
_KEPT_HEAD = 700


def bounded_message(message: str) -> str:
    """``message`` as a finding or an error may carry it: at most about
    ``MAX_MESSAGE_CHARS`` characters, its middle left out when longer, and saying so."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    tail = MAX_MESSAGE_CHARS - _KEPT_HEAD
    left_out = len(message) - MAX_MESSAGE_CHARS
    return f"{message[:_KEPT_HEAD]}[... {left_out:,} characters left out ...]{message[-tail:]}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One precise thing wrong with a document: what, where, and how to fix it."""

    code: str
    message: str
    line: int | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if len(self.message) > MAX_MESSAGE_CHARS:
            object.__setattr__(self, "message", bounded_message(self.message))

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "line": self.line, "path": self.path}

    def describe(self, max_message: int | None = None) -> str:
        """One line: ``CODE (line 6, /rsm:.../ram:Foo): message``."""
        message = self.message if max_message is None else self.message[:max_message]
        return finding_line(self.code, message, self.line, self.path)


def finding_line(code: object, message: object, line: object = None, path: object = None) -> str:
    """A finding in one line, ``CODE (line 6, /rsm:.../ram:Foo): message``: a ``Finding``'s,
    or one read back from JSON (a problem answer, a dead letter's headers)."""
    where = ", ".join(str(part) for part in (f"line {line}" if line else "", path) if part)
    return f"{code}" + (f" ({where})" if where else "") + f": {message}"


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    retriable: ClassVar[bool] = False

    def __init__(self, message: str, *, findings: tuple[Finding, ...] = ()) -> None:
        message = bounded_message(message)
        super().__init__(message)
        self.message = message
        self.findings = findings
        #: The adapter that judged the document, when one was found (``adapters.pipeline``
        #: sets it; the innermost one for an envelope): the DLQ's ``kpgw-adapter``.
        self.adapter: str | None = None
        #: The certificate the document is about, when it was read before the refusal
        #: (KP rules, sender check): the sender's status names it.
        self.certificate_id: str | None = None
        #: What the document was read as then: "certificate", "confirmation" or "void".
        self.document_kind: str | None = None

    @property
    def reason(self) -> str:
        """The stable reason code: the first finding's code, else the class code."""
        return self.findings[0].code if self.findings else self.code


class ConfigurationError(GatewayError):
    """The gateway's own configuration (settings, participant registry) is wrong."""

    code = "CONFIGURATION_ERROR"


class EnvironmentProblem(GatewayError):
    """Something outside the gateway is missing: a JDK, Maven, a free port, a download."""

    code = "ENVIRONMENT_ERROR"


class MessageRejected(GatewayError):
    """A message is permanently invalid; it is dead-lettered with its findings."""

    code = "MESSAGE_REJECTED"


class NotXml(MessageRejected):
    code = "NOT_XML"


class UnsafeXml(MessageRejected):
    code = "UNSAFE_XML"


class UnknownFormat(MessageRejected):
    code = "UNKNOWN_FORMAT"


class SchemaViolation(MessageRejected):
    code = "XSD_VIOLATION"


class MappingFailed(MessageRejected):
    """The document is schema-valid but cannot be mapped to a canonical event."""

    code = "MAPPING_FAILED"


class BusinessRuleViolation(MessageRejected):
    code = "KP_RULE_VIOLATION"


class UnauthorisedSender(MessageRejected):
    code = "UNAUTHORISED_SENDER"


class UndecodableEvent(MessageRejected):
    code = "UNDECODABLE_AVRO"


class PoisonPill(MessageRejected):
    code = "POISON_PILL"


class EventTooLarge(MessageRejected):
    """The canonical event would be larger than the gateway writes to ``kp.events``."""

    code = "EVENT_TOO_LARGE"


class InvalidInboundHeader(MessageRejected):
    """A Kafka-native record's header the gateway cannot use as it is (too long, not a
    time stamp)."""

    code = "INVALID_INBOUND_HEADER"


class TransientFailure(GatewayError):
    """Broker unavailable, timeouts: retry with backoff, never dead-letter."""

    code = "TRANSIENT"
    retriable = True


class DeadLetterTooLarge(TransientFailure):
    """The dead-letter topic refused a dead letter as too large (a ``max.message.bytes``
    below what the gateway creates it with): the transaction is retried with the letter cut
    to what the refusal taught (``gateway.dlq.publisher``)."""

    code = "DEAD_LETTER_TOO_LARGE"


class DeadLetterTopicTooSmall(TransientFailure):
    """The dead-letter topic's ``max.message.bytes`` is below the smallest dead letter the
    gateway can cut this one to: the transaction is retried (the record is never lost)
    until the topic's limit is raised (``gateway.dlq.publisher``)."""

    code = "DEAD_LETTER_TOPIC_TOO_SMALL"


class NewerRouterStates(TransientFailure):
    """A changelog partition holds states a newer router wrote (a ``RouterState`` schema
    this version does not know): its restore is refused and retried, the partition held,
    rather than those certificates started afresh and their outcomes lost (an upgrade
    review). It passes once the newer router owns the partition again."""

    code = "NEWER_ROUTER_STATES"


@dataclass(slots=True)
class Findings:
    """A collector used by parsers and rules to gather every finding before failing once."""

    items: list[Finding] = field(default_factory=list)
    limit: int = 50  # as for schema violations; the rest are counted in ``omitted``
    omitted: int = 0

    def add(
        self, code: str, message: str, *, line: int | None = None, path: str | None = None
    ) -> None:
        if len(self.items) >= self.limit:
            self.omitted += 1
            return
        self.items.append(Finding(code, message, line, path))

    def __bool__(self) -> bool:
        return bool(self.items)

    def as_tuple(self) -> tuple[Finding, ...]:
        return tuple(self.items)
