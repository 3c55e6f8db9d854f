"""The default Stargate Norway year under `easy` and under `narvik`, side by side.

Prints, for each policy: wall time, utilisation, wait p50/p95 per tier; and for narvik:
the anchor's guarantee hour by hour through its ramp, curtailments met by their deadline,
reservations honoured, preemptions and GPU-hours lost. Prints figures; asserts nothing.
Run: .venv/bin/python benchmarks/bench_tenancy_year.py [--days D]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

from narvik.engine import build_kind
from narvik.kpi.run_outputs import run_summary
from narvik.scenario import load_scenario, run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=None)
    args = parser.parse_args()
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(
        f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"engine: {build_kind()}"
    )
    out = {}
    for policy in ("easy", "narvik"):
        spec = load_scenario().with_overrides(policy=policy, days=args.days)
        t0 = time.perf_counter()
        results = run_scenario(spec)
        s = run_summary(results)
        wall = time.perf_counter() - t0
        out[policy] = s
        print(f"\n== {policy}: {wall:.1f} s wall, {sum(s['jobs'].values()):,} jobs ==")
        print(f"utilisation {s['utilization']:.4f}")
        for tier, w in sorted(s["wait_s"]["by_tier"].items()):
            print(f"  wait {tier:<9} p50 {w['p50']:>10,.0f} s   p95 {w['p95']:>10,.0f} s")
    e, n = out["easy"], out["narvik"]
    t = n["tenancy"]
    ratio = e["wait_s"]["by_tier"]["national"]["p95"] / max(
        n["wait_s"]["by_tier"]["national"]["p95"], 1.0
    )
    print("\n== side by side ==")
    print(
        f"national p95 wait: easy {e['wait_s']['by_tier']['national']['p95']:,.0f} s, "
        f"narvik {n['wait_s']['by_tier']['national']['p95']:,.0f} s  -> {ratio:,.1f}x lower"
    )
    print(
        f"utilisation: easy {e['utilization']:.4f}, narvik {n['utilization']:.4f}  -> "
        f"{100 * (n['utilization'] - e['utilization']):+.2f} points"
    )
    for name, g in t["guarantee_hours"].items():
        print(f"guarantee of {name}: met in {g['hours_met']:,} of {g['hours']:,} hours")
    slo = t["wait_slo_by_tier"]
    for tier, w in slo.items():
        if w["slo_s"]:
            print(
                f"start SLO {tier} ({w['slo_s']:.0f} s): {w['slo_attainment']:.4%} "
                f"of {w['jobs_in_slo_scope']:,} jobs in scope"
            )
    cm = t["curtailments_met"]
    print(f"curtailments met by their deadline: {cm['met']} of {cm['total']}")
    for c in t["curtailments"]:
        print(
            f"  {c['start_utc']} shed {c['shed_mw']:.0f} MW: met={c['met']}, "
            f"min GPU cap {c['min_gpu_cap_fraction']:.2f}, preempted {c['preempted_jobs']}"
        )
    honoured = sum(bool(r["honoured"]) for r in t["reservations"])
    print(f"reservations honoured: {honoured} of {len(t['reservations'])}")
    print(
        f"preemptions {n['preemptions_total']:,}, GPU-hours lost "
        f"{n['gpu_hours_lost_to_preemption']:,.0f} "
        f"({n['gpu_hours_lost_to_preemption'] / n['gpu_hours']:.3%} of GPU-hours)"
    )
    print(
        f"passes over the power budget outside curtailment deadlines: "
        f"{t['power']['passes_over_budget_outside_deadlines']} of {t['power']['passes']:,}"
    )
    print(f"fairness (Jain) by tier: {t['fairness_jain_by_tier']}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
