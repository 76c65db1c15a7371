"""Scenarios: the documents one certificate's story sends, in order, and what the gateway
must make of them (DESIGN.md section 4 outcomes, or a translator finding).

Expected outcomes are every outcome the router emits for the story once all its windows
have passed (confirmation deadline, orphan window), in the order the router emits them:
a certificate its destination never confirms also ends CONFIRMATION_OVERDUE. A broken
document is rejected by the translator with the finding code it names and reaches no
router, so its story expects no outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from adapters.xsd import XSD_VIOLATION
from gateway import rules
from gateway.events import CertificateIssued, DocumentKind, HsLine, ImportConfirmed, Payload
from gateway.generate import reference as ref
from gateway.generate.sampling import CENT, Route, Sampler, with_lines
from gateway.router.records import OutcomeKind
from gateway.router.signals import INDUSTRIAL

# The outcomes a story predicts are the router's own names, as plain strings (manifest.jsonl).
MATCHED = OutcomeKind.MATCHED.value
MATCHED_WITH_DISCREPANCIES = OutcomeKind.MATCHED_WITH_DISCREPANCIES.value
CONFIRMATION_OVERDUE = OutcomeKind.CONFIRMATION_OVERDUE.value
ORPHAN_CONFIRMATION = OutcomeKind.ORPHAN_CONFIRMATION.value
DUPLICATE_CONFIRMATION = OutcomeKind.DUPLICATE_CONFIRMATION.value
WRONG_DESTINATION = OutcomeKind.WRONG_DESTINATION.value
CONFIRMED_AFTER_EXPIRY = OutcomeKind.CONFIRMED_AFTER_EXPIRY.value
CONFLICTING_REISSUE = OutcomeKind.CONFLICTING_REISSUE.value
CONFIRMED_AFTER_VOID = OutcomeKind.CONFIRMED_AFTER_VOID.value
VALUE_PER_CARAT_OUT_OF_BAND = OutcomeKind.VALUE_PER_CARAT_OUT_OF_BAND.value
VOIDED_AFTER_RECEIPT = OutcomeKind.VOIDED_AFTER_RECEIPT.value
NOT_KP_HS_CODE = "7102.29"
NON_PARTICIPANT_ORIGIN = "KE"
#: Prefixes a forger puts on a certificate number (DOMAIN.md section 3), tried in order.
FORGED_PREFIXES = ("SL", "GH", "CM", "ZA", "BW", "RU", "AE")


class Fault(StrEnum):
    CARATS_OFF = "carats_off"
    PARCELS_OFF = "parcels_off"
    NAME_VARIANT = "name_variant"
    OTHER_IMPORTER = "other_importer"
    MISSING_CONFIRMATION = "missing_confirmation"
    CONFIRMED_TWICE = "confirmed_twice"
    WRONG_DESTINATION = "wrong_destination"
    ORPHAN_CONFIRMATION = "orphan_confirmation"
    CONFIRMED_AFTER_EXPIRY = "confirmed_after_expiry"
    CONFIRMED_AFTER_VOID = "confirmed_after_void"
    VOIDED_AFTER_RECEIPT = "voided_after_receipt"
    CONFLICTING_REISSUE = "conflicting_reissue"
    VALUE_OUT_OF_BAND = "value_out_of_band"
    BROKEN_SCHEMA = "broken_schema"
    BROKEN_NOT_KP_GOODS = "broken_not_kp_goods"
    BROKEN_ORIGIN = "broken_non_participant_origin"
    BROKEN_NUMBER_PREFIX = "broken_number_prefix"
    BROKEN_NUMBER_SERIES = "broken_number_from_another_years_series"
    BROKEN_EXPIRY = "broken_expiry_before_issue"
    BROKEN_TOTALS = "broken_lines_not_summing"


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    """One document to render and send. ``break_schema``: after rendering, insert an
    element the format's schema does not allow."""

    kind: DocumentKind
    payload: Payload
    message_id: str
    break_schema: bool = False

    @property
    def sender(self) -> str:
        return self.payload.sender


@dataclass(frozen=True, slots=True)
class Scenario:
    certificate_id: str
    fault: Fault | None
    documents: tuple[PlannedDocument, ...]
    expected_outcomes: tuple[str, ...]
    expected_findings: tuple[str, ...] = ()


def scenario(sampler: Sampler, fault: Fault | None) -> Scenario:
    if fault is None:
        cert = sampler.certificate()
        return _story(sampler, None, cert, [cert, sampler.confirmation(cert)], MATCHED)
    return _BUILDERS[fault](sampler)


def _story(
    sampler: Sampler,
    fault: Fault | None,
    cert: CertificateIssued,
    payloads: list[Payload],
    *outcomes: str,
) -> Scenario:
    documents = tuple(_planned(sampler, payload) for payload in payloads)
    return Scenario(cert.certificate_number, fault, documents, outcomes)


def _planned(sampler: Sampler, payload: Payload, *, break_schema: bool = False) -> PlannedDocument:
    kind: DocumentKind
    if isinstance(payload, CertificateIssued):
        kind = "certificate"
    elif isinstance(payload, ImportConfirmed):
        kind = "confirmation"
    else:
        kind = "void"
    return PlannedDocument(kind, payload, sampler.message_id(), break_schema)


# --- discrepancies -------------------------------------------------------------------------


def _carats_off(sampler: Sampler) -> Scenario:
    """One line (or the total, when the confirmation gives no lines) weighs 0.01-5% more
    or less on arrival, always beyond the pair's carat tolerance."""
    cert = sampler.certificate()
    conf = sampler.confirmation(cert)
    pair = sampler.registry.pair(cert.exporting_participant, cert.importing_participant)
    tolerance = pair.carats_tolerance_pct if pair else Decimal(0)
    low = max(Decimal("0.01"), tolerance + Decimal("0.1"))
    percent = Decimal(f"{sampler.rng.uniform(float(low), float(max(low + 1, Decimal(5)))):.3f}")
    sign = sampler.rng.choice((-1, 1))
    index = sampler.rng.randrange(len(conf.lines)) if conf.lines else None
    weight = conf.lines[index].carats if index is not None else cert.total_carats
    changed = _beyond(weight, percent, sign, tolerance)
    delta = changed - weight
    if index is not None:
        lines = tuple(
            replace(line, carats=changed) if i == index else line
            for i, line in enumerate(conf.lines)
        )
        conf = replace(conf, lines=lines)
    conf = replace(conf, total_carats=cert.total_carats + delta)
    return _story(sampler, Fault.CARATS_OFF, cert, [cert, conf], MATCHED_WITH_DISCREPANCIES)


def _beyond(weight: Decimal, percent: Decimal, sign: int, tolerance: Decimal) -> Decimal:
    """``weight`` moved by ``percent`` in direction ``sign``, to the hundredth of a carat,
    and at least one hundredth beyond ``tolerance`` percent; upwards if down would reach 0."""
    if sign < 0 and weight * (100 - percent) / 100 < CENT * 2:
        sign = 1
    changed = (weight * (100 + sign * percent) / 100).quantize(CENT)
    while changed == weight or abs(changed - weight) * 100 <= weight * tolerance:
        changed += sign * CENT
    return changed


def _parcels_off(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    step = 1 if cert.parcels == 1 else sampler.rng.choice((-1, 1))
    conf = replace(sampler.confirmation(cert), parcels=cert.parcels + step)
    return _story(sampler, Fault.PARCELS_OFF, cert, [cert, conf], MATCHED_WITH_DISCREPANCIES)


def name_variant(name: str, choice: int) -> str:
    """The same company written differently: case, spacing, a comma before the legal form.
    ``choice`` picks among the variants that differ from ``name``."""
    words = name.split(" ")
    variants = [
        name.upper(),
        name.lower(),
        "  ".join(words),
        " ".join(words[:-1]) + ", " + words[-1] if len(words) > 1 else name + ".",
    ]
    different = [variant for variant in variants if variant != name]
    return different[choice % len(different)]


def _name_variant(sampler: Sampler) -> Scenario:
    """The confirmation spells the importer (and half the time the exporter) differently;
    the names normalise equal, so the pair still matches."""
    cert = sampler.certificate()
    conf = sampler.confirmation(cert)
    importer = replace(
        cert.importer, name=name_variant(cert.importer.name, sampler.rng.randrange(4))
    )
    exporter = cert.exporter
    if sampler.rng.random() < 0.5:
        exporter = replace(exporter, name=name_variant(exporter.name, sampler.rng.randrange(4)))
    conf = replace(conf, importer=importer, exporter=exporter)
    return _story(sampler, Fault.NAME_VARIANT, cert, [cert, conf], MATCHED)


def _other_importer(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    state = cert.importing_member_state
    other = sampler.party(cert.importing_participant, state, unlike=cert.importer.name)
    conf = replace(sampler.confirmation(cert), importer=other)
    return _story(sampler, Fault.OTHER_IMPORTER, cert, [cert, conf], MATCHED_WITH_DISCREPANCIES)


def _value_out_of_band(sampler: Sampler) -> Scenario:
    """Declared value per carat far above or below the origin's band (under- or
    over-valuation); the confirmation agrees with the certificate."""
    cert = sampler.certificate(mixed=False)
    if all(line.hs_code == INDUSTRIAL for line in cert.lines):
        # Industrial rough is judged only against a band of its own: give the story gems.
        cert = with_lines(cert, (replace(cert.lines[0], hs_code="7102.31"), *cert.lines[1:]))
    known = sampler.registry.get(sampler.registry.participant_of(cert.origin) or cert.origin)
    average = ref.USD_PER_CARAT[cert.origin]
    low, high = (
        known.usd_per_carat if known and known.usd_per_carat else (average * 2 / 5, average * 5 / 2)
    )
    over = sampler.rng.random() < 0.5
    factor = Decimal(f"{sampler.rng.uniform(2.0, 6.0):.3f}")
    per_carat = high * factor if over else low / factor
    lines = tuple(
        replace(line, value_usd=max((line.carats * per_carat).quantize(CENT), CENT))
        for line in cert.lines
    )
    cert = with_lines(cert, lines)
    return _story(
        sampler, Fault.VALUE_OUT_OF_BAND, cert, [cert, sampler.confirmation(cert)],
        VALUE_PER_CARAT_OUT_OF_BAND, MATCHED,
    )  # fmt: skip


# --- fraud signals and lifecycle -------------------------------------------------------------


def _missing_confirmation(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    return _story(sampler, Fault.MISSING_CONFIRMATION, cert, [cert], CONFIRMATION_OVERDUE)


def _confirmed_twice(sampler: Sampler) -> Scenario:
    """Re-use: the destination confirms the same certificate again days later."""
    cert = sampler.certificate()
    first = sampler.confirmation(cert)
    second = replace(first, date_of_receipt=first.date_of_receipt + sampler.days(1, 9))
    return _story(
        sampler, Fault.CONFIRMED_TWICE, cert, [cert, first, second],
        MATCHED, DUPLICATE_CONFIRMATION,
    )  # fmt: skip


def _wrong_destination(sampler: Sampler) -> Scenario:
    """Diversion: another exchanging participant confirms; the destination never does."""
    cert = sampler.certificate()
    others = [
        code
        for code in sampler.exchanging
        if code not in (cert.importing_participant, cert.exporting_participant)
    ]
    confirmer = sampler.rng.choice(others)
    conf = sampler.confirmation(cert, by=confirmer, by_state=sampler.member_state(confirmer))
    return _story(
        sampler, Fault.WRONG_DESTINATION, cert, [cert, conf],
        WRONG_DESTINATION, CONFIRMATION_OVERDUE,
    )  # fmt: skip


def _orphan(sampler: Sampler) -> Scenario:
    """A confirmation for a certificate number that was never issued."""
    cert = sampler.certificate()
    conf = sampler.confirmation(cert)
    documents = (_planned(sampler, conf),)
    return Scenario(
        cert.certificate_number, Fault.ORPHAN_CONFIRMATION, documents, (ORPHAN_CONFIRMATION,)
    )


#: A confirmation after expiry is received up to this many days after it: the latest
#: document date of any story.
AFTER_EXPIRY_MAX_DAYS = 30


def _after_expiry(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    received = cert.expiry_date + sampler.days(1, AFTER_EXPIRY_MAX_DAYS)
    conf = sampler.confirmation(cert, received=received)
    return _story(
        sampler, Fault.CONFIRMED_AFTER_EXPIRY, cert, [cert, conf], MATCHED, CONFIRMED_AFTER_EXPIRY
    )


def _after_void(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    void = sampler.void(cert)
    conf = sampler.confirmation(cert, received=void.voided_on + sampler.days(1, 10))
    return _story(
        sampler, Fault.CONFIRMED_AFTER_VOID, cert, [cert, void, conf], MATCHED, CONFIRMED_AFTER_VOID
    )


def _voided_after_receipt(sampler: Sampler) -> Scenario:
    """The importer confirms receipt; weeks later the exporter cancels the certificate (the
    shipment would vanish from its records while the importer's count it)."""
    cert = sampler.certificate()
    conf = sampler.confirmation(cert)
    void = replace(sampler.void(cert), voided_on=conf.date_of_receipt + sampler.days(1, 10))
    return _story(
        sampler,
        Fault.VOIDED_AFTER_RECEIPT,
        cert,
        [cert, conf, void],
        MATCHED,
        VOIDED_AFTER_RECEIPT,
    )


def _conflicting_reissue(sampler: Sampler) -> Scenario:
    """The same number issued again with one line heavier and dearer; the destination
    confirms the original, which stays the reference."""
    cert = sampler.certificate()
    index = sampler.rng.randrange(len(cert.lines))
    factor = Decimal(f"{sampler.rng.uniform(1.05, 1.3):.3f}")
    lines = tuple(
        HsLine(line.hs_code, (line.carats * factor).quantize(CENT) + CENT,
               (line.value_usd * factor).quantize(CENT) + CENT, line.origin)
        if i == index else line
        for i, line in enumerate(cert.lines)
    )  # fmt: skip
    reissue = with_lines(cert, lines)
    return _story(
        sampler, Fault.CONFLICTING_REISSUE, cert, [cert, reissue, sampler.confirmation(cert)],
        CONFLICTING_REISSUE, MATCHED,
    )  # fmt: skip


# --- broken documents ----------------------------------------------------------------------


def _broken(sampler: Sampler, fault: Fault, cert: CertificateIssued, code: str) -> Scenario:
    document = _planned(sampler, cert, break_schema=fault is Fault.BROKEN_SCHEMA)
    return Scenario(cert.certificate_number, fault, (document,), (), (code,))


def _broken_schema(sampler: Sampler) -> Scenario:
    return _broken(sampler, Fault.BROKEN_SCHEMA, sampler.certificate(), XSD_VIOLATION)


def _broken_goods(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    index = sampler.rng.randrange(len(cert.lines))
    lines = tuple(
        replace(line, hs_code=NOT_KP_HS_CODE) if i == index else line
        for i, line in enumerate(cert.lines)
    )
    return _broken(
        sampler, Fault.BROKEN_NOT_KP_GOODS, replace(cert, lines=lines), rules.NOT_KP_GOODS
    )


def _broken_origin(sampler: Sampler) -> Scenario:
    cert = replace(sampler.certificate(), origin=NON_PARTICIPANT_ORIGIN, provenance=None)
    return _broken(sampler, Fault.BROKEN_ORIGIN, cert, rules.ORIGIN_NOT_PARTICIPANT)


def _broken_prefix(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    registry = sampler.registry
    prefix = next(
        code
        for code in FORGED_PREFIXES
        if code != cert.issuing_participant
        and registry.participant_of(code) != cert.issuing_participant
    )
    cert = replace(cert, certificate_number=sampler.number(prefix))
    return _broken(sampler, Fault.BROKEN_NUMBER_PREFIX, cert, rules.NUMBER_PREFIX_NOT_ISSUER)


def _broken_series(sampler: Sampler) -> Scenario:
    """Sierra Leone's forgers (DOMAIN.md section 3): a number from a block its issuer
    registered for another year. Without such a block in the registry, a wrong prefix."""
    cert = sampler.certificate()
    year = cert.issue_date.year
    for route in sampler.rng.sample(sampler.routes, len(sampler.routes)):
        exporter = route[0]
        states = sampler.registry.participants[exporter].member_states or (exporter,)
        for prefix in states:
            old = [block for block in sampler.series(prefix) if not block.covers(year)]
            if old:
                state = prefix if prefix != exporter else None
                cert = sampler.certificate(Route(exporter, route[1], state, None))
                number = sampler.number(prefix, block=sampler.rng.choice(old))
                cert = replace(cert, certificate_number=number)
                return _broken(
                    sampler, Fault.BROKEN_NUMBER_SERIES, cert, rules.NUMBER_NOT_IN_SERIES
                )
    return _broken_prefix(sampler)


def _broken_expiry(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    cert = replace(cert, expiry_date=cert.issue_date - sampler.days(1, 30))
    return _broken(sampler, Fault.BROKEN_EXPIRY, cert, rules.EXPIRY_BEFORE_ISSUE)


def _broken_totals(sampler: Sampler) -> Scenario:
    cert = sampler.certificate()
    extra = max((cert.total_carats / 100).quantize(CENT), CENT)
    cert = replace(cert, total_carats=cert.total_carats + extra)
    return _broken(sampler, Fault.BROKEN_TOTALS, cert, rules.LINES_DO_NOT_SUM)


_BUILDERS: dict[Fault, Callable[[Sampler], Scenario]] = {
    Fault.CARATS_OFF: _carats_off,
    Fault.PARCELS_OFF: _parcels_off,
    Fault.NAME_VARIANT: _name_variant,
    Fault.OTHER_IMPORTER: _other_importer,
    Fault.MISSING_CONFIRMATION: _missing_confirmation,
    Fault.CONFIRMED_TWICE: _confirmed_twice,
    Fault.WRONG_DESTINATION: _wrong_destination,
    Fault.ORPHAN_CONFIRMATION: _orphan,
    Fault.CONFIRMED_AFTER_EXPIRY: _after_expiry,
    Fault.CONFIRMED_AFTER_VOID: _after_void,
    Fault.VOIDED_AFTER_RECEIPT: _voided_after_receipt,
    Fault.CONFLICTING_REISSUE: _conflicting_reissue,
    Fault.VALUE_OUT_OF_BAND: _value_out_of_band,
    Fault.BROKEN_SCHEMA: _broken_schema,
    Fault.BROKEN_NOT_KP_GOODS: _broken_goods,
    Fault.BROKEN_ORIGIN: _broken_origin,
    Fault.BROKEN_NUMBER_PREFIX: _broken_prefix,
    Fault.BROKEN_NUMBER_SERIES: _broken_series,
    Fault.BROKEN_EXPIRY: _broken_expiry,
    Fault.BROKEN_TOTALS: _broken_totals,
}
