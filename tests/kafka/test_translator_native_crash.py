"""A record that kills the translator process (a crash in native code, here a real
SIGSEGV) is dead-lettered after ``max_attempts`` deaths instead of blocking its partition
forever; the records behind it are translated (the crash journal,
``gateway.translator.crashes``)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.dlq import headers as h
from gateway.settings import Settings
from tests.kafka.helpers import (
    certificate,
    decoded,
    produce_inbound,
    read_until,
    registry_copy,
    render,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
DEATHS = 2
#: The translator as its own process, with a translate function that dereferences NULL on
#: one marked document, and a short session timeout so that each restart is not held up
#: by the dead member's session (20 s by default).
TRANSLATOR = textwrap.dedent(
    """
    import asyncio, ctypes, signal
    from gateway.kafka.transactional import TransactionalWorker
    from gateway.registry.watch import RegistryWatcher
    from gateway.settings import load_settings
    from gateway.translation import translate
    from gateway.translator.worker import TranslatorHandler

    def crashing(raw, meta, registry):
        if b"RU0300001" in raw:
            ctypes.string_at(0)  # SIGSEGV: no exception to catch
        return translate(raw, meta, registry)

    async def main():
        settings = load_settings()
        handler = TranslatorHandler(
            settings, RegistryWatcher(settings.partners_file), translate_fn=crashing
        )
        worker = TransactionalWorker(
            settings, name="translator", topic=settings.topic_prefix + "inbound",
            group_id=settings.translator.group_id, handler=handler,
            session_timeout_ms=6000, heartbeat_interval_ms=1000,
        )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await worker.run(stop)
        finally:
            handler.close()

    asyncio.run(main())
    """
)


async def test_a_record_that_kills_the_process_is_dead_lettered_after_the_deaths(
    created_topics: Settings, tmp_path: Path
) -> None:
    settings = created_topics
    documents: list[tuple[str | None, str, bytes]] = [
        ("RU", "m-killer", render(certificate("RU0300001"))),
        ("RU", "m-after", render(certificate("RU0300002"))),
    ]
    await produce_inbound(settings, documents, partition=0)
    env = {
        **os.environ,
        "KPGW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KPGW_TOPIC_PREFIX": settings.topic_prefix,
        "KPGW_PARTNERS_FILE": str(registry_copy(tmp_path)),
        "KPGW_TRANSLATOR__MAX_ATTEMPTS": str(DEATHS),
        "KPGW_TRANSLATOR__CRASH_JOURNAL_DIR": str(tmp_path / "journal"),
        "KPGW_LOG_FORMAT": "json",
    }
    outputs: list[str] = []
    for _ in range(DEATHS):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", TRANSLATOR, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 90)
        outputs.append(output.decode())
        assert process.returncode == -signal.SIGSEGV, outputs[-1][-2000:]
    assert "translator_died_translating" in outputs[-1]  # the second run counted the first

    survivor = await asyncio.create_subprocess_exec(
        sys.executable, "-c", TRANSLATOR, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        dlq = await read_until(settings, "dlq", 1, timeout_s=60)
        events = await read_until(settings, "events", 1, timeout_s=60)
        statuses = await read_until(settings, "status", 2, timeout_s=60)
    finally:
        if survivor.returncode is None:
            survivor.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(survivor.communicate(), 60)
    assert survivor.returncode == 0, output.decode()[-2000:]
    (letter,) = dlq
    assert h.text_header(letter.headers, h.REASON) == "POISON_PILL"
    assert h.text_header(letter.headers, h.ATTEMPTS) == str(DEATHS)
    assert h.text_header(letter.headers, "kpgw-message-id") == "m-killer"
    assert "died 2 times" in (h.text_header(letter.headers, h.EXCEPTION_MESSAGE) or "")
    assert [e["certificate_id"] for e in decoded(events, "CertificateEvent")] == ["RU0300002"]
    states = sorted(s["status"] for s in decoded(statuses, "DeliveryStatus"))
    assert states == ["DEAD_LETTERED", "TRANSLATED"]
    # Settled: the count is forgotten once the dead letter committed.
    assert not any(
        path.read_text("utf-8").strip() not in ("", "{}")
        for path in (tmp_path / "journal").glob("*.crashes")
    )
