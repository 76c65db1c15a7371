"""docs/findings.md lists every stable finding and reason code the gateway can give, so a
sender's developer or an operator can look up any code they meet."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from adapters import xmlsafe
from adapters.envelope import profile as envelope_profile
from adapters.envelope.read import EnvelopeMismatch
from adapters.ru_fts import profile as ru_fts_profile
from adapters.uncefact import profile as uncefact_profile
from gateway import errors, rules
from gateway.cli.adapters_cmd import UNREADABLE_FILE
from gateway.ingress.validator import DOCUMENT_CRASHES_VALIDATOR
from gateway.router.handler import MisroutedEvent

DOC = Path(__file__).resolve().parents[2] / "docs" / "findings.md"
_CODE = re.compile(r"^[A-Z]+(_[A-Z]+)+$")
#: Codes of the ingress that are literals at their one use.
INGRESS_CODES = ("BODY_TOO_LARGE", "INVALID_IDEMPOTENCY_KEY", "IDEMPOTENCY_KEY_REUSED")


def _module_codes(module: ModuleType) -> set[str]:
    return {
        value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and _CODE.match(value)
    }


def _rejection_codes() -> set[str]:
    """The codes of every refusal of a document (``MessageRejected`` and its subclasses,
    all of whose modules are imported above)."""
    found: set[str] = set()
    pending: list[type[errors.MessageRejected]] = [errors.MessageRejected]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.add(cls.code)
    return found


def test_every_code_is_documented() -> None:
    documented = set(re.findall(r"`([A-Z]+(?:_[A-Z]+)+)`", DOC.read_text(encoding="utf-8")))
    codes = (
        set(rules.RULE_CODES)
        | _module_codes(xmlsafe)
        | _module_codes(uncefact_profile)
        | _module_codes(ru_fts_profile)
        | _module_codes(envelope_profile)
        | _rejection_codes()
        | {MisroutedEvent.code, EnvelopeMismatch.code}
        | set(INGRESS_CODES)
        | {UNREADABLE_FILE, DOCUMENT_CRASHES_VALIDATOR}
    )
    assert sorted(codes - documented) == []
