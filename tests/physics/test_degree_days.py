"""Eurostat heating and cooling degree days, checked against sums done by hand."""

from __future__ import annotations

import numpy as np
import pytest

from narvik.physics.degree_days import (
    cooling_degree_days,
    daily_mean_c,
    degree_days,
    heating_degree_days,
)


def _day(*halves_c: float) -> list[float]:
    """24 hourly values: the first 12 hours at the first value, the last 12 at the second."""
    first, second = halves_c if len(halves_c) == 2 else (halves_c[0], halves_c[0])
    return [first] * 12 + [second] * 12


def test_a_week_by_hand():
    hourly = (
        _day(10.0)  # Tm 10: HDD 18 - 10 = 8
        + _day(14.0, 18.0)  # Tm 16: above the heating threshold, below 18: nothing
        + _day(13.0, 17.0)  # Tm 15: at the heating threshold: HDD 3
        + _day(20.0, 28.0)  # Tm 24: at the cooling threshold: CDD 24 - 21 = 3
        + _day(23.0, 24.0)  # Tm 23.5: above 21 but below the cooling threshold: nothing
        + _day(30.0)  # Tm 30: CDD 9
        + _day(-5.0)  # Tm -5: HDD 23
    )
    dd = degree_days(hourly)
    assert dd.days == 7
    assert dd.heating_k_d == pytest.approx(8.0 + 3.0 + 23.0)
    assert dd.cooling_k_d == pytest.approx(3.0 + 9.0)


def test_the_daily_mean_is_of_the_24_hours():
    # 0, 1, ..., 22 and 47 C: the mean is (253 + 47) / 24 = 12.5 C, where the
    # (min + max) / 2 of other degree-day methods would give 23.5 C.
    hours = np.arange(24.0)
    hours[-1] = 47.0
    np.testing.assert_allclose(daily_mean_c(hours), [12.5])
    assert heating_degree_days(daily_mean_c(hours)) == pytest.approx(5.5)
    assert cooling_degree_days(daily_mean_c(hours)) == 0.0


def test_daily_means_one_value_per_day():
    np.testing.assert_allclose(daily_mean_c(_day(10.0) + _day(20.0, 30.0)), [10.0, 25.0])
    assert heating_degree_days([10.0, 25.0]) == pytest.approx(8.0)
    assert cooling_degree_days([10.0, 25.0]) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "bad",
    [np.zeros(23), np.zeros(0), np.zeros((2, 24)), np.r_[np.zeros(23), np.nan]],
)
def test_whole_days_of_finite_values_only(bad):
    with pytest.raises(ValueError, match="hourly temperatures"):
        degree_days(bad)
