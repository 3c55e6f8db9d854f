"""Generated work follows the fleet: a phase that comes online during a run brings work
for its GPUs at the same offered load, from that instant."""

from __future__ import annotations

import datetime as dt

import numpy as np

from narvik.scenario import fleet_growth, load_scenario, load_workload
from narvik.sim.tenancy_setup import site_halls
from narvik.site import load_site

DAY = 86400.0


def test_a_phase_online_mid_run_brings_work_for_its_gpus() -> None:
    spec = load_scenario().with_overrides(days=60, seed=4)
    at = 30 * DAY
    base, _ = load_workload(spec, 100_000)
    grown, _ = load_workload(spec, 100_000, growth=[(at, 100_000)])
    # Before the phase: the same jobs; after it, about twice the GPU-seconds a day.
    before = grown.submit_s < at
    assert np.array_equal(grown.job_id[before], base.job_id[base.submit_s < at])
    work = grown.gpus * grown.runtime_s
    old = work[(grown.submit_s >= at) & ~np.char.startswith(grown.job_id.astype(str), "phase1-")]
    new = work[np.char.startswith(grown.job_id.astype(str), "phase1-")]
    assert 0.7 < new.sum() / old.sum() < 1.4
    assert np.all(np.diff(grown.submit_s) >= 0)
    assert len(set(grown.job_id)) == len(grown.job_id)
    assert grown.submit_s[np.char.startswith(grown.job_id.astype(str), "phase1-")].min() >= at


def test_the_fleet_grows_when_phase_two_comes_online() -> None:
    site = load_site("stargate-norway")
    halls = site_halls(site, dt.date(2027, 6, 1), None)
    growth = fleet_growth(halls)
    arrival = (dt.date(2028, 6, 1) - dt.date(2027, 6, 1)).days * DAY
    assert growth == [(arrival, 151_200)]
    assert fleet_growth(site_halls(site, dt.date(2027, 1, 1), None)[:4]) == []
