"""``kpgw tail TOPIC``: decoded records, read_committed, one JSON object per line."""

from __future__ import annotations

from typing import Any

import click

from gateway import aio_run, codec
from gateway.cli.common import environment_errors, settings
from gateway.dlq.headers import readable_headers
from gateway.errors import ConfigurationError, EnvironmentProblem, UndecodableEvent
from gateway.events import record_instant, to_json
from gateway.kafka.clients import (
    ADMIN_REQUEST_TIMEOUT_MS,
    close_for_good,
    committed_consumer,
)
from gateway.kafka.topics import (
    partition_count,
    partner_participants,
    partner_topic,
    require_topic,
)
from gateway.registry import load_registry
from gateway.settings import Settings
from gateway.text import json_text


def decode_value(value: bytes | None) -> Any:
    """Avro single-object records decode by fingerprint, which is shown too: a partner's
    consumer names the fingerprint it lacks, and ``kpgw schemas export`` the file that has
    it. Anything else shows as text."""
    if value is None:
        return None  # a tombstone
    if value[:2] == codec.MAGIC:
        try:
            writer = codec.writer_of(value)
            return {
                "schema": writer.name,
                "fingerprint": writer.fingerprint.hex(),
                "record": codec.decode(value),
            }
        except UndecodableEvent as exc:
            return {"undecodable": exc.message, "hex": value[:64].hex()}
    return value.decode("utf-8", errors="replace")


def partner_topic_absent(config: Settings, topic: str) -> str | None:
    """Why a missing partner topic (``partner.GB``, ``kp.partner.GB``) is not there when
    ``topics create`` would not make it: the code is no participant, or one in no enabled
    pair (partner topics exist for those alone). None for any other topic, or when the
    registry cannot be read (the generic "does not exist" says enough then). The generic
    advice, "create the topics with kpgw topics create", ran in a circle for those: it
    creates nothing for them (a partner authority's walkthrough)."""
    name = topic.removeprefix(config.topic_prefix)
    code = name.removeprefix("partner.")
    if code == name or not code:
        return None
    try:
        registry = load_registry(config.partners_file)
    except ConfigurationError:
        return None
    shown = partner_topic(config.topic_prefix, code)
    where = f"the participant registry ({config.partners_file or 'the shipped example'})"
    if registry.get(code) is None:
        if registry.get(code.upper()) is not None:
            return (
                f"topic {shown} does not exist: participant codes are upper case, "
                f"{partner_topic(config.topic_prefix, code.upper())}"
            )
        owner = registry.participant_of(code)
        if owner is not None and owner != code.upper():
            return (
                f"topic {shown} does not exist: {code} is a member state of {owner}, whose "
                f"topic {partner_topic(config.topic_prefix, owner)} it reads"
            )
        return f"topic {shown} does not exist: {code} is not a participant in {where}"
    if code not in partner_participants(registry):
        return (
            f"topic {shown} does not exist: {code} is in no enabled pair of {where}, and a "
            "partner topic exists only for a participant that exchanges digitally; once a "
            "[[pairs]] entry names it, the router creates it (or kpgw topics create)"
        )
    return None


def record_json(record: Any) -> dict[str, Any]:
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        # Any a producer wrote: one of year -29719 made the whole tail fail.
        "time": to_json(record_instant(record.timestamp)),
        "key": record.key.decode("utf-8", errors="replace") if record.key else None,
        "headers": readable_headers(record.headers or ()),
        "value": decode_value(record.value),
    }


async def _tail(
    config: Settings,
    topic: str,
    from_beginning: bool,
    limit: int | None,
    idle_timeout: float | None,
    as_json: bool,
) -> int:
    # Checked before subscribing: a consumer subscribed to a missing topic logs errors for
    # as long as it waits for the topic to appear. A name without the deployment's prefix
    # (`partner.EU` for `kp.partner.EU`) is read under the prefix.
    if await partition_count(config, topic) == 0:
        prefixed = f"{config.topic_prefix}{topic}"
        if not topic.startswith(config.topic_prefix) and await partition_count(config, prefixed):
            topic = prefixed
        else:
            why_not = partner_topic_absent(config, topic)
            if why_not is not None:
                raise EnvironmentProblem(why_not)
            await require_topic(config, topic)
    consumer = committed_consumer(
        config,
        topic,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        request_timeout_ms=ADMIN_REQUEST_TIMEOUT_MS,
    )
    await consumer.start()
    seen = 0
    try:
        while limit is None or seen < limit:
            timeout_ms = int(idle_timeout * 1000) if idle_timeout else 1000
            batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=100)
            if not batches and idle_timeout:
                # Said on stderr (stdout stays the records): ending on a quiet topic with
                # nothing printed looked like a tail of the wrong topic, or a broken one.
                click.echo(
                    f"kpgw tail: {seen} record(s) of {topic}; none for {idle_timeout:g} s, "
                    "so stopped"
                    + (
                        ""
                        if from_beginning
                        else " (it starts at the end; --from-beginning reads what the topic holds)"
                    ),
                    err=True,
                )
                break
            for records in batches.values():
                for record in records:
                    line = to_json(record_json(record))
                    # Escaped what a terminal would obey: records carry senders' texts.
                    click.echo(json_text(line) if as_json else json_text(line, indent=2))
                    seen += 1
                    if limit is not None and seen >= limit:
                        return seen
    finally:
        # With the broker gone, aiokafka lets its fetch task's CancelledError out of
        # stop(): a traceback and exit 1 instead of the usual line (an SRE review).
        await close_for_good(consumer, what="consumer")
    return seen


@click.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest offset.")
@click.option(
    "--max", "limit", type=click.IntRange(min=1), default=None, help="Stop after N records."
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Stop when no record arrives for S seconds (without it or --max, tail follows the "
    "topic until Ctrl-C).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail(
    topic: str, from_beginning: bool, limit: int | None, idle_timeout: float | None, as_json: bool
) -> None:
    """Print the records of TOPIC (read_committed), decimals as strings."""
    config = settings()
    with environment_errors():
        aio_run.run(_tail(config, topic, from_beginning, limit, idle_timeout, as_json))
