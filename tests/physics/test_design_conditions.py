"""Tests of narvik.physics.design_conditions: ASHRAE annual design dry bulbs of a
weather year, and the heat-wave helper that makes a hot year."""

from __future__ import annotations

import numpy as np
import pytest

from narvik.physics.design_conditions import DesignConditions, design_conditions, heat_wave
from narvik.physics.psychrometrics import relative_humidity_pct
from narvik.physics.weather import Weather, builtin_weather


@pytest.fixture(scope="module")
def narvik() -> Weather:
    return builtin_weather("narvik", seed=0)


def hours_of(values_c: np.ndarray) -> Weather:
    """A Weather whose dry bulb is ``values_c`` (other fields are constants)."""
    n = values_c.size
    return Weather(
        source="hand",
        latitude_deg=68.44,
        longitude_deg=17.43,
        timezone_h=1.0,
        elevation_m=30.0,
        month=np.ones(n, dtype=int),
        day=np.arange(n) // 24 % 28 + 1,
        hour=np.arange(n) % 24,
        dry_bulb_c=values_c,
        dew_point_c=values_c - 5.0,
        relative_humidity_pct=np.full(n, 70.0),
        pressure_pa=np.full(n, 101_325.0),
        wind_speed_m_s=np.full(n, 3.0),
    )


# --- design_conditions -------------------------------------------------------------------


def test_design_conditions_by_hand_1000_hours() -> None:
    # Hours at 1, 2, ..., 1000 C, shuffled: the p-quantile by inverted_cdf is the
    # ceil(p * 1000)-th smallest value.
    values_c = np.random.default_rng(0).permutation(np.arange(1.0, 1001.0))
    d = design_conditions(hours_of(values_c))
    assert d == DesignConditions(
        heating_99_6_c=4.0,  # 4 hours (0.4 %) at or below
        heating_99_c=10.0,  # 10 hours (1 %) at or below
        cooling_0_4_c=996.0,  # 4 hours (0.4 %) above
        cooling_1_c=990.0,  # 10 hours above
        cooling_2_c=980.0,  # 20 hours above
        min_c=1.0,
        max_c=1000.0,
        mean_c=500.5,
        hours=1000,
        source="hand",
    )


def test_design_conditions_by_hand_a_year_of_8760_hours() -> None:
    # 0.4 % of 8760 h is 35.04 h: the 36th coldest and the 36th hottest hours.
    values_c = np.random.default_rng(1).permutation(np.arange(8760) * 0.01)
    d = design_conditions(hours_of(values_c))
    assert d.heating_99_6_c == pytest.approx(0.35)  # 35 hours below it
    assert d.heating_99_c == pytest.approx(0.87)  # 87.6 h -> the 88th coldest
    assert d.cooling_0_4_c == pytest.approx(87.24)  # 8759 - 35 hundredths
    assert d.cooling_1_c == pytest.approx(86.72)
    assert d.cooling_2_c == pytest.approx(85.84)  # 175.2 h -> the 176th hottest


def test_design_conditions_rejects_empty_or_non_finite() -> None:
    with pytest.raises(ValueError, match="at least one"):
        design_conditions(hours_of(np.zeros(0)))
    with pytest.raises(ValueError, match="non-finite"):
        design_conditions(hours_of(np.array([1.0, np.nan])))


def test_design_conditions_of_the_builtin_year(narvik: Weather) -> None:
    d = design_conditions(narvik)
    temp_c = narvik.dry_bulb_c
    assert d.hours == 8760
    assert d.min_c <= d.heating_99_6_c <= d.heating_99_c < d.mean_c
    assert d.mean_c < d.cooling_2_c <= d.cooling_1_c <= d.cooling_0_4_c <= d.max_c
    # The definitions, by counting hours.
    assert np.sum(temp_c < d.heating_99_6_c) <= 0.004 * 8760 <= np.sum(temp_c <= d.heating_99_6_c)
    assert np.sum(temp_c > d.cooling_0_4_c) <= 0.004 * 8760 <= np.sum(temp_c >= d.cooling_0_4_c)
    assert np.sum(temp_c > d.cooling_2_c) <= 0.02 * 8760
    # A Narvik year with measured tails: mean at the 3.8 C normal, heating design
    # in the low minus teens, cooling design around 20 C, extremes near the measured
    # -15.1 / 26.7 C at Tromsø.
    assert d.mean_c == pytest.approx(3.8, abs=0.1)
    assert -17.0 < d.heating_99_6_c < -10.0
    assert 18.0 < d.cooling_0_4_c < 24.0
    assert d.min_c <= -13.0 and d.max_c >= 25.0


# --- heat_wave --------------------------------------------------------------------------


def test_a_two_week_30_c_heat_wave(narvik: Weather) -> None:
    hot = heat_wave(narvik, start_day_of_year=190, days=14, peak_c=30.0)
    daily_max_c = hot.dry_bulb_c.reshape(365, 24).max(axis=1)
    before_c = narvik.dry_bulb_c.reshape(365, 24).max(axis=1)
    wave = slice(189, 203)  # days 190..203, 0-based
    assert before_c[wave].max() < 30.0  # a real heat wave for this year
    np.testing.assert_array_equal(daily_max_c[wave], 30.0)
    # Outside the wave and its one-day ramps nothing changes, and nothing ever cools.
    untouched = np.ones(365 * 24, dtype=bool)
    untouched[(189 - 1) * 24 : (203 + 2) * 24] = False
    np.testing.assert_array_equal(hot.dry_bulb_c[untouched], narvik.dry_bulb_c[untouched])
    assert np.all(hot.dry_bulb_c >= narvik.dry_bulb_c)
    assert hot.dry_bulb_c.max() == 30.0
    # Smooth: no jumps at midnight or at the ramps.
    assert np.abs(np.diff(hot.dry_bulb_c)).max() < 3.0
    # Humidity: dew point raised with the air, capped at the dry bulb; RH from Magnus.
    assert np.all(hot.dew_point_c <= hot.dry_bulb_c)
    assert np.all(hot.dew_point_c >= narvik.dew_point_c)
    np.testing.assert_allclose(
        hot.relative_humidity_pct,
        np.clip(relative_humidity_pct(hot.dry_bulb_c, hot.dew_point_c), 0.0, 100.0),
    )
    np.testing.assert_array_equal(hot.wind_speed_m_s, narvik.wind_speed_m_s)
    assert "heat wave 14 d from day 190 to 30 C" in hot.source
    # The hot year's cooling design temperatures rise, its heating ones do not move.
    d0, d1 = design_conditions(narvik), design_conditions(hot)
    assert d1.cooling_0_4_c > d0.cooling_0_4_c + 5.0
    assert d1.heating_99_6_c == d0.heating_99_6_c
    assert d1.max_c == 30.0


def test_heat_wave_keeps_days_already_hotter_and_works_on_any_hour_of_maximum() -> None:
    # Two days whose maximum is at 00:00 and 23:00, not at 15:00; peak 10 C.
    day1 = np.linspace(8.0, 0.0, 24)
    day2 = np.linspace(0.0, 12.0, 24)  # already hotter than the peak
    base = hours_of(np.concatenate([day1, day2, np.zeros(24)]))
    hot = heat_wave(base, 1, 2, 10.0)
    by_day = hot.dry_bulb_c.reshape(3, 24)
    assert by_day[0].max() == 10.0
    assert by_day[1].max() == 12.0
    assert np.all(hot.dry_bulb_c >= base.dry_bulb_c)


def test_heat_wave_checks_its_arguments(narvik: Weather) -> None:
    with pytest.raises(ValueError, match="days must be"):
        heat_wave(narvik, 100, 0, 30.0)
    with pytest.raises(ValueError, match="does not fit"):
        heat_wave(narvik, 360, 14, 30.0)
    with pytest.raises(ValueError, match="does not fit"):
        heat_wave(narvik, 0, 1, 30.0)
    with pytest.raises(ValueError, match="whole days"):
        heat_wave(hours_of(np.zeros(30)), 1, 1, 30.0)
