"""Benchmark: parse a synthetic 1,000,000-job SWF trace and replay it on flat:4096.

Prints parse time, jobs/s for fcfs and easy (wall time, time.perf_counter), and
peak RSS. Asserts nothing. ``--jobs N`` runs a smaller trace.

    .venv/bin/python benchmarks/bench_flat_replay.py [--jobs 1000000] [--slots 4096]
        [--load 0.95] [--seed 1]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from narvik.sim.flat import simulate_flat
from narvik.sim.recorders import summarize, write_flat_outputs
from narvik.workload.swf import read_swf
from narvik.workload.synthetic_swf import write_synthetic_swf


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--slots", type=int, default=4096)
    ap.add_argument("--load", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="also time writing the outputs")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.swf"
        t0 = time.perf_counter()
        write_synthetic_swf(path, args.jobs, args.slots, load=args.load, seed=args.seed)
        t1 = time.perf_counter()
        print(
            f"generate+write SWF: {args.jobs:,} jobs, {path.stat().st_size / 1e6:.0f} MB, "
            f"{t1 - t0:.2f} s"
        )
        t0 = time.perf_counter()
        trace = read_swf(path)
        t1 = time.perf_counter()
        print(
            f"parse SWF:          {t1 - t0:.2f} s ({len(trace.jobs) / (t1 - t0):,.0f} jobs/s), "
            f"skipped {trace.skipped}"
        )
        for policy in ("fcfs", "easy"):
            t0 = time.perf_counter()
            res = simulate_flat(trace.jobs, args.slots, policy)
            dt = time.perf_counter() - t0
            s = summarize(res)
            print(
                f"replay {policy:5s}:      {dt:6.2f} s  {len(trace.jobs) / dt:>10,.0f} jobs/s  "
                f"util {s['utilization']:.3f}  mean wait {s['wait_s']['mean']:,.0f} s  "
                f"p95 wait {s['wait_s']['p95']:,.0f} s  bsld {s['bounded_slowdown_mean']:.1f}  "
                f"series rows {len(res.t_s):,}"
            )
            if args.write:
                t0 = time.perf_counter()
                write_flat_outputs(res, Path(tmp) / policy)
                print(f"  write outputs:    {time.perf_counter() - t0:.2f} s")
            del res
        print(
            f"peak RSS: {peak_rss_mb():,.0f} MB  (python {sys.version.split()[0]}, "
            f"numpy {np.__version__})"
        )


if __name__ == "__main__":
    main()
