"""Kimberley Process business rules, format-agnostic: they judge canonical payloads, so every
adapter gets the same checks with the same stable finding codes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from gateway.errors import BusinessRuleViolation, Finding
from gateway.events import (
    MAX_CARATS,
    MAX_PARCELS,
    MAX_USD,
    CertificateIssued,
    CertificateVoided,
    HsLine,
    ImportConfirmed,
    Party,
    Payload,
    utc,
)
from gateway.registry import ParticipantRegistry, ParticipantStatus
from gateway.text import describe, forbidden_character

KP_HS_CODES = frozenset({"7102.10", "7102.21", "7102.31"})
MIXED = "MIXED"
CERTIFICATE_NUMBER = re.compile(r"^[A-Z]{2}[0-9]{6,9}$")


_ZERO = Decimal(0)

#: The KP Certification Scheme took effect on 1 January 2003: no KP act is older.
KPCS_START = date(2003, 1, 1)
#: A date may be one day past the day the gateway received the document: the sender's
#: local date runs up to 14 hours ahead of UTC, and documents carry local dates.
FUTURE_TOLERANCE = timedelta(days=1)
#: How far a sending system's clock may run ahead of the gateway's: a time the document
#: writes with its UTC offset is exact, so a day's tolerance would let a clock that is
#: hours fast (or a forged time) through. Fifteen minutes covers unsynchronised clocks.
CLOCK_SKEW_TOLERANCE = timedelta(minutes=15)

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
VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
DATE_IN_FUTURE = "DATE_IN_FUTURE"
DATE_BEFORE_KPCS = "DATE_BEFORE_KPCS"
CONFIRMATION_INCOMPLETE = "CONFIRMATION_INCOMPLETE"
NUMBER_NOT_IN_SERIES = "NUMBER_NOT_IN_SERIES"
PARTY_COUNTRY_MISMATCH = "PARTY_COUNTRY_MISMATCH"
TEXT_TOO_LONG = "TEXT_TOO_LONG"
TEXT_CONTROL_CHARACTER = "TEXT_CONTROL_CHARACTER"
VALIDITY_TOO_LONG = "VALIDITY_TOO_LONG"

#: The longest free text the canonical event carries, in characters. Generous for real
#: names and addresses (customs systems keep 150-500), and what keeps every event, the
#: router's state and its outcomes far below Kafka's record limit: a 2 MB document with a
#: megabyte of address was an event the broker refused.
TEXT_LIMITS = {"name": 512, "address": 1024, "authority": 512, "free_text": 2000}

#: Findings a refusal lists, as for schema violations and mapping problems (the rest are
#: counted in its message): a 2 MB confirmation of 19,000 copies of one HS line gave 19,000
#: DUPLICATE_HS_LINE findings, a problem response and a dead-letter header of megabytes.
MAX_FINDINGS = 50

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
    VALUE_OUT_OF_RANGE,
    DATE_IN_FUTURE,
    DATE_BEFORE_KPCS,
    CONFIRMATION_INCOMPLETE,
    NUMBER_NOT_IN_SERIES,
    PARTY_COUNTRY_MISMATCH,
    TEXT_TOO_LONG,
    TEXT_CONTROL_CHARACTER,
    VALIDITY_TOO_LONG,
)


@dataclass(frozen=True, slots=True)
class DocumentTime:
    """When the document says its act happened, and when the gateway received it."""

    occurred_at: datetime
    #: The document wrote the time's UTC offset (``Z`` counts): an exact instant, judged
    #: against ``received_at`` within ``CLOCK_SKEW_TOLERANCE``. Else a date, or a time of
    #: day in an unknown zone: judged by its day, like the payload's dates.
    exact: bool
    received_at: datetime


def check(
    payload: Payload,
    registry: ParticipantRegistry,
    *,
    received_on: date | None = None,
    document_time: DocumentTime | None = None,
    also: Iterable[Finding] = (),
) -> None:
    """Raise ``BusinessRuleViolation`` with every finding, or return when the payload obeys
    the KP rules. ``received_on``: the UTC day the gateway received the document (from the
    record, so a replay judges it as the first time did); without it no date is judged to be
    in the future. ``document_time``: the document's own time stamp, judged the same way.
    ``also``: findings about what the document carries beside the payload, given after the
    rules' own."""
    findings = [
        *findings_for(payload, registry, received_on=received_on, document_time=document_time),
        *also,
    ]
    if findings:
        omitted = len(findings) - MAX_FINDINGS
        more = f" ({omitted} more not listed)" if omitted > 0 else ""
        raise BusinessRuleViolation(
            f"{len(findings)} Kimberley Process rule(s) broken{more}; first: {findings[0].message}",
            findings=tuple(findings[:MAX_FINDINGS]),
        )


def findings_for(
    payload: Payload,
    registry: ParticipantRegistry,
    *,
    received_on: date | None = None,
    document_time: DocumentTime | None = None,
) -> list[Finding]:
    """Every finding, in rule order (empty when the payload obeys the KP rules)."""
    found: list[Finding] = []
    if isinstance(payload, CertificateIssued):
        _certificate(payload, registry, found)
        _ranges(payload, found)
        _dates(found, received_on, ("issue_date", "issued", payload.issue_date))
        act = "issued"
    elif isinstance(payload, ImportConfirmed):
        _confirmation(payload, registry, found)
        _ranges(payload, found)
        _dates(found, received_on, ("date_of_receipt", "received", payload.date_of_receipt))
        act = "confirmed"
    else:
        _void(payload, registry, found)
        _dates(found, received_on, ("voided_on", "voided", payload.voided_on))
        act = "cancelled"
    if document_time is not None and not any(f.code == DATE_IN_FUTURE for f in found):
        _document_time(found, document_time, act)  # one DATE_IN_FUTURE is enough
    found.extend(_text_findings(payload))  # last: a KP rule broken is the reason to give
    return found


def _texts(payload: Payload) -> Iterator[tuple[str, str | None, str]]:
    """(path, text, kind of limit) of every free text of ``payload``."""
    parties: list[tuple[str, Party | None]] = []
    if isinstance(payload, CertificateIssued):
        parties = [("exporter", payload.exporter), ("importer", payload.importer)]
        yield "authority", payload.authority, "authority"
        yield "provenance", payload.provenance, "free_text"
    elif isinstance(payload, ImportConfirmed):
        parties = [("importer", payload.importer), ("exporter", payload.exporter)]
        yield "authority", payload.authority, "authority"
        yield "remarks", payload.remarks, "free_text"
    else:
        yield "reason", payload.reason, "free_text"
    for role, party in parties:
        if party is not None:
            yield f"{role}.name", party.name, "name"
            yield f"{role}.short_name", party.short_name, "name"
            yield f"{role}.address", party.address, "address"


def _text_findings(payload: Payload) -> Iterator[Finding]:
    for path, text, kind in _texts(payload):
        if text is None:
            continue
        too_long = text_too_long(path, text, TEXT_LIMITS[kind])
        if too_long is not None:
            yield too_long
        if not text.isprintable():  # the usual text is: no call below (a hot path)
            unsafe = control_character(path, text)
            if unsafe is not None:
                yield unsafe


def control_character(path: str, text: str | None) -> Finding | None:
    """TEXT_CONTROL_CHARACTER when ``text`` carries a character no canonical text may:
    it would travel to partners and operators' screens, where a bidirectional override
    reverses what they read and a C1 control drives their terminal."""
    found = None if text is None else forbidden_character(text)
    if found is None:
        return None
    index, character = found
    return Finding(
        TEXT_CONTROL_CHARACTER,
        f"{path} contains {describe(character)} at character {index + 1}: control "
        "characters, bidirectional embeddings, overrides and isolates, and noncharacters "
        "are not accepted in texts (they hide or reorder what partners and operators read)",
        path=path,
    )


def text_too_long(path: str, text: str | None, limit: int) -> Finding | None:
    """TEXT_TOO_LONG for ``text`` at ``path`` when it is longer than ``limit``."""
    if text is None or len(text) <= limit:
        return None
    return Finding(
        TEXT_TOO_LONG,
        f"{path} is {len(text):,} characters long; at most {limit:,} are accepted "
        f"(it begins {text[:40]!r})",
        path=path,
    )


def _dates(found: list[Finding], received_on: date | None, *acts: tuple[str, str, date]) -> None:
    """A document cannot record an act before the scheme existed, nor one that has not
    happened yet when it reached the gateway (a typing error or a forged date: either way
    the router would judge deadlines and expiries on a wrong day)."""
    for path, verb, day in acts:
        if day < KPCS_START:
            found.append(
                Finding(
                    DATE_BEFORE_KPCS,
                    f"{verb} on {day}, before the KP Certification Scheme took effect "
                    f"({KPCS_START})",
                    path=path,
                )
            )
        elif received_on is not None and day > received_on + FUTURE_TOLERANCE:
            found.append(
                Finding(
                    DATE_IN_FUTURE,
                    f"{verb} on {day}, but the gateway received the document on {received_on}",
                    path=path,
                )
            )


def _document_time(found: list[Finding], time: DocumentTime, act: str) -> None:
    """The document's own time stamp (when it was issued, confirmed or cancelled) cannot be
    later than its reception either: an acknowledgement's IssueDateTime in 9999 would
    otherwise pass whenever its date of receipt is plausible."""
    occurred, received = utc(time.occurred_at), utc(time.received_at)
    if time.exact:
        ahead = occurred - received
        if ahead > CLOCK_SKEW_TOLERANCE:
            found.append(
                Finding(
                    DATE_IN_FUTURE,
                    f"the document says it was {act} at {occurred:%Y-%m-%dT%H:%M:%SZ}, "
                    f"{_duration(ahead)} after the gateway received it "
                    f"({received:%Y-%m-%dT%H:%M:%SZ}); a sending system's clock may run at "
                    f"most {_duration(CLOCK_SKEW_TOLERANCE)} ahead: check its clock",
                    path="occurred_at",
                )
            )
        return
    _dates(found, received.date(), ("occurred_at", act, time.occurred_at.date()))


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _ranges(payload: CertificateIssued | ImportConfirmed, found: list[Finding]) -> None:
    """Weights, values and parcel counts no real shipment reaches but a schema allows (the
    UN/CEFACT decimals are unbounded): beyond the canonical event's limits, the document is
    refused here with a finding rather than failing later, when the event is encoded."""
    values: list[tuple[str, str, Decimal | None, Decimal]] = [
        ("total_carats", "the total weight (ct)", payload.total_carats, MAX_CARATS),
        ("total_value_usd", "the total value (USD)", payload.total_value_usd, MAX_USD),
    ]
    for index, line in enumerate(payload.lines, start=1):  # numbered as the other rules do
        values.append((f"lines[{index}].carats", "a line's weight (ct)", line.carats, MAX_CARATS))
        values.append(
            (f"lines[{index}].value_usd", "a line's value (USD)", line.value_usd, MAX_USD)
        )
    for path, what, value, limit in values:
        if value is not None and abs(value) > limit:
            found.append(
                Finding(VALUE_OUT_OF_RANGE, f"{what} {value} is beyond {limit}", path=path)
            )
    if payload.parcels is not None and abs(payload.parcels) > MAX_PARCELS:
        found.append(
            Finding(
                VALUE_OUT_OF_RANGE,
                f"{payload.parcels} parcels is beyond {MAX_PARCELS}",
                path="parcels",
            )
        )


def _participant(
    code: str, role: str, path: str, registry: ParticipantRegistry, found: list[Finding]
) -> None:
    participant = registry.participants.get(code)
    if participant is None:
        found.append(
            Finding(
                NON_PARTICIPANT,
                f"the {role} {code} is not a Kimberley Process participant; "
                "trade with it is forbidden",
                path=path,
            )
        )
    elif participant.status is not ParticipantStatus.ACTIVE:  # registry.is_active(code)
        found.append(
            Finding(
                PARTICIPANT_SUSPENDED,
                f"the {role} {code} ({participant.name}) is suspended from KP trade",
                path=path,
            )
        )


def _validity(cert: CertificateIssued, registry: ParticipantRegistry, found: list[Finding]) -> None:
    """A certificate valid for longer than its issuer's own rules allow (the EU's: two
    months) is a typing error or a forgery; one valid until 9999 would never let the
    router see CONFIRMED_AFTER_EXPIRY (a time review)."""
    issuer = registry.participants.get(cert.issuing_participant)
    limit = None if issuer is None else issuer.max_validity_days
    days = (cert.expiry_date - cert.issue_date).days
    if limit is not None and days > limit:
        found.append(
            Finding(
                VALIDITY_TOO_LONG,
                f"valid for {days} days ({cert.issue_date} to {cert.expiry_date}); "
                f"{issuer.name if issuer else cert.issuing_participant} certificates are "
                f"valid at most {limit} days",
                path="expiry_date",
            )
        )


def _origin(
    country: str, what: str, path: str, registry: ParticipantRegistry, found: list[Finding]
) -> None:
    """Diamonds from a country outside the scheme, or from a suspended participant, cannot
    be KP trade, whichever field of the certificate names it."""
    participant = registry.participant_of(country)
    if participant is None:
        found.append(
            Finding(ORIGIN_NOT_PARTICIPANT, f"{what} {country} is not a KP participant", path=path)
        )
    elif not registry.is_active(participant):
        found.append(
            Finding(
                PARTICIPANT_SUSPENDED,
                f"{what} {country} is a participant suspended from KP trade",
                path=path,
            )
        )


def _number(number: str, issuer: str, registry: ParticipantRegistry, found: list[Finding]) -> bool:
    """Judge the number's form and prefix; True when both are right."""
    if not CERTIFICATE_NUMBER.match(number):
        found.append(
            Finding(
                INVALID_CERTIFICATE_NUMBER,
                f"certificate number {number!r} is not the issuer's ISO code followed by "
                "6-9 digits",
                path="certificate_number",
            )
        )
        return False
    prefix = number[:2]
    if prefix != issuer and registry.participant_of(prefix) != issuer:
        found.append(
            Finding(
                NUMBER_PREFIX_NOT_ISSUER,
                f"certificate number {number} begins with {prefix}, but it was issued by {issuer}",
                path="certificate_number",
            )
        )
        return False
    return True


def _series(cert: CertificateIssued, registry: ParticipantRegistry, found: list[Finding]) -> None:
    """A number outside the blocks its issuer registered for the issue year was never
    issued (a forger's classic: a number from last year's block). An issuer that
    registered no block for that year is judged only on the blocks of other years."""
    participant = registry.get(cert.issuing_participant)
    if participant is None or not participant.number_series:
        return
    number, year = cert.certificate_number, cert.issue_date.year
    current = [series for series in participant.number_series if series.covers(year)]
    if any(series.holds(number) for series in current):
        return
    other = next(
        (s for s in participant.number_series if not s.covers(year) and s.holds(number)), None
    )
    if other is None and not current:
        return
    registered = ", ".join(str(series) for series in current) or "none"
    where = (
        f"is in {participant.code}'s number series for {other.year} ({other})"
        if other is not None
        else f"is in none of {participant.code}'s number series"
    )
    found.append(
        Finding(
            NUMBER_NOT_IN_SERIES,
            f"certificate number {number} {where}; the series registered for certificates "
            f"issued in {year}: {registered}",
            path="certificate_number",
        )
    )


def _lines(
    lines: tuple[HsLine, ...],
    total_carats: Decimal | None,
    total_value: Decimal | None,
    found: list[Finding],
) -> None:
    seen: set[str] = set()
    summed_carats = summed_value = _ZERO  # sum(..., Decimal(0)), added in the same order
    for index, line in enumerate(lines, start=1):
        hs_code = line.hs_code
        if hs_code not in KP_HS_CODES:
            found.append(
                Finding(
                    NOT_KP_GOODS,
                    f"HS code {hs_code} is not rough diamonds under the KP "
                    "(only 7102.10, 7102.21, 7102.31)",
                    path=f"lines[{index}].hs_code",
                )
            )
        if hs_code in seen:
            found.append(
                Finding(
                    DUPLICATE_HS_LINE,
                    f"HS code {hs_code} appears on more than one line; give one line per code",
                    path=f"lines[{index}].hs_code",
                )
            )
        seen.add(hs_code)
        if line.carats <= 0:
            found.append(
                Finding(
                    CARATS_NOT_POSITIVE,
                    f"line {index} weighs {line.carats} ct",
                    path=f"lines[{index}].carats",
                )
            )
        if line.value_usd <= 0:
            found.append(
                Finding(
                    VALUE_NOT_POSITIVE,
                    f"line {index} is worth {line.value_usd} USD",
                    path=f"lines[{index}].value_usd",
                )
            )
        summed_carats += line.carats
        summed_value += line.value_usd
    if lines and total_carats is not None and summed_carats != total_carats:
        found.append(
            Finding(
                LINES_DO_NOT_SUM,
                f"the lines weigh {summed_carats} ct but the total says {total_carats} ct",
                path="total_carats",
            )
        )
    if lines and total_value is not None and summed_value != total_value:
        found.append(
            Finding(
                LINES_DO_NOT_SUM,
                f"the lines are worth {summed_value} USD but the total says {total_value} USD",
                path="total_value_usd",
            )
        )


def _certificate(
    cert: CertificateIssued, registry: ParticipantRegistry, found: list[Finding]
) -> None:
    issuing = cert.issuing_participant
    exporting = cert.exporting_participant
    importing = cert.importing_participant
    _participant(issuing, "issuing participant", "issuing_participant", registry, found)
    if exporting != issuing:
        found.append(
            Finding(
                ISSUER_NOT_EXPORTER,
                f"{issuing} issued a certificate for an export from "
                f"{exporting}; only the exporting participant may issue it",
                path="exporting_participant",
            )
        )
    _participant(importing, "importing participant", "importing_participant", registry, found)
    if importing == exporting:
        found.append(
            Finding(
                SAME_PARTICIPANT,
                f"exporter and importer are both {exporting}: this is not KP trade",
                path="importing_participant",
            )
        )
    if _number(cert.certificate_number, issuing, registry, found):
        _series(cert, registry, found)
    _party_country(cert.exporter, "exporter", exporting, registry, found)
    _party_country(cert.importer, "importer", importing, registry, found)
    if cert.origin == MIXED:
        if not cert.provenance:
            found.append(
                Finding(
                    MIXED_WITHOUT_PROVENANCE,
                    "mixed origin needs the provenance (last exporting country)",
                    path="provenance",
                )
            )
    else:
        _origin(cert.origin, "country of origin", "origin", registry, found)
    for index, line in enumerate(cert.lines, start=1):
        # A line's own origin counts as much as the certificate's: a certificate of mixed
        # origin must not carry a non-participant's diamonds beside a participant's.
        if line.origin is not None and line.origin != MIXED:
            _origin(
                line.origin, f"line {index}'s origin", f"lines[{index}].origin", registry, found
            )
    if cert.provenance:
        _origin(cert.provenance, "provenance", "provenance", registry, found)
    if cert.expiry_date < cert.issue_date:
        found.append(
            Finding(
                EXPIRY_BEFORE_ISSUE,
                f"expires {cert.expiry_date} before it was issued {cert.issue_date}",
                path="expiry_date",
            )
        )
    else:
        _validity(cert, registry, found)
    if cert.parcels < 1:
        found.append(
            Finding(PARCELS_NOT_POSITIVE, f"{cert.parcels} parcels; at least 1", path="parcels")
        )
    if not cert.lines:
        found.append(Finding(NO_LINES, "a certificate needs at least one HS line", path="lines"))
    _lines(cert.lines, cert.total_carats, cert.total_value_usd, found)
    if cert.total_carats <= 0:
        found.append(
            Finding(
                CARATS_NOT_POSITIVE, f"total weight {cert.total_carats} ct", path="total_carats"
            )
        )
    if cert.total_value_usd <= 0:
        found.append(
            Finding(
                VALUE_NOT_POSITIVE,
                f"total value {cert.total_value_usd} USD",
                path="total_value_usd",
            )
        )
    participants = registry.participants
    if importing != exporting and participants.get(exporting) and participants.get(importing):
        pair = registry.pair(exporting, importing)
        if pair is None or not pair.enabled:
            state = (
                "is not enabled yet" if pair is not None else "has no digital exchange agreement"
            )
            found.append(
                Finding(
                    PAIR_NOT_ENABLED,
                    f"the pair {exporting}->{importing} {state}",
                    path="importing_participant",
                )
            )


def _party_country(
    party: Party,
    role: str,
    participant: str,
    registry: ParticipantRegistry,
    found: list[Finding],
) -> None:
    """On a certificate, the exporter is established in the exporting participant and the
    importer in the importing one (any member state of it): the issuing authority names
    both, so an address elsewhere is an error of its system (parties swapped, a template
    reused). Not applied to confirmations: a confirmation naming an importer elsewhere is
    evidence of a diversion that the router must see (WRONG_DESTINATION), not refuse."""
    country = (party.country or "").strip().upper()
    if not country or registry.get(participant) is None:
        return  # no address country to judge, or the participant rule already spoke
    belongs_to = registry.participant_of(country)
    if belongs_to == participant:
        return
    if belongs_to is None:
        place = f"{country}, no KP participant"
    elif belongs_to != country:
        place = f"{country} (part of {belongs_to})"
    else:
        place = country
    act = role.removesuffix("er") + "ing"  # exporter -> exporting
    found.append(
        Finding(
            PARTY_COUNTRY_MISMATCH,
            f"the {role} {party.name!r} has its address in {place}, but the {act} "
            f"participant is {participant}",
            path=f"{role}.country",
        )
    )


def _confirmation(
    conf: ImportConfirmed, registry: ParticipantRegistry, found: list[Finding]
) -> None:
    _participant(
        conf.confirming_participant,
        "confirming participant",
        "confirming_participant",
        registry,
        found,
    )
    if not CERTIFICATE_NUMBER.match(conf.certificate_number):
        found.append(
            Finding(
                INVALID_CERTIFICATE_NUMBER,
                f"certificate number {conf.certificate_number!r} is not an ISO code "
                "followed by 6-9 digits",
                path="certificate_number",
            )
        )
    _confirmation_minimum(conf, found)
    if conf.parcels is not None and conf.parcels < 1:
        found.append(
            Finding(PARCELS_NOT_POSITIVE, f"{conf.parcels} parcels; at least 1", path="parcels")
        )
    _lines(conf.lines, conf.total_carats, conf.total_value_usd, found)
    if conf.total_carats is not None and conf.total_carats <= 0:
        found.append(
            Finding(
                CARATS_NOT_POSITIVE, f"total weight {conf.total_carats} ct", path="total_carats"
            )
        )
    if conf.total_value_usd is not None and conf.total_value_usd <= 0:
        found.append(
            Finding(
                VALUE_NOT_POSITIVE,
                f"total value {conf.total_value_usd} USD",
                path="total_value_usd",
            )
        )


def _confirmation_minimum(conf: ImportConfirmed, found: list[Finding]) -> None:
    """What the KP's recommended confirmation gives at the least (besides the certificate
    number and the importer, which every format requires): without them the router could
    not compare the shipment with its certificate, and a gap would go unnoticed."""
    missing = []
    if conf.parcels is None:
        missing.append(("parcels", "the number of parcels"))
    if conf.total_carats is None and not conf.lines:
        missing.append(("total_carats", "the carat weight (a total or HS lines)"))
    if conf.exporter is None:
        missing.append(("exporter", "the exporter"))
    for path, what in missing:
        found.append(
            Finding(
                CONFIRMATION_INCOMPLETE,
                f"the confirmation does not give {what}; a KP import confirmation gives at "
                "least the certificate number, the parcels, the carat weight, the importer "
                "and the exporter",
                path=path,
            )
        )


def _void(void: CertificateVoided, registry: ParticipantRegistry, found: list[Finding]) -> None:
    _participant(
        void.voiding_participant, "voiding participant", "voiding_participant", registry, found
    )
    _number(void.certificate_number, void.voiding_participant, registry, found)
