"""The largest record the dead-letter topic takes, read from the broker.

A topic's ``max.message.bytes`` (DescribeConfigs answers the effective value: the
topic's own, else the broker's ``message.max.bytes``) is what the broker compares with a
record batch. The publisher reads it before its first dead letter and again after a
refusal (the config may have been changed at run time), so a letter is cut to fit at the
first try instead of learnt by refusals at every restart. Reading needs the
``DescribeConfigs`` right on the topic: without it (or with no answer) the reader says
None and the publisher falls back to learning from refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from gateway.kafka.clients import admin_client, broker_answer, close_for_good
from gateway.settings import Settings

log = structlog.get_logger(__name__)

TOPIC_LIMIT = "max.message.bytes"
BROKER_LIMIT = "message.max.bytes"
#: What the dead-letter publisher does when it cannot read the limit (its line,
#: ``record_limit_unreadable``, names the topic: kp.dlq.audit's is read too).
DEAD_LETTER_CONSEQUENCE = (
    "a dead letter too large for it is learnt from the broker's refusal, which costs a "
    "retry of the batch"
)
#: How long a read may take, all its requests together: it may run inside a worker's
#: transaction (30 s at most).
READ_S = 5.0


def config_value(responses: list[Any], name: str, key: str) -> int | None:
    """The value of config ``key`` of resource ``name`` in DescribeConfigs ``responses``
    (None when not described); ``LookupError`` naming the error when the broker refused
    to describe the resource (no ``DescribeConfigs`` right, no such topic)."""
    for response in responses:
        for error_code, message, _kind, resource, entries in response.resources:
            if resource != name:
                continue
            if error_code:
                error = for_code(error_code)
                raise LookupError(f"{name}: {error.__name__}: {message or error.description}")
            for entry in entries:
                if entry[0] == key and entry[1] is not None and str(entry[1]).isdigit():
                    return int(entry[1])
    return None


class RecordLimitReader:
    """Reads ``topic``'s effective ``max.message.bytes`` with a short-lived admin client,
    its requests bounded together by ``seconds`` (``broker_answer``). None, with one log
    line per kind of failure, when it cannot be read."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        seconds: float = READ_S,
        consequence: str = DEAD_LETTER_CONSEQUENCE,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.seconds = seconds
        #: What the caller does without the limit, for the log line that says it is unread.
        self.consequence = consequence
        self._said: str | None = None

    async def __call__(self) -> int | None:
        admin = admin_client(self.settings, request_timeout_ms=int(self.seconds * 1000))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds

        def left() -> float:
            """What is left of ``seconds`` for the next request: up to four of them (start,
            the topic's configs, the cluster, the broker's configs) share it."""
            return max(0.001, deadline - loop.time())

        try:
            await broker_answer(admin.start(), "an admin client's start", seconds=left())
            return await self._read(admin, left)
        except Exception as exc:  # noqa: BLE001 - no ACL, no broker: learn from refusals
            self._note(repr(exc))
            return None
        finally:
            await close_for_good(admin, what="record limit admin client", seconds=2.0)

    async def _read(self, admin: Any, left: Callable[[], float]) -> int | None:
        what = f"the configs of {self.topic}"
        topic = ConfigResource(ConfigResourceType.TOPIC, self.topic, {TOPIC_LIMIT: ""})
        found = config_value(
            await broker_answer(admin.describe_configs([topic]), what, seconds=left()),
            self.topic,
            TOPIC_LIMIT,
        )
        if found is None:  # a broker that described no topic-level value: its own default
            cluster = await broker_answer(
                admin.describe_cluster(), "the cluster's brokers", seconds=left()
            )
            node = str(cluster["brokers"][0]["node_id"])
            broker = ConfigResource(ConfigResourceType.BROKER, node, {BROKER_LIMIT: ""})
            found = config_value(
                await broker_answer(
                    admin.describe_configs([broker]),
                    f"broker {node}'s configs",
                    seconds=left(),
                ),
                node,
                BROKER_LIMIT,
            )
        if found is None:
            self._note(f"neither {TOPIC_LIMIT} of {self.topic} nor {BROKER_LIMIT} was described")
        else:
            self._said = None
        return found

    def _note(self, why: str) -> None:
        if why != self._said:
            self._said = why
            log.warning(
                "record_limit_unreadable",
                topic=self.topic,
                error=why,
                detail=f"the {TOPIC_LIMIT} of {self.topic} could not be read (no "
                f"DescribeConfigs right on it, or no answer): {self.consequence}",
            )
