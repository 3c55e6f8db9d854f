"""Time to rebuild the default fleet's power over one hour at 0.1 s (36,000 samples) and
measure it raw and smoothed (`narvik power-quality`), on a run of the default scenario.

Simulates the default scenario for 5 days (the anchor's first big training gangs start on
day 4), then times `power_quality` on the hour from 2027-01-04T12:00Z: every running job
on its power profile (training and inference one array per job, research one step
function), IT and grid power through the power chain, the GPU power floor, the rack
storage's ramp limiter and the site battery, and the figures (swing, ramp, spectrum
bands, grid-code breaks). Prints figures, asserts nothing.
Run: .venv/bin/python benchmarks/bench_power_quality.py [--repeat N] [--resolution-s R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import narvik
from narvik.kpi.power_dynamics import power_quality, window_from
from narvik.kpi.run_data import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resolution-s", type=float, default=0.1)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {_cores()} cores, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        t0 = time.perf_counter()
        narvik.simulate(days=5, out=out)
        print(f"simulate 5 days of the default scenario: {time.perf_counter() - t0:.1f} s")
        run = load_run(out)
        window = window_from(run, dt.datetime(2027, 1, 4, 12), 3600.0, args.resolution_s)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = power_quality(run, window)
            times.append(time.perf_counter() - t0)
    s = result.summary
    n = len(result.raw.t_s)
    print(
        f"one hour at {args.resolution_s:g} s ({n:,} samples), "
        f"{sum(s['busy_gpus_by_kind'].values()):,.0f} GPUs busy "
        f"({', '.join(f'{k} {v:,.0f}' for k, v in s['busy_gpus_by_kind'].items())})"
    )
    print(
        f"  power-quality: median {statistics.median(times):.2f} s, best {min(times):.2f} s "
        f"of {args.repeat} (raw and floored rebuilds, smoothing, measures)"
    )
    for name in ("raw", "smoothed"):
        m = s[name]
        print(
            f"  {name}: swing {m['max_swing_mw']:.1f} MW in 10 s, ramp "
            f"{m['max_ramp_mw_per_s']:.2f} MW/s, band variance "
            + ", ".join(f"{k} {v:.2f} MW2" for k, v in m["band_variance_mw2"].items())
        )
    print(
        f"  smoothing cost {s['smoothing_energy_mwh']:.2f} MWh in the hour; "
        f"mean power raw {np.mean(result.raw.grid_power_w) / 1e6:.1f} MW"
    )


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
