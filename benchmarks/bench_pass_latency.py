"""Latency of one narvik scheduling pass at full scale: 100,224 GPUs, 10,000 jobs queued.

Builds a snapshot of the default site (4 halls) with a busy fleet (about 3,000 running
jobs, most GPUs in use) and 10,000 queued jobs spread over the mission's tenants, then
times `NarvikPolicy.decide` on it repeatedly (the snapshot is read-only, so every pass
sees the same state). Prints p50 and p99; asserts nothing.
Run: .venv/bin/python benchmarks/bench_pass_latency.py
"""

from __future__ import annotations

import os
import platform
import time
from bisect import insort

import numpy as np

from narvik.sched.narvik_policy import NarvikPolicy, PoolView, RunningView, TenantView

HALL_GPUS = [25_056] * 4
N_GPUS = sum(HALL_GPUS)


def snapshot(seed: int = 0, queued: int = 10_000, running: int = 3_000) -> PoolView:
    rng = np.random.default_rng(seed)
    n_jobs = queued + running
    sizes = np.where(rng.random(n_jobs) < 0.6, 1, 2 ** rng.integers(1, 9, n_jobs))
    est = rng.lognormal(9.0, 1.5, n_jobs)
    quotas = [60_000, 10_000, 9_000, 0, 0, 0, 0]
    tiers = [1, 0, 0, 2, 2, 2, 2]
    tenants = [
        TenantView(
            index=i,
            tier_priority=tiers[i],
            quota_gpus=quotas[i],
            reserved_gpus=0,
            used_guaranteed=0,
            used_borrowed=0,
            max_borrow_gpus=20_000 if i >= 3 else N_GPUS,
            lends=True,
            fair_share_key=float(rng.random()),
            allowed_halls=(0, 1) if i == 1 else (0, 1, 2, 3),
            queue=[],
        )
        for i in range(7)
    ]
    owner = rng.integers(0, 7, n_jobs)
    free = list(HALL_GPUS)
    runs: dict[int, RunningView] = {}
    keys: list[float] = []
    gpus_at: dict[float, int] = {}
    busy = 0
    for j in range(running):
        g, t = int(sizes[j]), tenants[int(owner[j])]
        h = int(np.argmax(free))
        if free[h] < g or busy + g > N_GPUS - 200:
            continue
        free[h] -= g
        busy += g
        borrowed = t.used_guaranteed + g > t.quota_gpus
        if borrowed:
            t.used_borrowed += g
        else:
            t.used_guaranteed += g
        e = float(est[j])
        runs[j] = RunningView(j, t.index, t.tier_priority, g, borrowed, 0.0, e, ((h, g),), False)
        if e not in gpus_at:
            insort(keys, e)
        gpus_at[e] = gpus_at.get(e, 0) + g
    for j in range(running, n_jobs):
        tenants[int(owner[j])].queue.append(j)
    return PoolView(
        now_s=1.0,
        free_by_hall=free,
        busy_gpus=busy,
        n_gpus=N_GPUS,
        job_gpus=[int(x) for x in sizes],
        job_estimate_s=[float(x) for x in est],
        tenants=tenants,
        running=runs,
        est_end_keys=keys,
        est_end_gpus=gpus_at,
        idle_it_power_w=40e6,
        busy_gpu_power_w=1_300.0,
        it_budget_w=200e6,
        cap_fraction=1.0,
        min_cap_fraction=0.6,
        reservation_holds=0,
        hall_pressure=[0.2, 0.2, 0.0, 0.0],
    )


def main(repeats: int = 300) -> None:
    view = snapshot()
    policy = NarvikPolicy()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        d = policy.decide(view)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}")
    queued = sum(len(t.queue) for t in view.tenants)
    print(
        f"{N_GPUS:,} GPUs, {len(view.running):,} running, {queued:,} queued, "
        f"{N_GPUS - view.busy_gpus:,} free"
    )
    print(f"decision: {len(d.starts)} starts, {len(d.preempt)} preemptions, cap {d.cap_fraction}")
    print(
        f"pass latency over {repeats} passes: p50 {np.percentile(ms, 50):.3f} ms, "
        f"p99 {np.percentile(ms, 99):.3f} ms, max {ms.max():.3f} ms"
    )


if __name__ == "__main__":
    main()
