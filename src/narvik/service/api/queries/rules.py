"""The tenancy's capacity rules as pure checks: no database, no clock, no HTTP.

The control plane changes the tenancy one call at a time (a tenant, a quota ramp, a
booking, a job); each call is checked here against the same rules a scenario file is
checked against when it is loaded, applied to the site as it grows phase by phase:

- **Who may hold quota** (tier and jurisdiction):
  :func:`narvik.workload.tenancy.quota_holding_error`, the very function
  :class:`narvik.workload.tenancy.Tenancy` validates scenario files with.
- **Guarantees within the fleet** (:func:`check_quotas`): the loader's
  ``narvik.scenario._check_quota_sums`` (the quotas in force on any day add up to at
  most the fleet), made exact for a site that grows: at every instant of every ramp,
  the guarantees in force (and the bookings then running) fit the GPUs *in force then*,
  not the final build-out; and a tenant confined to some halls
  (:attr:`~narvik.workload.tenancy.Tenant.allowed_halls`, checked by the loader's
  ``check_against_site``) is guaranteed at most what those halls have in force. Both are
  one condition, :func:`narvik.workload.tenancy.overcommitted` (every set of halls holds
  the promises confined to it), which also covers two tenants confined to one hall.
- **Bookings within what guarantees leave** (:func:`check_booking`): the loader's
  ``check_against_pool`` (a reservation fits the pool), made exact: in the booking's
  window the engine adds a booking on top of its tenant's quota
  (:func:`narvik.sched.narvik_policy.guarantee_step`: headroom is quota + reserved), so
  every guarantee in force plus every booking running at the same instant must fit the
  GPUs in force in the halls each may use. A booking can then never take GPUs another
  tenant's guarantee needs.
- **Job sizes** (:func:`job_size_limit`): the engine's rules. It rejects a job larger than
  the GPUs of its tenant's halls once every phase is online
  (:meth:`narvik.engine.pool.Pool.submit`), and a job starts either within its tenant's
  guarantee (quota + bookings in force) or borrowed within its borrowing limit (the whole
  fleet online when it has none) in halls it may use. The largest job a tenant can ever
  hold through its guarantee or its borrowing is the largest, over every step of its ramp
  and every phase, of min(its halls in force, max(quota, borrowing limit)).

Bookings do not raise the job-size limit (decided here): a job is queued when it is
submitted, so a booking (perhaps years ahead) must not let a tenant queue work larger than
its guarantee or borrowing could ever hold. Inside its window a booking still serves work
beyond the quota, up to that limit. The one exception is a tenant that can neither hold
quota nor borrow: it runs only in its bookings, so it may submit work up to its largest
booking (which :func:`check_booking` has fitted into the GPUs free in its window).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from narvik.workload.tenancy import overcommitted

Halls = Sequence[tuple[str, float, int]]
"""The site's halls: (name, instant it comes online in service seconds, GPUs)."""


class RuleError(ValueError):
    """A rule the change breaks: ``field`` names what to change, ``message`` says why."""

    def __init__(self, message: str, field: str):
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Claim:
    """GPUs promised from ``start_s`` to ``end_s`` in some halls (indices; () = any)."""

    halls: tuple[int, ...]
    gpus: int
    start_s: float
    end_s: float


def day_s(day: dt.date) -> float:
    """The first instant of a UTC day, in service seconds (Unix seconds)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()


def day_of(t_s: float) -> str:
    if not math.isfinite(t_s):
        return "the start"
    try:
        when = dt.datetime.fromtimestamp(t_s, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{t_s:.0f} s"
    day = when.date().isoformat()
    return day if when.time() == dt.time() else f"{day} {when:%H:%M} UTC"


def ramp_claims(quota: Sequence[Sequence[Any]], halls: tuple[int, ...]) -> list[Claim]:
    """A quota ramp as stored (``[[ISO day, GPUs], ...]`` in date order) as claims: each
    step holds from its first day to the next step's."""
    steps = [(day_s(dt.date.fromisoformat(str(s))), int(g)) for s, g in quota]
    ends = [s for s, _ in steps[1:]] + [math.inf]
    return [Claim(halls, g, s, e) for (s, g), e in zip(steps, ends, strict=False) if g > 0]


def capacity_at(halls: Halls, t_s: float) -> list[int]:
    """GPUs of each hall in force at ``t_s`` (0 before its phase)."""
    return [g if on <= t_s else 0 for _, on, g in halls]


def _names(halls: Halls, idx: Iterable[int]) -> str:
    return ", ".join(halls[i][0] for i in idx)


def _where(halls: Halls, idx: Sequence[int]) -> str:
    return "the fleet" if len(idx) == len(halls) else f"halls {_names(halls, idx)}"


def first_overcommit(
    halls: Halls, claims: Sequence[Claim], start_s: float = -math.inf, end_s: float = math.inf
) -> tuple[float, tuple[int, ...], int, int] | None:
    """The first instant in [start_s, end_s) at which the claims then running cannot all be
    kept in the halls in force, as (instant, halls, GPUs promised there, GPUs there).

    The claims and the fleet change only when a claim begins or a hall comes online, so
    only those instants (and ``start_s``) are tried."""
    points = {start_s}
    points.update(c.start_s for c in claims if start_s < c.start_s < end_s)
    points.update(on for _, on, _ in halls if start_s < on < end_s)
    for t in sorted(points):
        running = [(c.halls, c.gpus) for c in claims if c.start_s <= t < c.end_s]
        found = overcommitted(capacity_at(halls, t), running)
        if found is not None:
            return (t, *found)
    return None


def check_quotas(
    halls: Halls, guarantees: Sequence[Claim], bookings: Sequence[Claim], who: str
) -> None:
    """Every guarantee of every ramp (and every booking still to run) fits the GPUs in force
    in its halls at every instant; raises :class:`RuleError` naming ``quota``.

    Mirrors the scenario loader's ``_check_quota_sums`` (quotas in force on any day within
    the fleet) and ``check_against_site`` (a tenant's halls exist; no step above the
    fleet), against the fleet *in force* at each step rather than one phase's, and with
    confined tenants held to their halls (:func:`narvik.workload.tenancy.overcommitted`).
    A step dated before the first hall comes online is refused: nothing is in force."""
    found = first_overcommit(halls, [*guarantees, *bookings])
    if found is None:
        return
    t, idx, promised, room = found
    where = _where(halls, idx)
    raise RuleError(
        f"with this ramp for {who}, from {day_of(t)} the guarantees (and bookings) of tenants "
        f"that may use {'any hall' if len(idx) == len(halls) else 'only ' + where} would "
        f"add up to {promised:,} GPUs, above the {room:,} GPUs {where} has in force then",
        "quota",
    )


def check_booking(
    halls: Halls, booking: Claim, guarantees: Sequence[Claim], bookings: Sequence[Claim]
) -> None:
    """A booking fits, at every instant of its window, beside the guarantees in force and
    the other bookings running then; raises :class:`RuleError` naming ``gpus``.

    Mirrors the loader's ``check_against_pool`` (a reservation fits the pool), made exact
    for the engine, which adds a booking on top of its tenant's quota: guarantees plus
    overlapping bookings never exceed the GPUs in force in the halls each may use."""
    found = first_overcommit(
        halls, [*guarantees, *bookings, booking], booking.start_s, booking.end_s
    )
    if found is None:
        return
    t, idx, promised, room = found
    raise RuleError(
        f"with {booking.gpus:,} GPUs booked, at {day_of(t)} the guarantees and bookings in "
        f"force on {_where(halls, idx)} would add up to {promised:,} GPUs, above the "
        f"{room:,} GPUs there: a booking may not take GPUs that guarantees need",
        "gpus",
    )


def job_size_limit(
    halls: Halls, quota: Sequence[Sequence[Any]], allowed: tuple[int, ...], max_borrow: int | None
) -> int:
    """The largest job a tenant can ever hold through its guarantee or its borrowing.

    The engine's rules (:meth:`narvik.engine.pool.Pool.submit` and the narvik policy's
    guarantee and surplus steps): at an instant, a job runs within the quota in force or
    within the borrowing limit (the fleet online when there is none), on GPUs of halls it
    may use; the largest such job over every step of the ramp and every phase."""
    mine = allowed or tuple(range(len(halls)))
    steps = [(day_s(dt.date.fromisoformat(str(s))), int(g)) for s, g in quota]
    points = {-math.inf, *(s for s, _ in steps), *(on for _, on, _ in halls)}
    best = 0
    for t in points:
        cap = capacity_at(halls, t)
        q = next((g for s, g in reversed(steps) if s <= t), 0)
        borrow = sum(cap) if max_borrow is None else max_borrow
        best = max(best, min(sum(cap[h] for h in mine), max(q, borrow)))
    return best
