"""The translator's crash journal: a record in flight when the process died is counted,
and counts survive restarts until the record settles."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.metrics import CRASH_JOURNAL_UNAVAILABLE
from gateway.translator.crashes import CrashJournal, open_journal
from gateway.translator.worker import died_translating


def die_translating(directory: Path, coordinates: str) -> None:
    """What a process killed mid-translation leaves: the mark set, its lock released."""
    journal = CrashJournal(directory, "kp.translator")
    journal.begin(coordinates)
    journal.close()


def test_a_record_in_flight_at_death_is_counted_across_restarts(tmp_path: Path) -> None:
    for deaths in (1, 2, 3):
        die_translating(tmp_path, "kp.inbound/2/41")
        journal = CrashJournal(tmp_path, "kp.translator")
        assert journal.crashes("kp.inbound/2/41") == deaths
        assert journal.crashes("kp.inbound/2/42") == 0
        journal.close()
    journal = CrashJournal(tmp_path, "kp.translator")  # a clean restart counts nothing more
    assert journal.crashes("kp.inbound/2/41") == 3
    journal.settle(["kp.inbound/2/41"])
    journal.close()
    assert CrashJournal(tmp_path, "kp.translator").crashes("kp.inbound/2/41") == 0


def test_settling_forgets_every_record_of_the_transaction(tmp_path: Path) -> None:
    for offset in (5, 6):
        die_translating(tmp_path, f"kp.inbound/0/{offset}")
    journal = CrashJournal(tmp_path, "kp.translator")
    assert journal.counts == {"kp.inbound/0/5": 1, "kp.inbound/0/6": 1}
    journal.settle(["kp.inbound/0/5", "kp.inbound/0/6"])
    journal.close()
    assert CrashJournal(tmp_path, "kp.translator").counts == {}


def test_a_translation_that_returns_or_raises_leaves_no_mark(tmp_path: Path) -> None:
    journal = CrashJournal(tmp_path, "kp.translator")
    with journal.translating("kp.inbound/0/1"):
        pass
    with pytest.raises(RuntimeError), journal.translating("kp.inbound/0/2"):
        raise RuntimeError("caught and retried by translate_record")
    journal.close()
    assert CrashJournal(tmp_path, "kp.translator").counts == {}


def test_two_live_processes_never_share_a_journal(tmp_path: Path) -> None:
    first = CrashJournal(tmp_path, "kp.translator")
    second = CrashJournal(tmp_path, "kp.translator")
    assert first.path != second.path
    second.begin("kp.inbound/1/7")
    second.close()  # the second one dies; the first one lives on
    restarted = CrashJournal(tmp_path, "kp.translator")  # takes over the free slot
    assert restarted.path == second.path and restarted.crashes("kp.inbound/1/7") == 1
    assert first.crashes("kp.inbound/1/7") == 0


def test_a_corrupt_counts_file_is_started_over(tmp_path: Path) -> None:
    CrashJournal(tmp_path, "kp.translator").close()
    (tmp_path / "kp.translator.0.crashes").write_text("{not json", "utf-8")
    assert CrashJournal(tmp_path, "kp.translator").counts == {}


def test_an_unusable_directory_runs_without_a_journal(tmp_path: Path) -> None:
    where = tmp_path / "file"
    where.write_text("", "utf-8")
    try:
        assert open_journal(where, "kp.translator") is None
        # A recovery review: only a warning said so; /metrics now does while it lasts.
        assert str(where) in CRASH_JOURNAL_UNAVAILABLE
        where.unlink()  # the operator makes it usable: the next start clears the alarm
        journal = open_journal(where, "kp.translator")
        assert journal is not None and str(where) not in CRASH_JOURNAL_UNAVAILABLE
        journal.close()
    finally:
        CRASH_JOURNAL_UNAVAILABLE.pop(str(where), None)


def test_the_dead_letter_of_a_killer_record_says_what_happened() -> None:
    failure = died_translating(3).failure
    assert failure is not None
    assert failure.reason == "POISON_PILL" and failure.attempts == 3
    assert "died 3 times" in failure.message and failure.stacktrace is None


def test_the_mark_of_a_process_killed_mid_translation_survives_it(tmp_path: Path) -> None:
    """The slot is written through a memory map: a SIGKILL (no flush, no atexit) keeps it."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from gateway.translator.crashes import CrashJournal\n"
        "journal = CrashJournal(Path(sys.argv[1]), 'kp.translator')\n"
        "journal.begin('kp.inbound/4/99')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    died = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False, timeout=60)
    assert died.returncode == -signal.SIGKILL
    assert CrashJournal(tmp_path, "kp.translator").crashes("kp.inbound/4/99") == 1
