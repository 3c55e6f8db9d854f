"""The live state of a pass as the policy's :class:`narvik.sched.narvik_policy.PoolView`.

Jobs are known by their database ids; per-job figures are looked up lazily in
the mirror, and each tenant's queue is cut to the ``backfill_depth`` jobs the
policy looks at, so building the view costs the number of tenants, not jobs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from narvik.sched.narvik_policy import PoolView, TenantView, hall_pressure
from narvik.service.live_state import LiveState
from narvik.service.plant import Plant, utc
from narvik.service.ramps import quota_at
from narvik.service.tables import CurtailmentRow, ReservationRow, TenantRow
from narvik.sim.tenancy_sim import in_reservation_gpus

T = TypeVar("T")


class _ByJob(Mapping[int, T]):
    """A read-only per-job figure, computed on access from the mirror."""

    def __init__(self, get: Callable[[int], T], ids: Callable[[], Iterator[int]], n: int):
        self._get, self._ids, self._n = get, ids, n

    def __getitem__(self, job: int) -> T:
        return self._get(job)

    def __iter__(self) -> Iterator[int]:
        return self._ids()

    def __len__(self) -> int:
        return self._n


@dataclass
class LiveView:
    view: PoolView
    tenant_ids: list[int]
    shed_w: float
    deadline_s: float
    """Instant by which the active curtailments must be met (inf: none)."""


def tier_priority(plant: Plant, tier: str) -> int:
    known = plant.tiers.get(tier)
    return known.priority if known else max(t.priority for t in plant.tiers.values()) + 1


def tenant_maps(tenants: list[TenantRow], plant: Plant) -> tuple[dict[int, int], dict[int, int]]:
    index = {row.id: i for i, row in enumerate(tenants)}
    prio = {row.id: tier_priority(plant, row.tier) for row in tenants}
    return index, prio


def build_view(
    state: LiveState,
    tenants: list[TenantRow],
    reservations: list[ReservationRow],
    curtailments: list[CurtailmentRow],
    plant: Plant,
    now: float,
    cap_fraction: float,
    earmarks: dict[int, int],
) -> LiveView:
    tenancy = plant.tenancy
    capacity = plant.capacity_by_hall(now)
    n_gpus = sum(capacity)
    day = utc(now).date()
    all_halls = tuple(range(len(capacity)))
    depth = tenancy.backfill_depth
    reserved: dict[int, int] = {}
    upcoming: list[tuple[float, int]] = []
    for r in reservations:
        if r.start_s <= now:
            reserved[r.tenant_id] = reserved.get(r.tenant_id, 0) + r.gpus
        else:
            upcoming.append((r.start_s, r.gpus))
    upcoming.sort()
    reclaiming: dict[int, int] = {}
    preempting: set[int] = set()
    preempting_gpus = 0
    for job_id in state.noticed:
        job = state.running[job_id]
        preempting.add(job.id)
        preempting_gpus += job.gpus
        if job.preempt_for is not None and job.preempt_for >= 0:
            reclaiming[job.preempt_for] = reclaiming.get(job.preempt_for, 0) + job.gpus
    half_life = tenancy.fair_share_half_life_s
    tviews: list[TenantView] = []
    for i, row in enumerate(tenants):
        halls = tuple(plant.hall_indices(row.allowed_halls))
        usage = row.usage_gpu_s * math.exp(-math.log(2) * max(now - row.usage_at_s, 0) / half_life)
        used = state.used.get(row.id, [0, 0])
        tviews.append(
            TenantView(
                index=i,
                tier_priority=state.tier_priority.get(row.id, 0),
                quota_gpus=quota_at(row.quota, day),
                reserved_gpus=reserved.get(row.id, 0),
                used_guaranteed=used[0],
                used_borrowed=used[1],
                max_borrow_gpus=n_gpus if row.max_borrow_gpus is None else row.max_borrow_gpus,
                lends=row.lends,
                fair_share_key=usage / row.fair_share_weight,
                allowed_halls=halls or all_halls,
                queue=[jid for _, jid in state.queues.get(row.id, [])[:depth]],
                reclaiming_gpus=reclaiming.get(row.id, 0),
                earmarked_gpus=earmarks.get(row.id, 0),
                promised=[jid for _, jid in state.promised.get(row.id, [])],
            )
        )
    holds = sum(tv.reserved_gpus - in_reservation_gpus(tv) for tv in tviews if tv.reserved_gpus)
    active = [c for c in curtailments if c.start_s <= now]
    shed_w = max((c.shed_w for c in active), default=0.0)
    deadline = min((c.start_s + c.deadline_s for c in active), default=math.inf)
    idle_w, busy_w = plant.gpu_power_w(now)
    queued, running = state.queued, state.running

    def gpus(j: int) -> int:
        q = queued.get(j)
        return q.gpus if q is not None else running[j].gpus

    def estimate(j: int) -> float:
        q = queued.get(j)
        if q is not None:
            return max(q.estimate_s - q.saved_s, 1.0)
        return running[j].estimate_s

    def fit_since(j: int) -> float:
        q = queued.get(j)
        return math.nan if q is None or q.fit_since_s is None else q.fit_since_s

    def ids() -> Iterator[int]:
        yield from running
        yield from queued

    n = len(queued) + len(running)
    view = PoolView(
        now_s=now,
        free_by_hall=[c - u for c, u in zip(capacity, state.used_by_hall, strict=True)],
        busy_gpus=sum(state.used_by_hall),
        n_gpus=n_gpus,
        job_gpus=_ByJob(gpus, ids, n),
        job_estimate_s=_ByJob(estimate, ids, n),
        tenants=tviews,
        running=state.views,
        est_end_keys=state.est_keys,
        est_end_gpus=state.est_gpus,
        idle_it_power_w=idle_w,
        busy_gpu_power_w=busy_w,
        it_budget_w=plant.it_budget_w(now, shed_w),
        cap_fraction=cap_fraction,
        min_cap_fraction=tenancy.min_gpu_power_cap_fraction,
        reservation_holds=holds,
        hall_pressure=_pressure(tenants, plant, capacity),
        preempting=preempting,
        preempting_gpus=preempting_gpus,
        fit_since_s=_ByJob(fit_since, ids, n),
        grace_period_s=tenancy.grace_period_s,
        upcoming=upcoming,
        backfill_depth=depth,
    )
    return LiveView(view, [row.id for row in tenants], shed_w, deadline)


def _pressure(tenants: list[TenantRow], plant: Plant, capacity: list[int]) -> list[float]:
    confined = []
    for row in tenants:
        halls = plant.hall_indices(row.allowed_halls)
        if halls:
            confined.append((halls, max((int(q) for _, q in row.quota), default=0)))
    return hall_pressure(capacity, confined)
