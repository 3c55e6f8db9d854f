import numpy as np
import pytest

from narvik.physics.heat_demand import heat_demand_w

KW = dict(peak_demand_w=10e6, base_demand_fraction=0.2, balance_temp_c=15.0, design_temp_c=-15.0)


def test_demand_at_design_balance_and_midpoint():
    d = heat_demand_w([-15.0, 15.0, 0.0, -30.0, 25.0], **KW)
    # Midpoint (0 C): 10 MW * (0.2 + 0.8 * 0.5) = 6 MW; clipped beyond design and balance.
    np.testing.assert_allclose(d, [10e6, 2e6, 6e6, 10e6, 2e6])


def test_demand_rises_as_it_gets_colder():
    d = heat_demand_w(np.linspace(20, -20, 41), **KW)
    assert np.all(np.diff(d) >= 0)
    assert d[0] == pytest.approx(2e6)
