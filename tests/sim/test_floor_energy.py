"""The hourly energy of a run includes the GPU power floor's cost: the same run without the
floor draws exactly the floor's IT energy less, step by step."""

from __future__ import annotations

import numpy as np
import pytest

import narvik
from narvik.physics.power_settings import PowerSmoothing
from narvik.scenario import load_scenario


@pytest.fixture(scope="module")
def runs():
    spec = load_scenario().with_overrides(days=5)
    assert spec.power_smoothing.gpu_power_floor_fraction == 0.8
    floored = narvik.simulate(spec)
    bare = narvik.simulate(spec.model_copy(update={"power_smoothing": PowerSmoothing()}))
    return floored, bare


def test_the_floor_adds_its_power_to_it_and_facility_every_step(runs):
    floored, bare = runs
    f, b = floored.timeseries, bare.timeseries
    extra = f.column("gpu_floor_power_w").to_numpy()
    assert np.all(b.column("gpu_floor_power_w").to_numpy() == 0)
    it_diff = f.column("it_power_w").to_numpy() - b.column("it_power_w").to_numpy()
    np.testing.assert_allclose(it_diff, extra, rtol=1e-9, atol=1e-3)
    assert extra.max() > 1e6  # MW once the training gangs run (day 4)
    fac_diff = f.column("facility_power_w").to_numpy() - b.column("facility_power_w").to_numpy()
    assert np.all(fac_diff >= it_diff - 1e-3)  # losses and cooling grow with it


def test_the_summary_reports_the_floor_energy(runs):
    floored, bare = runs
    s, t = floored.summary, bare.summary
    assert s["gpu_floor_energy_mwh"] > 0 and t["gpu_floor_energy_mwh"] == 0
    assert s["it_energy_mwh"] - t["it_energy_mwh"] == pytest.approx(
        s["gpu_floor_energy_mwh"], rel=1e-9
    )
    # The schedule is the same: the floor costs energy, not placement.
    assert s["jobs"] == t["jobs"]
