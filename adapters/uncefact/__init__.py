"""The KP profile of UN/CEFACT D17A: ``rsm:SPSCertificate`` (issued, cancelled) and
``rsm:SPSAcknowledgement`` (import confirmation). See docs/formats/uncefact-kp.md.

Importing this package builds nothing: the profile schemas compile on first use.
"""

from adapters.uncefact.adapter import UncefactAdapter

ADAPTER = UncefactAdapter()

__all__ = ["ADAPTER", "UncefactAdapter"]
