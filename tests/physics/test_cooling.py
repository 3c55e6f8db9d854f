import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from narvik.physics import cooling
from narvik.physics.cooling_plant import reject_heat


def test_heat_split():
    assert float(cooling.liquid_heat_w(100.0, 0.85)) == pytest.approx(85.0)
    assert float(cooling.air_heat_w(100.0, 0.85)) == pytest.approx(15.0)


def test_coolant_mass_flow_energy_balance():
    # 1 MW carried by water (cp 4,180 J/kg K) over 20 K: 1e6 / (4180 * 20) = 11.96 kg/s.
    assert float(cooling.coolant_mass_flow_kg_s(1e6, 4180.0, 20.0)) == pytest.approx(11.962, 1e-3)


def test_pump_power_hydraulic_formula():
    # 0.1 m3/s against 250 kPa at 75 %: 0.1 * 250e3 / 0.75 = 33.3 kW.
    assert float(cooling.pump_power_w(0.1, 250e3, 0.75)) == pytest.approx(33_333.3, rel=1e-4)


def _dc(heat_w, ambient_c):
    # Rated at 45 C in and 19 C ambient (25 C supply less a 6 K approach): ITD 26 K;
    # chillers without a capacity limit.
    return reject_heat(
        heat_w,
        45.0,
        ambient_c,
        rated_heat_w=100e6,
        rated_itd_k=26.0,
        fan_power_fraction=0.02,
        min_fan_speed_fraction=0.1,
        chiller_capacity_w=np.inf,
    )


def test_dry_cooler_at_rating_point_runs_full_fans_without_chiller():
    r = _dc(100e6, 19.0)  # ambient = supply - approach
    assert float(r.chiller_heat_w) == pytest.approx(0.0, abs=1e-6)
    assert float(r.dry_cooler_fan_power_w) == pytest.approx(2e6)  # 2 % of rated heat


def test_dry_cooler_affinity_law_in_cold_weather():
    # At -7 C the ITD is 52 K against 26 K rated: half the airflow, an eighth of the fan power.
    r = _dc(100e6, -7.0)
    assert float(r.dry_cooler_fan_power_w) == pytest.approx(2e6 / 8)
    assert float(r.chiller_heat_w) == 0.0


def test_dry_cooler_hot_day_needs_trim_chiller():
    # At 32 C the ITD is 13 K: the coolers reject 100 MW * 13 / 26 = 50 MW; chillers take 50 MW.
    r = _dc(100e6, 32.0)
    assert float(r.dry_cooler_heat_w) == pytest.approx(50e6)
    assert float(r.chiller_heat_w) == pytest.approx(50e6)
    assert float(r.dry_cooler_fan_power_w) == pytest.approx(2e6)


def test_dry_cooler_ambient_above_return_rejects_nothing():
    r = _dc(10e6, 50.0)
    assert float(r.dry_cooler_heat_w) == 0.0
    assert float(r.chiller_heat_w) == pytest.approx(10e6)


@given(
    heat=st.floats(0, 200e6),
    t1=st.floats(-40, 44),
    t2=st.floats(-40, 44),
)
def test_dry_cooler_energy_balance_and_monotone_in_ambient(heat, t1, t2):
    lo, hi = sorted((t1, t2))
    r = _dc(np.array([heat, heat]), np.array([lo, hi]))
    np.testing.assert_allclose(r.dry_cooler_heat_w + r.chiller_heat_w, heat, rtol=1e-12, atol=1e-6)
    assert r.chiller_heat_w[0] <= r.chiller_heat_w[1] + 1e-6
    assert r.dry_cooler_fan_power_w[0] <= r.dry_cooler_fan_power_w[1] + 1e-6


def test_chiller_and_air_fans():
    assert float(cooling.chiller_power_w(5e6, 5.0)) == pytest.approx(1e6)
    assert float(cooling.air_fan_power_w(10e6, 0.04)) == pytest.approx(4e5)
