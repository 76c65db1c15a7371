"""Verdicts in groups: the validation worker answers every request it read together in one
write, and stores its progress beside, so the crash blame still falls on the document it
was on (real processes running the real ``serve`` loop, with scripted judging)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pickle
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.ingress import validator as validator_module
from gateway.ingress.frames import HEADER, FrameReader, Progress, frame
from gateway.ingress.problems import Problem
from gateway.ingress.validator import WorkerValidator
from gateway.registry.watch import RegistryWatcher
from tests.kafka.helpers import registry_copy

NOW = datetime(2026, 4, 1, tzinfo=UTC)


def test_frames_read_together_or_in_pieces_come_out_whole_and_in_order() -> None:
    values = [(1, "a"), (2, b"x" * 70_000), (3, ("slug", "detail", ()))]
    stream = b"".join(frame(value) for value in values)
    assert FrameReader().feed(stream) == values  # several in one read
    for piece in (1, 3, 4, 5, 1000):
        reader = FrameReader()
        got = []
        for at in range(0, len(stream), piece):
            got += reader.feed(stream[at : at + piece])
        assert got == values and not reader.partial
    reader = FrameReader()
    assert reader.feed(stream[: HEADER.size + 2]) == [] and reader.partial


def test_a_frame_is_its_length_then_a_pickle() -> None:
    data = frame((7, "ready"))
    (size,) = HEADER.unpack_from(data)
    assert size == len(data) - HEADER.size
    assert pickle.loads(data[HEADER.size :]) == (7, "ready")


def test_progress_is_shared_through_the_descriptor() -> None:
    progress, fd = Progress.create()
    other = Progress(os.dup(fd))
    os.close(fd)
    assert progress.last_finished() == 0
    other.finished(41)
    assert progress.last_finished() == 41
    other.close()
    progress.close()


@pytest.fixture
async def scripted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WorkerValidator]:
    monkeypatch.setattr(validator_module, "WORKER_MODULE", "tests.unit.ingress.scripted_worker")
    monkeypatch.setattr(validator_module, "RESTART_BACKOFF_S", 0.05)
    validator = WorkerValidator(RegistryWatcher(registry_copy(tmp_path)), processes=1)
    await validator.start()
    try:
        yield validator
    finally:
        await validator.close()


async def _outcome(validator: WorkerValidator, raw: bytes, deadline: float | None = None) -> str:
    """What the scripted worker answered (its text), or the problem's slug and status."""
    try:
        await validator.judge(raw, "RU", NOW, deadline)
    except RuntimeError as error:
        return str(error).rsplit(": ", 1)[1]
    except Problem as problem:
        return f"{problem.slug} {problem.status}"
    raise AssertionError("the scripted worker answers no verdict")


async def _queued_behind_slow(validator: WorkerValidator, *raws: bytes) -> list[asyncio.Task[str]]:
    """Requests sent while the worker is on a slow one: it reads them in one go."""
    first = asyncio.create_task(_outcome(validator, b"slow:first"))
    await asyncio.sleep(0.1)
    return [first] + [asyncio.create_task(_outcome(validator, raw)) for raw in raws]


def _deaths(validator: WorkerValidator, raw: bytes) -> int:
    return validator.suspects.deaths(hashlib.sha256(raw).digest())


async def _replaced(validator: WorkerValidator, old: list[int]) -> None:
    deadline = time.monotonic() + 30
    while validator.worker_pids() == old or not validator.ready():
        assert time.monotonic() < deadline, "the worker was not replaced"
        await asyncio.sleep(0.05)


async def test_requests_read_together_each_get_their_own_verdict(
    scripted: WorkerValidator,
) -> None:
    raws = [f"doc-{i}".encode() for i in range(20)]
    tasks = await _queued_behind_slow(scripted, *raws)
    assert await asyncio.gather(*tasks) == ["slow:first"] + [raw.decode() for raw in raws]


async def test_a_crash_in_the_middle_of_a_group_blames_its_own_document(
    scripted: WorkerValidator,
) -> None:
    pids = scripted.worker_pids()
    crasher = b"crash:c"
    tasks = await _queued_behind_slow(scripted, b"before", crasher, b"after")
    outcomes = await asyncio.gather(*tasks)
    # "before" was judged, but its verdict waited for the group: lost with the process
    # (so was the slow one's, on a machine so loaded that it came in the same read)
    assert outcomes[0] in ("slow:first", "not-ready 503")
    assert outcomes[1:] == ["not-ready 503", "not-ready 503", "not-ready 503"]
    assert _deaths(scripted, crasher) == 1
    assert _deaths(scripted, b"before") == 0 and _deaths(scripted, b"after") == 0
    await _replaced(scripted, pids)
    pids = scripted.worker_pids()
    tasks = await _queued_behind_slow(scripted, b"before", crasher)
    assert (await asyncio.gather(*tasks))[1:] == ["not-ready 503", "invalid-document 422"]
    assert _deaths(scripted, b"before") == 0
    await _replaced(scripted, pids)
    assert await _outcome(scripted, b"before") == "before"


async def test_a_stuck_document_in_a_group_is_blamed_not_the_ones_judged_before_it(
    scripted: WorkerValidator,
) -> None:
    pids = scripted.worker_pids()
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(_outcome(scripted, b"slow:first"))
    await asyncio.sleep(0.1)
    # Judged, its verdict held in the group behind the stuck one: its deadline passes
    # first, and the worker, on a later document, is left alone.
    judged = asyncio.create_task(_outcome(scripted, b"judged", loop.time() + 0.5))
    stuck = asyncio.create_task(_outcome(scripted, b"hang:h", loop.time() + 1.0))
    assert await judged == "deadline-exceeded 503"
    assert scripted.worker_pids() == pids
    assert await stuck == "deadline-exceeded 503"
    assert _deaths(scripted, b"hang:h") == 1 and _deaths(scripted, b"judged") == 0
    assert _deaths(scripted, b"slow:first") == 0
    await first
    await _replaced(scripted, pids)
