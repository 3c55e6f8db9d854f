"""The snapshot of a pass as the policy's :class:`narvik.sched.narvik_policy.PoolView`.

Jobs get local indices (running first, then queued in submit order); tenants
keep their order by id. The same view the simulator builds from virtual time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from narvik.sched.narvik_policy import PoolView, RunningView, TenantView
from narvik.service.plant import Plant, utc
from narvik.service.snapshot import QueuedJob, RunningJob, Snapshot, quota_at
from narvik.sim.tenancy_sim import in_reservation_gpus


@dataclass
class LiveView:
    view: PoolView
    job_ids: list[int]
    """Database id of each local job index."""
    tenant_ids: list[int]
    running: list[RunningJob]
    queued: list[QueuedJob]
    capacity: list[int]
    shed_w: float
    deadline_s: float
    """Instant by which the active curtailments must be met (inf: none)."""


def tier_priority(plant: Plant, tier: str) -> int:
    known = plant.tiers.get(tier)
    return known.priority if known else max(t.priority for t in plant.tiers.values()) + 1


def build_view(snap: Snapshot, plant: Plant, cap_fraction: float) -> LiveView:
    now = snap.now_s
    tenancy = plant.tenancy
    capacity = plant.capacity_by_hall(now)
    n_gpus = sum(capacity)
    day = utc(now).date()
    t_pos = {row.id: i for i, row in enumerate(snap.tenants)}
    all_halls = tuple(range(len(capacity)))
    jobs_running = snap.running
    queued = [q for q in snap.queued if q.tenant_id in t_pos]
    job_ids = [j.id for j in jobs_running] + [q.id for q in queued]
    job_gpus = [j.gpus for j in jobs_running] + [q.gpus for q in queued]
    job_est = [j.estimate_s for j in jobs_running] + [
        max(q.estimate_s - q.saved_s, 1.0) for q in queued
    ]
    fit_since = [math.nan] * len(jobs_running) + [
        math.nan if q.fit_since_s is None else q.fit_since_s for q in queued
    ]

    reserved = {row.id: 0 for row in snap.tenants}
    upcoming: list[tuple[float, int]] = []
    for r in snap.reservations:
        if r.start_s <= now:
            reserved[r.tenant_id] = reserved.get(r.tenant_id, 0) + r.gpus
        else:
            upcoming.append((r.start_s, r.gpus))
    upcoming.sort()

    tviews: list[TenantView] = []
    for i, row in enumerate(snap.tenants):
        halls = tuple(plant.hall_index(h) for h in row.allowed_halls if h in plant.hall_names)
        half_life = tenancy.fair_share_half_life_s
        usage = row.usage_gpu_s * math.exp(-math.log(2) * max(now - row.usage_at_s, 0) / half_life)
        tviews.append(
            TenantView(
                index=i,
                tier_priority=tier_priority(plant, row.tier),
                quota_gpus=quota_at(row.quota, day),
                reserved_gpus=reserved.get(row.id, 0),
                used_guaranteed=0,
                used_borrowed=0,
                max_borrow_gpus=n_gpus if row.max_borrow_gpus is None else row.max_borrow_gpus,
                lends=row.lends,
                fair_share_key=usage / row.fair_share_weight,
                allowed_halls=halls or all_halls,
                queue=[],
                earmarked_gpus=snap.earmarks.get(row.id, 0),
            )
        )
    free = list(capacity)
    rviews: dict[int, RunningView] = {}
    est_gpus: dict[float, int] = {}
    preempting: set[int] = set()
    preempting_gpus = 0
    busy = 0
    for k, j in enumerate(jobs_running):
        tv = tviews[t_pos[j.tenant_id]]
        for h, c in j.halls:
            free[h] -= c
        busy += j.gpus
        if j.borrowed:
            tv.used_borrowed += j.gpus
        else:
            tv.used_guaranteed += j.gpus
        est_end = j.updated_s + max(j.estimate_s - j.done_s, 0.0) / j.rate
        est_gpus[est_end] = est_gpus.get(est_end, 0) + j.gpus
        rviews[k] = RunningView(
            job=k,
            tenant=tv.index,
            tier_priority=tv.tier_priority,
            gpus=j.gpus,
            borrowed=j.borrowed,
            start_s=j.stint_start_s,
            est_end_s=est_end,
            halls=j.halls,
            being_preempted=j.preempt_at_s is not None,
        )
        if j.preempt_at_s is not None:
            preempting.add(k)
            preempting_gpus += j.gpus
            if j.preempt_for is not None and j.preempt_for in t_pos:
                tviews[t_pos[j.preempt_for]].reclaiming_gpus += j.gpus
    base = len(jobs_running)
    for k, q in enumerate(queued):
        tv = tviews[t_pos[q.tenant_id]]
        tv.queue.append(base + k)
    for tv in tviews:
        promised = [j for j in tv.queue if not math.isnan(fit_since[j])]
        tv.promised = sorted(promised, key=lambda j: (fit_since[j], j))
    holds = sum(tv.reserved_gpus - in_reservation_gpus(tv) for tv in tviews if tv.reserved_gpus)

    shed_w = max((c.shed_w for c in snap.curtailments if c.start_s <= now), default=0.0)
    deadline = min(
        (c.start_s + c.deadline_s for c in snap.curtailments if c.start_s <= now),
        default=math.inf,
    )
    idle_w, busy_w = plant.gpu_power_w(now)
    view = PoolView(
        now_s=now,
        free_by_hall=free,
        busy_gpus=busy,
        n_gpus=n_gpus,
        job_gpus=job_gpus,
        job_estimate_s=job_est,
        tenants=tviews,
        running=rviews,
        est_end_keys=sorted(est_gpus),
        est_end_gpus=est_gpus,
        idle_it_power_w=idle_w,
        busy_gpu_power_w=busy_w,
        it_budget_w=plant.it_budget_w(now, shed_w),
        cap_fraction=cap_fraction,
        min_cap_fraction=tenancy.min_gpu_power_cap_fraction,
        reservation_holds=holds,
        hall_pressure=_hall_pressure(snap, plant, capacity),
        preempting=preempting,
        preempting_gpus=preempting_gpus,
        fit_since_s=fit_since,
        grace_period_s=tenancy.grace_period_s,
        upcoming=upcoming,
        backfill_depth=tenancy.backfill_depth,
    )
    tenant_ids = [row.id for row in snap.tenants]
    return LiveView(view, job_ids, tenant_ids, jobs_running, queued, capacity, shed_w, deadline)


def _hall_pressure(snap: Snapshot, plant: Plant, capacity: list[int]) -> list[float]:
    """Largest guaranteed GPUs of tenants confined to a hall, as a share of the hall."""
    load = [0.0] * len(capacity)
    for row in snap.tenants:
        halls = [plant.hall_index(h) for h in row.allowed_halls if h in plant.hall_names]
        if halls and len(halls) < len(capacity):
            peak = max((int(q) for _, q in row.quota), default=0)
            room = sum(capacity[h] for h in halls) or 1
            for h in halls:
                load[h] += peak * capacity[h] / room
    return [load[h] / max(capacity[h], 1) for h in range(len(capacity))]
