"""A validation worker process: ``python -m gateway.ingress.validation_worker``.

Reads requests from stdin and writes verdicts to stdout, each a frame: a 4-byte big-endian
length, then a pickle. The parent (``gateway.ingress.validator``) is the only peer, and
both ends are this code base: the pickles never come from a sender. A request is
``(request_id, raw, participant, received_at)``; the answer ``(request_id, outcome)``
where outcome is a ``Verdict``, a refusal ``(slug, detail, findings)`` or, for an
unexpected error, ``("error", repr)``.

The participant registry comes from the parent too, never from the file: a
``ParticipantRegistry`` frame first, then one each time the parent's watcher takes an edit,
judging every later request. So a worker judges with the registry the ingress has, from
the moment it has it: no request pays a reload, a worker never lags behind, and an edit
that cannot be taken (already on the ingress's /readyz and /metrics) cannot make a worker
fail differently, nor keep a new one from starting. On its first registry the worker
compiles every adapter's schemas and answers ``(0, "ready")``. It ends when stdin closes.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
from datetime import UTC, datetime
from typing import Any, BinaryIO

from gateway.ingress.problems import Problem
from gateway.ingress.validation import judge
from gateway.logs import configure_logging
from gateway.registry import ParticipantRegistry

HEADER = struct.Struct(">I")
READY = "ready"


def read_frame(stream: BinaryIO) -> Any | None:
    """The next frame's object, or None at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return unframe(body)


def unframe(body: bytes) -> Any:
    """A frame's object, from the bytes after its length (both ends are this code base)."""
    return pickle.loads(body)  # noqa: S301 - written by the peer process, our own code


def frame(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def outcome_of(
    raw: bytes, participant: str, received_at: datetime, registry: ParticipantRegistry
) -> object:
    try:
        return judge(raw, participant, registry, received_at)
    except Problem as problem:
        return problem.slug, problem.detail, tuple(problem.findings)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which answers 500
        return "error", repr(exc)[:2000]


def warm_up(registry: ParticipantRegistry) -> None:
    """Compile every adapter's schemas and run its code once, on generated documents."""
    from adapters import registry as adapter_registry
    from gateway.generate import GenerateOptions, generate

    for name in sorted(adapter_registry.adapters()):
        try:
            for story in generate(GenerateOptions(pairs=1, seed=0, format=name), registry):
                for item in story.files:
                    outcome_of(item.content, item.sender, datetime.now(UTC), registry)
        except Exception:  # noqa: BLE001, S112 - warming is best effort
            continue


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    registry = read_frame(requests)
    if not isinstance(registry, ParticipantRegistry):
        return  # the parent went before sending the registry, or is not the ingress
    warm_up(registry)
    answers.write(frame((0, READY)))
    answers.flush()
    while (request := read_frame(requests)) is not None:
        if isinstance(request, ParticipantRegistry):
            registry = request  # the ingress took an edit: every later request uses it
            continue
        request_id, raw, participant, received_at = request
        answers.write(frame((request_id, outcome_of(raw, participant, received_at, registry))))
        answers.flush()


def main() -> None:
    # Frames own the real stdout; whatever else would print there (a log line, a library's
    # warning) goes to stderr, which the parent's log shares.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    configure_logging(fmt="json", level=os.environ.get("KPGW_LOG_LEVEL", "warning"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the ingress decides when it ends
    try:
        with answers:
            serve(sys.stdin.buffer, answers)
    except BrokenPipeError:  # the ingress is gone: nobody to answer
        os._exit(0)


if __name__ == "__main__":
    main()
