"""Time the facility model through a year (8,760 hours) on the default site.

Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_facility_year.py
"""

from __future__ import annotations

import os
import platform
import statistics
import time

from narvik.kpi.facility_year import run_facility_year
from narvik.physics.facility import POWER_COMPONENTS
from narvik.physics.weather import Weather, builtin_weather
from narvik.site import load_site
from narvik.site.loader import override_site
from narvik.site.model import Site


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
    _where_the_energy_goes(site, weather)


def _where_the_energy_goes(site: Site, weather: Weather) -> None:
    """The complete model's figures: the balance at 90 % load, ERF with the optional
    offtakers on, phase 2 at full load."""
    year = run_facility_year(site, weather, 0.9)
    t = year.totals()
    it = t["it_energy_mwh"]
    print("phase 1 at 90 % load, per MWh of IT energy:")
    for key in POWER_COMPONENTS[1:]:
        mwh = float(getattr(year.hours, key).sum()) / 1e6
        print(f"  {key:30s} {mwh / it * 100:6.2f} %")
    print(
        f"  heat to the loops {t['heat_to_loop_mwh'] / it:.4f} x IT; PUE {t['pue']:.4f}; "
        f"CUE location {t['cue_location_kg_per_kwh']:.4f}, market "
        f"{t['cue_market_kg_per_kwh']:.4f} kg/kWh"
    )
    names = [o.name for o in site.offtakers if not o.enabled]
    on = override_site(site, {f"offtakers.{n}.enabled": True for n in names})
    print(
        f"  ERF {t['erf']:.4f} (district heating alone); "
        f"{run_facility_year(on, weather, 0.9).totals()['erf']:.4f} with all offtakers on"
    )
    full = run_facility_year(site, weather, 1.0, "phase-2").totals()
    print(
        f"phase 2 at full load: PUE {full['pue']:.4f}, peak {full['peak_facility_power_mw']:.1f}"
        f" MW, {full['hours_over_cap']:.0f} h over 520 MW, "
        f"{full['cooling_shortfall_hours']:.0f} h short of cooling"
    )


if __name__ == "__main__":
    main()
