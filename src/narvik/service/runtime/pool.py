"""The engine's pool built from the control plane's database rows.

The runtime keeps one :class:`narvik.engine.Pool`: its halls are the plant's
(:attr:`narvik.service.plant.Plant.halls`, online from their phase's start in service
time), its jobs are keyed by their database ids and its tenants are the tenant rows in
id order (tenant index = position). The functions here translate rows into the
engine's records (:class:`TenantSpec`, :class:`ReservationSpec`,
:class:`CurtailmentSpec`, :class:`RunningJob`, :class:`WaitingJob`) and back; the
state and its rules are the engine's alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from narvik.engine import (
    CurtailmentSpec,
    Pool,
    PowerModel,
    ReservationSpec,
    Rules,
    RunningJob,
    TenantSpec,
)
from narvik.engine.pool import fair_share_decay
from narvik.sched.placement import Placement, hall_gpus
from narvik.sched.view import RunningView, WaitingJob
from narvik.service.plant import Plant
from narvik.service.tables import CurtailmentRow, JobRow, ReservationRow, TenantRow
from narvik.workload.tenancy import Tenancy


def rules_of(tenancy: Tenancy) -> Rules:
    return Rules(
        grace_period_s=tenancy.grace_period_s,
        checkpoint_interval_s=tenancy.checkpoint_interval_s,
        fair_share_half_life_s=tenancy.fair_share_half_life_s,
        backfill_depth=tenancy.backfill_depth,
        min_cap_fraction=tenancy.min_gpu_power_cap_fraction,
    )


def day_s(day: Any) -> float:
    """Service time (Unix seconds) of the start of a day (an ISO date), UTC."""
    d = dt.date.fromisoformat(str(day))
    return dt.datetime.combine(d, dt.time(), tzinfo=dt.UTC).timestamp()


def tier_priority(plant: Plant, tier: str) -> int:
    known = plant.tiers.get(tier)
    return known.priority if known else max(t.priority for t in plant.tiers.values()) + 1


def tenant_spec(row: TenantRow, plant: Plant) -> TenantSpec:
    return TenantSpec(
        name=row.name,
        tier_priority=tier_priority(plant, row.tier),
        quota_steps=tuple((day_s(start), int(gpus)) for start, gpus in row.quota),
        max_borrow_gpus=row.max_borrow_gpus,
        lends=row.lends,
        weight=row.fair_share_weight,
        allowed_halls=tuple(plant.hall_indices(row.allowed_halls)),
    )


def reservation_specs(
    rows: Sequence[ReservationRow], index: dict[int, int]
) -> list[ReservationSpec]:
    return [
        ReservationSpec(index[r.tenant_id], r.gpus, r.start_s, r.end_s)
        for r in rows
        if r.tenant_id in index
    ]


def curtailment_specs(rows: Sequence[CurtailmentRow]) -> list[CurtailmentSpec]:
    return [CurtailmentSpec(c.start_s, c.end_s, c.shed_w, c.deadline_s) for c in rows]


def placement_json(p: Placement) -> list[list[int]]:
    return [[int(h), int(d), int(c)] for h, d, c in p]


def _placement(row: Any, pool: Pool) -> Placement:
    """The stored placement of a running job; for a row from before the ``domains``
    column, its hall counts laid on that hall's fullest-fitting free domains."""
    if row.domains:
        return tuple((int(h), int(d), int(c)) for h, d, c in row.domains)
    out = []
    for h, c in row.halls or ():
        h, left = int(h), int(c)
        free = pool.free[h]
        for d in sorted(range(len(free)), key=lambda i: (-int(free[i]), i)):
            take = min(left, int(free[d]))
            if take > 0:
                out.append((h, d, take))
                left -= take
            if left == 0:
                break
    return tuple(out)


def load_pool(
    session: Session,
    plant: Plant,
    power: PowerModel,
    meta: dict[str, float],
) -> tuple[Pool, list[int]]:
    """The pool as the database has it (start, or after a failed pass), and tenant ids."""
    tenants = list(session.scalars(select(TenantRow).order_by(TenantRow.id)))
    ids = [t.id for t in tenants]
    index = {tid: i for i, tid in enumerate(ids)}
    pool = Pool(
        plant.halls, [tenant_spec(t, plant) for t in tenants], rules_of(plant.tenancy), power
    )
    last = meta.get("last_pass_s")
    half_life = pool.rules.fair_share_half_life_s
    usage = []
    for tenant_row in tenants:
        dt_s = max(
            (last if last is not None else tenant_row.usage_at_s) - tenant_row.usage_at_s, 0.0
        )
        usage.append(tenant_row.usage_gpu_s * fair_share_decay(dt_s, half_life))
    if last is not None:  # the fair-share clock goes on from the last pass
        pool.restore(
            last, meta.get("cap_fraction", 1.0), usage, [t.earmarked_gpus for t in tenants]
        )
    else:
        for t, used, tenant_row in zip(pool.tenants, usage, tenants, strict=True):
            t.usage_gpu_s = used
            t.view.earmarked_gpus = tenant_row.earmarked_gpus
    running = select(JobRow.__table__).where(JobRow.state == "running")
    # In the order the engine started them (its preemption order is the latest first).
    order = (JobRow.stint_start_s, func.coalesce(JobRow.start_order, 0), JobRow.id)
    for row in session.execute(running.order_by(*order)):
        tenant = index[row.tenant_id]
        placement = _placement(row, pool)
        prio = pool.tenants[tenant].spec.tier_priority
        view = RunningView(
            row.id, tenant, prio, row.gpus, row.borrowed, row.stint_start_s, 0.0,
            hall_gpus(placement), False,
        )  # fmt: skip
        pool.add_running(
            RunningJob(
                key=row.id,
                tenant=tenant,
                gpus=row.gpus,
                runtime_s=row.runtime_s,
                estimate_s=row.estimate_s,
                submit_s=row.submit_s,
                done_s=row.done_s,
                updated_s=row.updated_s,
                rate=row.rate,
                saved_s=row.saved_s,
                stint_start_s=row.stint_start_s,
                borrowed=row.borrowed,
                placement=placement,
                view=view,
                preempt_at_s=row.preempt_at_s,
                preempt_for=None if row.preempt_for is None
                else index.get(row.preempt_for, -1) if row.preempt_for >= 0 else -1,
                cancel_at_s=row.cancel_requested_s,
            )
        )  # fmt: skip
    queued = select(JobRow.__table__).where(JobRow.state == "queued")
    for row in session.execute(queued.order_by(JobRow.submit_s, JobRow.id)):
        pool.add_queued(
            WaitingJob(
                row.id, index[row.tenant_id], row.gpus, row.runtime_s, row.estimate_s,
                row.submit_s, row.saved_s,
                math.nan if row.fit_since_s is None else row.fit_since_s,
            )
        )  # fmt: skip
    return pool, ids
