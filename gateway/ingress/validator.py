"""Where the ingress's synchronous validation runs: on the event loop, or in worker processes.

Validation is CPU work in the translator's own code (parse, XSD, mapping, KP rules): about
0.2 ms for a usual certificate, but up to ~150 ms for a pathological 2 MB document
(thousands of repeated notes, each a finding). On the event loop that time is taken from every
other request, the health probes and the producer lanes: one participant sending such
documents at its rate limit would stall the ingress for everybody. With
``KPGW_INGRESS__VALIDATION_PROCESSES`` > 0 the work runs in that many worker processes
(``gateway.ingress.validation_worker``), and the event loop only waits for the verdict.

The workers speak length-prefixed pickles over their stdin/stdout
(``gateway.ingress.frames``; a worker answers the requests it read together in one write),
read and written by the event loop itself: no executor threads in the ingress
(``ProcessPoolExecutor``'s feeder and manager threads took more of the loop's CPU than the
validation they moved away). A request goes to the worker with the fewest requests in
flight.

A worker that dies (killed, out of memory, a crash in native code) fails the requests it
had with 503 and ``Retry-After`` (``not-ready``: nothing was accepted, a retry is safe),
as do requests while no worker is up, and is started again. A worker still on a
document when that request's deadline passes is taken for stuck and replaced the same way.

The workers do not read the participant registry file: the ingress hands each its
registry when it starts and again whenever the ingress's ``RegistryWatcher`` takes an edit
(polled every second), ahead of any later request on the same pipe. A worker thus judges
with the ingress's registry, never an older one, and no request pays a reload in a worker.

The document a worker was on when it died or got stuck (the oldest it had not finished: it
takes them in order and stores the last one it finished in a slot of shared memory, while
the verdicts of its group may still be on their way) is remembered by digest. One death may
be bad luck; a document that takes down ``CRASHES_TO_REFUSE`` workers is refused with 422
``DOCUMENT_CRASHES_VALIDATOR``, at once and without reaching a worker again: a 503 would
have the sender retry it forever, each retry killing a worker (found by a security review
of the worker processes).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import itertools
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import structlog

from gateway.errors import Finding
from gateway.ingress.frames import FrameReader, Progress, frame
from gateway.ingress.problems import Problem, retry_after
from gateway.ingress.validation import Verdict, judge
from gateway.ingress.validation_worker import READ_SIZE, READY
from gateway.registry import ParticipantRegistry
from gateway.registry.watch import RegistrySnapshot, RegistryWatcher

log = structlog.get_logger(__name__)

#: How long a worker may take to start (imports, schema compilation, warm-up).
START_TIMEOUT_S = 60.0
#: Between restarts of a worker that keeps dying.
RESTART_BACKOFF_S = 1.0
STOP_TIMEOUT_S = 5.0
#: What a worker process runs (``python -m``); tests put a stand-in here.
WORKER_MODULE = "gateway.ingress.validation_worker"


class Validator(Protocol):
    async def start(self) -> None: ...

    def ready(self) -> bool:
        """Whether a document sent now would be judged (for /readyz)."""
        ...

    async def judge(
        self, raw: bytes, participant: str, received_at: datetime, deadline: float | None = None
    ) -> Verdict:
        """The verdict on a valid document, or a ``Problem`` (400, 403, 413 or 422; 503
        when it cannot be judged by ``deadline``, in event-loop time)."""
        ...

    async def close(self) -> None: ...


class InLoopValidator:
    """Validates on the event loop: no extra processes (tests, small deployments)."""

    def __init__(self, registry: Callable[[], ParticipantRegistry]) -> None:
        self.registry = registry

    async def start(self) -> None:
        return None

    def ready(self) -> bool:
        return True

    async def judge(
        self, raw: bytes, participant: str, received_at: datetime, deadline: float | None = None
    ) -> Verdict:
        del deadline  # on the loop, nothing can interrupt the judgement
        return judge(raw, participant, self.registry(), received_at)

    async def close(self) -> None:
        return None


#: How long a client should wait after a worker stopped (restart backoff plus start).
RETRY_AFTER_S = 3.0


def _worker_gone() -> Problem:
    return Problem(
        "not-ready",
        "the validation worker is restarting (the one checking this document stopped); "
        "nothing was accepted, retry shortly",
        headers=retry_after(RETRY_AFTER_S),
    )


#: Workers a document may take down before it is refused; documents remembered at most.
CRASHES_TO_REFUSE = 2
SUSPECTS_KEPT = 1000
DOCUMENT_CRASHES_VALIDATOR = "DOCUMENT_CRASHES_VALIDATOR"


def _crasher_refused(deaths: int) -> Problem:
    message = (
        f"validating this document stopped the validator {deaths} times (a crash in the XML "
        "parser, a runaway document or memory exhausted); it is refused and will be until "
        "it changes. Check it for unusual structure or size; the gateway's operators have "
        "the details in their logs"
    )
    return Problem("invalid-document", message, (Finding(DOCUMENT_CRASHES_VALIDATOR, message),))


class Suspects:
    """How many workers each document (by SHA-256) took down, the latest ones kept."""

    def __init__(self, kept: int = SUSPECTS_KEPT) -> None:
        self.kept = kept
        self._deaths: OrderedDict[bytes, int] = OrderedDict()

    def deaths(self, digest: bytes) -> int:
        return self._deaths.get(digest, 0)

    def blame(self, digest: bytes) -> int:
        deaths = self._deaths.pop(digest, 0) + 1
        self._deaths[digest] = deaths
        while len(self._deaths) > self.kept:
            self._deaths.popitem(last=False)
        return deaths


class _Worker:
    """One worker process and the requests it has in flight."""

    def __init__(
        self, registry: Callable[[], ParticipantRegistry], index: int, suspects: Suspects
    ) -> None:
        #: The ingress's registry as it is now: what a (re)started worker gets first.
        self.registry = registry
        self.index = index
        self.suspects = suspects
        self.process: asyncio.subprocess.Process | None = None
        #: The last request the current process finished (it answers in groups).
        self.progress: Progress | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.digests: dict[int, bytes] = {}
        #: Set when this side killed the worker and blamed its document already.
        self.blamed = False
        self.reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.closing = False
        self.restarting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.ready.clear()
        self.blamed = False
        if self.progress is not None:
            self.progress.close()  # the previous process's: its reader has finished
        self.progress, progress_fd = Progress.create()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                WORKER_MODULE,
                str(progress_fd),
                pass_fds=(progress_fd,),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                # Its own session: a Ctrl-C or a service manager's signal to the whole
                # process group stops the ingress, which then closes the worker's input; the
                # worker must not die first and be taken for a crash. It also ends when the
                # ingress is killed outright: its input closes.
                start_new_session=True,
            )
        finally:
            os.close(progress_fd)  # the map and the worker keep the slot
        self.send_registry(self.registry())  # before anything else: it warms up with it
        self.reader = asyncio.create_task(self._read(self.process), name=f"validator-{self.index}")
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await self.ready.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            raise

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        frames = FrameReader()
        try:
            while data := await process.stdout.read(READ_SIZE):
                for request_id, outcome in frames.feed(data):
                    if outcome == READY and request_id == 0:
                        self.ready.set()
                        continue
                    self.digests.pop(request_id, None)
                    future = self.pending.pop(request_id, None)
                    if future is not None and not future.done():
                        future.set_result(outcome)
        except ConnectionError:
            pass  # the worker's stdout closed: it is gone
        finally:
            self.ready.clear()  # no new request goes to it
            if not self.closing and not self.blamed:
                on = self._request_on()
                if on is not None:
                    self._blame(on)
            self._fail_pending()
            if not self.closing:
                code = await process.wait()
                log.error("validation_worker_died", worker=self.index, exit_code=code)
                self.restarting = asyncio.get_running_loop().create_task(self._restart())

    def _request_on(self) -> int | None:
        """The request the worker is on: the oldest it has not finished. It judges them in
        the order sent (ids grow) and stores the last one it finished in ``progress``;
        verdicts of a group can still be on their way."""
        finished = self.progress.last_finished() if self.progress is not None else 0
        return min((rid for rid in self.pending if rid > finished), default=None)

    def _blame(self, request_id: int) -> None:
        """The worker stopped on this request: count its document, and refuse it with 422
        once it took down ``CRASHES_TO_REFUSE`` workers."""
        digest = self.digests.get(request_id)
        if digest is None:
            return
        deaths = self.suspects.blame(digest)
        log.error(
            "validation_worker_stopped_on_document",
            worker=self.index,
            sha256=digest.hex(),
            deaths=deaths,
        )
        future = self.pending.pop(request_id, None)
        self.digests.pop(request_id, None)
        if future is not None and not future.done():
            error = _crasher_refused(deaths) if deaths >= CRASHES_TO_REFUSE else _worker_gone()
            future.set_exception(error)

    def _fail_pending(self) -> None:
        pending, self.pending = self.pending, {}
        self.digests = {}
        for future in pending.values():
            if not future.done():
                future.set_exception(_worker_gone())

    async def _restart(self) -> None:
        while not self.closing:
            await asyncio.sleep(RESTART_BACKOFF_S)
            try:
                await self.start()
            except Exception as exc:  # noqa: BLE001 - keep trying; requests meanwhile get 503
                log.error("validation_worker_restart_failed", worker=self.index, error=repr(exc))
                continue
            log.info("validation_worker_restarted", worker=self.index)
            return

    def send_registry(self, registry: ParticipantRegistry) -> None:
        """Have the worker judge every request sent after this with ``registry``. Written
        even before it is ready: it reads its input in order once warm. A worker whose input
        is closed is gone, or going, and its successor starts with ``self.registry()``."""
        process = self.process
        if process is None or process.stdin is None or process.returncode is not None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            process.stdin.write(frame(registry))

    def submit(self, request_id: int, request: bytes, digest: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        process = self.process
        if not self.ready.is_set() or process is None or process.stdin is None:
            future.set_exception(_worker_gone())
            return future
        self.pending[request_id] = future
        self.digests[request_id] = digest
        try:
            process.stdin.write(request)
        except (ConnectionError, RuntimeError):
            self.pending.pop(request_id, None)
            self.digests.pop(request_id, None)
            future.set_exception(_worker_gone())
        return future

    def give_up(self, request_id: int) -> None:
        """Forget a request whose deadline passed. When it is the one the worker is on (the
        oldest: a worker takes them in order), the worker is stuck on it and is killed; a
        new one starts, and the requests queued behind it get 503."""
        if self.process is not None and self._request_on() == request_id:
            log.error("validation_worker_stuck_killed", worker=self.index)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            if not self.blamed:
                self.blamed = True
                self._blame(request_id)
        self.pending.pop(request_id, None)
        self.digests.pop(request_id, None)

    async def stop(self) -> None:
        self.closing = True
        if self.restarting is not None:
            self.restarting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.restarting
        process = self.process
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()  # the worker ends at the end of its input
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        self._fail_pending()


#: What one participant may have queued for validation, per worker process.
QUEUED_BYTES_PER_WORKER = 256 * 1024


class _ByteTurns:
    """A byte budget taken in arrival order: ``acquire(size)`` waits until the documents
    before it are in and ``size`` fits beside what is held (one holder is always let in,
    however large). First come, first served, so a large document is not starved by a
    stream of small ones behind it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._queue: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    def _fits(self, size: int) -> bool:
        return self.used == 0 or self.used + size <= self.limit

    async def acquire(self, size: int) -> None:
        if not self._queue and self._fits(size):
            self.used += size
            return
        turn = asyncio.get_running_loop().create_future()
        self._queue.append((size, turn))
        try:
            await turn  # set by release(), which has counted ``size`` in already
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.release(size)  # admitted just as it gave up
            else:
                self._queue.remove((size, turn))
                self._admit()
            raise

    def release(self, size: int) -> None:
        self.used -= size
        self._admit()

    def _admit(self) -> None:
        while self._queue and self._fits(self._queue[0][0]):
            size, turn = self._queue.popleft()
            self.used += size
            turn.set_result(None)


class WorkerValidator:
    """Validates in ``processes`` worker processes; the event loop stays free meanwhile."""

    def __init__(self, registry: RegistryWatcher, processes: int) -> None:
        if processes < 1:
            raise ValueError("at least one validation worker")
        self.registry = registry
        self.suspects = Suspects()
        self.workers = [
            _Worker(registry.latest, index, self.suspects) for index in range(processes)
        ]
        self._unsubscribe: Callable[[], None] | None = None
        self._ids = itertools.count(1)
        #: Each participant's documents in the workers' queues, bounded in bytes (the cost
        #: of validating follows the size): the rest wait here, so a participant sending
        #: costly documents at once delays the others by one of them, not by its whole
        #: backlog (a security review made another's 3 KB confirmation wait 6 s), while
        #: the usual small documents still flow many at a time.
        self._turns: dict[str, _ByteTurns] = {}

    def _registry_taken(self, registry: ParticipantRegistry) -> None:
        for worker in self.workers:
            worker.send_registry(registry)

    async def start(self) -> None:
        started = time.monotonic()
        # Before the workers start: an edit taken meanwhile reaches the ones spawned already,
        # and the others start with it.
        self._unsubscribe = self.registry.on_reload(self._registry_taken)
        await asyncio.gather(*(worker.start() for worker in self.workers))
        log.info(
            "validation_workers_started",
            processes=len(self.workers),
            seconds=round(time.monotonic() - started, 2),
        )

    def ready(self) -> bool:
        return any(worker.ready.is_set() for worker in self.workers)

    async def judge(
        self, raw: bytes, participant: str, received_at: datetime, deadline: float | None = None
    ) -> Verdict:
        digest = hashlib.sha256(raw).digest()
        deaths = self.suspects.deaths(digest)
        if deaths >= CRASHES_TO_REFUSE:
            raise _crasher_refused(deaths)
        turn = self._turns.get(participant)
        if turn is None:
            budget = QUEUED_BYTES_PER_WORKER * len(self.workers)
            turn = self._turns[participant] = _ByteTurns(budget)
        try:
            async with asyncio.timeout_at(deadline):
                await turn.acquire(len(raw))
        except TimeoutError:
            raise Problem(
                "deadline-exceeded",
                "other documents of yours were being validated until the request deadline; "
                "nothing was accepted: send fewer at once",
                headers=retry_after(RETRY_AFTER_S),
            ) from None
        try:
            return await self._judge(raw, participant, received_at, digest, deadline)
        finally:
            turn.release(len(raw))

    async def _judge(
        self,
        raw: bytes,
        participant: str,
        received_at: datetime,
        digest: bytes,
        deadline: float | None,
    ) -> Verdict:
        worker = min(self.workers, key=lambda w: (not w.ready.is_set(), len(w.pending)))
        request_id = next(self._ids)
        request = frame((request_id, raw, participant, received_at))
        future = worker.submit(request_id, request, digest)
        try:
            async with asyncio.timeout_at(deadline):
                outcome = await future
        except TimeoutError:
            worker.give_up(request_id)
            deaths = self.suspects.deaths(digest)
            if deaths >= CRASHES_TO_REFUSE:  # it got its worker stuck again
                raise _crasher_refused(deaths) from None
            raise Problem(
                "deadline-exceeded",
                "the document was not validated within the request deadline; nothing was accepted",
                headers=retry_after(RETRY_AFTER_S),
            ) from None
        if isinstance(outcome, Verdict):
            return outcome
        if outcome[0] == "error":
            raise RuntimeError(f"validation failed unexpectedly in the worker: {outcome[1]}")
        slug, detail, findings = outcome
        raise Problem(slug, detail, findings)

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await asyncio.gather(*(worker.stop() for worker in self.workers))

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w.process is not None]


def validator_for(processes: int, registry: RegistrySnapshot) -> Validator:
    if processes == 0:
        return InLoopValidator(registry)
    return WorkerValidator(registry.watcher, processes)
