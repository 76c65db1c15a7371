"""A replay in chunks: each chunk one transaction holding its re-sent letters and the audit
record(s) listing exactly those letters.

One transaction for a whole bulk replay could never commit past the broker's transaction
timeout (measured: 90,000 letters of 10 kB took 120 s against 60 s), held every
read_committed reader of the original topics (the translator) back until it committed, and
a crash lost all of it. A chunk is bounded by count and bytes, so by time; a replay that
stops after some chunks keeps them (replayed and audited together), and running it again
re-sends only the rest, since audited letters are skipped. Pure; ``replay.py`` sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.dlq.audit import audit_parts

#: Letters per chunk. Measured on a test broker: 100,000 small letters re-sent in 40 s
#: (2,500 a second), so a chunk of 5,000 takes ~2 s, far inside the 60 s transaction
#: timeout, holds read_committed readers back ~2 s, and its commit (a few ms) is a
#: negligible share of it.
CHUNK_LETTERS = 5_000
#: Bytes of re-sent records per chunk (as ``letter_size`` weighs them). Measured: 10 kB
#: letters went at ~7.5 MB/s (90,000 in 120 s), so 32 MiB take ~4.5 s, still a tenth of
#: the timeout; a chunk of 4 MiB letters (kp.dlq's largest) holds 8 of them.
CHUNK_BYTES = 32 * 1024 * 1024


def chunk_bounds(sizes: Sequence[int], max_letters: int, max_bytes: int) -> list[range]:
    """Consecutive ranges of the letters whose re-sent sizes are ``sizes``, in order, each
    of at most ``max_letters`` letters and ``max_bytes`` bytes (a letter larger than that
    alone in its chunk), as few as greedy filling gives. One empty range for no letters:
    a replay with nothing to re-send is still audited."""
    if max_letters < 1 or max_bytes < 1:
        raise ValueError(f"a chunk needs room for a letter ({max_letters}, {max_bytes})")
    bounds: list[range] = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        if index > start and (index - start >= max_letters or used + size > max_bytes):
            bounds.append(range(start, index))
            start, used = index, 0
        used += size
    bounds.append(range(start, len(sizes)))
    return bounds


def chunk_audits(
    audit: Mapping[str, Any], chunks: Sequence[Sequence[str]], limit: int, *, topic: str
) -> list[list[dict[str, Any]]]:
    """The audit records of each chunk (the coordinates it re-sends, in order): the chunk's
    letters cut into parts that fit ``limit`` (``audit_parts``), numbered across the replay
    (``part`` 1 to ``parts``, every chunk's records after the previous chunk's), so a reader
    sees a replay that stopped part-way as parts 1 to k of ``parts``, and each letter is
    listed exactly once, in the chunk that re-sends it."""
    per_chunk = [audit_parts(audit, letters, limit, topic=topic) for letters in chunks]
    total = sum(len(x) for x in per_chunk)
    numbered: list[list[dict[str, Any]]] = []
    before = 0
    for parts in per_chunk:
        # audit_parts sized each part for the widest part numbers: renumbering keeps it fitting.
        numbered.append([{**x, "part": before + x["part"], "parts": total} for x in parts])
        before += len(parts)
    return numbered
