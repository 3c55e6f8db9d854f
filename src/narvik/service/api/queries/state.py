"""What is happening now: fleet occupancy, the queue, power and energy, recent events.

Tenants see the fleet's occupancy by tier but only their own jobs and GPUs;
counts of other tenants' jobs are for operators.
"""

from __future__ import annotations

import math

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.directory import TenantDirectory
from narvik.service.api.schemas import EventOut, FleetOut, HallOut, PowerOut, SampleOut
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


def samples(session: Session, limit: int) -> list[SampleOut]:
    rows = session.scalars(select(SampleRow).order_by(SampleRow.t_s.desc()).limit(limit)).all()
    return [
        SampleOut(
            at=utc(r.t_s),
            busy_gpus=r.busy_gpus,
            queued_jobs=r.queued_jobs,
            it_power_w=r.it_power_w,
            facility_power_w=r.facility_power_w,
            it_budget_w=r.it_budget_w,
            grid_cap_w=r.grid_cap_w,
            heat_reused_w=r.heat_reused_w,
            gpu_power_cap_fraction=r.cap_fraction,
        )
        for r in reversed(rows)
    ]


def events(session: Session, who: Principal, limit: int) -> list[EventOut]:
    q = select(EventRow, TenantRow.name).outerjoin(TenantRow).order_by(EventRow.id.desc())
    if not who.is_operator:
        q = q.where(or_(EventRow.tenant_id.is_(None), EventRow.tenant_id == who.tenant_id))
    return [
        EventOut(id=e.id, at=utc(e.t_s), kind=e.kind, tenant=name, message=e.message)
        for e, name in session.execute(q.limit(limit)).all()
    ]
