"""Tenancy: tenants, tiers, quotas that ramp, eligibility, prices, reservations and grid events.

Validated pydantic models read from the ``[tenancy]``, ``[[reservations]]`` and
``[[events]]`` tables of a scenario file. Times are UTC datetimes (or dates) in
files and seconds from the start of the run inside narvik
(:meth:`Tenancy.quota_steps`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Jurisdictions narvik knows: the EEA, the UK, Switzerland and the US (ISO 3166-1 alpha-2),
#: plus "EU" for EU institutions.
EEA = (
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
)
KNOWN_JURISDICTIONS = frozenset([*EEA, "GB", "CH", "US", "EU"])

NonNeg = Annotated[float, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Model):
    """A class of tenants with a place in the priority order."""

    name: str = Field(description="tier name, e.g. national")
    priority: int = Field(ge=0, description="0 is served first")
    may_hold_quota: bool = Field(
        default=True, description="whether tenants of the tier may hold a guaranteed quota"
    )
    start_slo_s: float | None = Field(
        default=None, gt=0, description="promised start for work that fits the guarantee, s"
    )


class QuotaStep(_Model):
    """From ``start`` on, the tenant is guaranteed ``gpus`` GPUs."""

    start: dt.date = Field(description="first day of this quota")
    gpus: int = Field(ge=0, description="guaranteed (nominal) GPUs")


class Tenant(_Model):
    name: str = Field(description="tenant name (the job table's tenant)")
    tier: str = Field(description="name of one of the tiers")
    jurisdiction: str = Field(description="ISO 3166-1 alpha-2 country code, or EU")
    quota: tuple[QuotaStep, ...] = Field(default=(), description="guaranteed GPUs over time")
    max_borrow_gpus: int | None = Field(
        default=None, ge=0, description="most GPUs held beyond the quota (None: no limit)"
    )
    lends: bool = Field(default=True, description="whether its idle quota may be lent")
    fair_share_weight: float = Field(default=1.0, gt=0, description="weight within its tier")
    allowed_halls: tuple[str, ...] = Field(default=(), description="halls it may use; () all")
    price_eur_per_gpu_hour: NonNeg = Field(default=0.0, description="price of guaranteed use")
    borrowed_price_eur_per_gpu_hour: NonNeg | None = Field(
        default=None, description="price of borrowed use (default: the guaranteed price)"
    )

    @model_validator(mode="after")
    def _check(self) -> Tenant:
        if self.jurisdiction not in KNOWN_JURISDICTIONS:
            raise ValueError(
                f"jurisdiction: unknown jurisdiction {self.jurisdiction!r} "
                f"(known: {', '.join(sorted(KNOWN_JURISDICTIONS))})"
            )
        starts = [q.start for q in self.quota]
        for i in range(1, len(starts)):
            if starts[i] <= starts[i - 1]:
                raise ValueError(
                    f"quota.{i}.start: the ramp goes back in time ({starts[i]} is not after "
                    f"{starts[i - 1]})"
                )
        return self

    def quota_at(self, day: dt.date) -> int:
        gpus = 0
        for q in self.quota:
            if q.start <= day:
                gpus = q.gpus
        return gpus

    @property
    def borrowed_price(self) -> float:
        if self.borrowed_price_eur_per_gpu_hour is None:
            return self.price_eur_per_gpu_hour
        return self.borrowed_price_eur_per_gpu_hour


def quota_holding_error(
    tenant: Tenant, tier: Tier, quota_jurisdictions: Sequence[str]
) -> tuple[str, str] | None:
    """(field, reason) when ``tenant`` may not hold the quota it is given, else None.

    The tenancy's rules for holding a guarantee: its tier must allow quota
    (:attr:`Tier.may_hold_quota`) and, when the tenancy lists ``quota_jurisdictions``,
    its jurisdiction must be one of them. Checked by :class:`Tenancy` (scenario files)
    and by the control plane (``narvik.service.api.queries.rules``)."""
    if not any(q.gpus > 0 for q in tenant.quota):
        return None
    if not tier.may_hold_quota:
        return "quota", f"tier {tier.name!r} may only borrow surplus, not hold quota"
    if quota_jurisdictions and tenant.jurisdiction not in quota_jurisdictions:
        return "quota", (
            f"jurisdiction {tenant.jurisdiction!r} may not hold quota "
            f"(may: {', '.join(quota_jurisdictions)})"
        )
    return None


def overcommitted(
    capacity: Sequence[int], demands: Iterable[tuple[Collection[int], int]]
) -> tuple[tuple[int, ...], int, int] | None:
    """The first set of halls promised more GPUs than it has, as (halls, promised,
    capacity), or None when every promise can be kept at once.

    ``capacity``: GPUs of each hall (0 for a hall not online); ``demands``: GPUs promised
    (guarantees, bookings) with the halls each may use (empty: any hall). All of them can
    be served at once exactly when, for every set S of halls, the promises confined to
    halls of S add up to at most the GPUs of S (Hall's condition for supplies and
    demands; a set that is not a union of the demands' hall sets is never the tightest,
    so only those unions and the whole site are tried, smallest first)."""
    everywhere = frozenset(range(len(capacity)))
    need: dict[frozenset[int], int] = {}
    for halls, gpus in demands:
        if gpus <= 0:
            continue
        key = frozenset(halls) & everywhere if halls else everywhere
        need[key] = need.get(key, 0) + gpus
    unions: set[frozenset[int]] = {everywhere}
    for key in need:
        unions |= {key | u for u in unions} | {key}
    for s in sorted(unions, key=lambda u: (len(u), sorted(u))):
        promised = sum(g for key, g in need.items() if key <= s)
        room = sum(capacity[h] for h in s)
        if promised > room:
            return tuple(sorted(s)), promised, room
    return None


class Tenancy(_Model):
    tiers: tuple[Tier, ...] = Field(min_length=1, description="tiers, by priority")
    tenants: tuple[Tenant, ...] = Field(min_length=1, description="the tenants")
    quota_jurisdictions: tuple[str, ...] = Field(
        default=(), description="jurisdictions that may hold quota; () any"
    )
    grace_period_s: float = Field(default=600.0, ge=0, description="reclaim notice, s")
    checkpoint_interval_s: float = Field(
        default=3600.0, gt=0, description="jobs checkpoint after this much work, s"
    )
    fair_share_half_life_s: float = Field(
        default=7 * 86400.0, gt=0, description="half-life of past usage in fair share, s"
    )
    backfill_depth: int = Field(
        default=64, ge=1, description="queued jobs looked at per tenant in one pass"
    )
    min_gpu_power_cap_fraction: float = Field(
        default=0.6, gt=0, le=1, description="lowest GPU power cap during curtailments, of TDP"
    )
    owners: tuple[tuple[str, float], ...] = Field(
        default=(("Nscale", 0.5), ("Aker", 0.5)), description="owners and their revenue shares"
    )

    @model_validator(mode="after")
    def _check(self) -> Tenancy:
        tiers = {t.name: t for t in self.tiers}
        if len(tiers) != len(self.tiers):
            raise ValueError("tiers: duplicate tier names")
        names = [t.name for t in self.tenants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"tenants: duplicate tenant names {', '.join(dupes)}")
        for j in self.quota_jurisdictions:
            if j not in KNOWN_JURISDICTIONS:
                raise ValueError(f"quota_jurisdictions: unknown jurisdiction {j!r}")
        for i, t in enumerate(self.tenants):
            if t.tier not in tiers:
                raise ValueError(
                    f"tenants.{i}.tier: unknown tier {t.tier!r} (known: {', '.join(tiers)})"
                )
            refused = quota_holding_error(t, tiers[t.tier], self.quota_jurisdictions)
            if refused is not None:
                raise ValueError(f"tenants.{i}.{refused[0]}: {refused[1]}")
        total = sum(s for _, s in self.owners)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"owners: revenue shares must add up to 1 (they add up to {total:g})")
        return self

    def tenant(self, name: str) -> Tenant:
        for t in self.tenants:
            if t.name == name:
                return t
        raise KeyError(name)

    def tier(self, name: str) -> Tier:
        return next(t for t in self.tiers if t.name == name)


class Reservation(_Model):
    """An advance booking of GPUs for a window."""

    tenant: str = Field(description="the tenant that booked")
    gpus: int = Field(gt=0, description="GPUs booked")
    start: dt.datetime = Field(description="window start, UTC")
    end: dt.datetime = Field(description="window end, UTC")

    @model_validator(mode="after")
    def _window(self) -> Reservation:
        if self.end <= self.start:
            raise ValueError("end: a reservation must end after it starts")
        return self


class Curtailment(_Model):
    """A grid event: from ``start + deadline_s`` to ``end`` the site draws ``shed_mw`` less."""

    kind: Literal["curtailment"] = "curtailment"
    start: dt.datetime = Field(description="when the grid operator calls it, UTC")
    end: dt.datetime = Field(description="when it is lifted, UTC")
    shed_mw: float = Field(gt=0, description="MW to shed below the grid cap")
    deadline_s: float = Field(default=900.0, ge=0, description="time allowed to shed, s")

    @model_validator(mode="after")
    def _window(self) -> Curtailment:
        if self.end <= self.start:
            raise ValueError("end: a curtailment must end after it starts")
        return self
