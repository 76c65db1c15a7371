"""A validation worker process: ``python -m gateway.ingress.validation_worker``.

Reads requests from stdin and writes verdicts to stdout, each a frame
(``gateway.ingress.frames``: a 4-byte big-endian length, then a pickle). The parent
(``gateway.ingress.validator``) is the only peer, and both ends are this code base: the
pickles never come from a sender. A request is
``(request_id, raw, participant, received_at)``; the answer ``(request_id, outcome)``
where outcome is a ``Verdict``, a refusal ``(slug, detail, findings)`` or, for an
unexpected error, ``("error", repr)``.

Each read takes every request the pipe holds, and their verdicts leave in one write once
all are judged (sooner before a large document, or after ``GROUP_WAIT_S``): under load the
ingress sends requests faster than one worker judges them, and a write and a wake-up per
verdict cost both processes more CPU than the framing. Since a verdict can wait for its
group, the worker stores the id of each request it finished in the ``Progress`` slot whose
descriptor is its first argument: the ingress reads it to know which document a dead or
stuck worker was on.

The participant registry comes from the parent too, never from the file: a
``ParticipantRegistry`` frame first, then one each time the parent's watcher takes an edit,
judging every later request. So a worker judges with the registry the ingress has, from
the moment it has it: no request pays a reload, a worker never lags behind, and an edit
that cannot be taken (already on the ingress's /readyz and /metrics) cannot make a worker
fail differently, nor keep a new one from starting. On its first registry the worker
compiles every adapter's schemas and answers ``(0, "ready")``. It ends when stdin closes.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import time
from datetime import UTC, datetime
from typing import Any

from gateway.ingress.frames import FrameReader, Progress, frame
from gateway.ingress.problems import Problem
from gateway.ingress.validation import judge
from gateway.logs import configure_logging
from gateway.registry import ParticipantRegistry

READY = "ready"
#: Bytes asked of the pipe per read: a default pipe holds 64 KiB.
READ_SIZE = 1 << 16
#: A document at least this large (costly to judge: the cost follows the size) is judged
#: after the verdicts before it are out, not while they wait.
LARGE_DOCUMENT_BYTES = 64 * 1024
#: Verdicts wait at most this long for the rest of their group.
GROUP_WAIT_S = 0.01


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


class _Requests:
    """The frames on the worker's input, read as they come: each read takes whatever the
    pipe holds, so requests queued meanwhile arrive together."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.frames = FrameReader()
        self.queued: collections.deque[Any] = collections.deque()

    def wait(self) -> bool:
        """Blocks until at least one frame is queued; False at the end of the input."""
        while not self.queued:
            data = os.read(self.fd, READ_SIZE)
            if not data:
                return False
            self.queued.extend(self.frames.feed(data))
        return True


def _write_all(fd: int, data: bytes) -> None:
    with memoryview(data) as whole:
        written = 0
        while written < len(whole):
            written += os.write(fd, whole[written:])


class _Verdicts:
    """Verdicts waiting to leave in one write: one system call, and one wake-up of the
    ingress, for a group instead of one each."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.frames: list[bytes] = []
        self.since = 0.0

    def add(self, verdict: bytes) -> None:
        if not self.frames:
            self.since = time.monotonic()
        self.frames.append(verdict)

    def send(self) -> None:
        if self.frames:
            _write_all(self.fd, b"".join(self.frames))
            self.frames = []

    def send_before(self, raw: bytes) -> None:
        """Sends the group before judging ``raw`` if waiting longer would hold it up: a large
        (costly) document, or a group waiting ``GROUP_WAIT_S`` already."""
        if self.frames and (
            len(raw) >= LARGE_DOCUMENT_BYTES or time.monotonic() - self.since >= GROUP_WAIT_S
        ):
            self.send()


def serve(requests_fd: int, answers_fd: int, progress: Progress) -> None:
    """Judges requests in the order they come. The verdicts on the requests read together
    leave together; each request's id is stored in ``progress`` once judged."""
    requests = _Requests(requests_fd)
    if not requests.wait():
        return
    registry = requests.queued.popleft()
    if not isinstance(registry, ParticipantRegistry):
        return  # the parent went before sending the registry, or is not the ingress
    warm_up(registry)
    _write_all(answers_fd, frame((0, READY)))
    verdicts = _Verdicts(answers_fd)
    while requests.wait():
        while requests.queued:
            request = requests.queued.popleft()
            if isinstance(request, ParticipantRegistry):
                registry = request  # the ingress took an edit: every later request uses it
                continue
            request_id, raw, participant, received_at = request
            verdicts.send_before(raw)
            outcome = outcome_of(raw, participant, received_at, registry)
            verdicts.add(frame((request_id, outcome)))
            progress.finished(request_id)
        verdicts.send()  # before waiting for more


def main() -> None:
    # Frames own the real stdout; whatever else would print there (a log line, a library's
    # warning) goes to stderr, which the parent's log shares.
    answers = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    configure_logging(fmt="json", level=os.environ.get("KPGW_LOG_LEVEL", "warning"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the ingress decides when it ends
    progress = Progress(int(sys.argv[1]))
    try:
        serve(sys.stdin.fileno(), answers, progress)
    except BrokenPipeError:  # the ingress is gone: nobody to answer
        os._exit(0)


if __name__ == "__main__":
    main()
