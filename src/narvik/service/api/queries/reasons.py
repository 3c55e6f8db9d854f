"""Why a queued job waits: a ``reason`` computed at read time from what the database holds.

Like Slurm's ``Reason`` (``Resources``, ``Priority``, ``QOSMaxGRESPerUser``,
``ReqNodeNotAvail, Reserved``...) and Kueue's ``QuotaReserved``/``Admitted`` conditions,
every queued job carries one word telling why it is not running. Nothing is stored: the
scheduler keeps no per-job verdict, so the reason is derived from the state the last
pass committed. It is a diagnosis, not a promise (the next pass may start the job).

The rules, in order (the first that holds is the reason). "Free" GPUs are those of
the halls online less the GPUs of running jobs, in the halls the tenant may use.

1. ``scheduling`` -- no pass has run since the job was submitted (its ``submit_s`` is
   after the meta ``last_pass_s``): the scheduler has not looked at it yet.
2. ``quota`` -- the job does not fit its tenant's unused guarantee (quota in force plus
   its active bookings, less the GPUs of its guaranteed work running) so it would have to
   borrow, and borrowing it would go beyond the tenant's ``max_borrow_gpus`` (GPUs of
   its borrowed work running plus the job's).
3. ``power_budget`` -- the IT power budget binds: the GPU power cap is below 1 (the
   scheduler has throttled running work to stay within the grid cap, less curtailments),
   or the job's GPUs at the cap would take the IT power (idle fleet plus busy GPUs at
   the cap) past the budget now (grid cap less active curtailments, at this hour's
   weather).
4. ``reservation`` -- enough GPUs are free, but not once the GPUs other tenants booked
   for a window the job would overlap (from now to its estimated end) are set aside
   (less what those tenants run).
5. ``quota`` -- the job would have to borrow, and the GPUs left (after bookings and the
   unused guarantee of tenants confined to some halls, which stays free for them) are
   the unused guarantee of tenants that do not lend (``lends = false``).
6. ``priority`` or ``topology`` -- enough GPUs are left for it: ``priority`` if work is
   ahead of it in the queue (a queued job of a higher tier, or submitted earlier in its
   tier: backfilling keeps GPUs for it), else ``topology`` (the free GPUs are too
   fragmented over NVLink domains for a placement).
7. ``topology`` -- a tenant confined to some halls: not enough GPUs are left in its
   halls, but there would be in the fleet.
8. ``priority`` -- otherwise: the GPUs it may use are taken by running work (a job
   within its guarantee waits for borrowed work to be reclaimed, others for work to
   end) or held for other tenants' unused guarantee.

Running and ended jobs have no reason (``None``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from narvik.service.api.queries.state import shed_w
from narvik.service.plant import Plant, utc
from narvik.service.ramps import quota_at
from narvik.service.runtime.pool import tier_priority
from narvik.service.runtime.scheduler import busy_by_hall, read_meta
from narvik.service.tables import JobRow, ReservationRow, TenantRow

Reason = Literal["quota", "power_budget", "reservation", "topology", "priority", "scheduling"]
REASONS: tuple[Reason, ...] = (
    "quota",
    "power_budget",
    "reservation",
    "topology",
    "priority",
    "scheduling",
)
#: Tolerance on the GPU power cap: at or above 1 - this, the cap does not bind.
CAP_EPS = 1e-6


@dataclass(frozen=True)
class TenantState:
    """One tenant as the rules see it."""

    id: int
    tier_priority: int
    """Lower goes first (the scenario's tiers)."""
    quota_gpus: int
    """Guarantee in force now."""
    booked_gpus: int = 0
    """GPUs of its reservations active now."""
    max_borrow_gpus: int | None = None
    """None: no limit."""
    lends: bool = True
    halls: tuple[int, ...] = ()
    """Hall indices it may use (empty: all)."""
    used_guaranteed: int = 0
    used_borrowed: int = 0

    @property
    def used(self) -> int:
        return self.used_guaranteed + self.used_borrowed


@dataclass(frozen=True)
class SiteState:
    """The fleet as of the last pass."""

    free_by_hall: tuple[int, ...]
    """GPUs online less those of running jobs, per hall."""
    last_pass_s: float | None
    """Service time of the last pass (None: none yet)."""
    cap_fraction: float = 1.0
    it_budget_w: float = math.inf
    it_power_w: float = 0.0
    gpu_w: float = 0.0
    """Added IT power of one busy GPU at full cap, W."""
    tenants: dict[int, TenantState] = field(default_factory=dict)
    first_queued: dict[int, float] = field(default_factory=dict)
    """Per tenant id, the earliest ``submit_s`` of its queued jobs."""
    now_s: float = 0.0
    bookings: tuple[tuple[int, int, float, float], ...] = ()
    """Booked reservations not yet over: (tenant id, GPUs, start_s, end_s)."""


@dataclass(frozen=True)
class Waiting:
    """A queued job."""

    id: int
    tenant_id: int
    gpus: int
    submit_s: float
    estimate_s: float = 0.0


def _reach(t: TenantState, n_halls: int) -> tuple[int, ...]:
    return t.halls or tuple(range(n_halls))


def _work_ahead(job: Waiting, t: TenantState, site: SiteState) -> bool:
    for tid, first in site.first_queued.items():
        other = site.tenants.get(tid)
        if other is None:
            continue
        if other.tier_priority < t.tier_priority:
            return True
        if other.tier_priority == t.tier_priority and first < job.submit_s:
            return True
    return False


def _unused(o: TenantState) -> int:
    return max(0, o.quota_gpus + o.booked_gpus - o.used_guaranteed)


def _rooms(job: Waiting, t: TenantState, site: SiteState, halls: tuple[int, ...]) -> list[int]:
    """GPUs free to the job in ``halls``: [free, less others' bookings, less the unused
    guarantee of confined tenants there, less what non-lending tenants keep]."""
    free_by_hall = site.free_by_hall
    free = sum(free_by_hall[h] for h in halls if h < len(free_by_hall))
    others = [o for o in site.tenants.values() if o.id != t.id]
    # GPUs other tenants booked for a window the job would overlap (by its estimate)
    until = site.now_s + job.estimate_s
    overlap: dict[int, int] = {}
    for tid, g, start_s, end_s in site.bookings:
        if tid != t.id and start_s < until and end_s > site.now_s:
            overlap[tid] = overlap.get(tid, 0) + g
    used = {o.id: o.used for o in others}
    booked = free - sum(max(0, g - used.get(tid, 0)) for tid, g in overlap.items())
    guaranteed = booked
    unlent = 0
    for o in others:
        if o.halls:
            there = sum(free_by_hall[h] for h in o.halls if h in halls and h < len(free_by_hall))
            guaranteed -= min(_unused(o), there)
        elif not o.lends:
            unlent += _unused(o)
    return [free, booked, guaranteed, guaranteed - unlent]


def reason(job: Waiting, site: SiteState) -> Reason:
    """Why ``job`` (queued) waits; see the rules in the module's docstring."""
    if site.last_pass_s is None or job.submit_s > site.last_pass_s:
        return "scheduling"
    t = site.tenants.get(job.tenant_id)
    if t is None:
        return "scheduling"
    gpus = job.gpus
    borrows = gpus > t.quota_gpus + t.booked_gpus - t.used_guaranteed
    if borrows and t.max_borrow_gpus is not None and t.used_borrowed + gpus > t.max_borrow_gpus:
        return "quota"
    power_room = site.it_budget_w - site.it_power_w
    if site.cap_fraction < 1.0 - CAP_EPS or gpus * site.gpu_w * site.cap_fraction > power_room:
        return "power_budget"
    free, booked, guaranteed, lendable = _rooms(job, t, site, _reach(t, len(site.free_by_hall)))
    if free >= gpus > booked:
        return "reservation"
    if borrows and guaranteed >= gpus > lendable:
        return "quota"
    room = lendable if borrows else guaranteed
    if room >= gpus:
        return "priority" if _work_ahead(job, t, site) else "topology"
    if t.halls:
        fleet = _rooms(job, t, site, tuple(range(len(site.free_by_hall))))
        if (fleet[3] if borrows else fleet[2]) >= gpus:
            return "topology"
    return "priority"


# --- from the database ---------------------------------------------------------------
def site_state(session: Session, plant: Plant, now_s: float) -> SiteState:
    """Everything :func:`reason` needs, in a handful of reads (for any number of jobs)."""
    meta = read_meta(session)
    capacity = plant.capacity_by_hall(now_s)
    busy = busy_by_hall(meta)
    busy += [0] * (len(capacity) - len(busy))
    used: dict[int, list[int]] = {}
    for tid, borrowed, gpus in session.execute(
        select(JobRow.tenant_id, JobRow.borrowed, func.sum(JobRow.gpus))
        .where(JobRow.state == "running")
        .group_by(JobRow.tenant_id, JobRow.borrowed)
    ):
        used.setdefault(tid, [0, 0])[1 if borrowed else 0] += int(gpus or 0)
    busy_gpus = sum(g + b for g, b in used.values())
    bookings = tuple(
        (int(tid), int(g), float(a), float(b))
        for tid, g, a, b in session.execute(
            select(
                ReservationRow.tenant_id,
                ReservationRow.gpus,
                ReservationRow.start_s,
                ReservationRow.end_s,
            ).where(ReservationRow.state == "booked", ReservationRow.end_s > now_s)
        ).all()
    )
    booked: dict[int, int] = {}
    for tid, g, start_s, _ in bookings:
        if start_s <= now_s:
            booked[tid] = booked.get(tid, 0) + g
    day = utc(now_s).date()
    tenants = {
        r.id: TenantState(
            id=r.id,
            tier_priority=tier_priority(plant, r.tier),
            quota_gpus=quota_at(r.quota, day),
            booked_gpus=int(booked.get(r.id, 0) or 0),
            max_borrow_gpus=r.max_borrow_gpus,
            lends=r.lends,
            halls=tuple(plant.hall_indices(r.allowed_halls)),
            used_guaranteed=used.get(r.id, [0, 0])[0],
            used_borrowed=used.get(r.id, [0, 0])[1],
        )
        for r in session.scalars(select(TenantRow))
    }
    first = dict(
        session.execute(
            select(JobRow.tenant_id, func.min(JobRow.submit_s))
            .where(JobRow.state == "queued")
            .group_by(JobRow.tenant_id)
        ).all()
    )
    cap = meta.get("cap_fraction", 1.0)
    idle_w, gpu_w = plant.gpu_power_w(now_s)
    budget = plant.it_budget_w(now_s, shed_w(session, now_s))
    return SiteState(
        free_by_hall=tuple(max(0, c - b) for c, b in zip(capacity, busy, strict=False)),
        last_pass_s=meta.get("last_pass_s"),
        cap_fraction=cap,
        it_budget_w=budget,
        it_power_w=idle_w + gpu_w * busy_gpus * cap,
        gpu_w=gpu_w,
        tenants=tenants,
        first_queued={int(k): float(v) for k, v in first.items()},
        now_s=now_s,
        bookings=bookings,
    )


def reasons_for(
    session: Session, plant: Plant, now_s: float, jobs: Iterable[JobRow]
) -> dict[int, Reason]:
    """The reason of each queued job of ``jobs`` (by id); others are left out."""
    queued: Sequence[JobRow] = [j for j in jobs if j.state == "queued"]
    if not queued:
        return {}
    site = site_state(session, plant, now_s)
    return {
        j.id: reason(Waiting(j.id, j.tenant_id, j.gpus, j.submit_s, j.estimate_s), site)
        for j in queued
    }
