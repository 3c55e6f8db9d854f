"""The multi-tenant, power-aware simulation: the narvik policy driven by virtual time.

A discrete-event loop in the style of :mod:`narvik.sim.kernel` (a heap of
``(time, order, seq, event)``): at one instant job ends come first, then
preemptions falling due, then system events (hour ticks of the power budget,
quota ramps, reservation windows, curtailments), then arrivals in trace order,
then one pass of the policy (:class:`narvik.sched.narvik_policy.NarvikPolicy`),
whose decisions the loop applies.

Work model: a job needs ``runtime_s`` of work at full speed. Power-capped GPUs
run at :func:`narvik.physics.it_power.capped_throughput_fraction` of full speed.
Jobs checkpoint every ``checkpoint_interval_s`` of work; a preempted job keeps
the work up to its last checkpoint and loses the rest (counted), then waits
again in its tenant's queue.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from narvik.physics.it_power import capped_throughput_fraction
from narvik.sched.narvik_policy import (
    NarvikPolicy,
    PoolView,
    RunningView,
    TenantView,
    hall_pressure,
)
from narvik.sim.flat import COMPLETED, PENDING, REJECTED, RUNNING, JobStates
from narvik.workload.job import JobTable

END, PREEMPT, SYSTEM = 0, 1, 2
TICK, QUOTA, RES_START, RES_END, CURT_START, CURT_END = range(6)


@dataclass(frozen=True)
class TenantSetup:
    name: str
    tier: str
    tier_priority: int
    quota_steps: tuple[tuple[float, int], ...]
    """(from t_s, guaranteed GPUs)."""
    max_borrow_gpus: int
    lends: bool
    weight: float
    allowed_halls: tuple[int, ...]


@dataclass(frozen=True)
class ReservationSetup:
    tenant: int
    gpus: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class CurtailmentSetup:
    start_s: float
    end_s: float
    shed_w: float
    deadline_s: float


@dataclass(frozen=True)
class PowerSetup:
    idle_it_power_w: float
    busy_gpu_power_w: float
    it_budget_w: NDArray[np.float64]
    """Per hour of the run."""
    curtailed_it_budget_w: tuple[NDArray[np.float64], ...]
    """Per curtailment, per hour of the run: the budget with the cap lowered by the shed."""


@dataclass(frozen=True)
class TenancySetup:
    hall_gpus: tuple[int, ...]
    tenants: tuple[TenantSetup, ...]
    reservations: tuple[ReservationSetup, ...]
    curtailments: tuple[CurtailmentSetup, ...]
    power: PowerSetup
    grace_period_s: float
    checkpoint_interval_s: float
    fair_share_half_life_s: float
    backfill_depth: int
    min_cap_fraction: float


@dataclass(frozen=True, eq=False)
class TenancyResult(JobStates):
    jobs: JobTable
    n_gpus: int
    policy: str
    start_s: NDArray[np.float64]
    """First start (NaN: never started)."""
    end_s: NDArray[np.float64]
    state: NDArray[np.int8]
    preemptions: NDArray[np.int64]
    lost_gpu_s: NDArray[np.float64]
    fits_guarantee: NDArray[np.bool_]
    """The job fit its tenant's unused guarantee when it was submitted."""
    fit_since_s: NDArray[np.float64]
    """First instant the job fit its tenant's unused guarantee at a pass (NaN: never)."""
    tenant_index: NDArray[np.int64]
    seg_job: NDArray[np.int64]
    seg_start_s: NDArray[np.float64]
    seg_end_s: NDArray[np.float64]
    seg_gpus: NDArray[np.int64]
    seg_hall: NDArray[np.int64]
    seg_borrowed: NDArray[np.bool_]
    t_s: NDArray[np.float64]
    gpus_busy: NDArray[np.int64]
    it_power_w: NDArray[np.float64]
    """Predicted IT power after each pass."""
    it_budget_w: NDArray[np.float64]
    cap_fraction: NDArray[np.float64]
    curtailments: list[dict[str, float | bool | int]]
    reservations: list[dict[str, float | bool | int]]
    until_s: float | None = None


@dataclass
class _Run:
    view: RunningView
    seg_start: float
    t_upd: float
    done_s: float
    rate: float
    hall_alloc: tuple[tuple[int, int], ...]
    preempt_for: int = -1


@dataclass
class _PassSeries:
    """What every scheduling pass leaves: time, busy GPUs, predicted IT power, budget, cap."""

    t_s: list[float] = field(default_factory=list)
    gpus_busy: list[int] = field(default_factory=list)
    it_power_w: list[float] = field(default_factory=list)
    it_budget_w: list[float] = field(default_factory=list)
    cap_fraction: list[float] = field(default_factory=list)

    def record(self, t: float, busy: int, it_w: float, budget_w: float, cap: float) -> None:
        self.t_s.append(t)
        self.gpus_busy.append(busy)
        self.it_power_w.append(it_w)
        self.it_budget_w.append(budget_w)
        self.cap_fraction.append(cap)


def simulate_tenancy(
    jobs: JobTable,
    tenant_index: NDArray[np.int64],
    setup: TenancySetup,
    *,
    until_s: float | None,
    progress: Callable[[float], None] | None = None,
) -> TenancyResult:
    """Run ``jobs`` (sorted by submit time) under the narvik policy until ``until_s``."""
    if until_s is not None:
        keep = jobs.submit_s <= until_s
        jobs = jobs.take(keep)
        tenant_index = tenant_index[keep]
    n = len(jobs)
    sub = jobs.submit_s.tolist()
    g = jobs.gpus.tolist()
    rt = jobs.runtime_s.tolist()
    est = jobs.estimate_s().tolist()
    tj = tenant_index.tolist()
    n_gpus = sum(setup.hall_gpus)
    tenants = setup.tenants
    n_t = len(tenants)
    policy = NarvikPolicy()
    horizon = math.inf if until_s is None else float(until_s)
    power = setup.power
    hours = power.it_budget_w.shape[0]

    tviews = [
        TenantView(
            index=i,
            tier_priority=t.tier_priority,
            quota_gpus=_quota_at(t.quota_steps, 0.0),
            reserved_gpus=0,
            used_guaranteed=0,
            used_borrowed=0,
            max_borrow_gpus=t.max_borrow_gpus,
            lends=t.lends,
            fair_share_key=0.0,
            allowed_halls=t.allowed_halls,
            queue=[],
        )
        for i, t in enumerate(tenants)
    ]
    usage = [0.0] * n_t
    last_usage_t = 0.0
    decay = math.log(2.0) / setup.fair_share_half_life_s

    running: dict[int, _Run] = {}
    rviews: dict[int, RunningView] = {}
    est_keys: list[float] = []
    est_gpus: dict[float, int] = {}
    free = list(setup.hall_gpus)
    busy = 0
    cap = 1.0
    rate = 1.0
    saved = [0.0] * n
    first_start = [math.nan] * n
    final_end = [math.nan] * n
    preemptions = [0] * n
    lost = [0.0] * n
    fits_g = [False] * n
    fit_since = [math.nan] * n
    versions = [0] * n  # END events: bumped whenever a job is re-timed (power caps)
    stints = [0] * n  # PREEMPT events: bumped only when a job starts or stops
    segs: list[tuple[int, float, float, int, int, bool]] = []
    series = _PassSeries()
    active_res: list[int] = []
    curt_active: list[int] = []
    curt_out = [
        {
            "start_s": c.start_s,
            "deadline_s": c.start_s + c.deadline_s,
            "end_s": c.end_s,
            "shed_w": c.shed_w,
            "met": True,
            "max_excess_w": 0.0,
            "min_gpu_cap_fraction": 1.0,
            "preempted_jobs": 0,
        }
        for c in setup.curtailments
    ]
    res_out = [
        {
            "tenant": r.tenant,
            "gpus": r.gpus,
            "start_s": r.start_s,
            "end_s": r.end_s,
            "honoured": True,
            "min_available_gpus": r.gpus,
        }
        for r in setup.reservations
    ]

    heap: list[tuple[float, int, int, int, int, int]] = []
    seq = 0

    def push(t: float, order: int, kind: int, a: int, b: int = 0) -> None:
        nonlocal seq
        heapq.heappush(heap, (t, order, seq, kind, a, b))
        seq += 1

    for h in range(1, hours):
        push(h * 3600.0, SYSTEM, TICK, h)
    for i, t in enumerate(tenants):
        for start, _ in t.quota_steps:
            if start > 0:
                push(start, SYSTEM, QUOTA, i)
    for i, r in enumerate(setup.reservations):
        push(r.start_s, SYSTEM, RES_START, i)
        push(r.end_s, SYSTEM, RES_END, i)
    for i, c in enumerate(setup.curtailments):
        push(c.start_s, SYSTEM, CURT_START, i)
        push(c.end_s, SYSTEM, CURT_END, i)

    def budget_at(t: float) -> float:
        hour = min(int(t // 3600.0), hours - 1)
        b = float(power.it_budget_w[hour])
        for i in curt_active:
            b = min(b, float(power.curtailed_it_budget_w[i][hour]))
        return b

    def add_est(e: float, gj: int) -> None:
        if e in est_gpus:
            est_gpus[e] += gj
        else:
            est_gpus[e] = gj
            insort(est_keys, e)

    def drop_est(e: float, gj: int) -> None:
        c = est_gpus[e] - gj
        if c:
            est_gpus[e] = c
        else:
            del est_gpus[e]
            del est_keys[bisect_left(est_keys, e)]

    def start_job(j: int, t: float, borrowed: bool, alloc: tuple[tuple[int, int], ...]) -> None:
        nonlocal busy
        gj = g[j]
        for h, c in alloc:
            free[h] -= c
        busy += gj
        ti = tj[j]
        tv = tviews[ti]
        if borrowed:
            tv.used_borrowed += gj
        else:
            tv.used_guaranteed += gj
            tv.earmarked_gpus = max(0, tv.earmarked_gpus - gj)
        q = tv.queue
        del q[bisect_left(q, j)]
        if tv.promised and j in tv.promised:
            tv.promised.remove(j)
        if math.isnan(first_start[j]):
            first_start[j] = t
            if fits_g[j]:
                pending_fit[ti] -= gj
        e_est = t + max(est[j] - saved[j], 0.0) / rate
        view = RunningView(
            job=j,
            tenant=ti,
            tier_priority=tv.tier_priority,
            gpus=gj,
            borrowed=borrowed,
            start_s=t,
            est_end_s=e_est,
            halls=alloc,
            being_preempted=False,
        )
        versions[j] += 1
        stints[j] += 1
        running[j] = _Run(view, t, t, saved[j], rate, alloc)
        rviews[j] = view
        add_est(e_est, gj)
        push(t + (rt[j] - saved[j]) / rate, END, 0, j, versions[j])

    preempting: set[int] = set()
    preempting_gpus = [0]

    def stop_job(j: int, t: float, finished: bool) -> None:
        nonlocal busy
        r = running.pop(j)
        view = rviews.pop(j)
        if j in preempting:
            preempting.discard(j)
            preempting_gpus[0] -= g[j]
        gj = g[j]
        for h, c in r.hall_alloc:
            free[h] += c
            segs.append((j, r.seg_start, t, c, h, view.borrowed))
        busy -= gj
        tv = tviews[view.tenant]
        if view.borrowed:
            tv.used_borrowed -= gj
        else:
            tv.used_guaranteed -= gj
        drop_est(view.est_end_s, gj)
        versions[j] += 1
        stints[j] += 1
        if r.preempt_for >= 0:  # reclaimed for a tenant: the GPUs are its own this instant
            owner = tviews[r.preempt_for]
            owner.reclaiming_gpus = max(0, owner.reclaiming_gpus - gj)
            owner.earmarked_gpus += sum(
                c for h, c in r.hall_alloc if h in tenants[r.preempt_for].allowed_halls
            )
        if finished:
            final_end[j] = t
            return
        done = r.done_s + (t - r.t_upd) * r.rate
        keep = max(
            saved[j], math.floor(done / setup.checkpoint_interval_s) * setup.checkpoint_interval_s
        )
        lost[j] += (done - keep) * gj
        saved[j] = min(keep, rt[j])
        preemptions[j] += 1
        insort(tv.queue, j)

    def set_rate(t: float, new_cap: float) -> None:
        nonlocal cap, rate
        if new_cap == cap:
            return
        cap = new_cap
        rate = float(capped_throughput_fraction(cap))
        est_keys.clear()
        est_gpus.clear()
        for j, r in running.items():
            r.done_s += (t - r.t_upd) * r.rate
            r.t_upd = t
            r.rate = rate
            versions[j] += 1
            push(t + max(rt[j] - r.done_s, 0.0) / rate, END, 0, j, versions[j])
            r.view.est_end_s = t + max(est[j] - r.done_s, 0.0) / rate
            add_est(r.view.est_end_s, g[j])

    res_tenants = sorted({r.tenant for r in setup.reservations})

    def holds() -> int:
        """GPUs of active reservations not in use by their owners (kept free for them)."""
        total = 0
        for ti in res_tenants:
            tv = tviews[ti]
            if tv.reserved_gpus:
                in_res = in_reservation_gpus(tv)
                total += tv.reserved_gpus - in_res
        return total

    def honour_reservations(t: float) -> None:
        """At a window's start, stop others' work still on booked GPUs (overrun estimates)."""
        short = holds() - sum(free)
        if short <= 0:
            return
        cands = sorted(
            (r for r in running.values() if r.view.tenant not in res_tenants),
            key=lambda r: (not r.view.borrowed, -r.view.tier_priority, -r.seg_start, r.view.job),
        )
        for r in cands:
            if short <= 0:
                break
            short -= g[r.view.job]
            stop_job(r.view.job, t, finished=False)

    reach = [sum(setup.hall_gpus[h] for h in t.allowed_halls) for t in tenants]
    pending_fit = [0] * n_t  # GPUs of queued jobs that fit their tenant's guarantee
    pressure = hall_pressure(
        setup.hall_gpus,
        [(t.allowed_halls, max((q for _, q in t.quota_steps), default=0)) for t in tenants],
    )
    too_big = [False] * n
    i_next = 0
    next_sub = sub[0] if n else math.inf
    tick = 0
    while True:
        t = heap[0][0] if heap else math.inf
        if next_sub < t:
            t = next_sub
        if t == math.inf or t > horizon:
            break
        tick += 1
        if progress is not None and not tick & 0xFFFF:
            progress(t)
        res_started: list[int] = []
        while heap and heap[0][0] == t:
            _, order, _, kind, a, b = heapq.heappop(heap)
            if order == END:
                if a in running and b == versions[a]:
                    stop_job(a, t, finished=True)
            elif order == PREEMPT:
                if a in running and b == stints[a]:
                    stop_job(a, t, finished=False)
            elif kind == QUOTA:
                tviews[a].quota_gpus = _quota_at(tenants[a].quota_steps, t)
            elif kind == RES_START:
                active_res.append(a)
                tviews[setup.reservations[a].tenant].reserved_gpus += setup.reservations[a].gpus
                res_started.append(a)
            elif kind == RES_END:
                active_res.remove(a)
                tviews[setup.reservations[a].tenant].reserved_gpus -= setup.reservations[a].gpus
            elif kind == CURT_START:
                curt_active.append(a)
            elif kind == CURT_END:
                curt_active.remove(a)
        while next_sub == t:
            j = i_next
            ti = tj[j]
            tv = tviews[ti]
            if g[j] <= reach[ti]:
                room = tv.quota_gpus + tv.reserved_gpus - tv.used_guaranteed - pending_fit[ti]
                if g[j] <= room:
                    fits_g[j] = True
                    pending_fit[ti] += g[j]
                tv.queue.append(j)
            else:
                too_big[j] = True
            i_next += 1
            next_sub = sub[i_next] if i_next < n else math.inf

        # Fair share: decayed GPU-seconds per tenant over weight.
        dt_s = t - last_usage_t
        if dt_s > 0:
            f = math.exp(-decay * dt_s)
            for i, tv in enumerate(tviews):
                usage[i] = usage[i] * f + (tv.used_guaranteed + tv.used_borrowed) * dt_s
                tv.fair_share_key = usage[i] / tenants[i].weight
            last_usage_t = t

        if res_started:
            honour_reservations(t)
        budget = budget_at(t)
        hold = holds()
        view = PoolView(
            now_s=t,
            free_by_hall=free,
            busy_gpus=busy,
            n_gpus=n_gpus,
            job_gpus=g,
            job_estimate_s=est,
            tenants=tviews,
            running=rviews,
            est_end_keys=est_keys,
            est_end_gpus=est_gpus,
            idle_it_power_w=power.idle_it_power_w,
            busy_gpu_power_w=power.busy_gpu_power_w,
            it_budget_w=budget,
            cap_fraction=cap,
            min_cap_fraction=setup.min_cap_fraction,
            reservation_holds=hold,
            hall_pressure=pressure,
            preempting=preempting,
            preempting_gpus=preempting_gpus[0],
            fit_since_s=fit_since,
            grace_period_s=setup.grace_period_s,
            upcoming=[(r.start_s, r.gpus) for r in setup.reservations if r.start_s > t],
            backfill_depth=setup.backfill_depth,
        )
        decision = policy.decide(view)
        for j in decision.fitting:
            if math.isnan(fit_since[j]):
                fit_since[j] = t
                tviews[tj[j]].promised.append(j)
        set_rate(t, decision.cap_fraction)
        for j, reclaim_for in decision.preempt:
            r = running[j]
            if r.view.being_preempted:
                continue
            r.view.being_preempted = True
            preempting.add(j)
            preempting_gpus[0] += g[j]
            r.preempt_for = reclaim_for
            if reclaim_for >= 0:
                tviews[reclaim_for].reclaiming_gpus += g[j]
                when = decision.stop_by_s.get(j, t + setup.grace_period_s)
            else:
                when = t + min(setup.grace_period_s, _deadline_left(setup, curt_active, t))
            push(when, PREEMPT, 0, j, stints[j])
            if reclaim_for < 0:  # preempted for power
                for i in curt_active:
                    curt_out[i]["preempted_jobs"] = int(curt_out[i]["preempted_jobs"]) + 1
        for j, borrowed, alloc in decision.starts:
            start_job(j, t, borrowed, alloc)
        for tv in tviews:  # earmarks last while the tenant still waits for its reclaim
            if tv.index not in decision.waiting_tenants:
                tv.earmarked_gpus = 0
        # Reservations must find their GPUs at the start of their window.
        for i in res_started:
            if sum(free) < holds():
                res_out[i]["honoured"] = False
        for i in active_res:
            tv = tviews[setup.reservations[i].tenant]
            in_res = in_reservation_gpus(tv)
            have = min(sum(free), holds()) + in_res
            if have < res_out[i]["min_available_gpus"]:
                res_out[i]["min_available_gpus"] = have
        it_w = power.idle_it_power_w + busy * power.busy_gpu_power_w * cap
        for i in curt_active:
            c = setup.curtailments[i]
            if t >= c.start_s + c.deadline_s and it_w > budget + 1e-6:
                curt_out[i]["met"] = False
                curt_out[i]["max_excess_w"] = max(float(curt_out[i]["max_excess_w"]), it_w - budget)
            curt_out[i]["min_gpu_cap_fraction"] = min(
                float(curt_out[i]["min_gpu_cap_fraction"]), cap
            )
        series.record(t, busy, it_w, budget, cap)

    for i, r in enumerate(res_out):
        r["honoured"] = (
            bool(r["honoured"]) and r["min_available_gpus"] >= setup.reservations[i].gpus
        )
    return _result(
        jobs,
        tenant_index,
        too_big,
        first_start,
        final_end,
        preemptions,
        lost,
        (fits_g, fit_since),
        running,
        segs,
        until_s,
        series,
        curt_out,
        res_out,
        n_gpus,
    )


def in_reservation_gpus(tv: TenantView) -> int:
    """GPUs of the owner's own work inside its reservation: beyond its quota, or borrowed."""
    return min(tv.reserved_gpus, max(0, tv.used_guaranteed - tv.quota_gpus) + tv.used_borrowed)


def _quota_at(steps: tuple[tuple[float, int], ...], t: float) -> int:
    gpus = 0
    for start, q in steps:
        if start <= t:
            gpus = q
    return gpus


def _deadline_left(setup: TenancySetup, active: list[int], t: float) -> float:
    left = math.inf
    for i in active:
        c = setup.curtailments[i]
        left = min(left, max(0.0, c.start_s + c.deadline_s - t))
    return left


def _result(  # type: ignore[no-untyped-def]
    jobs,
    tenant_index,
    too_big,
    first_start,
    final_end,
    preemptions,
    lost,
    fits,
    running,
    segs,
    until_s,
    series,
    curt_out,
    res_out,
    n_gpus,
) -> TenancyResult:
    n = len(jobs)
    for j, r in running.items():
        for h, c in r.hall_alloc:
            segs.append((j, r.seg_start, math.nan, c, h, r.view.borrowed))
    start = np.asarray(first_start, dtype=float)
    end = np.asarray(final_end, dtype=float)
    state = np.full(n, PENDING, dtype=np.int8)
    state[~np.isnan(end)] = COMPLETED
    state[np.isin(np.arange(n), list(running))] = RUNNING
    state[np.asarray(too_big, dtype=bool)] = REJECTED
    seg = np.array(segs, dtype=float).reshape(-1, 6)
    return TenancyResult(
        jobs=jobs,
        n_gpus=n_gpus,
        policy="narvik",
        start_s=start,
        end_s=end,
        state=state,
        preemptions=np.asarray(preemptions, dtype=np.int64),
        lost_gpu_s=np.asarray(lost, dtype=float),
        fits_guarantee=np.asarray(fits[0], dtype=bool),
        fit_since_s=np.asarray(fits[1], dtype=float),
        tenant_index=np.asarray(tenant_index, dtype=np.int64),
        seg_job=seg[:, 0].astype(np.int64),
        seg_start_s=seg[:, 1],
        seg_end_s=seg[:, 2],
        seg_gpus=seg[:, 3].astype(np.int64),
        seg_hall=seg[:, 4].astype(np.int64),
        seg_borrowed=seg[:, 5].astype(bool),
        t_s=np.asarray(series.t_s, dtype=float),
        gpus_busy=np.asarray(series.gpus_busy, dtype=np.int64),
        it_power_w=np.asarray(series.it_power_w, dtype=float),
        it_budget_w=np.asarray(series.it_budget_w, dtype=float),
        cap_fraction=np.asarray(series.cap_fraction, dtype=float),
        curtailments=curt_out,
        reservations=res_out,
        until_s=until_s,
    )
