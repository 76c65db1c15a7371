"""Where a record is in ``kp.inbound``, and which of two records under one tracking id is
the earlier: what every ingress instance takes as a key's original."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TopicPosition:
    timestamp_ms: int
    partition: int
    offset: int

    @classmethod
    def of(cls, record: Any) -> TopicPosition:
        """From a produced record's metadata or a consumed record alike."""
        return cls(int(record.timestamp), int(record.partition), int(record.offset))

    def before(self, other: TopicPosition) -> bool:
        """In one partition the offsets tell (instances' clocks may disagree); across
        partitions the time stamps, then partition and offset, so every instance picks the
        same one."""
        if self.partition == other.partition:
            return self.offset < other.offset
        return (self.timestamp_ms, self.partition, self.offset) < (
            other.timestamp_ms,
            other.partition,
            other.offset,
        )
