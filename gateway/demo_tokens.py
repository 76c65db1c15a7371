"""PUBLIC demo-only bearer tokens: anyone can compute them from this file.

The shipped example registry (``schemas/data/participants.example.toml``) stores the
SHA-256 hashes of these tokens so the demo, the tests and the benchmarks can authenticate
as any participant that exchanges digitally. They protect nothing: never put their hashes
in a production registry. Real tokens are minted with ``kpgw registry token P`` (256 random
bits) and only their hashes are stored.
"""

from __future__ import annotations

import hashlib


def demo_token(participant: str) -> str:
    """The public demo token of ``participant`` (e.g. ``RU``) in the example registry."""
    code = participant.strip().upper()
    digest = hashlib.sha256(f"kpgw demo token {code}".encode()).hexdigest()[:40]
    return f"kpgw_demo_{code.lower()}_{digest}"
