"""Benchmarks behind ``kpgw bench``: each module measures one part and returns JSON-ready
result objects (one per measured case)."""
