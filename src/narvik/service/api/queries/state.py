"""What is happening now: fleet occupancy, the queue, power and energy, recent events.

Tenants see only their own jobs, GPUs and queue; counts of other tenants' jobs are
for operators. What a tenant's token is shown beyond its own:

- ``/fleet``: the fleet's total and per-hall occupancy, and ``busy_gpus_by_tier`` only for
  tiers where at least :data:`MIN_TENANTS_PER_TIER` other tenants run work (the figure
  less its own GPUs is then an aggregate of several tenants), or that it is the only
  member of (the figure is its own). A tier of one other tenant, or where only one other
  tenant runs work, would give that tenant's usage exactly.
- ``/samples``: the fleet's power and occupancy, but ``queued_jobs`` is the tenant's own
  queue at each sample's time, reconstructed from its jobs (submitted, first started,
  ended; a job preempted back to the queue counts from its last preemption) -- never
  the fleet's queue.
- ``/events``: the fleet's own events (tenant none) and its own; a preemption notice
  that names the tenant GPUs are reclaimed for ("reclaimed for tenant #N") names it only
  to that tenant and to operators, others read "reclaimed for a tenant's guarantee".
"""

from __future__ import annotations

import bisect
import math
import re

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.directory import TenantDirectory
from narvik.service.api.schemas import EventOut, FleetOut, HallOut, PowerOut, SampleOut
from narvik.service.metrics import SiteSeries, StateSeries, TenantSeries
from narvik.service.plant import Plant, utc
from narvik.service.runtime.scheduler import PassReport, read_meta
from narvik.service.tables import CurtailmentRow, EventRow, JobRow, SampleRow, TenantRow


def fleet(
    report: PassReport | None, tenants: TenantDirectory, who: Principal, plant: Plant, now_s: float
) -> FleetOut:
    """Occupancy as of the last scheduling pass (what the scheduler committed)."""
    capacity = plant.capacity_by_hall(now_s)
    if report is None:
        report = PassReport(now_s, 0, 0, 0, 0, 0, 0, 0, 1.0, math.inf, 0.0)
    busy_hall = list(report.busy_by_hall) or [0] * len(capacity)
    by_tier: dict[str, int] = {}
    by_tenant: dict[str, int] = {}
    mine = who.is_operator or None
    for tid, gpus in report.busy_by_tenant.items():
        info = tenants.by_id(tid)
        by_tier[info.tier] = by_tier.get(info.tier, 0) + gpus
        if mine or tid == who.tenant_id:
            by_tenant[info.name] = gpus
    if not who.is_operator:
        shown = tiers_shown(_tiers_of(tenants), set(report.busy_by_tenant), who.tenant_id)
        by_tier = {t: g for t, g in by_tier.items() if t in shown}
    seen = [t for t in report.queued_by_tenant if mine or t == who.tenant_id]
    running = [n for t, n in report.running_by_tenant.items() if mine or t == who.tenant_id]
    return FleetOut(
        now=utc(now_s),
        gpus=sum(capacity),
        busy_gpus=sum(busy_hall),
        halls=[
            HallOut(name=n, gpus=c, busy_gpus=b)
            for n, c, b in zip(plant.hall_names, capacity, busy_hall, strict=True)
            if c
        ],
        busy_gpus_by_tier=dict(sorted(by_tier.items())),
        busy_gpus_by_tenant=dict(sorted(by_tenant.items())),
        queued_jobs=sum(report.queued_by_tenant[t][0] for t in seen),
        queued_gpus=sum(report.queued_by_tenant[t][1] for t in seen),
        running_jobs=sum(running),
        gpu_power_cap_fraction=report.cap_fraction,
    )


#: A tier's busy GPUs are shown to a tenant only if that many other tenants run work in it.
MIN_TENANTS_PER_TIER = 2


def _tiers_of(tenants: TenantDirectory) -> dict[int, str]:
    """Tenant id -> tier, of every tenant the directory holds (active or not)."""
    # TenantDirectory has no public listing; its map is replaced whole on refresh.
    return {tid: info.tier for tid, info in dict(tenants._by_id).items()}


def tiers_shown(tier_of: dict[int, str], running: set[int], caller: int | None) -> set[str]:
    """Tiers whose busy GPUs a tenant (id ``caller``) may see: those where at least
    :data:`MIN_TENANTS_PER_TIER` other tenants run work (the figure less its own is an
    aggregate of several tenants), and those it is the only member of (the figure is its
    own). ``tier_of``: every tenant's tier; ``running``: the tenants running work."""
    members: dict[str, int] = {}
    busy: dict[str, int] = {}
    for tid, tier in tier_of.items():
        if tid == caller:
            members.setdefault(tier, 0)
            busy.setdefault(tier, 0)
            continue
        members[tier] = members.get(tier, 0) + 1
        busy[tier] = busy.get(tier, 0) + (tid in running)
    return {t for t in members if members[t] == 0 or busy[t] >= MIN_TENANTS_PER_TIER}


def shed_w(session: Session, now_s: float) -> float:
    """Power the active curtailments shed below the grid connection at ``now_s``, W: the
    largest of those in their window, as the engine takes it
    (:meth:`narvik.engine.Pool.shed_w`, from the same rows)."""
    shed = session.scalar(
        select(func.coalesce(func.max(CurtailmentRow.shed_w), 0.0)).where(
            CurtailmentRow.state == "active",
            CurtailmentRow.start_s <= now_s,
            CurtailmentRow.end_s > now_s,
        )
    )
    return float(shed or 0.0)


def power(session: Session, plant: Plant, now_s: float) -> PowerOut:
    meta = read_meta(session)
    busy = int(
        session.scalar(
            select(func.coalesce(func.sum(JobRow.gpus), 0)).where(JobRow.state == "running")
        )
        or 0
    )
    cap = meta.get("cap_fraction", 1.0)
    shed = shed_w(session, now_s)
    p = plant.power_now(now_s, busy, cap, shed)
    budget = plant.it_budget_w(now_s, shed)
    return PowerOut(
        now=utc(now_s),
        phase=plant.phase_at(now_s),
        ambient_c=p.ambient_c if p else None,
        busy_gpus=busy,
        it_power_w=p.it_power_w if p else None,
        facility_power_w=p.facility_power_w if p else None,
        grid_capacity_w=p.grid_capacity_w if p else None,
        grid_cap_w=p.grid_cap_w if p else None,
        it_budget_w=budget if math.isfinite(budget) else None,
        curtailed_w=shed,
        pue=p.pue if p else None,
        heat_reused_w=p.heat_reused_w if p else None,
        offtaker_delivered_w=p.offtaker_delivered_w if p else {},
        gpu_power_cap_fraction=cap,
        it_energy_mwh=meta.get("it_energy_j", 0.0) / 3.6e9,
        facility_energy_mwh=meta.get("facility_energy_j", 0.0) / 3.6e9,
        heat_reused_mwh=meta.get("heat_reused_j", 0.0) / 3.6e9,
    )


def own_queue_at(session: Session, tenant_id: int, times: list[float]) -> list[int]:
    """Queued jobs of a tenant at each of ``times`` (ascending), from its jobs' rows: a job
    counts from its submission until it first started or ended; one preempted back into
    the queue (queued now, preempted before) counts again from its last preemption
    (``updated_s``). Earlier preemptions leave no trace in the rows and are not counted."""
    if not times:
        return []
    lo, hi = times[0], times[-1]
    rows = session.execute(
        select(
            JobRow.submit_s,
            JobRow.start_s,
            JobRow.end_s,
            JobRow.state,
            JobRow.updated_s,
            JobRow.preemptions,
        ).where(
            JobRow.tenant_id == tenant_id,
            JobRow.submit_s <= hi,
            or_(
                JobRow.state == "queued",
                JobRow.state == "running",
                JobRow.end_s >= lo,
                JobRow.start_s >= lo,
            ),
        )
    ).all()
    ins: list[float] = []
    outs: list[float] = []
    for submit_s, start_s, end_s, state, updated_s, preemptions in rows:
        stop = min(x for x in (start_s, end_s, math.inf) if x is not None)
        ins.append(submit_s)
        outs.append(stop)
        if state == "queued" and preemptions and start_s is not None:
            ins.append(updated_s)
            outs.append(math.inf)
    ins.sort()
    outs.sort()
    # queued at t: entered at or before t, and left after t
    return [bisect.bisect_right(ins, t) - bisect.bisect_right(outs, t) for t in times]


def samples(session: Session, limit: int, who: Principal | None = None) -> list[SampleOut]:
    """The latest samples, oldest first. A tenant (``who``) sees its own queue in
    ``queued_jobs``, not the fleet's."""
    rows = list(
        reversed(
            session.scalars(select(SampleRow).order_by(SampleRow.t_s.desc()).limit(limit)).all()
        )
    )
    queued = [r.queued_jobs for r in rows]
    if who is not None and not who.is_operator:
        queued = (
            own_queue_at(session, who.tenant_id, [r.t_s for r in rows])
            if who.tenant_id is not None
            else [0] * len(rows)
        )
    return [
        SampleOut(
            at=utc(r.t_s),
            busy_gpus=r.busy_gpus,
            queued_jobs=q,
            it_power_w=r.it_power_w,
            facility_power_w=r.facility_power_w,
            it_budget_w=r.it_budget_w,
            grid_cap_w=r.grid_cap_w,
            heat_reused_w=r.heat_reused_w,
            gpu_power_cap_fraction=r.cap_fraction,
        )
        for r, q in zip(rows, queued, strict=True)
    ]


_RECLAIMED_FOR = re.compile(r"reclaimed for tenant #(\d+)")


def redact(message: str, who: Principal) -> str:
    """An event's message as ``who`` may read it: another tenant is never named to a
    tenant (the scheduler writes "reclaimed for tenant #N" into preemption notices)."""
    if who.is_operator:
        return message

    def _sub(m: re.Match[str]) -> str:
        if who.tenant_id is not None and int(m.group(1)) == who.tenant_id:
            return m.group(0)
        return "reclaimed for a tenant's guarantee"

    return _RECLAIMED_FOR.sub(_sub, message)


def visible_events(who: Principal) -> Select[EventRow, str]:
    """The events query ``who`` may read (with the tenant's name), newest first."""
    q = select(EventRow, TenantRow.name).outerjoin(TenantRow).order_by(EventRow.id.desc())
    if not who.is_operator:
        q = q.where(or_(EventRow.tenant_id.is_(None), EventRow.tenant_id == who.tenant_id))
    return q


def event_out(e: EventRow, name: str | None, who: Principal) -> EventOut:
    return EventOut(
        id=e.id, at=utc(e.t_s), kind=e.kind, tenant=name, message=redact(e.message, who)
    )


def events(session: Session, who: Principal, limit: int) -> list[EventOut]:
    q = visible_events(who)
    return [event_out(e, name, who) for e, name in session.execute(q.limit(limit)).all()]


def metrics_state(session: Session) -> StateSeries:
    """Per tenant (every tenant, by name) running GPUs and queued jobs and GPUs, and the
    facility as of the latest sample, for ``/metrics``."""
    busy = case((JobRow.state == "running", JobRow.gpus), else_=0)
    qjobs = case((JobRow.state == "queued", 1), else_=0)
    qgpus = case((JobRow.state == "queued", JobRow.gpus), else_=0)
    counts = {
        tid: (int(b or 0), int(qj or 0), int(qg or 0))
        for tid, b, qj, qg in session.execute(
            select(JobRow.tenant_id, func.sum(busy), func.sum(qjobs), func.sum(qgpus))
            .where(JobRow.state.in_(("queued", "running")))
            .group_by(JobRow.tenant_id)
        ).all()
    }
    tenants = {
        name: TenantSeries(*counts.get(tid, (0, 0, 0)))
        for tid, name in session.execute(select(TenantRow.id, TenantRow.name)).all()
    }
    latest = session.scalars(select(SampleRow).order_by(SampleRow.t_s.desc()).limit(1)).first()
    cap = read_meta(session).get("cap_fraction")
    if latest is None:
        site = SiteSeries(cap_fraction=cap)
    else:
        site = SiteSeries(
            at_s=latest.t_s,
            it_power_w=latest.it_power_w,
            facility_power_w=latest.facility_power_w,
            heat_reused_w=latest.heat_reused_w,
            grid_cap_w=latest.grid_cap_w,
            cap_fraction=latest.cap_fraction if cap is None else cap,
        )
    return StateSeries(tenants, site)
