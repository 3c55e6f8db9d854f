import numpy as np
import pytest

from narvik.physics.heat_reuse import allocate_heat


def test_priority_order_and_heat_pump_balance():
    # 10 MW available. First offtaker (heat pump, COP 4) wants 8 MW delivered: draws 6 MW.
    # Second (direct) wants 6 MW but only 4 MW remain.
    r = allocate_heat(np.array([10e6]), np.array([[8e6], [6e6]]), [4.0, np.inf])
    assert r.source_w[:, 0] == pytest.approx([6e6, 4e6])
    assert r.delivered_w[:, 0] == pytest.approx([8e6, 4e6])
    assert r.heat_pump_power_w[:, 0] == pytest.approx([2e6, 0.0])


def test_never_draws_more_than_available():
    rng = np.random.default_rng(1)
    avail = rng.uniform(0, 50e6, 100)
    demand = rng.uniform(0, 30e6, (3, 100))
    r = allocate_heat(avail, demand, [3.5, np.inf, 5.5])
    assert np.all(r.source_w.sum(axis=0) <= avail + 1e-6)
    assert np.all(r.delivered_w <= demand + 1e-6)
    # Electricity + source heat = delivered heat, for every offtaker and hour.
    np.testing.assert_allclose(r.source_w + r.heat_pump_power_w, r.delivered_w, rtol=1e-9)


def test_no_offtakers():
    r = allocate_heat(np.array([1e6, 2e6]), np.zeros((0, 2)), np.zeros(0))
    assert r.source_w.shape == (0, 2)
