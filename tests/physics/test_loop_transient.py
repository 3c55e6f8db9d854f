import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from narvik.physics import loop_transient as lt


def test_time_to_limit_hand_calculation():
    # 1,000 m3 of water (1,000 kg/m3, 4.18 kJ/kg K) = 4.18e9 J/K; 200 MW net over a 5 K
    # margin: 4.18e9 * 5 / 200e6 = 104.5 s.
    assert float(lt.time_to_limit_s(1000 * 1000 * 4180.0, 200e6, 5.0)) == pytest.approx(104.5)


def test_time_to_limit_is_vectorised_and_infinite_without_net_heat():
    t = lt.time_to_limit_s(4.18e9, np.array([200e6, 100e6, 0.0, -5e6]), 5.0)
    assert t[:2] == pytest.approx([104.5, 209.0])
    assert np.isinf(t[2:]).all()


def test_heat_capacity_of_water_from_coolprop():
    # IAPWS-95 at 25 C, 101.325 kPa: rho 997.05 kg/m3, cp 4,181.3 J/kg K; 1,000 m3 -> 4.169e9 J/K.
    c = lt.loop_heat_capacity_j_per_k(1000.0, "Water", 25.0, 101325.0)
    assert c == pytest.approx(997.05 * 4181.3 * 1000.0, rel=1e-3)
    # 10 t of carbon steel at 434 J/kg K adds 4.34 MJ/K.
    with_steel = lt.loop_heat_capacity_j_per_k(1000.0, "Water", 25.0, 101325.0, 10_000.0)
    assert with_steel - c == pytest.approx(4.34e6)


def test_heat_capacity_of_the_site_glycol():
    # 30 % propylene glycol at 35 C: about 1,016 kg/m3 and 3,897 J/kg K (ASHRAE Fundamentals
    # ch. 31 gives 3.85-3.90 kJ/kg K near 40 C); 1,484 m3 -> about 5.88 GJ/K.
    c = lt.loop_heat_capacity_j_per_k(1484.4, "INCOMP::MPG-30%", 35.0, 3e5)
    assert c == pytest.approx(1484.4 * 1016 * 3897, rel=5e-3)


def test_negative_volume_is_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        lt.loop_heat_capacity_j_per_k(-1.0, "Water", 25.0)


def test_circulation_time():
    assert lt.circulation_time_s(1200.0, 2.0) == pytest.approx(600.0)
    assert math.isinf(lt.circulation_time_s(1200.0, 0.0))


C = 4.18e9  # J/K: 1,000 m3 of water
BASE = dict(  # noqa: C408 - keyword arguments shared by the simulations below
    heat_capacity_j_per_k=C,
    setpoint_c=25.0,
    rack_rise_k=20.0,
    response_s=60.0,
    dry_cooler_w_per_k=1e8,  # 100 MW/K: never the limit in these tests
)


def test_loss_of_rejection_warms_linearly_and_crosses_at_the_hand_time():
    t = np.arange(0.0, 301.0, 1.0)
    s = lt.simulate_loop(t, 210e6, 10e6, 15.0, 0.0, **BASE)
    assert s.heat_rejected_w.max() == 0.0
    # 200 MW net into 4.18 GJ/K: 0.04785 K/s.
    assert s.supply_c[-1] - 25.0 == pytest.approx(200e6 * 300.0 / C)
    assert s.return_c - s.supply_c == pytest.approx(np.full_like(t, 20.0))
    crossing = lt.crossing_time_s(s.t_s, s.supply_c, 30.0)
    assert crossing == pytest.approx(104.5, rel=1e-9)


def test_steady_state_holds_the_setpoint():
    t = np.arange(0.0, 600.0, 2.0)
    s = lt.simulate_loop(t, 150e6, 20e6, 10.0, 1.0, **BASE)
    assert s.supply_c == pytest.approx(np.full_like(t, 25.0))
    assert s.heat_rejected_w == pytest.approx(np.full_like(t, 130e6))


def test_step_under_a_pure_lag_matches_the_first_order_solution():
    # Rejection lags a 100 MW step with tau = 60 s and no temperature correction:
    # T - T0 = dQ tau / C (1 - exp(-t / tau)), settling 100e6 * 60 / 4.18e9 = 1.435 K higher.
    t = np.arange(0.0, 1200.0, 0.1)
    s = lt.simulate_loop(
        t, 200e6, 0.0, 10.0, 1.0, initial_rejected_w=100e6, feedback_s=math.inf, **BASE
    )
    expected = lt.lag_step_rise_k(t, 100e6, C, 60.0)
    assert s.supply_c - 25.0 == pytest.approx(expected, abs=2e-3)
    assert s.supply_c[-1] - 25.0 == pytest.approx(100e6 * 60.0 / C, rel=2e-3)
    assert s.heat_rejected_w[-1] == pytest.approx(200e6, rel=1e-6)


def test_step_under_the_critically_damped_controller_matches_the_analytic_solution():
    # tau e'' + e' + e / (4 tau) = 0, e(0) = 0, e'(0) = dQ / C: e = dQ / C t exp(-t / 2 tau),
    # peak 2 dQ tau / (e C) = 2 * 100e6 * 60 / (2.71828 * 4.18e9) = 1.0561 K at t = 120 s.
    t = np.arange(0.0, 1800.0, 0.1)
    s = lt.simulate_loop(t, 200e6, 0.0, 10.0, 1.0, initial_rejected_w=100e6, **BASE)
    rise = s.supply_c - 25.0
    assert rise == pytest.approx(lt.critical_step_rise_k(t, 100e6, C, 60.0), abs=2e-3)
    assert rise.max() == pytest.approx(1.0561, rel=2e-3)
    assert lt.critical_step_peak_rise_k(100e6, C, 60.0) == pytest.approx(1.0561, rel=1e-4)
    assert t[np.argmax(rise)] == pytest.approx(120.0, abs=1.0)
    assert rise[-1] == pytest.approx(0.0, abs=1e-3)
    assert rise.min() >= -1e-9  # no undershoot


def test_dry_cooler_capacity_limits_rejection_and_the_loop_floats_up():
    # Dry coolers only (no chillers), 5 MW/K of ITD, ambient 20 C, 150 MW to reject:
    # equilibrium when 5e6 (T + 20 - 20) = 150e6, T = 30 C, approached with C / UA = 836 s.
    base = {**BASE, "dry_cooler_w_per_k": 5e6}
    t = np.arange(0.0, 20_000.0, 5.0)
    s = lt.simulate_loop(t, 150e6, 0.0, 20.0, 1.0, chiller_capacity_w=0.0, **base)
    assert s.heat_rejected_w[0] == pytest.approx(5e6 * 25.0)  # clamped at once
    assert s.supply_c[-1] == pytest.approx(30.0, abs=1e-3)
    assert s.dry_cooler_heat_w == pytest.approx(s.heat_rejected_w)
    # With unlimited chillers the rest goes to them and the set point holds.
    s2 = lt.simulate_loop(t, 150e6, 0.0, 20.0, 1.0, **base)
    assert s2.supply_c == pytest.approx(np.full_like(t, 25.0))
    assert s2.chiller_heat_w[-1] == pytest.approx(150e6 - 5e6 * 25.0)


def test_energy_is_conserved_step_by_step():
    t = np.linspace(0.0, 900.0, 451)
    q_in = np.where(t < 300, 120e6, 180e6)
    avail = np.where((t > 500) & (t < 600), 0.0, 1.0)
    s = lt.simulate_loop(t, q_in, 15e6, 18.0, avail, **BASE)
    stored_j = C * (s.supply_c[-1] - s.supply_c[0])
    net_j = np.sum(np.diff(t) * (q_in - 15e6 - s.heat_rejected_w)[:-1])
    assert stored_j == pytest.approx(net_j, rel=1e-9)
    assert s.heat_rejected_w[(t > 500) & (t < 600)].max() == 0.0


def test_crossing_time_interpolates_and_reports_none():
    t = np.array([0.0, 10.0, 20.0])
    assert lt.crossing_time_s(t, [25.0, 26.0, 28.0], 27.0) == pytest.approx(15.0)
    assert lt.crossing_time_s(t, [25.0, 26.0, 26.5], 27.0) is None
    assert lt.crossing_time_s(t, [28.0, 29.0, 30.0], 27.0) == 0.0


def test_bad_time_grid_is_refused():
    with pytest.raises(ValueError, match="increase"):
        lt.simulate_loop([0.0, 0.0], 1e6, 0.0, 10.0, 1.0, **BASE)


@given(
    c=st.floats(1e8, 1e11),
    q=st.floats(1e6, 5e8),
    margin=st.floats(0.1, 30.0),
)
def test_time_to_limit_inverts_the_energy_balance(c, q, margin):
    t = float(lt.time_to_limit_s(c, q, margin))
    assert q * t / c == pytest.approx(margin)
