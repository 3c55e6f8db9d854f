"""The pool simulation: the engine (:mod:`narvik.engine`) driven by virtual time.

A thin driver on the DES kernel (:mod:`narvik.sim.kernel`): arrivals (one kernel event
per distinct submit instant, scheduled one ahead), the engine's own instants (phases
online, bookings, curtailments, quota steps), hour ticks of the power budget and the
engine's next job stop (one cancellable wake-up) each ask for a pass at their instant;
the pass (:meth:`narvik.engine.Pool.step`) runs once per instant, after every event of
that instant. The driver records what the engine did; it keeps no state of the pool.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from narvik.engine import (
    CurtailmentSpec,
    HallSpec,
    PassOutcome,
    Pool,
    PowerModel,
    ReservationSpec,
    Rules,
    TenantSpec,
)
from narvik.sched.placement import Placement
from narvik.sched.registry import get_pool_policy
from narvik.sched.view import WaitingJob
from narvik.sim.flat import COMPLETED, PENDING, REJECTED, RUNNING
from narvik.sim.kernel import ORDER_ARRIVAL, ORDER_END, ORDER_SCHEDULE, Kernel
from narvik.sim.tenancy_result import TenancyResult
from narvik.workload.job import JobTable


@dataclass(frozen=True)
class HourlyPower:
    """The facility's power figures hour by hour of the run (a :class:`PowerModel`)."""

    idle_w: NDArray[np.float64]
    """IT power of the idle online fleet, per hour."""
    busy_w: NDArray[np.float64]
    """Added IT power of one busy GPU at full cap, per hour."""
    budget_w: NDArray[np.float64]
    """IT power budget, per hour."""
    curtailed_budget_w: dict[float, NDArray[np.float64]] = field(default_factory=dict)
    """By power shed (W): the budget with the grid cap lowered by it, per hour."""

    def _hour(self, t_s: float) -> int:
        return min(max(int(t_s // 3600.0), 0), self.budget_w.shape[0] - 1)

    def gpu_power_w(self, t_s: float) -> tuple[float, float]:
        h = self._hour(t_s)
        return float(self.idle_w[h]), float(self.busy_w[h])

    def it_budget_w(self, t_s: float, shed_w: float) -> float:
        h = self._hour(t_s)
        if shed_w > 0 and shed_w in self.curtailed_budget_w:
            return float(self.curtailed_budget_w[shed_w][h])
        return float(self.budget_w[h])

    @property
    def hours(self) -> int:
        return int(self.budget_w.shape[0])


@dataclass(frozen=True)
class PoolSetup:
    """Everything a simulated pool needs, in seconds and W."""

    halls: tuple[HallSpec, ...]
    tenants: tuple[TenantSpec, ...]
    tenant_tiers: tuple[str, ...]
    reservations: tuple[ReservationSpec, ...]
    curtailments: tuple[CurtailmentSpec, ...]
    rules: Rules
    power: PowerModel
    hour_ticks: bool = True
    """Run a pass every hour (the budget changes with the weather)."""

    @property
    def hall_gpus(self) -> tuple[int, ...]:
        return tuple(h.gpus for h in self.halls)

    def pool(self) -> Pool:
        return Pool(
            self.halls, self.tenants, self.rules, self.power, self.reservations, self.curtailments
        )


class _Recorder:
    """What the driver keeps of each pass, as lists (arrays at the end)."""

    def __init__(self, n: int, setup: PoolSetup) -> None:
        # Typed arrays, not lists: a year holds a million jobs and two million passes.
        self.first = array("d", [math.nan]) * n
        self.final = array("d", [math.nan]) * n
        self.preemptions = array("q", [0]) * n
        self.lost = array("d", [0.0]) * n
        self.fits = array("b", [False]) * n
        self.fit_since = array("d", [math.nan]) * n
        self.rejected = array("b", [False]) * n
        self.domains = array("q", [0]) * n
        self.blocks = array("q", [0]) * n
        self.segs = _Segments()
        self.frag: list[tuple[float, int, int]] = []
        # Per pass: t_s, busy GPUs, IT power, IT budget, cap fraction, shed, GPUs online.
        self.series: tuple[
            array[float], array[int], array[float], array[float], array[float], array[float],
            array[int],
        ] = (array("d"), array("q"), array("d"), array("d"), array("d"), array("d"),
             array("q"))  # fmt: skip
        self.curt = [_curtailment_row(c) for c in setup.curtailments]
        self.res = [_reservation_row(r) for r in setup.reservations]
        self.setup = setup

    def record(self, out: PassOutcome, pool: Pool) -> None:
        for s in out.stops:
            j = s.job
            for h, c in j.view.halls:
                self.segs.add(j.key, j.stint_start_s, s.at_s, c, h, j.borrowed)
            if s.outcome == "preempted":
                self.preemptions[j.key] += 1
                self.lost[j.key] += s.lost_gpu_s
            else:
                self.final[j.key] = s.at_s
        for j in out.starts:
            if self.first[j.key] != self.first[j.key]:
                self.first[j.key] = out.now_s
                self.domains[j.key] = len(j.placement)
                self.blocks[j.key] = _blocks(pool, j.placement)
        for key in out.fitting:
            self.fit_since[key] = out.now_s
        self._power(out, pool)
        if out.now_s % 3600.0 == 0.0:  # hourly: free GPUs, and those in wholly free domains
            whole = sum(
                int(np.count_nonzero(f == t.domain_gpus)) * t.domain_gpus
                for f, t in zip(pool.free, pool.topologies, strict=True)
            )
            self.frag.append((out.now_s, sum(pool.free_by_hall), whole))
        for i in out.opened_short:
            self.res[i]["honoured"] = False
        for i, have in out.booking_available.items():
            row = self.res[i]
            row["min_available_gpus"] = min(int(row["min_available_gpus"]), have)
        t_s, busy, it_w, budget_w, cap, shed_w, online = self.series
        t_s.append(out.now_s)
        busy.append(out.busy_gpus)
        it_w.append(out.it_power_w)
        budget_w.append(out.it_budget_w)
        cap.append(out.cap_fraction)
        shed_w.append(out.shed_w)
        online.append(sum(pool.capacity))

    def _power(self, out: PassOutcome, pool: Pool) -> None:
        t = out.now_s
        for i, c in enumerate(self.setup.curtailments):
            if not c.start_s <= t < c.end_s:
                continue
            row = self.curt[i]
            row["preempted_jobs"] = int(row["preempted_jobs"]) + sum(
                1 for _, _, owner in out.notices if owner < 0
            )
            row["min_gpu_cap_fraction"] = min(float(row["min_gpu_cap_fraction"]), out.cap_fraction)
            if t >= c.start_s + c.deadline_s and out.it_power_w > out.it_budget_w + 1e-6:
                row["met"] = False
                row["max_excess_w"] = max(
                    float(row["max_excess_w"]), out.it_power_w - out.it_budget_w
                )


def simulate_tenancy(
    jobs: JobTable,
    tenant_index: NDArray[np.int64],
    setup: PoolSetup,
    *,
    until_s: float | None,
    policy: str = "narvik",
    progress: Callable[[float], None] | None = None,
) -> TenancyResult:
    """Run ``jobs`` (sorted by submit time) on the pool until ``until_s`` (None: all done)."""
    if until_s is not None:
        keep = jobs.submit_s <= until_s
        jobs = jobs.take(keep)
        tenant_index = tenant_index[keep]
    pool = setup.pool()
    rec = _Recorder(len(jobs), setup)
    driver = _Driver(pool, get_pool_policy(policy), jobs, tenant_index, rec, progress)
    driver.run(setup, until_s)
    return _result(jobs, tenant_index, rec, pool, policy, until_s)


class _Driver:
    """Kernel events that ask for one pass per instant."""

    def __init__(
        self,
        pool: Pool,
        policy: object,
        jobs: JobTable,
        tenant_index: NDArray[np.int64],
        rec: _Recorder,
        progress: Callable[[float], None] | None,
    ) -> None:
        self.pool, self.policy, self.rec, self.progress = pool, policy, rec, progress
        self.kernel = Kernel()
        self.sub = jobs.submit_s.tolist()
        self.cols = (
            tenant_index.tolist(),
            jobs.gpus.tolist(),
            jobs.runtime_s.tolist(),
            jobs.estimate_s().tolist(),
        )
        self.next_job = 0
        self.arrivals: list[WaitingJob] = []
        self.pass_at = -math.inf
        self.wake: tuple[float, int] | None = None
        self.passes = 0

    def run(self, setup: PoolSetup, until_s: float | None) -> None:
        k = self.kernel
        horizon = math.inf if until_s is None else until_s
        ticks = (
            setup.power.hours if setup.hour_ticks and isinstance(setup.power, HourlyPower) else 0
        )
        for at in self.pool.instants() + [h * 3600.0 for h in range(ticks)]:
            if 0.0 <= at <= horizon:
                k.schedule(at, self.request_pass, ORDER_ARRIVAL)
        if self.sub:
            k.schedule(max(self.sub[0], 0.0), self.arrive, ORDER_ARRIVAL)
        k.run(until_s)

    def request_pass(self) -> None:
        now = self.kernel.now_s
        if self.pass_at != now:
            self.pass_at = now
            if self.kernel.peek_s() > now:
                self.run_pass()  # nothing else happens at this instant: the pass is next
            else:
                self.kernel.schedule(now, self.run_pass, ORDER_SCHEDULE)

    def arrive(self) -> None:
        now = self.kernel.now_s
        sub, (ti, g, rt, est) = self.sub, self.cols
        j = self.next_job
        while j < len(sub) and sub[j] <= now:
            self.arrivals.append(WaitingJob(j, ti[j], g[j], rt[j], est[j], sub[j]))
            j += 1
        self.next_job = j
        if j < len(sub):
            self.kernel.schedule(sub[j], self.arrive, ORDER_ARRIVAL)
        self.request_pass()

    def run_pass(self) -> None:
        now = self.kernel.now_s
        arrivals, self.arrivals = self.arrivals, []
        out = self.pool.step(now, self.policy, arrivals)
        for key in out.fit_on_arrival:
            self.rec.fits[key] = True
        for key in out.rejected:
            self.rec.rejected[key] = True
        self.rec.record(out, self.pool)
        self._rearm(now)
        self.passes += 1
        if self.progress is not None and not self.passes & 0xFFFF:
            self.progress(now)

    def _rearm(self, now: float) -> None:
        """Keep one wake-up at the pool's next job stop (cancel a stale one)."""
        due = self.pool.next_due_s()
        if self.wake is not None and self.wake[0] <= now:
            # It has run (job stops come first at an instant): it may be this very pass,
            # and a notice running out at once (due == now) still needs another pass.
            self.wake = None
        if self.wake is not None and self.wake[0] == due:
            return
        if self.wake is not None:
            self.kernel.cancel(self.wake[1])
            self.wake = None
        if due <= now:  # a notice that ran out at once: another pass at this instant
            self.kernel.schedule(now, self.run_pass, ORDER_SCHEDULE)
        elif due < math.inf:
            self.wake = (due, self.kernel.schedule(due, self.request_pass, ORDER_END))


class _Segments:
    """Segments (job, start, end, GPUs, hall, borrowed) in typed columns: millions of them
    in a year, kept without an object each."""

    def __init__(self) -> None:
        self.cols = (array("q"), array("d"), array("d"), array("q"), array("q"), array("b"))

    def add(self, job: int, start: float, end: float, gpus: int, hall: int, lent: bool) -> None:
        c_job, c_start, c_end, c_gpus, c_hall, c_lent = self.cols
        c_job.append(job)
        c_start.append(start)
        c_end.append(end)
        c_gpus.append(gpus)
        c_hall.append(hall)
        c_lent.append(lent)

    def table(self) -> NDArray[np.float64]:
        """(n, 6) rows sorted by start, job, hall."""
        seg = np.column_stack([np.asarray(c, dtype=float) for c in self.cols]).reshape(-1, 6)
        return seg[np.lexsort((seg[:, 4], seg[:, 0], seg[:, 1]))]


def _blocks(pool: Pool, placement: Placement) -> int:
    """Network blocks a placement spans (blocks never span halls)."""
    if len(placement) == 1:
        return 1
    arr = np.asarray(placement, dtype=np.int64)
    n = 0
    for h in np.unique(arr[:, 0]).tolist():
        doms = arr[arr[:, 0] == h, 1]
        n += int(np.unique(pool.topologies[h].block_of_domain[doms]).shape[0])
    return n


def _curtailment_row(c: CurtailmentSpec) -> dict[str, float | bool | int]:
    return {
        "start_s": c.start_s,
        "deadline_s": c.start_s + c.deadline_s,
        "end_s": c.end_s,
        "shed_w": c.shed_w,
        "met": True,
        "max_excess_w": 0.0,
        "min_gpu_cap_fraction": 1.0,
        "preempted_jobs": 0,
    }


def _reservation_row(r: ReservationSpec) -> dict[str, float | bool | int]:
    return {
        "tenant": r.tenant,
        "gpus": r.gpus,
        "start_s": r.start_s,
        "end_s": r.end_s,
        "honoured": True,
        "min_available_gpus": r.gpus,
    }


def _result(
    jobs: JobTable,
    tenant_index: NDArray[np.int64],
    rec: _Recorder,
    pool: Pool,
    policy: str,
    until_s: float | None,
) -> TenancyResult:
    n = len(jobs)
    for key, job in pool.running.items():
        for h, c in job.view.halls:
            rec.segs.add(key, job.stint_start_s, math.nan, c, h, job.borrowed)
    start = np.asarray(rec.first, dtype=float)
    end = np.asarray(rec.final, dtype=float)
    state = np.full(n, PENDING, dtype=np.int8)
    state[~np.isnan(end)] = COMPLETED
    state[np.isin(np.arange(n), list(pool.running))] = RUNNING
    state[np.asarray(rec.rejected, dtype=bool)] = REJECTED
    for r, spec in zip(rec.res, rec.setup.reservations, strict=True):
        r["honoured"] = bool(r["honoured"]) and int(r["min_available_gpus"]) >= spec.gpus
    seg = rec.segs.table()
    frag = np.array(rec.frag, dtype=float).reshape(-1, 3)
    t_s, busy, it_w, budget, cap, shed, online = (np.asarray(s) for s in rec.series)
    return TenancyResult(
        jobs=jobs,
        n_gpus=max(sum(h.gpus for h in rec.setup.halls if h.online_from_s <= 0), 1),
        policy=policy,
        start_s=start,
        end_s=end,
        state=state,
        preemptions=np.asarray(rec.preemptions, dtype=np.int64),
        lost_gpu_s=np.asarray(rec.lost, dtype=float),
        fits_guarantee=np.asarray(rec.fits, dtype=bool),
        fit_since_s=np.asarray(rec.fit_since, dtype=float),
        tenant_index=np.asarray(tenant_index, dtype=np.int64),
        nvlink_domains=np.asarray(rec.domains, dtype=np.int64),
        network_blocks=np.asarray(rec.blocks, dtype=np.int64),
        seg_job=seg[:, 0].astype(np.int64),
        seg_start_s=seg[:, 1],
        seg_end_s=seg[:, 2],
        seg_gpus=seg[:, 3].astype(np.int64),
        seg_hall=seg[:, 4].astype(np.int64),
        seg_borrowed=seg[:, 5].astype(bool),
        t_s=t_s.astype(float),
        gpus_busy=busy.astype(np.int64),
        it_power_w=it_w.astype(float),
        it_budget_w=budget.astype(float),
        cap_fraction=cap.astype(float),
        shed_w=shed.astype(float),
        gpus_online=online.astype(np.int64),
        frag_t_s=frag[:, 0].astype(float),
        frag_free_gpus=frag[:, 1].astype(np.int64),
        frag_whole_free_gpus=frag[:, 2].astype(np.int64),
        curtailments=rec.curt,
        reservations=rec.res,
        until_s=until_s,
    )
