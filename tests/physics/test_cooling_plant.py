"""The cooling plant: CDU approach from effectiveness-NTU, mixing, rejection with rated
capacities and the shortfall, and the loop fluid's freezing point."""

import math

import numpy as np
import pytest

from narvik.physics.cooling_plant import (
    cdu_approach_k,
    counterflow_effectiveness,
    mixed_temp_c,
    reject_heat,
)
from narvik.physics.fluids import freeze_point_c


def test_counterflow_effectiveness_matches_incropera():
    # Incropera eq. 11.29a at NTU = 2, Cr = 0.5: (1 - e^-1) / (1 - 0.5 e^-1) = 0.7746.
    e = math.exp(-1.0)
    assert float(counterflow_effectiveness(2.0, 0.5)) == pytest.approx((1 - e) / (1 - 0.5 * e))
    assert float(counterflow_effectiveness(2.0, 0.5)) == pytest.approx(0.7746, abs=1e-4)
    # Balanced (Cr = 1): NTU / (1 + NTU).
    assert float(counterflow_effectiveness(3.0, 1.0)) == pytest.approx(0.75)


def test_cdu_approach_by_hand():
    # Design: 3 K approach with a 20 K rise on both sides: eps = 20 / 23, NTU = 20 / 3.
    # At half the heat (half the flows, same UA) NTU doubles to 13.33, eps = 0.9302 and
    # the approach dT (1 - eps) / eps = 20 / 13.33 = 1.5 K.
    q = np.array([100e6, 50e6, 0.0])
    a = cdu_approach_k(q, 100e6, 3.0, 20.0)
    assert a[0] == pytest.approx(3.0)
    assert a[1] == pytest.approx(1.5)
    assert a[2] == 0.0


def test_mixed_temperature_energy_balance():
    # 100 kg/s of water-glycol at 3,800 J/kg K taking up 7.6 MW rises 20 K.
    assert float(mixed_temp_c(25.0, 7.6e6, 100.0, 3800.0)) == pytest.approx(45.0)
    assert float(mixed_temp_c(25.0, 0.0, 0.0, 3800.0)) == 25.0


def test_rejection_splits_by_capacity_and_counts_the_shortfall():
    # Rated 100 MW at a 26 K ITD. At 45 C in and 32 C ambient the ITD is 13 K: 50 MW.
    # 90 MW to reject: 50 MW dry coolers, 25 MW chillers (their capacity), 15 MW short.
    r = reject_heat(
        np.array([90e6, 40e6]),
        np.array([45.0, 45.0]),
        np.array([32.0, 5.0]),
        rated_heat_w=100e6,
        rated_itd_k=26.0,
        fan_power_fraction=0.02,
        min_fan_speed_fraction=0.1,
        chiller_capacity_w=25e6,
    )
    assert r.dry_cooler_heat_w[0] == pytest.approx(50e6)
    assert r.chiller_heat_w[0] == pytest.approx(25e6)
    assert r.shortfall_w[0] == pytest.approx(15e6)
    assert r.dry_cooler_fan_power_w[0] == pytest.approx(2e6)  # full speed
    # Cold hour: capacity 100 * 40 / 26 = 153.8 MW; 40 MW needs 26 % airflow: 0.26^3 of 2 MW.
    assert r.shortfall_w[1] == 0.0 and r.chiller_heat_w[1] == 0.0
    assert r.dry_cooler_fan_power_w[1] == pytest.approx(2e6 * (40 / (100 * 40 / 26)) ** 3)


def test_propylene_glycol_freezing_points_match_ashrae():
    # ASHRAE Handbook - Fundamentals 2021, ch. 31, table 4: propylene glycol by mass,
    # 30 % freezes at -12.7 C, 40 % at -21.1 C; CoolProp's fit within 0.6 K of both.
    assert freeze_point_c("INCOMP::MPG-30%") == pytest.approx(-12.7, abs=0.6)
    assert freeze_point_c("INCOMP::MPG-40%") == pytest.approx(-21.1, abs=0.6)
    assert freeze_point_c("Water") == 0.0
