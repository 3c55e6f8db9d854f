"""Tests of narvik.physics.weather_measured (MET Norway daily files, hourly curves from
daily extremes, the per-month variability fit) and of the built-in Narvik year whose
synoptic noise carries the variability fitted to Tromsø (narvik.physics.climate).

Tests that read ../shared/data/weather skip when it is absent, and fail instead when
the environment variable CI is set."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from narvik.physics import climate
from narvik.physics.climate import (
    BUILTIN_CLIMATES,
    TROMSO_ANOMALY_LAG1,
    TROMSO_ANOMALY_SD_C,
    TROMSO_ANOMALY_SKEW,
    TROMSO_RANGE_SLOPE,
    ClimateNormals,
    typical_year,
)
from narvik.physics.weather import builtin_weather
from narvik.physics.weather_measured import (
    DailySeries,
    WeatherFileError,
    fit_daily_variability,
    hourly_from_daily,
    read_metno_daily,
)

WEATHER_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "weather"
TROMSO_DAILY = "metno_tromso-daily.csv"
NARVIK = BUILTIN_CLIMATES["narvik"]


def shared_file(name: str) -> Path:
    path = WEATHER_DATA / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing and CI is set: ../shared/data/weather must be there")
        pytest.skip(f"{path} absent (../shared not laid out here)")
    return path


@pytest.fixture(scope="module")
def tromso() -> DailySeries:
    return read_metno_daily(shared_file(TROMSO_DAILY))


# --- read_metno_daily ------------------------------------------------------------------


def test_reads_the_tromso_file(tromso: DailySeries) -> None:
    assert tromso.station == "SN90490"
    assert tromso.days == 366
    assert str(tromso.dates[0]) == "2022-10-09"
    assert str(tromso.dates[-1]) == "2023-10-09"
    assert np.all(np.diff(tromso.dates).astype(int) == 1)
    # metno_README.md: missing values were written as 0; 22 days lack one of the two.
    assert int(np.sum(~np.isfinite(tromso.mean_c))) == 22
    assert np.isnan(tromso.tmax_c[list(tromso.dates).index(np.datetime64("2023-02-16"))])
    # The measured range quoted in MISSION.md: -15.1 to 26.7 C.
    assert np.nanmin(tromso.tmin_c) == -15.1
    assert np.nanmax(tromso.tmax_c) == 26.7
    assert float(np.nanmean(tromso.mean_c)) == pytest.approx(3.85, abs=0.15)
    assert not tromso.tmin_c.flags.writeable


def test_columns_by_name_in_any_order_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "daily.csv"
    path.write_bytes(
        "\ufeffmin temperature,precipitation,Date,station,Max Temperature\r\n"
        "-3.5,1.2,2023-01-01,SN1,2.0\r\n"
        "\r\n"
        "-4,0,2023-01-02,SN1,0\r\n".encode()
    )
    daily = read_metno_daily(path)
    assert daily.station == "SN1"
    assert [str(d) for d in daily.dates] == ["2023-01-01", "2023-01-02"]
    np.testing.assert_array_equal(daily.tmin_c, [-3.5, -4.0])
    np.testing.assert_array_equal(daily.tmax_c, [2.0, np.nan])  # 0 = missing in this dialect
    kept = read_metno_daily(path, zero_is_missing=False)
    np.testing.assert_array_equal(kept.tmax_c, [2.0, 0.0])


def test_reads_the_original_seklima_dialect(tmp_path: Path) -> None:
    # seklima's own export: ';' between columns, decimal comma, DD.MM.YYYY, '-' missing.
    path = tmp_path / "seklima.csv"
    path.write_text(
        "Navn;Stasjon;date;max temperature;min temperature\n"
        "Tromso - Langnes;SN90490;09.10.2022;6,9;4,7\n"
        "Tromso - Langnes;SN90490;10.10.2022;0;-\n",
        encoding="utf-8",
    )
    daily = read_metno_daily(path)
    assert [str(d) for d in daily.dates] == ["2022-10-09", "2022-10-10"]
    np.testing.assert_array_equal(daily.tmax_c, [6.9, 0.0])  # a real 0 here
    np.testing.assert_array_equal(daily.tmin_c, [4.7, np.nan])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("date,max temperature\n2023-01-01,1\n", r":1: no column 'min temperature'"),
        ("date,max temperature,min temperature\n2023-01-01,x,1\n", r":2: .*'max temperature'.*'x'"),
        (
            "date,max temperature,min temperature\n2023-01-01,1,0.5\n2023-01-02,2\n",
            r":3: expected at least 3",
        ),
        ("date,max temperature,min temperature\n2023-13-01,1,0.5\n", r":2: field 'date'"),
        (
            "date,max temperature,min temperature\n2023-01-02,1,0.5\n2023-01-01,1,0.5\n",
            r":3: field 'date'.*not after",
        ),
        (
            "date,max temperature,min temperature\n2023-01-01,1,2\n",
            r":2: .*'min temperature'.*exceeds",
        ),
        ("date,max temperature,min temperature\n2023-01-01,99,2\n", r":2: .*outside the valid"),
        ("date,max temperature,min temperature\n", r":2: no data lines"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(WeatherFileError, match=match) as info:
        read_metno_daily(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_weather_file_error(tmp_path: Path) -> None:
    with pytest.raises(WeatherFileError, match="no such weather file"):
        read_metno_daily(tmp_path / "nope.csv")


# --- hourly_from_daily -----------------------------------------------------------------


def test_hourly_from_daily_by_hand() -> None:
    dates = np.arange("2023-07-01", "2023-07-04", dtype="datetime64[D]")
    tmin_c = np.array([0.0, 2.0, -1.0])
    tmax_c = np.array([10.0, 12.0, 5.0])
    hourly = hourly_from_daily(dates, tmin_c, tmax_c)
    assert hourly.shape == (72,)
    by_day = hourly.reshape(3, 24)
    # Element 24 i + h is the value at h + 1 o'clock: 05:00 is h = 4, 15:00 is h = 14.
    np.testing.assert_array_equal(by_day[:, 4], tmin_c)
    np.testing.assert_array_equal(by_day[:, 14], tmax_c)
    np.testing.assert_array_equal(by_day.min(axis=1), tmin_c)
    np.testing.assert_array_equal(by_day.max(axis=1), tmax_c)
    # 10:00, half-way up day 1: (0 + 10) / 2.
    assert by_day[0, 9] == pytest.approx(5.0)
    # 22:00, half-way (7 of 14 h) down from day 1's max 10 to day 2's min 2: 6.
    assert by_day[0, 21] == pytest.approx(6.0)
    # 01:00 of day 2: 10 h after 15:00, weight (1 + cos(10 pi / 14)) / 2 on the max.
    w = (1.0 + math.cos(10.0 * math.pi / 14.0)) / 2.0
    assert by_day[1, 0] == pytest.approx(2.0 + (10.0 - 2.0) * w)
    # Rising from 05:00 to 15:00 and falling from 15:00 to 05:00 the next day.
    assert np.all(np.diff(hourly[4:15]) > 0)
    assert np.all(np.diff(hourly[14 : 24 + 5]) < 0)
    # Ends: the first day's early hours fall from its own max, the last day's evening
    # towards its own min.
    assert by_day[0, 0] > tmin_c[0]
    assert np.all(by_day[2, 15:] >= tmin_c[2])


def test_hourly_from_daily_propagates_missing_days_and_checks_its_input() -> None:
    dates = np.arange("2023-01-01", "2023-01-04", dtype="datetime64[D]")
    hourly = hourly_from_daily(dates, np.array([0.0, np.nan, 1.0]), np.array([5.0, 6.0, 7.0]))
    assert np.isfinite(hourly[:14]).all()  # day 1 up to its max
    assert np.isnan(hourly[24 + 4])  # day 2's missing min
    assert np.isfinite(hourly[48 + 5 :]).all()
    with pytest.raises(ValueError, match="consecutive"):
        hourly_from_daily(dates[[0, 2]], np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="length"):
        hourly_from_daily(dates, np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="exceeds"):
        hourly_from_daily(dates, np.array([0.0, 3.0, 0.0]), np.array([1.0, 2.0, 1.0]))
    assert hourly_from_daily(dates[:0], np.zeros(0), np.zeros(0)).shape == (0,)


def test_hourly_from_daily_on_the_tromso_year(tromso: DailySeries) -> None:
    hourly = hourly_from_daily(tromso.dates, tromso.tmin_c, tromso.tmax_c)
    assert hourly.shape == (366 * 24,)
    assert np.nanmin(hourly) == -15.1
    assert np.nanmax(hourly) == 26.7


# --- fit_daily_variability ---------------------------------------------------------------


def test_fit_by_hand_three_days() -> None:
    # harmonics=0: the "seasonal cycle" is the mean, 1 C; anomalies -1, -1, 2.
    dates = np.arange("2023-01-01", "2023-01-04", dtype="datetime64[D]")
    temp_c = np.array([0.0, 0.0, 3.0])
    fit = fit_daily_variability(DailySeries("hand", "", dates, temp_c, temp_c), harmonics=0)
    assert fit.seasonal_coefficients_c == pytest.approx((1.0,))
    assert fit.monthly_days[0] == 3 and sum(fit.monthly_days[1:]) == 0
    sd = math.sqrt((1 + 1 + 4) / 2)
    assert fit.monthly_anomaly_sd_c[0] == pytest.approx(sd)
    assert fit.monthly_anomaly_skew[0] == pytest.approx((-1 - 1 + 8) / 2 / sd**3)
    assert math.isnan(fit.monthly_anomaly_lag1[0])  # only 2 consecutive pairs
    assert fit.monthly_diurnal_range_c[0] == 0.0
    assert fit.monthly_range_slope[0] == 0.0
    assert all(math.isnan(v) for v in fit.monthly_anomaly_sd_c[1:])


def test_fit_recovers_a_known_seasonal_cycle_and_anomaly() -> None:
    dates = np.arange("2021-01-01", "2023-01-01", dtype="datetime64[D]")
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(int)
    seasonal_c = 5.0 - 10.0 * np.cos(2 * np.pi * day_of_year / 365.25)
    anomaly_c = np.where(np.arange(dates.size) % 2 == 0, 1.0, -1.0)  # alternating days
    mean_c = seasonal_c + anomaly_c
    range_c = 6.0 + 0.5 * anomaly_c
    daily = DailySeries("synthetic", "", dates, mean_c - range_c / 2, mean_c + range_c / 2)
    fit = fit_daily_variability(daily)
    np.testing.assert_allclose(fit.seasonal_coefficients_c, [5.0, -10.0, 0.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(fit.monthly_anomaly_sd_c, 1.0, atol=0.02)
    np.testing.assert_allclose(fit.monthly_anomaly_skew, 0.0, atol=0.05)
    np.testing.assert_allclose(fit.monthly_anomaly_lag1, -1.0, atol=0.01)
    np.testing.assert_allclose(fit.monthly_diurnal_range_c, 6.0, atol=0.02)
    np.testing.assert_allclose(fit.monthly_range_slope, 0.5, atol=0.01)
    assert sum(fit.monthly_days) == dates.size


def test_fit_needs_enough_days() -> None:
    dates = np.arange("2023-01-01", "2023-01-04", dtype="datetime64[D]")
    with pytest.raises(ValueError, match="at least 6"):
        fit_daily_variability(DailySeries("x", "", dates, np.zeros(3), np.ones(3)))


def test_shipped_constants_are_the_fit_of_the_tromso_file(tromso: DailySeries) -> None:
    """Provenance: climate.py's TROMSO_* constants are this fit, rounded to 0.01."""
    fit = fit_daily_variability(tromso)
    tol = 0.005 + 1e-9
    np.testing.assert_allclose(fit.monthly_anomaly_sd_c, TROMSO_ANOMALY_SD_C, rtol=0, atol=tol)
    np.testing.assert_allclose(fit.monthly_anomaly_skew, TROMSO_ANOMALY_SKEW, rtol=0, atol=tol)
    np.testing.assert_allclose(fit.monthly_anomaly_lag1, TROMSO_ANOMALY_LAG1, rtol=0, atol=tol)
    np.testing.assert_allclose(fit.monthly_range_slope, TROMSO_RANGE_SLOPE, rtol=0, atol=tol)
    # ... and the built-in Narvik climate uses them.
    assert NARVIK.monthly_noise_sd_c == TROMSO_ANOMALY_SD_C
    assert NARVIK.monthly_noise_skew == TROMSO_ANOMALY_SKEW
    assert NARVIK.monthly_noise_lag1 == TROMSO_ANOMALY_LAG1
    assert NARVIK.monthly_range_slope == TROMSO_RANGE_SLOPE
    # Sanity of what was measured: colder tails in winter, warmer tails in summer, and
    # sunny (wide-range) warm days in summer.
    assert fit.monthly_anomaly_skew[0] < 0 < fit.monthly_anomaly_skew[6]
    assert min(fit.monthly_range_slope[5:8]) > 0.5
    assert sum(fit.monthly_days) == 366 - 22


# --- the built-in Narvik year: tails from the measured variability -----------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_builtin_year_has_the_normal_mean_and_measured_tails(seed: int) -> None:
    dry_c = builtin_weather("narvik", seed).dry_bulb_c
    assert dry_c.mean() == pytest.approx(3.8, abs=0.1)
    # Tromsø measured -15.1 .. 26.7 C over Oct 2022 - Oct 2023.
    assert -21.0 < dry_c.min() <= -13.0
    assert 25.0 <= dry_c.max() < 32.0


def test_builtin_years_extremes_centre_on_the_measured_ones() -> None:
    years = [builtin_weather("narvik", seed).dry_bulb_c for seed in range(20)]
    median_min_c = float(np.median([y.min() for y in years]))
    median_max_c = float(np.median([y.max() for y in years]))
    assert median_min_c == pytest.approx(-15.1, abs=3.0)
    assert median_max_c == pytest.approx(26.7, abs=3.0)


def test_builtin_years_refit_to_the_shipped_variability() -> None:
    """Refitting synthetic years the way Tromsø was fitted gives back its statistics.

    Not exactly: every synthetic month is forced to the normal mean, and a month of
    strongly autocorrelated days underestimates the standard deviation and, more, the
    skewness (the same estimator bias is in the Tromsø values); so the standard
    deviations come back 0-30 % low and the skewness with its sign where it is large.
    """
    dates = np.arange("2023-01-01", "2024-01-01", dtype="datetime64[D]")
    fits = []
    for seed in range(20):
        days = builtin_weather("narvik", seed).dry_bulb_c.reshape(365, 24)
        fits.append(
            fit_daily_variability(DailySeries("x", "", dates, days.min(axis=1), days.max(axis=1)))
        )
    sd = np.mean([f.monthly_anomaly_sd_c for f in fits], axis=0)
    skew = np.mean([f.monthly_anomaly_skew for f in fits], axis=0)
    slope = np.mean([f.monthly_range_slope for f in fits], axis=0)
    ratio = sd / np.array(TROMSO_ANOMALY_SD_C)
    assert np.all((ratio > 0.7) & (ratio < 1.02)), ratio.round(2)
    large = np.abs(TROMSO_ANOMALY_SKEW) >= 0.5
    assert np.all(np.sign(skew[large]) == np.sign(np.array(TROMSO_ANOMALY_SKEW)[large]))
    # The range slope within 0.2 (a calendar day's extremes can come from the ramp of the
    # day before, which dilutes it most in March, the month of least persistence).
    np.testing.assert_allclose(slope, TROMSO_RANGE_SLOPE, atol=0.2)


def test_fleishman_transform_has_the_asked_moments() -> None:
    z = np.random.default_rng(1).standard_normal(400_000)
    for skew in (-0.78, 0.0, 0.97, 2.0):
        y = climate._fleishman_quadratic(z, np.full(z.size, skew))
        assert y.mean() == pytest.approx(0.0, abs=0.01)
        assert y.std() == pytest.approx(1.0, abs=0.01)
        g = np.mean((y - y.mean()) ** 3) / y.std() ** 3
        assert g == pytest.approx(skew, abs=0.05 + 0.03 * abs(skew))


def test_typical_year_keeps_its_old_keywords_and_takes_overrides() -> None:
    old = typical_year(NARVIK, 5, noise_sd_c=2.5, noise_autocorr_per_h=0.97)
    np.testing.assert_allclose(old.monthly_mean_c(), NARVIK.monthly_mean_c(), atol=1e-9)
    wide = typical_year(NARVIK, 5, noise_sd_c=5.0, noise_skew=0.0, range_slope=0.0)
    np.testing.assert_allclose(wide.monthly_mean_c(), NARVIK.monthly_mean_c(), atol=1e-9)
    assert wide.dry_bulb_c.std() > old.dry_bulb_c.std()
    # Normals without variability fall back to the old defaults: Gaussian, 2.5 C.
    plain = ClimateNormals(
        "plain", 60.0, 10.0, 1.0, 0.0, (0.0,) * 12, (6.0,) * 12, (80.0,) * 12, "test"
    )
    year = typical_year(plain, 3)
    np.testing.assert_allclose(year.monthly_mean_c(), 3.0, atol=1e-9)
    daily_mean_c = year.dry_bulb_c.reshape(365, 24).mean(axis=1)
    assert 1.5 < daily_mean_c.std() < 3.5
    with pytest.raises(ValueError, match="noise_skew"):
        typical_year(NARVIK, 0, noise_skew=3.0)
    with pytest.raises(ValueError, match="noise_sd_c"):
        typical_year(NARVIK, 0, noise_sd_c=-1.0)


def test_climate_normals_validate_the_variability() -> None:
    base = ("x", 0.0, 0.0, 0.0, 0.0, (0.0,) * 12, (1.0,) * 12, (50.0,) * 12, "test")
    with pytest.raises(ValueError, match="monthly_noise_sd_c"):
        ClimateNormals(*base, monthly_noise_sd_c=(-1.0,) * 12)
    with pytest.raises(ValueError, match="monthly_noise_skew"):
        ClimateNormals(*base, monthly_noise_skew=(3.0,) * 12)
    with pytest.raises(ValueError, match="monthly_noise_lag1"):
        ClimateNormals(*base, monthly_noise_lag1=(1.0,) * 12)
    with pytest.raises(ValueError, match="12 values"):
        ClimateNormals(*base, monthly_range_slope=(0.0,) * 11)


@pytest.mark.parametrize("module", ["weather_measured", "design_conditions"])
def test_new_weather_modules_import_first_on_their_own(module: str) -> None:
    subprocess.run([sys.executable, "-c", f"import narvik.physics.{module}"], check=True)
