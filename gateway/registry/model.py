"""Typed model of the participant registry (DESIGN.md section 7)."""

from __future__ import annotations

import hashlib
import hmac
import re
import weakref
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.demo_tokens import demo_token

ISO2 = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
_TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


class ParticipantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


_NUMBER = re.compile(r"^([A-Z]{2})([0-9]{6,9})$")


class NumberSeries(BaseModel):
    """A block of certificate numbers an authority registered for its certificates (for
    certificates issued in ``year``, or in any year when it is omitted). Participants
    exchange their number series through the KP so that importers can recognise a number
    that was never issued; a forger's classic mistake is a number from last year's block.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    first: str
    last: str
    year: int | None = Field(default=None, ge=2003, le=9999)

    @model_validator(mode="after")
    def _one_block(self) -> NumberSeries:
        first, last = _NUMBER.match(self.first), _NUMBER.match(self.last)
        if first is None or last is None:
            raise ValueError(
                "first and last are certificate numbers: an ISO code and 6-9 digits, "
                "such as SL0260000"
            )
        if first.group(1) != last.group(1) or len(first.group(2)) != len(last.group(2)):
            raise ValueError(
                f"{self.first} and {self.last} must share their prefix and their number of digits"
            )
        if int(first.group(2)) > int(last.group(2)):
            raise ValueError(f"{self.first} comes after {self.last}")
        return self

    @property
    def prefix(self) -> str:
        return self.first[:2]

    def holds(self, number: str) -> bool:
        """``number`` is one of this block's (same prefix and digit count, within bounds)."""
        return (
            len(number) == len(self.first)
            and number[:2] == self.first[:2]
            and number[2:].isdigit()
            and self.first[2:] <= number[2:] <= self.last[2:]  # equal widths: text order
        )

    def covers(self, year: int) -> bool:
        return self.year is None or self.year == year

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


#: The rough-diamond HS codes of the KP (the same as ``gateway.rules.KP_HS_CODES``).
KP_HS_BANDED = ("7102.10", "7102.21", "7102.31")


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ISO2
    name: str = Field(min_length=1)
    status: ParticipantStatus = ParticipantStatus.ACTIVE
    kind: str = Field(default="country", pattern=r"^(country|organisation|trading entity)$")
    member_states: tuple[ISO2, ...] = ()
    authorities: tuple[str, ...] = ()
    format: str = Field(default="uncefact", description="the format its national system speaks")
    token_hashes: tuple[str, ...] = ()
    usd_per_carat: tuple[Decimal, Decimal] | None = Field(
        default=None, description="plausible USD/ct band for rough of this origin"
    )
    usd_per_carat_by_hs: dict[str, tuple[Decimal, Decimal]] = Field(
        default_factory=dict,
        description="bands for one HS code of this origin (industrial 7102.21 trades far "
        "below the all-goods band; without a band of its own it is not judged)",
    )
    number_series: tuple[NumberSeries, ...] = Field(
        default=(),
        description="registered certificate number blocks (KP rule NUMBER_NOT_IN_SERIES)",
    )
    max_validity_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="the longest its certificates may be valid, issue to expiry, where its "
        "own rules fix one (KP rule VALIDITY_TOO_LONG; the scheme itself fixes none)",
    )

    @model_validator(mode="after")
    def _own_series(self) -> Participant:
        prefixes = {self.code, *self.member_states}
        for series in self.number_series:
            if series.prefix not in prefixes:
                raise ValueError(
                    f"number series {series} does not begin with {self.code}"
                    + (" or one of its member states" if self.member_states else "")
                )
        for index, series in enumerate(self.number_series):
            for other in self.number_series[index + 1 :]:
                if (
                    series.holds(other.first)
                    or series.holds(other.last)
                    or other.holds(series.first)
                ):
                    raise ValueError(f"number series {series} and {other} overlap")
        return self

    @field_validator("token_hashes")
    @classmethod
    def _hashes_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _TOKEN_HASH.match(item):
                raise ValueError(
                    "token hashes are 'sha256:' + 64 lowercase hex digits; never put a token here"
                )
        return value

    @field_validator("usd_per_carat")
    @classmethod
    def _band_ordered(cls, value: tuple[Decimal, Decimal] | None) -> tuple[Decimal, Decimal] | None:
        if value is not None and not (Decimal(0) <= value[0] < value[1]):
            raise ValueError("usd_per_carat must be [low, high] with 0 <= low < high")
        return value

    @field_validator("usd_per_carat_by_hs")
    @classmethod
    def _hs_bands(
        cls, value: dict[str, tuple[Decimal, Decimal]]
    ) -> dict[str, tuple[Decimal, Decimal]]:
        for code, band in value.items():
            if code not in KP_HS_BANDED:
                raise ValueError(f"usd_per_carat_by_hs: {code!r} is not one of {KP_HS_BANDED}")
            if not (Decimal(0) <= band[0] < band[1]):
                raise ValueError(
                    f"usd_per_carat_by_hs[{code}] must be [low, high] with 0 <= low < high"
                )
        return value


class Pair(BaseModel):
    """A directed bilateral pair enabled (or not yet) for digital exchange."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exporter: ISO2
    importer: ISO2
    enabled: bool = True
    confirmation_deadline_days: int = Field(default=30, ge=1, le=365)
    carats_tolerance_pct: Decimal = Field(default=Decimal(0), ge=0, le=10)
    value_tolerance_pct: Decimal = Field(default=Decimal(0), ge=0, le=10)
    orphan_window_days: int = Field(default=14, ge=1, le=365)

    @model_validator(mode="after")
    def _distinct(self) -> Pair:
        if self.exporter == self.importer:
            raise ValueError("a pair joins two different participants")
        return self


def hash_token(token: str) -> str:
    """The stored form of a bearer token. Tokens are 256-bit random, so one SHA-256 suffices
    (a slow password hash protects low-entropy secrets, which these are not)."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


#: Validation context key: build the registry without its cross-reference check, for a
#: caller that reports every problem with its location (``gateway.registry.loader``).
DEFER_CONSISTENCY = "defer_consistency"


class ParticipantRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    participants: dict[str, Participant]
    pairs: tuple[Pair, ...] = ()

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ParticipantRegistry:
        if info.context and info.context.get(DEFER_CONSISTENCY):
            return self  # the loader locates each problem itself (``problems``)
        found = self.problems()
        if found:
            raise ValueError("; ".join(message for _, message in found))
        return self

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every cross-reference problem, with the location of the key it is about."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        for key, participant in self.participants.items():
            if key != participant.code:
                message = f"participant table {key} declares code {participant.code}"
                found.append((("participants", key, "code"), message))
        seen: set[tuple[str, str]] = set()
        for index, pair in enumerate(self.pairs):
            name = f"pair {pair.exporter}->{pair.importer}"
            for role, code in (("exporter", pair.exporter), ("importer", pair.importer)):
                if code not in self.participants:
                    found.append((("pairs", index, role), f"{name}: {code} is not a participant"))
            if (pair.exporter, pair.importer) in seen:
                found.append((("pairs", index, "exporter"), f"{name} is listed twice"))
            seen.add((pair.exporter, pair.importer))
        # One token must name one participant: a hash pasted into a second entry would
        # authenticate its holder as whichever participant is read last.
        owners: dict[str, str] = {}
        for key, participant in self.participants.items():
            for position, stored in enumerate(participant.token_hashes):
                first = owners.setdefault(stored, key)
                if first != key:
                    message = f"participant {key} has a token hash that {first} has too"
                    found.append((("participants", key, "token_hashes", position), message))
        return found

    def demo_token_holders(self) -> list[str]:
        """Participants whose token hashes include the public demo token's (see
        ``gateway.demo_tokens``): fine on loopback, an open door anywhere else."""
        return [
            code
            for code, participant in self.participants.items()
            if hash_token(demo_token(code)) in participant.token_hashes
        ]

    # --- look-ups used by the rules, the router and the ingress --------------------------

    def participant_of(self, country: str) -> str | None:
        """The participant a country belongs to: an EU member state maps to ``EU``."""
        country = _normalise_country(country)
        if country in self.participants:
            return country
        return _index(self).member_of.get(country)

    def member_state_of(self, country: str) -> str | None:
        """The member state kept when ``country`` is part of a multi-state participant."""
        country = _normalise_country(country)
        participant = self.participant_of(country)
        if participant is not None and participant != country:
            return country
        return None

    def get(self, code: str) -> Participant | None:
        return self.participants.get(code)

    def is_active(self, code: str) -> bool:
        participant = self.participants.get(code)
        return participant is not None and participant.status is ParticipantStatus.ACTIVE

    def pair(self, exporter: str, importer: str) -> Pair | None:
        return _index(self).pair_of.get((exporter, importer))

    def participant_for_token(self, token: str) -> str | None:
        """Constant-time comparison against every stored hash; None when no one matches."""
        candidate = hash_token(token)
        found: str | None = None
        for participant in self.participants.values():
            for stored in participant.token_hashes:
                if hmac.compare_digest(candidate, stored):
                    found = participant.code
        return found


class _Index:
    """Look-up tables derived from one registry's fields, built on first use. They live
    outside the model (``_INDEXES``) so that they are never part of its value: equality,
    hashing, copies and serialisation see the fields only."""

    __slots__ = ("member_of", "owner", "pair_of", "pairs", "participants")

    def __init__(self, registry: ParticipantRegistry, owner: weakref.ref[ParticipantRegistry]):
        self.owner = owner
        self.participants = registry.participants
        self.pairs = registry.pairs
        # First match wins, as a scan in declaration order would find it.
        self.member_of: dict[str, str] = {}
        for participant in registry.participants.values():
            for state in participant.member_states:
                self.member_of.setdefault(state, participant.code)
        self.pair_of: dict[tuple[str, str], Pair] = {}
        for pair in registry.pairs:
            self.pair_of.setdefault((pair.exporter, pair.importer), pair)


#: id(registry) -> its index; an entry goes when its registry is garbage collected.
_INDEXES: dict[int, _Index] = {}


def _index(registry: ParticipantRegistry) -> _Index:
    index = _INDEXES.get(id(registry))
    if (
        index is not None
        and index.participants is registry.participants
        and index.pairs is registry.pairs
        and index.owner() is registry
    ):
        return index
    key = id(registry)

    def forget(ref: weakref.ref[ParticipantRegistry]) -> None:
        current = _INDEXES.get(key)
        if current is not None and current.owner is ref:
            del _INDEXES[key]

    index = _INDEXES[key] = _Index(registry, weakref.ref(registry, forget))
    return index


def _normalise_country(country: str) -> str:
    country = country.strip().upper()
    # The EU writes Greece as EL; ISO 3166 says GR. Accept both.
    return "GR" if country == "EL" else country
