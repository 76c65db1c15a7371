"""Realistic synthetic KP traffic (DOMAIN.md section 7): certificate + confirmation pairs
over the registry's enabled pairs, optional faults, and a manifest of what each should
produce. ``kpgw generate`` writes it; tests and benchmarks use it in memory.

Modules: ``reference`` (who trades what, prices, names), ``sampling`` (seeded draws of
canonical payloads), ``faults`` (each story's documents and expected outcomes),
``render`` (payload -> bytes through the adapter registry), ``corpus`` (the run, the files,
``manifest.jsonl``).
"""

from gateway.generate.corpus import (
    DEFAULT_BASE_DATE,
    MANIFEST,
    GeneratedCertificate,
    GeneratedFile,
    GenerateOptions,
    Summary,
    generate,
    read_manifest,
    write,
)
from gateway.generate.faults import Fault, Scenario
from gateway.generate.render import MIXED, RendererUnavailable

__all__ = [
    "DEFAULT_BASE_DATE",
    "MANIFEST",
    "MIXED",
    "Fault",
    "GenerateOptions",
    "GeneratedCertificate",
    "GeneratedFile",
    "RendererUnavailable",
    "Scenario",
    "Summary",
    "generate",
    "read_manifest",
    "write",
]
