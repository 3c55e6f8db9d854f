"""Tests of narvik.physics.psychrometrics: the Magnus formula (saturation vapour
pressure, dew point, relative humidity) and the standard atmosphere."""

from __future__ import annotations

import numpy as np
import pytest

from narvik.physics.psychrometrics import (
    dew_point_c,
    relative_humidity_pct,
    saturation_vapour_pressure_pa,
    standard_pressure_pa,
)

# --- Magnus formula, standard atmosphere -------------------------------------------------


def test_dew_point_at_20c_50pct_matches_psychrometric_tables() -> None:
    # Psychrometric tables (e.g. ASHRAE Fundamentals ch. 1): Td = 9.3 C at 20 C, 50 %.
    # Hand calculation with Alduchov-Eskridge coefficients: 9.26 C.
    assert dew_point_c(20.0, 50.0) == pytest.approx(9.26, abs=0.01)
    assert abs(dew_point_c(20.0, 50.0) - 9.3) < 0.1
    # Tables: 30 C, 70 % -> 23.9 C.
    assert abs(dew_point_c(30.0, 70.0) - 23.9) < 0.1


def test_dew_point_equals_dry_bulb_at_saturation() -> None:
    temps_c = np.array([-30.0, -5.0, 0.0, 12.5, 35.0])
    np.testing.assert_allclose(dew_point_c(temps_c, 100.0), temps_c, atol=1e-12)


def test_rh_dew_point_round_trip_vectorised() -> None:
    rng = np.random.default_rng(1)
    temps_c = rng.uniform(-30.0, 40.0, 1000)
    rh_pct = rng.uniform(5.0, 100.0, 1000)
    dew_c = dew_point_c(temps_c, rh_pct)
    assert dew_c.shape == (1000,)
    assert np.all(dew_c <= temps_c + 1e-9)
    np.testing.assert_allclose(relative_humidity_pct(temps_c, dew_c), rh_pct, rtol=1e-12)


def test_dew_point_rejects_non_positive_rh() -> None:
    with pytest.raises(ValueError, match="relative_humidity_pct"):
        dew_point_c([10.0, 10.0], [50.0, 0.0])


def test_saturation_vapour_pressure_at_20c() -> None:
    # IAPWS / WMO: 2339 Pa at 20 C; the Magnus fit is within 0.4 %.
    assert saturation_vapour_pressure_pa(20.0) == pytest.approx(2339.0, rel=4e-3)
    assert saturation_vapour_pressure_pa(0.0) == pytest.approx(610.94)


def test_standard_pressure() -> None:
    # U.S. Standard Atmosphere 1976: 101325 Pa at 0 m, 89874.6 Pa at 1000 m.
    assert standard_pressure_pa(0.0) == pytest.approx(101_325.0)
    assert standard_pressure_pa(1000.0) == pytest.approx(89_874.6, abs=5.0)
