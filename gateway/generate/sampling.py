"""Draw realistic canonical payloads (DOMAIN.md section 7) from one seeded ``random.Random``.

Everything is a ``Decimal`` from the first digit on; floats only exist inside the random
draws and are rounded to a fixed number of places before they become amounts. Nothing
reads the wall clock: dates are offsets from the ``base_date`` passed in.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from gateway.events import CertificateIssued, CertificateVoided, HsLine, ImportConfirmed, Party
from gateway.generate import reference as ref
from gateway.registry import NumberSeries, ParticipantRegistry

T = TypeVar("T")
CENT = Decimal("0.01")
MIXED = "MIXED"
#: Issue dates fall in the four weeks from the base date.
ISSUE_SPAN_DAYS = 28
#: Draws of a certificate number before giving up (a nearly used-up registered series).
MAX_NUMBER_DRAWS = 10_000
EXPIRY_DAYS = 60
#: A confirmation's date of receipt: at most this many days after issue (and before the
#: pair's deadline).
RECEIPT_MAX_DAYS = 20


@dataclass(frozen=True, slots=True)
class Route:
    """One shipment's direction: participants, and the member state where the EU is one."""

    exporter: str
    importer: str
    exporter_state: str | None = None
    importer_state: str | None = None


class Sampler:
    """Draws routes, parties, numbers and payloads; remembers the numbers it handed out so
    every certificate number of one run is unique."""

    def __init__(self, rng: random.Random, registry: ParticipantRegistry, base_date: date):
        self.rng = rng
        self.registry = registry
        self.base_date = base_date
        self._numbers: set[str] = set()
        self.routes: list[tuple[str, str]] = [
            (pair.exporter, pair.importer)
            for pair in registry.pairs
            if pair.enabled and registry.is_active(pair.exporter)
            if registry.is_active(pair.importer)
        ]
        if not self.routes:
            raise ValueError("the participant registry enables no pair between active participants")
        self._route_weights = [ref.PAIR_WEIGHTS.get(route, 1) for route in self.routes]
        #: Everyone who exchanges digitally: the senders this traffic can have.
        self.exchanging: list[str] = sorted({code for route in self.routes for code in route})

    # --- small draws ---------------------------------------------------------------------

    def weighted(self, items: Sequence[tuple[T, int]]) -> T:
        values = [item for item, _ in items]
        return self.rng.choices(values, weights=[weight for _, weight in items], k=1)[0]

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def message_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def member_state(self, participant: str) -> str | None:
        if self.registry.get(participant) and self.registry.participants[participant].member_states:
            return self.weighted(ref.EU_MEMBER_STATES)
        return None

    def route(self) -> Route:
        exporter, importer = self.rng.choices(self.routes, weights=self._route_weights, k=1)[0]
        return Route(exporter, importer, self.member_state(exporter), self.member_state(importer))

    def series(self, prefix: str) -> tuple[NumberSeries, ...]:
        """The number blocks registered for certificates numbered with ``prefix``."""
        participant = self.registry.get(self.registry.participant_of(prefix) or prefix)
        if participant is None:
            return ()
        return tuple(block for block in participant.number_series if block.prefix == prefix)

    def number(
        self, prefix: str, year: int | None = None, *, block: NumberSeries | None = None
    ) -> str:
        """A fresh number: from ``block``, else from a block registered for ``year`` (any
        block without a year), else outside every registered block."""
        registered = self.series(prefix)
        blocks = (
            [block]
            if block is not None
            else [item for item in registered if year is None or item.covers(year)]
        )
        digits = ref.NUMBER_DIGITS.get(prefix, ref.DEFAULT_NUMBER_DIGITS)
        for _ in range(MAX_NUMBER_DRAWS):
            if blocks:
                chosen = self.rng.choice(blocks)
                low, high = int(chosen.first[2:]), int(chosen.last[2:])
                number = f"{prefix}{self.rng.randint(low, high):0{len(chosen.first) - 2}d}"
            else:
                number = f"{prefix}{self.rng.randrange(10 ** (digits - 1), 10**digits)}"
                if any(item.holds(number) for item in registered):
                    continue
            if number not in self._numbers:
                self._numbers.add(number)
                return number
        raise ValueError(
            f"no fresh {prefix} certificate number after {MAX_NUMBER_DRAWS} draws: the "
            "registered number series are (nearly) used up; register larger ones"
        )

    def company(self, country: str, *, unlike: str | None = None) -> str:
        names = ref.COMPANIES.get(country)
        if names is None:
            participant = self.registry.get(country)
            label = participant.name if participant else country
            names = tuple(pattern.format(name=label) for pattern in ref.GENERIC_COMPANIES)
        choices = [name for name in names if unlike is None or name.casefold() != unlike.casefold()]
        return self.rng.choice(choices)

    def party(self, participant: str, state: str | None, *, unlike: str | None = None) -> Party:
        country = state or participant
        return Party(
            name=self.company(country, unlike=unlike),
            address=ref.ADDRESSES.get(country),
            country=country,
        )

    def authority(self, participant: str, state: str | None) -> str:
        known = self.registry.get(participant)
        authorities = known.authorities if known else ()
        if state is not None:
            for authority in authorities:
                if authority.endswith(f"({state})"):
                    return authority
        if authorities:
            return authorities[0]
        name = known.name if known else participant
        return f"{name} Kimberley Process Authority"

    # --- goods ---------------------------------------------------------------------------

    def hs_codes(self) -> list[str]:
        count = self.weighted(ref.LINE_COUNTS)
        remaining = list(ref.HS_MIX)
        codes: list[str] = []
        for _ in range(count):
            code = self.weighted(remaining)
            codes.append(code)
            remaining = [(item, weight) for item, weight in remaining if item != code]
        return codes

    def line_carats(self) -> Decimal:
        drawn = self.rng.lognormvariate(math.log(ref.CARATS_MEDIAN), ref.CARATS_SIGMA)
        value = Decimal(f"{drawn:.2f}")
        return min(max(value, ref.CARATS_MIN), ref.CARATS_MAX)

    def usd_per_carat(self, price_key: str) -> Decimal:
        noise = Decimal(f"{self.rng.uniform(-1.0, 1.0):.4f}") * ref.PRICE_NOISE
        return ref.USD_PER_CARAT[price_key] * (1 + noise)

    def lines(self, price_key: str) -> tuple[HsLine, ...]:
        lines = []
        for code in self.hs_codes():
            weight = self.line_carats()
            value = max((weight * self.usd_per_carat(price_key)).quantize(CENT), CENT)
            lines.append(HsLine(code, weight, value))
        return tuple(lines)

    def parcels(self, minimum: int) -> int:
        """Log-uniform on 1..20, at least one parcel per HS line."""
        drawn = int(math.exp(self.rng.uniform(0.0, math.log(ref.MAX_PARCELS + 1))))
        return max(minimum, min(drawn, ref.MAX_PARCELS))

    def origin(self, exporter: str) -> tuple[str, str | None]:
        """(origin, price key): a producer ships its own rough; a hub re-exports a
        producer's, or a mixed parcel ~20% of the time."""
        if exporter in ref.USD_PER_CARAT:
            return exporter, exporter
        if exporter in ref.MIXED_ORIGIN_HUBS and self.rng.random() < ref.MIXED_ORIGIN_SHARE:
            return MIXED, None
        origin = self.weighted(ref.HUB_ORIGINS)
        return origin, origin

    def provenance(self, exporter: str) -> str:
        """Where a mixed parcel was last exported from before it came to ``exporter``:
        another trading hub (DOMAIN.md: "the provenance (last exporting country)"). The
        exporter itself, as drawn before, told an importer nothing."""
        return self.rng.choice(sorted(ref.MIXED_ORIGIN_HUBS - {exporter}))

    # --- payloads ------------------------------------------------------------------------

    def certificate(self, route: Route | None = None, *, mixed: bool = True) -> CertificateIssued:
        route = route or self.route()
        origin, price_key = self.origin(route.exporter)
        if origin == MIXED and not mixed:
            origin = price_key = self.weighted(ref.HUB_ORIGINS)
        lines = self.lines(price_key or ref.WORLD)
        issue = self.base_date + self.days(0, ISSUE_SPAN_DAYS - 1)
        return CertificateIssued(
            certificate_number=self.number(route.exporter_state or route.exporter, issue.year),
            issuing_participant=route.exporter,
            exporting_participant=route.exporter,
            exporting_member_state=route.exporter_state,
            importing_participant=route.importer,
            importing_member_state=route.importer_state,
            exporter=self.party(route.exporter, route.exporter_state),
            importer=self.party(route.importer, route.importer_state),
            origin=origin,
            provenance=self.provenance(route.exporter) if origin == MIXED else None,
            issue_date=issue,
            expiry_date=issue + timedelta(days=EXPIRY_DAYS),
            parcels=self.parcels(len(lines)),
            lines=lines,
            total_carats=sum((line.carats for line in lines), Decimal(0)),
            total_value_usd=sum((line.value_usd for line in lines), Decimal(0)),
            authority=self.authority(route.exporter, route.exporter_state),
        )

    def receipt_date(self, cert: CertificateIssued) -> date:
        """Within the pair's confirmation deadline and well before expiry."""
        pair = self.registry.pair(cert.exporting_participant, cert.importing_participant)
        deadline = pair.confirmation_deadline_days if pair else 30
        return cert.issue_date + self.days(1, max(1, min(RECEIPT_MAX_DAYS, deadline - 1)))

    def confirmation(
        self,
        cert: CertificateIssued,
        *,
        by: str | None = None,
        by_state: str | None = None,
        received: date | None = None,
    ) -> ImportConfirmed:
        """The destination's confirmation of ``cert``, agreeing with it in every field;
        ``by`` makes another participant confirm (a diversion)."""
        confirmer = by or cert.importing_participant
        state = by_state if by else cert.importing_member_state
        with_lines = self.rng.random() < 0.8
        return ImportConfirmed(
            certificate_number=cert.certificate_number,
            confirming_participant=confirmer,
            confirming_member_state=state,
            date_of_receipt=received or self.receipt_date(cert),
            parcels=cert.parcels,
            lines=cert.lines if with_lines else (),
            total_carats=cert.total_carats,
            total_value_usd=cert.total_value_usd,
            importer=cert.importer,
            exporter=cert.exporter,
            remarks=self.rng.choice(ref.CONFIRMATION_REMARKS),
            authority=self.authority(confirmer, state),
        )

    def void(self, cert: CertificateIssued) -> CertificateVoided:
        return CertificateVoided(
            certificate_number=cert.certificate_number,
            voiding_participant=cert.issuing_participant,
            voided_on=cert.issue_date + self.days(1, 5),
            reason=self.rng.choice(ref.VOID_REASONS),
        )


def with_lines(
    payload: CertificateIssued, lines: tuple[HsLine, ...], *, parcels: int | None = None
) -> CertificateIssued:
    """``payload`` with new lines and totals that sum them."""
    return replace(
        payload,
        lines=lines,
        total_carats=sum((line.carats for line in lines), Decimal(0)),
        total_value_usd=sum((line.value_usd for line in lines), Decimal(0)),
        parcels=payload.parcels if parcels is None else parcels,
    )
