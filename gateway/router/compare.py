"""Field-by-field comparison: a certificate against its confirmation, two versions of a
document against each other, names after normalisation, USD per carat against a band."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import fields
from datetime import date
from decimal import Decimal
from functools import lru_cache

from gateway.events import CertificateIssued, HsLine, ImportConfirmed, Party, carats, usd
from gateway.router.records import Difference

MIXED = "MIXED"

#: Legal-form words stripped from either end of a company name before comparing (after
#: case folding and punctuation removal, so "B.V." is "bv" and "(Pty) Ltd" is "pty ltd").
LEGAL_FORMS = frozenset(
    {
        # English / international
        "ltd", "limited", "llc", "llp", "lp", "plc", "inc", "incorporated", "corp",
        "corporation", "co", "company", "pty", "pvt", "private", "pte",
        # Russian and CIS, transliterated and Cyrillic
        "ao", "oao", "zao", "pao", "ooo", "jsc", "pjsc", "ojsc", "cjsc",
        "\u0430\u043e", "\u043e\u0430\u043e", "\u0437\u0430\u043e",  # Cyrillic ao oao zao
        "\u043f\u0430\u043e", "\u043e\u043e\u043e",  # Cyrillic pao ooo
        # Continental Europe
        "bv", "nv", "bvba", "sprl", "sa", "sas", "sarl", "srl", "spa", "ag", "gmbh",
        # UAE free zones
        "dmcc", "fze", "fzco", "fzc", "fz",
    }
)  # fmt: skip
_DROPPED = re.compile(r"[.'\u2019`]")
_SEPARATORS = re.compile(r"[\W_]+")


@lru_cache(maxsize=8192)
def normalise_name(name: str) -> str:
    """Case, accents, spacing, punctuation and legal-form words do not make a different
    company: ``"ALROSA, PJSC"``, ``"Alrosa"`` and ``"PJSC  Alrosa."`` all give ``"alrosa"``.
    A name made only of legal-form words is kept (``"LLC"`` stays ``"llc"``)."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    tokens = _SEPARATORS.sub(" ", _DROPPED.sub("", text)).split()
    start, end = 0, len(tokens)
    while end > start and tokens[end - 1] in LEGAL_FORMS:
        end -= 1
    while start < end and tokens[start] in LEGAL_FORMS:
        start += 1
    return " ".join(tokens[start:end] or tokens)


def same_party(left: Party, right: Party) -> bool:
    return normalise_name(left.name) == normalise_name(right.name)


def within(reference: Decimal, observed: Decimal, tolerance_pct: Decimal) -> bool:
    """``observed`` is within ``tolerance_pct`` percent of ``reference``; exactly at the
    tolerance counts as within (exact Decimal arithmetic, no rounding)."""
    return abs(observed - reference) * 100 <= abs(reference) * tolerance_pct


def compare(
    cert: CertificateIssued,
    conf: ImportConfirmed,
    carats_tolerance_pct: Decimal = Decimal(0),
    value_tolerance_pct: Decimal = Decimal(0),
) -> tuple[Difference, ...]:
    """Every difference between a certificate and a confirmation of it.

    Compared: parcels (when the confirmation gives them), HS lines present and carats and
    value per line (when it gives lines), else the totals it gives (carats are mandatory on
    a confirmation: none at all is a difference; the value is optional), the importer's
    and (when given) the exporter's names after :func:`normalise_name`. The confirming
    participant and the dates are judged by their own outcomes, not here.
    """
    differences: list[Difference] = []
    if conf.parcels is not None and conf.parcels != cert.parcels:
        differences.append(Difference("parcels", str(cert.parcels), str(conf.parcels)))
    if conf.lines:
        differences.extend(_compare_lines(cert, conf, carats_tolerance_pct, value_tolerance_pct))
    else:
        if conf.total_carats is None:
            differences.append(Difference("total_carats", _ct(cert.total_carats), None))
        elif not within(cert.total_carats, conf.total_carats, carats_tolerance_pct):
            differences.append(
                Difference("total_carats", _ct(cert.total_carats), _ct(conf.total_carats))
            )
        if conf.total_value_usd is not None and not within(
            cert.total_value_usd, conf.total_value_usd, value_tolerance_pct
        ):
            differences.append(
                Difference(
                    "total_value_usd", _usd(cert.total_value_usd), _usd(conf.total_value_usd)
                )
            )
    if not same_party(cert.importer, conf.importer):
        differences.append(Difference("importer", cert.importer.name, conf.importer.name))
    if conf.exporter is not None and not same_party(cert.exporter, conf.exporter):
        differences.append(Difference("exporter", cert.exporter.name, conf.exporter.name))
    return tuple(differences)


def _compare_lines(
    cert: CertificateIssued,
    conf: ImportConfirmed,
    carats_tolerance_pct: Decimal,
    value_tolerance_pct: Decimal,
) -> list[Difference]:
    ours = {line.hs_code: line for line in cert.lines}
    theirs = {line.hs_code: line for line in conf.lines}
    differences: list[Difference] = []
    for code in sorted(ours.keys() | theirs.keys()):
        mine, other = ours.get(code), theirs.get(code)
        if mine is None or other is None:
            differences.append(
                Difference(f"lines[{code}]", code if mine else None, code if other else None)
            )
            continue
        if not within(mine.carats, other.carats, carats_tolerance_pct):
            differences.append(
                Difference(f"lines[{code}].carats", _ct(mine.carats), _ct(other.carats))
            )
        if not within(mine.value_usd, other.value_usd, value_tolerance_pct):
            differences.append(
                Difference(f"lines[{code}].value_usd", _usd(mine.value_usd), _usd(other.value_usd))
            )
    return differences


def document_differences(
    earlier: CertificateIssued | ImportConfirmed, later: CertificateIssued | ImportConfirmed
) -> tuple[Difference, ...]:
    """Exact field-by-field differences between two documents of the same kind (a re-issue
    against the original, a second confirmation against the first)."""
    differences = []
    for item in fields(earlier):
        left, right = getattr(earlier, item.name), getattr(later, item.name)
        if left != right:
            differences.append(Difference(item.name, _text(left), _text(right)))
    return tuple(differences)


def value_per_carat(cert: CertificateIssued) -> Decimal | None:
    """Total USD / total carats, to the cent; None when the certificate weighs nothing."""
    if cert.total_carats <= 0:
        return None
    return usd(cert.total_value_usd / cert.total_carats)


def _ct(value: Decimal) -> str:
    return str(carats(value))


def _usd(value: Decimal) -> str:
    return str(usd(value))


def _line_text(line: HsLine) -> str:
    return f"{line.hs_code} {_ct(line.carats)} ct {_usd(line.value_usd)} USD"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Party):
        return value.name
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "; ".join(
            _line_text(item) if isinstance(item, HsLine) else str(item) for item in value
        )
    return str(value)
