"""Adapter throughput benchmark: the same as ``kpgw bench adapters`` (the logic lives in
``gateway.bench.adapters`` so the installed command has it).

    python bench/adapters.py --json [--documents N] [--seconds S] [--format F]
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    # Run as a script, this folder leads sys.path and this file would shadow the
    # ``adapters`` package: drop the folder before importing the gateway.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    from gateway.cli.bench_cmd import bench

    bench.main(args=["adapters", *sys.argv[1:]], prog_name="bench/adapters.py")


if __name__ == "__main__":
    main()
