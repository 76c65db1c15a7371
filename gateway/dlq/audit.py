"""The audit of a replay on ``kp.dlq.audit``, written as parts that each fit the topic.

One record listed every dead letter a replay re-sent: a bulk replay of some 60,000 letters
made it larger than the topic's ``max.message.bytes`` (the broker's default, ~1 MiB), the
broker refused it, and the whole replay was rolled back. The audit is now parts 1 to n of
one replay (``DlqAudit`` v2: ``part``, ``parts``), each with the replay's own fields and a
slice of its letters in the order they were re-sent, each no larger than the topic takes,
all in the replay's transaction: every reader takes the union of the parts' letters
(``replay_history``, the dashboard), so a letter is audited exactly once and still counts
as replayed. The splitting is pure; the limit is read from the broker (``limit.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway import codec
from gateway.dlq.headers import MAX_DEAD_LETTER_BYTES, letter_size, varint_bytes
from gateway.dlq.limit import RecordLimitReader
from gateway.dlq.publisher import raise_command
from gateway.errors import EnvironmentProblem
from gateway.settings import Settings

#: What a part may weigh when the topic's limit cannot be read: the broker's default
#: ``message.max.bytes`` (1,048,588), which ``kpgw topics create`` leaves kp.dlq.audit with.
UNREAD_LIMIT_BYTES = 1024 * 1024
#: The largest part, whatever the topic takes: what the producer sends at most.
LARGEST_PART_BYTES = MAX_DEAD_LETTER_BYTES
#: The widest Avro int (zigzag varint), so a part's number never makes it outgrow its size.
_WIDEST_INT = -(2**31)
#: What filling a part can add besides its entries: the array's count (a long, 10 bytes at
#: most) and the value's and the record's length varints growing with the value.
_SLACK_BYTES = 10 + 5 + 5


class AuditTopicTooSmall(EnvironmentProblem):
    """The audit topic's limit is below one part holding a single dead letter."""


def part_size(record: Mapping[str, Any]) -> int:
    """What one audit record weighs against ``max.message.bytes``: its record batch, as
    the replay sends it (in a batch of its own, keyed by the replay id, no headers)."""
    return letter_size(str(record["replay_id"]).encode(), codec.encode("DlqAudit", record), [])


def _entry_bytes(coordinates: str) -> int:
    """An Avro string in the array: its zigzag varint length, then its UTF-8 bytes."""
    size = len(coordinates.encode())
    return varint_bytes(size) + size


def audit_parts(
    audit: Mapping[str, Any], dead_letters: Sequence[str], limit: int, *, topic: str
) -> list[dict[str, Any]]:
    """``audit`` (every field but ``dead_letters``, ``part`` and ``parts``) as parts 1 to n
    that list ``dead_letters`` in order, each exactly once, each at most ``limit`` bytes
    (``part_size``), as few as greedy filling gives. One part, with no letters, for a replay
    that re-sent none. ``AuditTopicTooSmall`` when even one letter does not fit."""
    header = {**audit, "dead_letters": [], "part": _WIDEST_INT, "parts": _WIDEST_INT}
    room = limit - part_size(header) - _SLACK_BYTES
    slices: list[list[str]] = [[]]
    used = 0
    for coordinates in dead_letters:
        entry = _entry_bytes(coordinates)
        if entry > room:
            needed = limit - room + entry
            raise AuditTopicTooSmall(
                f"{topic} takes records of at most {limit:,} bytes (max.message.bytes) and "
                f"an audit record of this replay listing one dead letter needs {needed:,}: "
                f"nothing was re-sent; raise the limit: {raise_command(topic, 1024 * 1024)}"
            )
        if used + entry > room:
            slices.append([])
            used = 0
        slices[-1].append(coordinates)
        used += entry
    return [
        {**audit, "dead_letters": letters, "part": number, "parts": len(slices)}
        for number, letters in enumerate(slices, start=1)
    ]


async def audit_part_limit(settings: Settings, topic: str) -> int:
    """The size audit parts are cut to: ``topic``'s effective ``max.message.bytes``, else
    (no DescribeConfigs right, no answer) the broker's default; never above what the
    producer sends."""
    found = await RecordLimitReader(
        settings,
        topic,
        consequence=f"an audit record is cut to the broker's default ({UNREAD_LIMIT_BYTES:,} "
        "bytes); a topic set lower refuses a large replay's audit, and the replay is rolled "
        "back",
    )()
    return min(found or UNREAD_LIMIT_BYTES, LARGEST_PART_BYTES)
