"""Wall time of a 24-run study of 30-day default scenarios: in this process, then on a
local Ray with 1 and with 2 workers, and Ray's overhead per run.

The study: the default Stargate Norway scenario (`narvik` policy, 30 days) with the
grace period at 300/600/1800/3600 s, two offered loads (0.8, 0.9) and three seeds:
4 x 2 x 3 = 24 runs, each writing its folder. Every pass starts from an empty folder
(nothing skipped). Ray's overhead per run is (wall on 1 Ray worker - wall in process) / 24:
starting Ray, shipping each run's scenario and result, and the worker processes.
Ray's traffic stays on loopback. Prints figures; asserts nothing.
Run: .venv/bin/python benchmarks/bench_study.py [--days D]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

from narvik.engine import build_kind
from narvik.studies import run_study
from narvik.studies.spec import parse_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=30.0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    study = parse_study(
        {
            "name": "bench",
            "policy": "narvik",
            "days": args.days,
            "seeds": [1, 2, 3],
            "axes": [
                {"path": "tenancy.grace_period_s", "values": [300, 600, 1800, 3600]},
                {"path": "workload.load", "values": [0.8, 0.9]},
            ],
        },
        "bench",
        None,
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, engine: {build_kind()}"
    )
    walls: dict[str, float] = {}
    tables = {}
    for label, workers in (("in process", 0), ("Ray, 1 worker", 1), ("Ray, 2 workers", 2)):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            got = run_study(study, tmp, workers=workers)
            walls[label] = time.perf_counter() - t0
            tables[label] = [
                {k: v for k, v in r.items() if k != "wall_s"} for r in got.table.to_pylist()
            ]
            run_s = sum(r["wall_s"] for r in got.table.to_pylist())
        n = got.table.num_rows
        print(
            f"{label:<15} {walls[label]:7.1f} s wall for {n} runs ({n - got.failed} ok), "
            f"{run_s / n:5.2f} s per run inside its worker"
        )
    same = tables["in process"] == tables["Ray, 1 worker"] == tables["Ray, 2 workers"]
    overhead = (walls["Ray, 1 worker"] - walls["in process"]) / 24
    speedup = walls["Ray, 1 worker"] / walls["Ray, 2 workers"]
    print(f"Ray overhead per run: {overhead:.2f} s; 2 workers vs 1: {speedup:.2f}x")
    print(f"same rows in process and on Ray: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
