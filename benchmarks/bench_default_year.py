"""Wall time and peak memory of the default one-year, full-site run (`narvik simulate`).

Runs the shipped `stargate-norway` scenario (a year, about 100,000 GPUs, the synthetic
multi-tenant workload of about a million jobs, the ``narvik`` policy on the engine;
``--policy easy`` for the baseline on equal terms) through the same code as the
command line, stage by stage, and writes the run's files to a temporary folder. Also
prints how gangs were placed on NVLink domains and whether the curtailments were met.
Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_default_year.py
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time

from narvik.engine import build_kind
from narvik.kpi.run_outputs import run_summary, write_run
from narvik.scenario import load_scenario, run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=None, help="shorter span for a quick look")
    parser.add_argument("--policy", default=None)
    args = parser.parse_args()
    spec = load_scenario().with_overrides(days=args.days, policy=args.policy)
    stages: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def progress(stage: str, done: float, total: float) -> None:
        now = time.perf_counter()
        if stage != last[1]:
            if last[1]:
                stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
            last[0], last[1] = now, stage

    t0 = time.perf_counter()
    results = run_scenario(spec, progress)
    progress("write files", 0, 1)
    with tempfile.TemporaryDirectory() as tmp:
        write_run(results, os.path.join(tmp, "run"))
        progress("end", 0, 1)
    wall_s = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = run_summary(results)
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(
        f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"engine: {build_kind()}"
    )
    days = spec.days or 365
    print(f"scenario {spec.name}: {results.n_gpus:,} GPUs, {days:g} days, {spec.policy}")
    print(f"jobs: {sum(s['jobs'].values()):,} ({s['jobs']})")
    for stage, secs in stages.items():
        print(f"  {stage:<14} {secs:8.2f} s")
    print(f"wall time: {wall_s:.1f} s   peak memory (max RSS): {peak_mib:,.0f} MiB")
    print(
        f"utilisation {s['utilization']:.4f}, PUE {s['pue']:.3f}, ERF {s['erf']:.3f}, "
        f"peak {s['peak_facility_power_mw']:.1f} MW of {s['power_cap_mw']:.0f} MW"
    )
    p = s["placement"]
    print(
        f"placement: jobs of <= 72 GPUs on one domain {_pct(p['share_small_jobs_on_one_domain'])}, "
        f"larger gangs on ceil(gpus/72) domains {_pct(p['share_gangs_on_fewest_domains'])}, "
        f"fragmentation of free GPUs mean {_pct(p['fragmentation_mean'])} "
        f"p95 {_pct(p['fragmentation_p95'])}"
    )
    tenancy = s.get("tenancy")
    if tenancy:
        met = tenancy["curtailments_met"]
        print(f"curtailments met {met['met']} of {met['total']} (judged on the hourly steps)")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


if __name__ == "__main__":
    main()
