import numpy as np
import pytest

from narvik.physics.facility import FacilityModel, it_power_budget_w
from narvik.site import load_site


@pytest.fixture(scope="module")
def model():
    return FacilityModel.from_site(load_site("stargate-norway"), "phase-1")


def test_budget_is_the_largest_it_power_under_the_cap(model):
    cap = np.array([150e6, 170e6, 190e6, 300e6])
    amb = np.array([5.0, 5.0, 25.0, 5.0])
    budget = it_power_budget_w(model, cap, amb, np.full(4, 7))
    full = float(model.it_power_w(1.0))
    assert budget[3] == pytest.approx(full)  # everything fits under 300 MW
    # Invert back: facility power at the budget's utilisation is at the cap (within 1 kW).
    a, b = float(model.it_power_w(0.0)), full
    u = (budget[:3] - a) / (b - a)
    facility = model.run(u, amb[:3], np.full(3, 7)).facility_power_w
    np.testing.assert_allclose(facility, cap[:3], atol=1e3)


def test_budget_shrinks_when_warm_or_curtailed(model):
    b = it_power_budget_w(model, np.array([170e6, 170e6, 120e6]), np.array([0.0, 28.0, 0.0]), 7)
    assert b[1] < b[0]  # trim chillers eat into the budget on a hot day
    assert b[2] < b[0]  # a curtailment lowers it further


def test_idle_fleet_over_cap_gives_idle_budget(model):
    b = it_power_budget_w(model, np.array([1e6]), np.array([0.0]), 1)
    assert b[0] == pytest.approx(float(model.it_power_w(0.0)))
