"""Benchmark: generate the default synthetic year for Stargate Norway and summarise it.

Prints the generation time (wall, time.perf_counter; best and first of
``--repeat`` runs), the job count, jobs by tenant, GPU-hours share by tier and
by family, and the research family's median/mean GPUs and run time next to
Seren's (Acme trace, Hu et al., NSDI 2024). Asserts nothing.

    .venv/bin/python benchmarks/bench_synthetic_site.py [--gpus 100224] [--days 365]
        [--research-jobs 1000000] [--load 0.9] [--seed 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from narvik.workload.synthetic_site import (
    DAY_S,
    SEREN_AVG_GPU_NUM,
    SEREN_AVG_RUN_TIME_GPU_S,
    SEREN_MED_RUN_TIME_GPU_S,
    SiteWorkloadSpec,
    describe,
    generate_site_jobs,
)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpus", type=int, default=100_224)
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--research-jobs", type=int, default=1_000_000)
    ap.add_argument("--load", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    spec = SiteWorkloadSpec(
        n_gpus=args.gpus,
        span_s=args.days * DAY_S,
        load=args.load,
        research_jobs=args.research_jobs,
        seed=args.seed,
    )
    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        jobs = generate_site_jobs(spec)
        times.append(time.perf_counter() - t0)
    print(
        f"generate_site_jobs: {args.gpus:,} GPUs, {args.days:g} days, load {args.load}: "
        f"{len(jobs):,} jobs in {min(times):.2f} s (best of {len(times)}; first {times[0]:.2f} s),"
        f" peak RSS {peak_rss_mb():.0f} MB"
    )
    work_h = jobs.gpus * jobs.runtime_s / 3600.0
    total_h = float(work_h.sum())
    offered = total_h * 3600.0 / (spec.n_gpus * spec.span_s)
    print(f"offered load: {offered:.4f} (asked {spec.load}); GPU-hours {total_h:,.0f}")
    kind = np.array([s.rsplit("-", 2)[1] for s in jobs.job_id.tolist()])

    print("\njobs and GPU-hour share by tenant:")
    for name in dict.fromkeys(t.name for t in spec.tenants):
        mine = jobs.tenant == name
        print(f"  {name:20s} {int(mine.sum()):>10,} jobs  {work_h[mine].sum() / total_h:6.1%}")
    print("GPU-hour share by tier:")
    for tier in dict.fromkeys(t.tier for t in spec.tenants):
        print(f"  {tier:20s} {work_h[jobs.tier == tier].sum() / total_h:6.1%}")
    print("by family:")
    for fam in ("training", "inference", "research"):
        mine = kind == fam
        if mine.any():
            print(
                f"  {fam:20s} {int(mine.sum()):>10,} jobs  {work_h[mine].sum() / total_h:6.1%}"
                f"  GPUs {int(jobs.gpus[mine].min()):,}..{int(jobs.gpus[mine].max()):,}"
            )
    big = jobs.gpus >= 256
    print(
        f"jobs of >= 256 GPUs: {big.mean():.2%} of jobs, "
        f"{work_h[big].sum() / total_h:.1%} of GPU-hours"
    )

    r = kind == "research"
    if r.any():
        g, rt = jobs.gpus[r], jobs.runtime_s[r]
        d = describe(spec)["research"]
        print("\nresearch family (Seren in brackets):")
        print(
            f"  gpus: median {np.median(g):g} [1], mean {g.mean():.2f} [{SEREN_AVG_GPU_NUM}],"
            f" max {int(g.max()):,} [1,024]"
        )
        med, mean = float(np.median(rt)), float(rt.mean())
        seren_ratio = SEREN_AVG_RUN_TIME_GPU_S / SEREN_MED_RUN_TIME_GPU_S
        print(
            f"  runtime: median {med:,.0f} s ({med / 3600:.1f} h), mean {mean:,.0f} s "
            f"({mean / 3600:.1f} h), mean/median {mean / med:.2f} [{seren_ratio:.2f}]"
        )
        print(
            f"  model: sigma {d['sigma']:.3f}, beta {d['beta']:.3f}, "
            f"GPU-s per job {d['gpu_s_per_job']:,.0f}, at the 14-day limit "
            f"{np.mean(rt >= 14 * DAY_S):.1%} (model {d['frac_at_limit']:.1%}), at 60 s "
            f"{np.mean(rt <= 60):.1%} (model {d['frac_at_floor']:.1%})"
        )
        req = jobs.requested_s[r]
        print(f"  requested/runtime: median {np.median(req / rt):.2f}")


if __name__ == "__main__":
    main()
