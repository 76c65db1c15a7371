"""The participant registry the router routes with: a reloaded registry is taken only once
every partner topic it needs exists.

The registry file is re-read while the router runs, so an operator can enable a pair
without a restart. A pair that brings a participant with no ``kp.partner.<P>`` yet would
make every transaction that notifies it fail and retry for ever, blocking its partition
for every partner (a partner review). So a new registry is checked first: its missing
partner topics are created (as ``kpgw topics create`` would, with the configured
durability), and if that fails (no rights, the broker away) the previous registry stays in
use, ``kpgw_registry_reload_failed`` says why, and the next timer round tries again.

The router looks at the file before every batch, not only at its timer rounds: the
translator takes an edit within a second, and a certificate it let through for a pair
just enabled was otherwise gated as PAIR_NOT_ENABLED by a router still on the previous
registry (a scale-out review). A ``stat`` per batch costs nothing next to the batch. A
batch takes only a registry whose partner topics are known to exist; creating topics
(slow, and able to fail) is left to the timer, outside any batch's transaction.
"""

from __future__ import annotations

import asyncio

import structlog

from gateway.kafka.topics import create_topics, partner_participants
from gateway.registry import ParticipantRegistry
from gateway.registry.watch import RELOAD_FAILURES, RegistryWatcher
from gateway.settings import Settings

log = structlog.get_logger(__name__)


class TopicCheckedRegistry:
    def __init__(self, settings: Settings, watcher: RegistryWatcher) -> None:
        self.settings = settings
        self.watcher = watcher
        self._accepted = watcher.current()
        #: participants whose partner topic is known to exist (the start-up check saw them)
        self._topics = set(partner_participants(self._accepted))
        self._refreshing = asyncio.Lock()  # batches of several partitions and the timer

    def current(self) -> ParticipantRegistry:
        """The newest registry whose partner topics all exist."""
        return self._accepted

    async def refresh(self, *, create_topics: bool = True) -> bool:
        """Take the file's latest registry if its partner topics exist or (``create_topics``)
        can be created; True when the registry in use changed."""
        if self.watcher.current() is self._accepted:
            return False  # the usual case, without waiting for the lock
        async with self._refreshing:
            return await self._take(self.watcher.current(), create=create_topics)

    async def _take(self, candidate: ParticipantRegistry, *, create: bool) -> bool:
        if candidate is self._accepted:
            return False
        missing = sorted(set(partner_participants(candidate)) - self._topics)
        if missing and not create:
            return False  # the timer creates them and takes it
        if missing:
            names = ", ".join(f"{self.settings.topic_prefix}partner.{code}" for code in missing)
            try:
                report = await create_topics(self.settings, candidate, wait_s=10)
            except Exception as exc:  # noqa: BLE001 - refused creations raise RuntimeError too
                why = (
                    f"the registry names partners without a topic ({names}) that could not be "
                    f"created ({type(exc).__name__}: {exc}); the previous registry stays in "
                    "use: run `kpgw topics create`"
                )
                RELOAD_FAILURES.report(self, str(self.watcher.path), why)
                log.error("registry_partner_topics_missing", topics=names, error=repr(exc))
                return False
            self._topics.update(missing)
            log.info("partner_topics_created", topics=report.created)
        RELOAD_FAILURES.report(self, str(self.watcher.path), None)
        self._accepted = candidate
        log.info("router_registry_updated", partners=len(self._topics))
        return True
