"""API models: what clients send (``*In``) and what they get back (``*Out``).

Inputs forbid unknown fields and bound every number, so bad requests get a 422
naming the field before anything touches the database. Times are UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from narvik.workload.tenancy import QuotaStep

MAX_RUNTIME_S = 90 * 86400.0
MAX_GPUS = 1_000_000
#: Largest row id a path may name: ids fit 64-bit columns, and clients in JavaScript read
#: numbers up to 2**53 exactly; larger ones get a 422 naming the parameter.
MAX_ID = 2**53 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="id of the row")]
#: Text without NUL characters (PostgreSQL cannot store them; SQLite would, so refuse both).
NO_NUL = r"^[^\x00]*$"
TenantName = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NO_NUL, description="tenant name")
]
TenantQuery = Annotated[str | None, Query(max_length=64, pattern=NO_NUL)]
#: Times the API accepts: with a UTC offset, from 1970 to 2199 (UTC), so every time
#: derived from them (windows, deadlines, bills) stays within the calendar.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def _utc_time(v: dt.datetime) -> dt.datetime:
    if v.tzinfo is None or v.utcoffset() is None:
        raise ValueError("give times with a UTC offset, e.g. 2027-01-01T00:00:00Z")
    if not EARLIEST <= v < LATEST:
        raise ValueError("give a time from 1970 to 2199 (UTC)")
    return v


UtcTime = Annotated[dt.datetime, AfterValidator(_utc_time)]


def _surrogate_in(v: object) -> bool:
    """Whether ``v`` (text, or lists and mappings of it) holds a lone surrogate: JSON's
    ``"\\ud800"`` decodes to one, and neither database (nor UTF-8) can store it."""
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(v, list | tuple):
        return any(_surrogate_in(x) for x in v)
    if isinstance(v, dict):
        return any(_surrogate_in(k) or _surrogate_in(x) for k, x in v.items())
    return False


class _In(BaseModel):
    # NaN, Infinity and numbers past the float range (1e400 reads as inf) are refused.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _valid_unicode(cls, v: object) -> object:
        if _surrogate_in(v):
            raise ValueError("text must be valid Unicode (no lone surrogates)")
        return v

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, v: object) -> object:
        texts = v if isinstance(v, list) else [v]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("text may not contain NUL characters")
        return v


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FieldErrorOut(_Out):
    field: str = Field(description="the field at fault (dotted path) or the part of the request")
    in_: str = Field(alias="in", description="body, query, path or header")
    pointer: str | None = Field(default=None, description="JSON pointer into the body")
    message: str
    type: str
    loc: list[str | int] = Field(description="where: body, query, path or header, then the field")


class ProblemOut(_Out):
    """A refused request, as an RFC 9457 problem (``application/problem+json``)."""

    type: str = Field(description="a URI naming the kind of problem, or about:blank")
    title: str = Field(description="the status's phrase")
    status: int
    detail: str = Field(description="what is wrong: 'field: message' when a field is at fault")
    field: str | None = Field(default=None, description="the field at fault")
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="requests that do not fit the schema: one entry per fault"
    )


#: The previous name of the error model.
ErrorOut = ProblemOut


#: The answers every API call may give besides its own (documented on each operation, as
#: ``application/problem+json``: see ``problems.install``).
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ProblemOut, "description": text}
    for code, text in (
        (400, "the request is malformed"),
        (401, "no token, or an unknown or revoked one"),
        (403, "the token may not do this"),
        (404, "no such row (or not the tenant's own)"),
        (409, "conflicts with the state of the row"),
        (413, "the request body is too large"),
        (422, "a field is invalid or breaks a rule (or the body is not JSON); names it"),
        (500, "the server failed (logged; no details in the answer)"),
    )
}


class LimitOut(ProblemOut):
    """A request refused by a per-tenant limit (429, with a Retry-After header, s)."""

    limit: Literal["rate_limit", "max_queued_jobs_per_tenant"] = Field(
        description="the limit reached"
    )
    retry_after_s: int = Field(description="seconds to wait before trying again")


ERROR_RESPONSES[429] = {
    "model": LimitOut,
    "description": "a per-tenant limit is reached (rate of calls, queued jobs); see Retry-After",
}


class JobIn(_In):
    gpus: int = Field(ge=1, le=MAX_GPUS, description="GPUs the job needs, all at once")
    runtime_s: float = Field(gt=0, le=MAX_RUNTIME_S, description="run time at full speed, s")
    estimate_s: float | None = Field(
        default=None, gt=0, le=MAX_RUNTIME_S, description="the user's estimate, s (default: run)"
    )
    name: str = Field(default="", max_length=200, description="free label")
    tenant: str | None = Field(
        default=None, max_length=64, description="tenant (operators only; tenants: their own)"
    )


JobReason = Literal["quota", "power_budget", "reservation", "topology", "priority", "scheduling"]


class JobOut(_Out):
    id: int
    tenant: str
    name: str
    gpus: int
    runtime_s: float
    estimate_s: float
    state: Literal["queued", "running", "completed", "cancelled"]
    cancel_requested: bool = Field(description="a cancel was asked; the job stops at that instant")
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    borrowed: bool
    halls: dict[str, int]
    preemptions: int
    lost_gpu_s: float
    work_done_s: float
    preempting_at: dt.datetime | None
    reason: JobReason | None = Field(
        default=None,
        description="why a queued job waits (None unless queued): quota (its tenant is at "
        "its guarantee and cannot borrow more), power_budget, reservation (booked GPUs), "
        "topology (GPUs free but not in one placement it may use), priority (behind running "
        "or earlier work), scheduling (no pass has seen it yet)",
    )


class JobPage(_Out):
    jobs: list[JobOut]
    total: int


class TenantIn(_In):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    tier: str = Field(max_length=64)
    jurisdiction: str = Field(max_length=8)
    quota: list[QuotaStep] = Field(default_factory=list, max_length=100)
    max_borrow_gpus: int | None = Field(default=None, ge=0, le=MAX_GPUS)
    lends: bool = True
    fair_share_weight: float = Field(default=1.0, gt=0, le=1e6)
    allowed_halls: list[str] = Field(default_factory=list, max_length=100)
    price_eur_per_gpu_hour: float = Field(default=0.0, ge=0, le=1e4)
    borrowed_price_eur_per_gpu_hour: float | None = Field(default=None, ge=0, le=1e4)


class QuotaIn(_In):
    quota: list[QuotaStep] = Field(max_length=100, description="the whole ramp, in date order")


class TenantOut(_Out):
    name: str
    tier: str
    jurisdiction: str
    quota: list[QuotaStep]
    quota_gpus_now: int
    max_borrow_gpus: int | None
    lends: bool
    fair_share_weight: float
    allowed_halls: list[str]
    price_eur_per_gpu_hour: float
    borrowed_price_eur_per_gpu_hour: float | None
    active: bool


class TokenIn(_In):
    role: Literal["operator", "tenant"]
    tenant: str | None = Field(default=None, max_length=64, description="for tenant tokens")
    label: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _tenant_role(self) -> TokenIn:
        if self.role == "tenant" and not self.tenant:
            raise ValueError("tenant: a tenant token names its tenant")
        if self.role == "operator" and self.tenant:
            raise ValueError("tenant: an operator token belongs to no tenant")
        return self


class TokenOut(_Out):
    id: int
    role: str
    tenant: str | None
    label: str
    revoked: bool
    token: str | None = Field(default=None, description="the secret, shown once at creation")


class ReservationIn(_In):
    gpus: int = Field(ge=1, le=MAX_GPUS)
    start: UtcTime
    end: UtcTime
    tenant: str | None = Field(default=None, max_length=64, description="operators only")

    @model_validator(mode="after")
    def _window(self) -> ReservationIn:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start: give times with a UTC offset, e.g. 2027-01-01T00:00:00Z")
        if self.end <= self.start:
            raise ValueError("end: a reservation must end after it starts")
        if (self.end - self.start).total_seconds() > 31 * 86400:
            raise ValueError("end: a reservation lasts at most 31 days")
        return self


class ReservationOut(_Out):
    id: int
    tenant: str
    gpus: int
    start: dt.datetime
    end: dt.datetime
    state: Literal["booked", "cancelled"]


class CurtailmentIn(_In):
    shed_mw: float = Field(gt=0, le=10_000, description="MW to shed below the grid cap")
    start: UtcTime | None = Field(default=None, description="default: now")
    end: UtcTime
    deadline_s: float = Field(default=900.0, ge=0, le=86400, description="time to shed, s")

    @model_validator(mode="after")
    def _window(self) -> CurtailmentIn:
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None and v.tzinfo is None:
                raise ValueError(f"{name}: give times with a UTC offset")
        if self.start is not None and self.end <= self.start:
            raise ValueError("end: a curtailment must end after it starts")
        return self


class CurtailmentOut(_Out):
    id: int
    shed_mw: float
    start: dt.datetime
    end: dt.datetime
    deadline_s: float
    state: str


class HallOut(_Out):
    name: str
    gpus: int
    busy_gpus: int


class FleetOut(_Out):
    now: dt.datetime
    gpus: int
    busy_gpus: int
    halls: list[HallOut]
    busy_gpus_by_tier: dict[str, int]
    busy_gpus_by_tenant: dict[str, int] = Field(description="operators: all; tenants: their own")
    queued_jobs: int = Field(description="operators: all; tenants: their own")
    queued_gpus: int
    running_jobs: int = Field(description="operators: all; tenants: their own")
    gpu_power_cap_fraction: float


class PowerOut(_Out):
    now: dt.datetime
    phase: str | None
    ambient_c: float | None
    busy_gpus: int
    it_power_w: float | None
    facility_power_w: float | None
    grid_capacity_w: float | None = Field(description="the grid connection (None: no physics)")
    grid_cap_w: float | None = Field(
        description="the cap in force: the grid connection less the power shed by active "
        "curtailments (curtailed_w)"
    )
    it_budget_w: float | None
    curtailed_w: float = Field(description="power shed by active curtailments")
    pue: float | None
    heat_reused_w: float | None
    offtaker_delivered_w: dict[str, float]
    gpu_power_cap_fraction: float
    it_energy_mwh: float = Field(description="since the service first started")
    facility_energy_mwh: float
    heat_reused_mwh: float


class UsageOut(_Out):
    tenant: str
    start: dt.datetime
    end: dt.datetime
    guaranteed_gpu_hours: float
    borrowed_gpu_hours: float
    cost_eur: float
    jobs_completed: int


class EventOut(_Out):
    id: int
    at: dt.datetime
    kind: str
    tenant: str | None
    message: str


class SampleOut(_Out):
    at: dt.datetime
    busy_gpus: int
    queued_jobs: int
    it_power_w: float
    facility_power_w: float
    it_budget_w: float
    grid_cap_w: float = Field(description="the grid cap in force (less curtailments)")
    heat_reused_w: float
    gpu_power_cap_fraction: float
