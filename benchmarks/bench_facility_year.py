"""Time the facility model through a year (8,760 hours) on the default site.

Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_facility_year.py
"""

from __future__ import annotations

import os
import platform
import statistics
import time

from narvik.kpi.facility_year import run_facility_year
from narvik.physics.weather import builtin_weather
from narvik.site import load_site


def main(repeats: int = 20) -> None:
    t0 = time.perf_counter()
    site = load_site("stargate-norway")
    t_site = time.perf_counter() - t0
    t0 = time.perf_counter()
    weather = builtin_weather(site.location.climate, seed=0)
    t_weather = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        year = run_facility_year(site, weather, 0.9)
        totals = year.totals()
        runs.append(time.perf_counter() - t0)
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"load site:                 {t_site * 1e3:8.2f} ms")
    print(f"built-in weather (8760 h): {t_weather * 1e3:8.2f} ms")
    print(
        f"facility year (8760 h):    {statistics.median(runs) * 1e3:8.2f} ms median, "
        f"{min(runs) * 1e3:.2f} ms best of {repeats}"
    )
    print(
        f"  -> PUE {totals['pue']:.3f}, ERF {totals['erf']:.3f}, "
        f"peak {totals['peak_facility_power_mw']:.1f} MW of {totals['power_cap_mw']:.0f} MW"
    )


if __name__ == "__main__":
    main()
