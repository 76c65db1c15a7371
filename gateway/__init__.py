"""kpgw: the Kimberley Process certificate gateway.

Nothing is built or loaded at import time; see ``gateway.cli`` for the entry point.
"""

__version__ = "0.1.0"
