"""Latency of one full scheduling pass (`Pool.step`) on hard snapshots of the default site.

Builds the default scenario's pool (Stargate Norway phase 1: 100,224 GB300 GPUs in NVL72
domains, 4 halls; the scenario's tenancy, weather and power model) and drives it with
the default synthetic workload for three weeks, as the simulator does (a pass at every
arrival instant, hour tick, pool instant and job stop). On top of that it makes the
measured instants hard:

- a flood of extra seeded jobs (resampled from the workload) so that at least 10,000
  jobs wait across the tenants (topped up at each snapshot);
- an active booking (opened a day earlier) and an upcoming one (opening in 4 h), besides
  the scenario's own;
- a grid curtailment shedding 120 MW, called 5 minutes before snapshot A: the IT budget
  binds, GPUs are capped at the floor and jobs are under notice for power (and for
  guarantee reclaims). Snapshot B is 10 minutes later: the notices have run out and the
  budget binds at the cap the power step chose for the GPUs still busy.

Then it times N full passes per snapshot and policy: each on a fresh copy of the
prepared pool (a deep copy made outside the timer: unpickled, which is 2-3 times faster
than `copy.deepcopy` and checked to give the same pass), one
`pool.step(now, policy, arrivals)` a little later than the snapshot (15-240 s, so jobs
also end) with a few seeded arrivals. It reports p50/p99/mean of the full pass and,
separately, of `decide` alone (the same call inside the same pass, on the same view),
for the `narvik` and `easy` pool policies. Deterministic (seeded); prints figures,
asserts nothing. About 4 minutes on 2 cores. A compiled build (mypyc) cannot pickle its
pool: there (or with ``--consecutive``) the pool is driven afresh to each snapshot and
the N passes run one after the other on it, 15 s apart, each with a few arrivals.
Run: .venv/bin/python benchmarks/bench_pass_latency.py [--passes N]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import gc
import math
import os
import pickle
import platform
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from narvik.engine import PassOutcome, Pool, build_kind
from narvik.physics.weather import builtin_weather
from narvik.scenario import load_scenario, load_workload
from narvik.sched.narvik_policy import gpu_limit
from narvik.sched.registry import get_pool_policy
from narvik.sched.view import Decision, PoolView, WaitingJob
from narvik.sim.tenancy_setup import build_setup, site_halls, tenant_indices
from narvik.site import load_site
from narvik.site.fleet import fleet_summary
from narvik.workload.job import JobTable
from narvik.workload.tenancy import Curtailment, Reservation

SEED = 20270122
SNAPSHOT_DAY = 21.5
"""Snapshot A, days after the scenario's start (2027-01-22 12:00)."""
LATER_S = 600.0
"""Snapshot B, seconds after A."""
QUEUED_TARGET = 10_000
FLOOD_LEAD_S = 1800.0
"""The extra jobs arrive over the half hour before snapshot A."""
CURTAIL_LEAD_S = 300.0
SHED_MW = 120.0
"""Power shed by the curtailment: the budget at the GPU power-cap floor holds fewer GPUs
than the flooded fleet keeps busy, so the power step both caps and preempts."""
OFFSETS_S = tuple(15.0 * k for k in range(1, 17))
"""Measured passes run at the snapshot plus one of these (cycled)."""
ARRIVALS_PER_PASS = 4
POLICIES = ("narvik", "easy")


class Workload:
    """The scenario's jobs as pool arrivals (key = row), and seeded resamples of them."""

    def __init__(self, jobs: JobTable, tenant_index: NDArray[np.int64], reach: Sequence[int]):
        self.jobs, self.index = jobs, tenant_index
        self.est = jobs.estimate_s()
        self.eligible = np.flatnonzero(jobs.gpus <= np.asarray(reach)[tenant_index])
        self.next_key = len(jobs)

    def waiting(self, rows: Iterable[int], keys: Iterable[int], submit_s: Iterable[float]):
        j = self.jobs
        return [
            WaitingJob(
                int(k),
                int(self.index[r]),
                int(j.gpus[r]),
                float(j.runtime_s[r]),
                float(self.est[r]),
                float(s),
            )  # fmt: skip
            for r, k, s in zip(rows, keys, submit_s, strict=True)
        ]

    def resample(self, rng: np.random.Generator, n: int, submit_s: Sequence[float]):
        """``n`` new jobs like the workload's (of tenants that can hold them), fresh keys."""
        rows = rng.choice(self.eligible, n)
        keys = range(self.next_key, self.next_key + n)
        self.next_key += n
        return self.waiting(rows, keys, submit_s)


class Driver:
    """A pass at every arrival instant, hour tick, pool instant and job stop (as the
    simulator's driver), with the narvik policy."""

    def __init__(self, pool: Pool, arrivals: list[WaitingJob], instants: list[float]) -> None:
        self.pool, self.arrivals, self.instants = pool, arrivals, instants
        self.policy = get_pool_policy("narvik")
        self.i = self.k = self.passes = 0
        self.now = 0.0
        self.seconds = 0.0

    def run_until(self, until_s: float) -> None:
        t0 = time.perf_counter()
        arr, inst, pool = self.arrivals, self.instants, self.pool
        while True:
            nxt = min(
                arr[self.i].submit_s if self.i < len(arr) else math.inf,
                inst[self.k] if self.k < len(inst) else math.inf,
                pool.next_due_s(),
            )
            if nxt > until_s:
                break
            self.now = max(nxt, self.now)
            j = self.i
            while j < len(arr) and arr[j].submit_s <= self.now:
                j += 1
            while self.k < len(inst) and inst[self.k] <= self.now:
                self.k += 1
            self.step(self.now, arr[self.i : j])
            self.i = j
        self.seconds += time.perf_counter() - t0

    def step(self, now_s: float, arrivals: list[WaitingJob]) -> PassOutcome:
        self.passes += 1
        return self.pool.step(now_s, self.policy, arrivals)


def build() -> tuple[Driver, Workload, list[str], float]:
    spec = load_scenario()
    site = load_site(spec.site)
    weather = builtin_weather(site.location.climate, spec.seed)
    phase = site.phase_at(spec.start_date).name
    n_gpus = fleet_summary(site, phase).gpus
    days = math.ceil(SNAPSHOT_DAY) + 2
    spec = spec.with_overrides(days=days)
    jobs, _ = load_workload(spec, n_gpus, site.rack_types[0].nvlink_domain_gpus)
    assert spec.tenancy is not None and spec.span_s is not None
    halls = tuple(h for h in site_halls(site, spec.start_date) if h.online_from_s < spec.span_s)
    index, has_other = tenant_indices(jobs, spec.tenancy)

    snap_s = SNAPSHOT_DAY * 86400.0
    at = dt.datetime.combine(spec.start_date, dt.time()) + dt.timedelta(seconds=snap_s)
    bookings = (
        Reservation(
            tenant="no-startups", gpus=2048, start=at - dt.timedelta(days=1),
            end=at + dt.timedelta(days=2),
        ),
        Reservation(
            tenant="uk-public", gpus=4096, start=at + dt.timedelta(hours=4),
            end=at + dt.timedelta(hours=28),
        ),
    )  # fmt: skip
    curtailment = Curtailment(
        start=at - dt.timedelta(seconds=CURTAIL_LEAD_S),
        end=at + dt.timedelta(hours=4),
        shed_mw=SHED_MW,
        deadline_s=900.0,
    )
    setup = build_setup(
        tenancy=spec.tenancy,
        halls=halls,
        start_date=spec.start_date,
        hours=days * 24,
        reservations=spec.reservations + bookings,
        events=spec.events + (curtailment,),
        with_other=has_other,
        site=site,
        weather=weather,
        busy_gpu_utilization=spec.busy_gpu_utilization,
    )
    pool = setup.pool()
    work = Workload(jobs, index, [t.reach_gpus for t in pool.tenants])
    rng = np.random.default_rng(SEED)
    n_flood = QUEUED_TARGET + 1_000
    flood_s = np.sort(rng.uniform(snap_s - FLOOD_LEAD_S, snap_s - 60.0, n_flood))
    arrivals = work.waiting(range(len(jobs)), range(len(jobs)), jobs.submit_s)
    arrivals += work.resample(rng, n_flood, flood_s.tolist())
    arrivals.sort(key=lambda q: (q.submit_s, q.key))
    end_s = snap_s + LATER_S
    ticks = [h * 3600.0 for h in range(int(end_s // 3600) + 1)]
    instants = sorted({s for s in pool.instants() + ticks if 0.0 <= s <= end_s})
    return Driver(pool, arrivals, instants), work, [t.name for t in setup.tenants], snap_s


def top_up(driver: Driver, work: Workload, now_s: float, rng: np.random.Generator) -> None:
    """Passes at ``now_s`` with extra arrivals until the queue holds the target."""
    while len(driver.pool.queued) < QUEUED_TARGET:
        more = QUEUED_TARGET - len(driver.pool.queued) + 200
        driver.step(now_s, work.resample(rng, more, [now_s] * more))


def describe(label: str, pool: Pool, now: float, names: list[str]) -> None:
    v = pool.view(now)
    queued_by = Counter(names[q.tenant] for q in pool.queued.values())
    power = [k for k in pool.noticed if pool.running[k].preempt_for == -1]
    power_gpus = sum(pool.running[k].gpus for k in power)
    active = [r for r in pool.reservations if r.start_s <= now < r.end_s]
    upcoming = [r for r in pool.reservations if r.start_s > now]
    idle_w, busy_w = pool.power.gpu_power_w(now)
    it_w = idle_w + pool.busy * busy_w * pool.cap_fraction
    print(f"snapshot {label} at day {now / 86400:.4f}:")
    print(
        f"  {pool.busy:,} GPUs busy, {sum(pool.free_by_hall):,} free; "
        f"{len(pool.running):,} running jobs, {len(pool.queued):,} queued jobs"
    )
    print("  queued:", ", ".join(f"{name} {c:,}" for name, c in sorted(queued_by.items())))
    print(
        f"  under notice: {len(pool.noticed):,} jobs, {pool.noticed_gpus:,} GPUs "
        f"(for power: {len(power):,} jobs, {power_gpus:,} GPUs; the rest reclaims)"
    )
    print(
        f"  bookings: {len(active)} active ({sum(r.gpus for r in active):,} GPUs, holds "
        f"{v.reservation_holds:,} free for them), {len(upcoming)} upcoming "
        f"(next in {(min(r.start_s for r in upcoming) - now) / 3600:.1f} h)"
    )
    print(
        f"  power: shed {pool.shed_w(now) / 1e6:.0f} MW, IT budget {v.it_budget_w / 1e6:.1f} MW, "
        f"IT power {it_w / 1e6:.1f} MW at cap fraction {pool.cap_fraction}; the budget holds "
        f"{gpu_limit(v, 1.0):,} busy GPUs at full cap, {gpu_limit(v, v.min_cap_fraction):,} "
        f"at the floor {v.min_cap_fraction}"
    )


class TimedPolicy:
    """A pool policy whose `decide` is timed from inside the pass."""

    def __init__(self, name: str) -> None:
        self.inner = get_pool_policy(name)
        self.seconds = 0.0

    def decide(self, v: PoolView) -> Decision:
        t0 = time.perf_counter()
        d: Decision = self.inner.decide(v)  # type: ignore[attr-defined]
        self.seconds = time.perf_counter() - t0
        return d


def measure(
    blob: bytes | None,
    now_s: float,
    work: Workload,
    name: str,
    passes: int,
    live: Pool | None = None,
) -> None:
    """Time ``passes`` passes: each on a fresh copy of the pickled pool ``blob`` at the
    snapshot plus an offset, or (``blob`` None: a compiled build cannot be pickled) one
    after the other on ``live``, 15 s apart."""
    rng = np.random.default_rng(SEED + 1)
    pass_ms, decide_ms = [], []
    counts: Counter[str] = Counter()
    caps: set[float] = set()
    over = 0
    for p in range(passes):
        now = now_s + (OFFSETS_S[p % len(OFFSETS_S)] if blob is not None else 15.0 * (p + 1))
        rows = rng.choice(work.eligible, ARRIVALS_PER_PASS)
        keys = range(work.next_key, work.next_key + ARRIVALS_PER_PASS)
        arrivals = work.waiting(rows, keys, [now] * ARRIVALS_PER_PASS)
        pool = pickle.loads(blob) if blob is not None else live  # a deep copy, or the pool
        assert pool is not None
        policy = TimedPolicy(name)
        gc.freeze()  # the copy is old objects, as a long-lived pool's are
        t0 = time.perf_counter()
        out = pool.step(now, policy, arrivals)
        pass_ms.append((time.perf_counter() - t0) * 1e3)
        gc.unfreeze()
        decide_ms.append(policy.seconds * 1e3)
        counts["stops"] += len(out.stops)
        counts["starts"] += len(out.starts)
        counts["notices"] += len(out.notices)
        counts["power"] += sum(1 for _, _, owner in out.notices if owner < 0)
        caps.add(out.cap_fraction)
        over += out.it_power_w > out.it_budget_w
    full, dec = np.array(pass_ms), np.array(decide_ms)

    def line(label: str, ms: NDArray[np.float64]) -> None:
        print(
            f"    {label:<21} p50 {np.percentile(ms, 50):7.2f} ms  p99 {np.percentile(ms, 99):7.2f}"
            f" ms  mean {ms.mean():7.2f} ms  max {ms.max():7.2f} ms"
        )

    how = "each on a fresh copy" if blob is not None else "one after the other, 15 s apart"
    print(f"  {name}, {passes} passes ({how}):")
    line("full pass (Pool.step)", full)
    line("decide alone", dec)
    line("rest of the pass", full - dec)
    per = {k: c / passes for k, c in counts.items()}
    print(
        f"    per pass: {per['stops']:.1f} jobs stop, {per['starts']:.1f} start, "
        f"{per['notices']:.1f} notices ({per['power']:.1f} for power); cap fraction after "
        f"{sorted(caps)}; IT power above the budget after {over} of {passes} passes"
    )


def outcome(pool: Pool, at_s: float) -> tuple[object, ...]:
    """What a narvik pass 60 s after ``at_s`` does, as comparable values."""
    out = pool.step(at_s + 60.0, get_pool_policy("narvik"))
    return (
        [(s.job.key, s.at_s, s.outcome, s.kept_s) for s in out.stops],
        [(j.key, j.placement, j.borrowed) for j in out.starts],
        out.notices,
        out.cap_fraction,
        out.busy_gpus,
    )


def consecutive(passes: int, snap_s: float) -> None:
    """Per snapshot and policy, a pool driven afresh to the snapshot, then passes one
    after the other on it."""
    for name in POLICIES:
        for label, at in (("A", snap_s), ("B", snap_s + LATER_S)):
            driver, work, names, _ = build()
            rng = np.random.default_rng(SEED + 2)
            if label == "B":
                driver.run_until(snap_s)
                top_up(driver, work, snap_s, rng)
            driver.run_until(at)
            top_up(driver, work, at, rng)
            print(f"driven to {label}: {driver.passes:,} passes in {driver.seconds:.1f} s")
            describe(label, driver.pool, at, names)
            measure(None, at, work, name, passes, live=driver.pool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", type=int, default=200, help="timed passes per snapshot")
    parser.add_argument(
        "--consecutive",
        action="store_true",
        help="time passes one after the other on the driven pool (what a compiled build "
        "does: its pool cannot be copied)",
    )
    args = parser.parse_args()
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(
        f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"engine: {build_kind()}"
    )
    t0 = time.perf_counter()
    driver, work, names, snap_s = build()
    pool = driver.pool
    print(
        f"pool: {sum(h.gpus for h in pool.halls):,} GPUs in "
        f"{sum(t.domains for t in pool.topologies):,} NVLink domains of "
        f"{pool.topologies[0].domain_gpus} GPUs, {len(pool.halls)} halls, "
        f"{len(pool.tenants)} tenants; workload {len(work.jobs):,} jobs over "
        f"{work.jobs.submit_s.max() / 86400:.0f} days, {QUEUED_TARGET + 1_000:,} extra"
    )
    if args.consecutive or build_kind() != "plain Python":
        consecutive(args.passes, snap_s)
        print(f"total {time.perf_counter() - t0:.1f} s")
        return
    rng = np.random.default_rng(SEED + 2)
    for label, at in (("A", snap_s), ("B", snap_s + LATER_S)):
        driver.run_until(at)
        top_up(driver, work, at, rng)
        print(f"driven to {label}: {driver.passes:,} passes in {driver.seconds:.1f} s")
        describe(label, pool, at, names)
        c0 = time.perf_counter()
        blob = pickle.dumps(pool, pickle.HIGHEST_PROTOCOL)
        c1 = time.perf_counter()
        unpickled: Pool = pickle.loads(blob)
        c2 = time.perf_counter()
        deep = copy.deepcopy(pool)
        c3 = time.perf_counter()
        same = outcome(unpickled, at) == outcome(deep, at)
        print(
            f"  copying the pool: pickle {c1 - c0:.2f} s ({len(blob) / 2**20:.1f} MiB), "
            f"unpickle {c2 - c1:.2f} s, copy.deepcopy {c3 - c2:.2f} s; "
            f"the same pass on both copies: {'yes' if same else 'NO'}"
        )
        for name in POLICIES:
            measure(blob, at, work, name, args.passes)
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
