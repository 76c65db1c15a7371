"""Validation in worker processes: the same verdicts as on the event loop, the loop free
meanwhile, and a worker that dies is replaced (real processes, no broker)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.ingress.problems import Problem
from gateway.ingress.validation import Verdict
from gateway.ingress.validator import (
    InLoopValidator,
    Suspects,
    Validator,
    WorkerValidator,
    _ByteTurns,
)
from gateway.registry import ParticipantRegistry, load_registry
from gateway.registry.watch import RELOAD_FAILURES, RegistryWatcher, polled
from tests.kafka.helpers import certificate, confirmation, registry_copy, render, with_hs

NOW = datetime(2026, 4, 1, tzinfo=UTC)  # after the documents judged here


def _heavy_document() -> bytes:
    """About 2 MB of a certificate repeating its expiry note ten thousand times: each
    repetition a finding, ~0.1 s of validation."""
    text = render(certificate("RU0710001")).decode()
    at = text.index("<ram:IncludedSPSNote>")
    note = text[at : text.index("</ram:IncludedSPSNote>", at) + len("</ram:IncludedSPSNote>")]
    return (text[:at] + note * (1_900_000 // len(note)) + text[at:]).encode()


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[WorkerValidator]:
    validator = WorkerValidator(RegistryWatcher(registry_copy(tmp_path)), processes=2)
    await validator.start()
    try:
        yield validator
    finally:
        await validator.close()


async def _outcome(validator: Validator, raw: bytes, sender: str) -> object:
    try:
        return await validator.judge(raw, sender, NOW)
    except Problem as problem:
        return (problem.status, problem.slug, problem.detail, problem.findings)


async def test_workers_judge_as_the_event_loop_does(
    workers: WorkerValidator, example_registry: ParticipantRegistry
) -> None:
    cert = certificate("RU0710002")
    cases = [
        (render(cert), "RU"),
        (render(confirmation(cert)), "EU"),
        (render(cert), "BW"),  # 403: not the issuer
        (render(with_hs(certificate("RU0710003"), "7102.29")), "RU"),  # 422: not KP goods
        (b"hello", "RU"),  # 400
        (b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x 'y'>]><r>&x;</r>", "RU"),
        (render(cert)[:200], "RU"),  # truncated
    ]
    on_the_loop = InLoopValidator(lambda: example_registry)
    for raw, sender in cases:
        expected = await _outcome(on_the_loop, raw, sender)
        assert await _outcome(workers, raw, sender) == expected
    verdict = await workers.judge(render(cert), "RU", NOW)
    assert isinstance(verdict, Verdict) and verdict.certificate_id == "RU0710002"


async def test_concurrent_requests_each_get_their_own_verdict(workers: WorkerValidator) -> None:
    numbers = [f"RU07200{i:02d}" for i in range(40)]
    verdicts = await asyncio.gather(
        *(workers.judge(render(certificate(n)), "RU", NOW) for n in numbers)
    )
    assert [v.certificate_id for v in verdicts] == numbers
    assert len(set(workers.worker_pids())) == 2


async def test_the_event_loop_runs_while_a_worker_validates(workers: WorkerValidator) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0)

    heavy = _heavy_document()
    running = asyncio.create_task(ticker())
    try:
        ticks.clear()
        with pytest.raises(Problem):  # thousands of repeated notes
            await workers.judge(heavy, "RU", NOW)
        in_worker = len(ticks)
        ticks.clear()
        with pytest.raises(Problem):  # the contrast: on the loop, nothing else runs
            await InLoopValidator(load_registry).judge(heavy, "RU", NOW)
        on_loop = len(ticks)
    finally:
        running.cancel()
    assert on_loop <= 1
    assert in_worker > 10, in_worker


async def test_a_worker_that_dies_fails_its_requests_and_is_replaced(tmp_path: Path) -> None:
    validator = WorkerValidator(RegistryWatcher(registry_copy(tmp_path)), processes=1)
    await validator.start()
    try:
        (pid,) = validator.worker_pids()
        pending = asyncio.create_task(validator.judge(_heavy_document(), "RU", NOW))
        await asyncio.sleep(0.05)  # the document is on its way or being validated
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(Problem) as caught:
            await pending
        assert caught.value.status == 503 and "nothing was accepted" in caught.value.detail
        assert caught.value.headers["Retry-After"]
        assert not validator.ready()  # /readyz says so until a new worker is up
        deadline = time.monotonic() + 60
        while True:  # a new worker starts after a short backoff
            try:
                verdict = await validator.judge(render(certificate("RU0710004")), "RU", NOW)
            except Problem:
                assert time.monotonic() < deadline, "the worker was not replaced"
                await asyncio.sleep(0.2)
                continue
            break
        assert verdict.certificate_id == "RU0710004"
        assert validator.ready()
        assert validator.worker_pids() != [pid]
    finally:
        await validator.close()


async def test_a_document_past_the_deadline_stops_its_worker(tmp_path: Path) -> None:
    """A worker still on a document when the request's deadline passes is taken for stuck
    (libxml2 cannot be interrupted) and replaced; the request gets 503, nothing accepted."""
    validator = WorkerValidator(RegistryWatcher(registry_copy(tmp_path)), processes=1)
    await validator.start()
    try:
        (pid,) = validator.worker_pids()
        loop = asyncio.get_running_loop()
        with pytest.raises(Problem) as caught:
            await validator.judge(_heavy_document(), "RU", NOW, loop.time() + 0.02)
        assert caught.value.slug == "deadline-exceeded" and caught.value.status == 503
        deadline = time.monotonic() + 60
        while validator.worker_pids() == [pid] or not validator.ready():
            assert time.monotonic() < deadline, "the stuck worker was not replaced"
            await asyncio.sleep(0.1)
        verdict = await validator.judge(render(certificate("RU0710006")), "RU", NOW)
        assert verdict.certificate_id == "RU0710006"
    finally:
        await validator.close()


def _suspend_ru(path: Path) -> None:
    text = path.read_text()
    path.write_text(
        text.replace("[participants.RU]\n", '[participants.RU]\nstatus = "suspended"\n')
    )


async def _until(condition: Callable[[], bool], within_s: float, what: str) -> float:
    """Seconds until ``condition`` held, failing the test after ``within_s``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within_s, what
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_workers_judge_with_the_registry_the_ingress_took_without_reloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit the ingress's watcher takes (polled every second) is the workers' at once:
    handed to them ahead of any later request. Proven by breaking the file right after
    the edit was taken: a worker that looked at the file on the request (as they did)
    could not take it, and kept judging with the registry from before the edit."""
    monkeypatch.setenv("KPGW_LOG_LEVEL", "info")  # a log line must not garble frames
    path = registry_copy(tmp_path)
    watcher = RegistryWatcher(path)
    validator = WorkerValidator(watcher, processes=2)
    await validator.start()
    try:
        async with polled(watcher):
            document = render(certificate("RU0710005"))
            assert (await validator.judge(document, "RU", NOW)).certificate_id == "RU0710005"
            before = watcher.latest()
            _suspend_ru(path)
            taken_s = await _until(lambda: watcher.latest() is not before, 5, "edit not taken")
            assert taken_s < 4.0  # the poll's second, and slack for a loaded 2-core CI machine
            path.write_text("[participants.RU\n")  # broken: no one can take this one
            await _until(lambda: str(path) in RELOAD_FAILURES, 5, "broken edit not noticed")
            outcomes = await asyncio.gather(  # on both workers: 2 at a time each
                *(_outcome(validator, document, "RU") for _ in range(4)),
            )
        for outcome in outcomes:
            assert isinstance(outcome, tuple) and outcome[0] == 422, outcome
            assert any("SUSPENDED" in finding.code for finding in outcome[3]), outcome
    finally:
        await validator.close()


async def test_a_worker_started_while_the_registry_file_is_broken_takes_the_last_good_one(
    tmp_path: Path,
) -> None:
    """A worker used to load the file itself when it started: after a crash while the file
    held a broken edit, no new worker could start, and every request got 503."""
    path = registry_copy(tmp_path)
    watcher = RegistryWatcher(path)
    validator = WorkerValidator(watcher, processes=1)
    await validator.start()
    try:
        path.write_text("[participants.RU\n")
        watcher.current()  # the ingress's poll: the edit is refused, the registry kept
        assert str(path) in RELOAD_FAILURES
        (pid,) = validator.worker_pids()
        os.kill(pid, signal.SIGKILL)
        await _until(
            lambda: validator.worker_pids() != [pid] and validator.ready(), 60, "not replaced"
        )
        verdict = await validator.judge(render(certificate("RU0710007")), "RU", NOW)
        assert verdict.certificate_id == "RU0710007"
    finally:
        await validator.close()


async def test_close_ends_the_worker_processes(tmp_path: Path) -> None:
    validator = WorkerValidator(RegistryWatcher(registry_copy(tmp_path)), processes=2)
    await validator.start()
    pids = validator.worker_pids()
    # Their own session: a signal to the ingress's process group (Ctrl-C, a service
    # manager) reaches the ingress, which then ends them; they do not die first.
    assert all(os.getsid(pid) == pid != os.getsid(0) for pid in pids)
    await validator.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_a_document_that_stops_workers_twice_is_refused_for_good(tmp_path: Path) -> None:
    """Found by a security review: a document that kills or wedges its worker got 503, so
    the sender retried it for ever and each retry took a worker down. The second time it
    is a 422 with its own code, and later copies never reach a worker."""
    validator = WorkerValidator(RegistryWatcher(registry_copy(tmp_path)), processes=1)
    await validator.start()
    loop = asyncio.get_running_loop()
    heavy = _heavy_document()

    async def replaced(old: list[int]) -> list[int]:
        deadline = time.monotonic() + 60
        while validator.worker_pids() == old or not validator.ready():
            assert time.monotonic() < deadline, "the worker was not replaced"
            await asyncio.sleep(0.1)
        return validator.worker_pids()

    try:
        pids = validator.worker_pids()
        with pytest.raises(Problem) as first:
            await validator.judge(heavy, "RU", NOW, loop.time() + 0.02)
        assert first.value.status == 503  # once may be bad luck
        pids = await replaced(pids)
        with pytest.raises(Problem) as second:
            await validator.judge(heavy, "RU", NOW, loop.time() + 0.02)
        assert second.value.status == 422
        assert [f.code for f in second.value.findings] == ["DOCUMENT_CRASHES_VALIDATOR"]
        pids = await replaced(pids)
        with pytest.raises(Problem) as third:
            await validator.judge(heavy, "RU", NOW)  # no deadline: it would take its time
        assert third.value.status == 422 and "2 times" in third.value.detail
        assert validator.worker_pids() == pids  # refused without reaching a worker
        verdict = await validator.judge(render(certificate("RU0710008")), "RU", NOW)
        assert verdict.certificate_id == "RU0710008"  # other documents go through
    finally:
        await validator.close()


def test_suspects_are_counted_and_bounded() -> None:
    suspects = Suspects(kept=2)
    assert [suspects.blame(b"a"), suspects.blame(b"a"), suspects.blame(b"b")] == [1, 2, 1]
    suspects.blame(b"c")  # "a" is the oldest: forgotten
    assert (suspects.deaths(b"a"), suspects.deaths(b"b"), suspects.deaths(b"c")) == (0, 1, 1)


async def test_one_participants_backlog_does_not_queue_the_others_behind_it(
    tmp_path: Path,
) -> None:
    """A security review made an EU confirmation wait 6 s behind a dozen costly ZA
    documents in the one worker's queue. A participant now has at most one document per
    worker in the queue: the others' wait for one of its documents, not all of them."""
    validator = WorkerValidator(RegistryWatcher(registry_copy(tmp_path)), processes=1)
    await validator.start()
    finished: list[str] = []

    async def judge(raw: bytes, participant: str, label: str) -> None:
        with contextlib.suppress(Problem):
            await validator.judge(raw, participant, NOW)
        finished.append(label)

    try:
        heavy = _heavy_document()
        backlog = [asyncio.create_task(judge(heavy, "RU", f"RU-{n}")) for n in range(5)]
        await asyncio.sleep(0.01)  # the backlog is in before the other's document
        light = render(confirmation(certificate("RU0710002")))
        await asyncio.gather(*backlog, judge(light, "EU", "EU"))
    finally:
        await validator.close()
    assert finished.index("EU") <= 2, finished  # behind one or two of RU's, not all five


async def test_small_documents_of_one_participant_still_flow_together() -> None:
    """The byte budget lets many usual documents through at once (one participant's
    batch upload is not serialised) and one document whatever its size."""
    turns = _ByteTurns(100)
    await turns.acquire(60)
    await asyncio.wait_for(turns.acquire(30), 1)  # fits beside the first
    waiting = asyncio.create_task(turns.acquire(20))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    turns.release(60)
    await asyncio.wait_for(waiting, 1)
    assert turns.used == 50
    alone = _ByteTurns(100)
    await asyncio.wait_for(alone.acquire(5_000), 1)  # larger than the budget, but alone


async def test_turns_are_first_come_first_served() -> None:
    """A code review: a large document waiting for the budget was overtaken by every
    small one behind it, until its deadline passed."""
    turns = _ByteTurns(100)
    await turns.acquire(60)
    large = asyncio.create_task(turns.acquire(90))
    await asyncio.sleep(0)
    small = asyncio.create_task(turns.acquire(10))  # would fit now, but comes after
    await asyncio.sleep(0.01)
    assert not large.done() and not small.done()
    turns.release(60)
    await asyncio.wait_for(asyncio.gather(large, small), 1)
    assert turns.used == 100
    gives_up = asyncio.create_task(turns.acquire(50))
    await asyncio.sleep(0)
    gives_up.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gives_up
    turns.release(90)
    turns.release(10)
    assert turns.used == 0  # the one that gave up holds nothing
