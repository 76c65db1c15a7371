"""Kimberley Process business rules, format-agnostic: they judge canonical payloads, so every
adapter gets the same checks with the same stable finding codes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from gateway.errors import BusinessRuleViolation, Finding
from gateway.events import CertificateIssued, CertificateVoided, HsLine, ImportConfirmed, Payload
from gateway.registry import ParticipantRegistry

KP_HS_CODES = frozenset({"7102.10", "7102.21", "7102.31"})
MIXED = "MIXED"
CERTIFICATE_NUMBER = re.compile(r"^[A-Z]{2}[0-9]{6,9}$")

# Stable finding codes.
NOT_KP_GOODS = "NOT_KP_GOODS"
NON_PARTICIPANT = "NON_PARTICIPANT"
PARTICIPANT_SUSPENDED = "PARTICIPANT_SUSPENDED"
NUMBER_PREFIX_NOT_ISSUER = "NUMBER_PREFIX_NOT_ISSUER"
INVALID_CERTIFICATE_NUMBER = "INVALID_CERTIFICATE_NUMBER"
EXPIRY_BEFORE_ISSUE = "EXPIRY_BEFORE_ISSUE"
CARATS_NOT_POSITIVE = "CARATS_NOT_POSITIVE"
VALUE_NOT_POSITIVE = "VALUE_NOT_POSITIVE"
LINES_DO_NOT_SUM = "LINES_DO_NOT_SUM_TO_TOTALS"
PARCELS_NOT_POSITIVE = "PARCELS_NOT_POSITIVE"
ORIGIN_NOT_PARTICIPANT = "ORIGIN_NOT_PARTICIPANT"
SAME_PARTICIPANT = "IMPORTER_IS_EXPORTER"
ISSUER_NOT_EXPORTER = "ISSUER_NOT_EXPORTER"
DUPLICATE_HS_LINE = "DUPLICATE_HS_LINE"
NO_LINES = "NO_HS_LINES"
PAIR_NOT_ENABLED = "PAIR_NOT_ENABLED"
MIXED_WITHOUT_PROVENANCE = "MIXED_ORIGIN_WITHOUT_PROVENANCE"

RULE_CODES = (
    NOT_KP_GOODS,
    NON_PARTICIPANT,
    PARTICIPANT_SUSPENDED,
    NUMBER_PREFIX_NOT_ISSUER,
    INVALID_CERTIFICATE_NUMBER,
    EXPIRY_BEFORE_ISSUE,
    CARATS_NOT_POSITIVE,
    VALUE_NOT_POSITIVE,
    LINES_DO_NOT_SUM,
    PARCELS_NOT_POSITIVE,
    ORIGIN_NOT_PARTICIPANT,
    SAME_PARTICIPANT,
    ISSUER_NOT_EXPORTER,
    DUPLICATE_HS_LINE,
    NO_LINES,
    PAIR_NOT_ENABLED,
    MIXED_WITHOUT_PROVENANCE,
)


def check(payload: Payload, registry: ParticipantRegistry) -> None:
    """Raise ``BusinessRuleViolation`` with every finding, or return when the payload obeys
    the KP rules."""
    findings = list(findings_for(payload, registry))
    if findings:
        raise BusinessRuleViolation(
            f"{len(findings)} Kimberley Process rule(s) broken; first: {findings[0].message}",
            findings=tuple(findings),
        )


def findings_for(payload: Payload, registry: ParticipantRegistry) -> Iterable[Finding]:
    if isinstance(payload, CertificateIssued):
        yield from _certificate(payload, registry)
    elif isinstance(payload, ImportConfirmed):
        yield from _confirmation(payload, registry)
    else:
        yield from _void(payload, registry)


def _participant(
    code: str, role: str, path: str, registry: ParticipantRegistry
) -> Iterable[Finding]:
    participant = registry.get(code)
    if participant is None:
        yield Finding(
            NON_PARTICIPANT,
            f"the {role} {code} is not a Kimberley Process participant; trade with it is forbidden",
            path=path,
        )
    elif not registry.is_active(code):
        yield Finding(
            PARTICIPANT_SUSPENDED,
            f"the {role} {code} ({participant.name}) is suspended from KP trade",
            path=path,
        )


def _number(number: str, issuer: str, registry: ParticipantRegistry) -> Iterable[Finding]:
    if not CERTIFICATE_NUMBER.match(number):
        yield Finding(
            INVALID_CERTIFICATE_NUMBER,
            f"certificate number {number!r} is not the issuer's ISO code followed by 6-9 digits",
            path="certificate_number",
        )
        return
    prefix = number[:2]
    if prefix != issuer and registry.participant_of(prefix) != issuer:
        yield Finding(
            NUMBER_PREFIX_NOT_ISSUER,
            f"certificate number {number} begins with {prefix}, but it was issued by {issuer}",
            path="certificate_number",
        )


def _lines(
    lines: tuple[HsLine, ...],
    total_carats: Decimal | None,
    total_value: Decimal | None,
) -> Iterable[Finding]:
    seen: set[str] = set()
    for index, line in enumerate(lines, start=1):
        where = f"lines[{index}]"
        if line.hs_code not in KP_HS_CODES:
            yield Finding(
                NOT_KP_GOODS,
                f"HS code {line.hs_code} is not rough diamonds under the KP "
                "(only 7102.10, 7102.21, 7102.31)",
                path=f"{where}.hs_code",
            )
        if line.hs_code in seen:
            yield Finding(
                DUPLICATE_HS_LINE,
                f"HS code {line.hs_code} appears on more than one line; give one line per code",
                path=f"{where}.hs_code",
            )
        seen.add(line.hs_code)
        if line.carats <= 0:
            yield Finding(
                CARATS_NOT_POSITIVE, f"line {index} weighs {line.carats} ct", path=f"{where}.carats"
            )
        if line.value_usd <= 0:
            yield Finding(
                VALUE_NOT_POSITIVE,
                f"line {index} is worth {line.value_usd} USD",
                path=f"{where}.value_usd",
            )
    if lines and total_carats is not None:
        summed = sum((line.carats for line in lines), Decimal(0))
        if summed != total_carats:
            yield Finding(
                LINES_DO_NOT_SUM,
                f"the lines weigh {summed} ct but the total says {total_carats} ct",
                path="total_carats",
            )
    if lines and total_value is not None:
        summed = sum((line.value_usd for line in lines), Decimal(0))
        if summed != total_value:
            yield Finding(
                LINES_DO_NOT_SUM,
                f"the lines are worth {summed} USD but the total says {total_value} USD",
                path="total_value_usd",
            )


def _certificate(cert: CertificateIssued, registry: ParticipantRegistry) -> Iterable[Finding]:
    yield from _participant(
        cert.issuing_participant, "issuing participant", "issuing_participant", registry
    )
    if cert.exporting_participant != cert.issuing_participant:
        yield Finding(
            ISSUER_NOT_EXPORTER,
            f"{cert.issuing_participant} issued a certificate for an export from "
            f"{cert.exporting_participant}; only the exporting participant may issue it",
            path="exporting_participant",
        )
    yield from _participant(
        cert.importing_participant, "importing participant", "importing_participant", registry
    )
    if cert.importing_participant == cert.exporting_participant:
        yield Finding(
            SAME_PARTICIPANT,
            f"exporter and importer are both {cert.exporting_participant}: this is not KP trade",
            path="importing_participant",
        )
    yield from _number(cert.certificate_number, cert.issuing_participant, registry)
    if cert.origin == MIXED:
        if not cert.provenance:
            yield Finding(
                MIXED_WITHOUT_PROVENANCE,
                "mixed origin needs the provenance (last exporting country)",
                path="provenance",
            )
    elif registry.participant_of(cert.origin) is None:
        yield Finding(
            ORIGIN_NOT_PARTICIPANT,
            f"country of origin {cert.origin} is not a KP participant",
            path="origin",
        )
    if cert.expiry_date < cert.issue_date:
        yield Finding(
            EXPIRY_BEFORE_ISSUE,
            f"expires {cert.expiry_date} before it was issued {cert.issue_date}",
            path="expiry_date",
        )
    if cert.parcels < 1:
        yield Finding(PARCELS_NOT_POSITIVE, f"{cert.parcels} parcels; at least 1", path="parcels")
    if not cert.lines:
        yield Finding(NO_LINES, "a certificate needs at least one HS line", path="lines")
    yield from _lines(cert.lines, cert.total_carats, cert.total_value_usd)
    if cert.total_carats <= 0:
        yield Finding(
            CARATS_NOT_POSITIVE, f"total weight {cert.total_carats} ct", path="total_carats"
        )
    if cert.total_value_usd <= 0:
        yield Finding(
            VALUE_NOT_POSITIVE, f"total value {cert.total_value_usd} USD", path="total_value_usd"
        )
    pair = registry.pair(cert.exporting_participant, cert.importing_participant)
    known = registry.get(cert.exporting_participant) and registry.get(cert.importing_participant)
    if (
        known
        and cert.importing_participant != cert.exporting_participant
        and (pair is None or not pair.enabled)
    ):
        state = "is not enabled yet" if pair is not None else "has no digital exchange agreement"
        yield Finding(
            PAIR_NOT_ENABLED,
            f"the pair {cert.exporting_participant}->{cert.importing_participant} {state}",
            path="importing_participant",
        )


def _confirmation(conf: ImportConfirmed, registry: ParticipantRegistry) -> Iterable[Finding]:
    yield from _participant(
        conf.confirming_participant, "confirming participant", "confirming_participant", registry
    )
    if not CERTIFICATE_NUMBER.match(conf.certificate_number):
        yield Finding(
            INVALID_CERTIFICATE_NUMBER,
            f"certificate number {conf.certificate_number!r} is not an ISO code "
            "followed by 6-9 digits",
            path="certificate_number",
        )
    if conf.parcels is not None and conf.parcels < 1:
        yield Finding(PARCELS_NOT_POSITIVE, f"{conf.parcels} parcels; at least 1", path="parcels")
    yield from _lines(conf.lines, conf.total_carats, conf.total_value_usd)
    if conf.total_carats is not None and conf.total_carats <= 0:
        yield Finding(
            CARATS_NOT_POSITIVE, f"total weight {conf.total_carats} ct", path="total_carats"
        )
    if conf.total_value_usd is not None and conf.total_value_usd <= 0:
        yield Finding(
            VALUE_NOT_POSITIVE, f"total value {conf.total_value_usd} USD", path="total_value_usd"
        )


def _void(void: CertificateVoided, registry: ParticipantRegistry) -> Iterable[Finding]:
    yield from _participant(
        void.voiding_participant, "voiding participant", "voiding_participant", registry
    )
    yield from _number(void.certificate_number, void.voiding_participant, registry)
