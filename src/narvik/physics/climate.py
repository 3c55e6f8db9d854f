"""Climate normals and the seeded synthetic typical year built from them.

:class:`ClimateNormals` holds the monthly normals of a site (mean daily minimum
and maximum dry bulb, mean relative humidity) and, optionally, the day-to-day
variability of its weather (per-month standard deviation, skewness and lag-1
autocorrelation of the daily-mean temperature anomaly, and how the diurnal range
follows that anomaly); :func:`typical_year` synthesises a seeded hourly year (a
:class:`Weather`) from them whose calendar months have exactly the normal mean
dry bulb and whose days scatter around it with those statistics.
:data:`BUILTIN_CLIMATES` holds the climates shipped with narvik (at least
``"narvik"``); ``builtin_weather`` in :mod:`narvik.physics.weather` picks one by
name.

The built-in Narvik variability is measured, not assumed: the ``TROMSO_*``
constants below are what :func:`narvik.physics.weather_measured.fit_daily_variability`
returns on the MET Norway daily series of Tromsø-Langnes (SN90490), 2022-10-09 to
2023-10-09 (``../shared/data/weather/metno_tromso-daily.csv``), rounded to 0.01;
a test refits them from that file.

Humidity uses the Magnus formula (:mod:`narvik.physics.psychrometrics`); station
pressure is the standard atmosphere at the site elevation.

Imports: :mod:`narvik.physics.weather_series` and
:mod:`narvik.physics.psychrometrics` only; never :mod:`narvik.physics.weather`,
which re-exports the public names of this module, so the import graph stays
acyclic (see :mod:`narvik.physics.weather_series`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from narvik.physics.psychrometrics import dew_point_c, relative_humidity_pct, standard_pressure_pa
from narvik.physics.weather_series import (
    HOURS_NON_LEAP_YEAR,
    HOURS_PER_DAY,
    Weather,
    _calendar,
)

__all__ = [
    "BUILTIN_CLIMATES",
    "MAX_NOISE_SKEW",
    "NARVIK_NORMALS_OFFSET_K",
    "TROMSO_ANOMALY_LAG1",
    "TROMSO_ANOMALY_SD_C",
    "TROMSO_ANOMALY_SKEW",
    "TROMSO_RANGE_SLOPE",
    "ClimateNormals",
    "typical_year",
]

FloatArray = NDArray[np.float64]

#: Largest absolute skewness the quadratic Fleishman transform can give
#: (2 sqrt 2, where its linear coefficient reaches zero).
MAX_NOISE_SKEW = 2.0 * math.sqrt(2.0)

# Synoptic noise of normals that carry no variability of their own (the values the
# typical year used before measured variability was added): a Gaussian daily anomaly
# of 2.5 C whose day-to-day autocorrelation is that of an hourly AR(1) of 0.97 per
# hour at a lag of 24 h, and a diurnal range that does not follow the anomaly.
DEFAULT_NOISE_SD_C = 2.5
DEFAULT_NOISE_AUTOCORR_PER_H = 0.97


@dataclass(frozen=True)
class ClimateNormals:
    """Monthly climate normals of a site, enough to synthesise an hourly year.

    ``monthly_min_c``/``monthly_max_c`` are the mean daily minimum and maximum
    dry bulb of each month, C; ``monthly_rh_pct`` the mean relative humidity, %;
    ``source`` cites where they come from.

    The optional per-month variability (12 values each, or None for the defaults
    of :func:`typical_year`) describes the anomaly of the daily mean dry bulb
    against the smooth seasonal cycle, as
    :func:`narvik.physics.weather_measured.fit_daily_variability` measures it:

    - ``monthly_noise_sd_c``: its standard deviation, C (>= 0);
    - ``monthly_noise_skew``: its skewness (|value| < :data:`MAX_NOISE_SKEW`);
    - ``monthly_noise_lag1``: its day-to-day (lag-1) autocorrelation, in (-1, 1);
    - ``monthly_range_slope``: the change of the daily range (max - min), K, per
      K of anomaly (positive where warm days are sunny days, as in summer).
    """

    name: str
    latitude_deg: float
    longitude_deg: float
    timezone_h: float
    elevation_m: float
    monthly_min_c: tuple[float, ...]
    monthly_max_c: tuple[float, ...]
    monthly_rh_pct: tuple[float, ...]
    source: str
    monthly_noise_sd_c: tuple[float, ...] | None = None
    monthly_noise_skew: tuple[float, ...] | None = None
    monthly_noise_lag1: tuple[float, ...] | None = None
    monthly_range_slope: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        optional = (
            "monthly_noise_sd_c",
            "monthly_noise_skew",
            "monthly_noise_lag1",
            "monthly_range_slope",
        )
        for name in ("monthly_min_c", "monthly_max_c", "monthly_rh_pct", *optional):
            raw = getattr(self, name)
            if raw is None and name in optional:
                continue
            values = tuple(float(v) for v in raw)
            if len(values) != 12:
                raise ValueError(f"ClimateNormals.{name} needs 12 values, got {len(values)}")
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"ClimateNormals.{name} must be finite numbers")
            object.__setattr__(self, name, values)
        for month, (lo, hi) in enumerate(zip(self.monthly_min_c, self.monthly_max_c, strict=True)):
            if lo > hi:
                raise ValueError(
                    f"ClimateNormals {self.name!r}: month {month + 1} minimum {lo} C "
                    f"exceeds maximum {hi} C"
                )
        if not all(0.0 < v <= 100.0 for v in self.monthly_rh_pct):
            raise ValueError("ClimateNormals.monthly_rh_pct must be in (0, 100]")
        if not -90.0 <= self.latitude_deg <= 90.0:
            raise ValueError(f"latitude_deg {self.latitude_deg} outside -90..90")
        if not -180.0 <= self.longitude_deg <= 180.0:
            raise ValueError(f"longitude_deg {self.longitude_deg} outside -180..180")
        if self.monthly_noise_sd_c is not None:
            _check_noise_sd(self.monthly_noise_sd_c, "ClimateNormals.monthly_noise_sd_c")
        if self.monthly_noise_skew is not None:
            _check_noise_skew(self.monthly_noise_skew, "ClimateNormals.monthly_noise_skew")
        if self.monthly_noise_lag1 is not None:
            _check_lag1(self.monthly_noise_lag1, "ClimateNormals.monthly_noise_lag1")

    def monthly_mean_c(self) -> tuple[float, ...]:
        """Monthly mean dry bulb taken as (mean daily min + mean daily max) / 2, C."""
        return tuple(
            (lo + hi) / 2.0 for lo, hi in zip(self.monthly_min_c, self.monthly_max_c, strict=True)
        )


def _check_noise_sd(values: tuple[float, ...], what: str) -> None:
    if any(v < 0.0 for v in values):
        raise ValueError(f"{what} must be >= 0, got {values}")


def _check_noise_skew(values: tuple[float, ...], what: str) -> None:
    if any(abs(v) >= MAX_NOISE_SKEW for v in values):
        raise ValueError(f"{what} must lie within +-{MAX_NOISE_SKEW:.4f}, got {values}")


def _check_lag1(values: tuple[float, ...], what: str) -> None:
    if any(not -1.0 < v < 1.0 for v in values):
        raise ValueError(f"{what} must lie in (-1, 1), got {values}")


# --- measured day-to-day variability (Tromsø-Langnes, MET Norway) -----------------------
#
# Obtained with
#     fit_daily_variability(read_metno_daily("../shared/data/weather/metno_tromso-daily.csv"))
# (narvik.physics.weather_measured): MET Norway (seklima, CC BY 4.0) daily maximum and
# minimum of Tromsø-Langnes SN90490, 2022-10-09..2023-10-09, 366 days of which 22 have
# one of the two missing (written as 0 in that file, so left out); anomaly of the daily
# mean (max + min) / 2 against a two-harmonic seasonal cycle fitted by least squares;
# per calendar month: sample standard deviation, skewness (Wilks 2011, eq. 3.9), lag-1
# autocorrelation of consecutive days, least-squares slope of the daily range on the
# anomaly. Rounded to 0.01; tests/physics/test_weather_measured.py refits them.
# Tromsø is about 150 km north of Narvik on the same coast; its day-to-day weather
# stands in for Narvik's, whose own daily series is not in ../shared.
# Each tuple runs January to December.
TROMSO_ANOMALY_SD_C = (3.71, 3.47, 2.98, 2.72, 2.94, 3.11, 2.48, 2.38, 2.91, 2.10, 2.89, 3.10)
# fmt: off
TROMSO_ANOMALY_SKEW = (-0.78, -0.31, 0.30, -0.70, -0.32, 0.97, 0.65, 0.59, 0.41, -0.19, -0.20, -0.59)  # noqa: E501
# fmt: on
TROMSO_ANOMALY_LAG1 = (0.78, 0.71, 0.42, 0.70, 0.84, 0.87, 0.66, 0.63, 0.68, 0.71, 0.80, 0.74)
TROMSO_RANGE_SLOPE = (-0.18, 0.01, -0.44, -0.15, 0.18, 0.63, 0.82, 0.72, -0.01, 0.21, 0.03, -0.22)

# Narvik's monthly mean daily minimum and maximum, C, as this table was first shipped
# here (credited to MET Norway normals 1991-2020; the same integers are published by
# climatestotravel.com, "Narvik - Average temperatures"). Their (min + max) / 2 average
# 5.16 C over the days of the year, 1.36 K above the 3.8 C annual normal (MISSION.md:
# "about 4 C", January about -4 C, July about 13-14 C; weatherbase.com, station 49110:
# 3.8 C, January -4.1 C, July 13.4 C).
_NARVIK_TABLE_MIN_C = (-6.0, -4.0, -3.0, 0.0, 4.0, 8.0, 11.0, 10.0, 7.0, 2.0, 0.0, -3.0)
_NARVIK_TABLE_MAX_C = (-2.0, 1.0, 3.0, 6.0, 12.0, 15.0, 18.0, 18.0, 14.0, 7.0, 3.0, 2.0)

#: Uniform correction applied to every month of the Narvik table, K: 3.8 C minus the
#: table's day-weighted mean of (min + max) / 2 (5.163 C), rounded to 0.01 K. A uniform
#: shift keeps the monthly shape (and every diurnal range) and brings the annual mean to
#: the normal; it puts July at 13.1 C (13-14 C quoted) and January at -5.4 C (about
#: -4 C quoted), so the table's shape, not only its level, is likely off in winter.
NARVIK_NORMALS_OFFSET_K = -1.36


BUILTIN_CLIMATES: dict[str, ClimateNormals] = {
    "narvik": ClimateNormals(
        name="narvik",
        latitude_deg=68.44,
        longitude_deg=17.43,
        timezone_h=1.0,
        elevation_m=30.0,
        monthly_min_c=tuple(round(v + NARVIK_NORMALS_OFFSET_K, 2) for v in _NARVIK_TABLE_MIN_C),
        monthly_max_c=tuple(round(v + NARVIK_NORMALS_OFFSET_K, 2) for v in _NARVIK_TABLE_MAX_C),
        monthly_rh_pct=(78.0, 77.0, 74.0, 70.0, 68.0, 72.0, 76.0, 78.0, 79.0, 79.0, 79.0, 79.0),
        source=(
            "Temperature: monthly mean daily min/max of Narvik (MET Norway normals "
            "1991-2020, integers as tabulated by climatestotravel.com), every month shifted "
            "by -1.36 K so that the monthly means average the 3.8 C annual normal "
            "(MISSION.md; weatherbase.com station 49110: 3.8 C, January -4.1 C, July "
            "13.4 C); unshifted they averaged 5.16 C. Day-to-day variability (standard "
            "deviation, skewness and lag-1 autocorrelation of the daily-mean anomaly, and "
            "the slope of the diurnal range on it, per month): fitted to MET Norway "
            "(seklima, CC BY 4.0) daily max/min of Tromso-Langnes SN90490, "
            "2022-10-09..2023-10-09. "
            "Relative humidity: an assumption (coastal northern Norway, 68-79 %, driest "
            "in late spring), not a published Narvik normal."
        ),
        monthly_noise_sd_c=TROMSO_ANOMALY_SD_C,
        monthly_noise_skew=TROMSO_ANOMALY_SKEW,
        monthly_noise_lag1=TROMSO_ANOMALY_LAG1,
        monthly_range_slope=TROMSO_RANGE_SLOPE,
    ),
}


def typical_year(
    normals: ClimateNormals,
    seed: int = 0,
    *,
    noise_sd_c: float | None = None,
    noise_autocorr_per_h: float | None = None,
    wind_mean_m_s: float = 5.0,
    wind_autocorr_per_h: float = 0.9,
    noise_skew: float | None = None,
    range_slope: float | None = None,
) -> Weather:
    """Synthesise a seeded hourly year (8760 h, non-leap, from 1 January) from monthly normals.

    Dry bulb, C, is the sum of

    1. a smooth seasonal curve: a periodic cubic spline through one node per
       mid-month whose node values are solved so that the curve's mean over every
       calendar month is exactly what is asked (a mean-preserving interpolation
       in the sense of Rymes and Myers 2001, Solar Energy 71(4), 225-231, with a
       periodic cubic spline, de Boor 1978, *A Practical Guide to Splines*);
    2. a daily synoptic anomaly ``a_d`` of the daily mean, one value per day:
       a stationary AR(1) series of unit variance, ``z_d = phi z_(d-1) +
       sqrt(1 - phi^2) e_d`` with ``phi`` the month's day-to-day autocorrelation
       (Wilks 2011, *Statistical Methods in the Atmospheric Sciences*, 3rd ed.,
       sec. 9.3.1), turned into a skewed variable of the month's standard
       deviation ``s`` and skewness ``g`` by the quadratic case of Fleishman's
       power method (Fleishman 1978, "A method for simulating non-normal
       distributions", Psychometrika 43(4), 521-532): ``a = s (b z + c (z^2 - 1))``
       with ``6 c - 4 c^3 = g`` (the root through 0) and ``b = sqrt(1 - 2 c^2)``,
       which gives mean 0, standard deviation ``s`` and skewness ``g`` exactly
       (a shifted, scaled non-central chi-square of one degree of freedom; its
       lag-1 autocorrelation is ``b^2 phi + 2 c^2 phi^2``, within 0.02 of
       ``phi`` for the Narvik values);
    3. a diurnal cycle: the day's minimum ``a_d - r_d / 2`` at 05:00 and maximum
       ``a_d + r_d / 2`` at 15:00 local time joined by half-cosines (rising over
       10 h, falling over 14 h to the next day's minimum), the piecewise-
       sinusoidal shape of the hourly-from-daily-extremes models compared by
       Reicosky et al. (1989), Agric. For. Meteorol. 46, 193-209, cf. Parton and
       Logan (1981), Agric. Meteorol. 23, 205-216, and the ASHRAE Handbook
       Fundamentals ch. 14 design-day profile (minimum near sunrise, maximum at
       15:00). The daily range ``r_d`` is the month's normal range (max - min)
       plus the month's ``range slope`` times ``a_d`` (not below 0): warm summer
       days are clear days with wide ranges and so are cold winter days, the
       cloud control of the diurnal range described by Dai, Trenberth and Karl
       (1999), J. Climate 12, 2451-2473.

    The spline in (1) is fitted to the normal's monthly mean (min + max) / 2
    minus the month's mean of (2) + (3), so every calendar month's mean dry bulb
    equals the normal exactly (to rounding) and the correction is smooth, with
    no steps at month boundaries.

    Variability parameters: each of ``noise_sd_c`` (standard deviation of the
    daily anomaly, C), ``noise_skew`` (its skewness) and ``range_slope`` (K of
    daily range per K of anomaly) applies to every month when given, and when
    None takes the normals' per-month values (``monthly_noise_sd_c``, ...) or,
    for normals without them, 2.5 C, 0 and 0. ``noise_autocorr_per_h``, when
    given, sets the day-to-day autocorrelation of every month to its 24th power
    (an hourly AR(1) of that parameter has that autocorrelation at 24 h); when
    None the normals' ``monthly_noise_lag1`` applies, or 0.97**24. With
    ``noise_sd_c=0`` the year is the smooth seasonal and diurnal cycles alone.

    Humidity: the monthly normal RH at the monthly mean temperature gives a
    monthly mean dew point (Magnus); the hourly dew point is a mean-preserving
    seasonal spline of those plus the same synoptic anomaly (air masses move
    temperature and humidity together; between days it follows the same
    half-cosine ramp as (3)), capped at the dry bulb. The dew point has no
    diurnal cycle, so RH is highest at dawn and lowest in the afternoon; monthly
    mean RH stays within a few % of the normal.

    Pressure: the standard atmosphere at the site elevation
    (:func:`standard_pressure_pa`), constant. Wind speed, m/s: the magnitude of a
    2-D wind whose components are independent AR(1) Gaussian series (lag-1
    autocorrelation ``wind_autocorr_per_h``), hence Weibull-distributed with
    shape k = 2 (Rayleigh) and mean ``wind_mean_m_s``; an assumption, not a
    Narvik statistic.

    Random numbers come from ``numpy.random.default_rng(seed)``; the same seed
    gives bit-identical arrays.
    """
    if noise_sd_c is not None and noise_sd_c < 0.0:
        raise ValueError(f"noise_sd_c must be >= 0, got {noise_sd_c}")
    if noise_autocorr_per_h is not None and not 0.0 <= noise_autocorr_per_h < 1.0:
        raise ValueError(f"noise_autocorr_per_h must be in [0, 1), got {noise_autocorr_per_h}")
    if noise_skew is not None:
        _check_noise_skew((noise_skew,), "noise_skew")
    if range_slope is not None and not math.isfinite(range_slope):
        raise ValueError(f"range_slope must be a finite number, got {range_slope}")
    if not 0.0 <= wind_autocorr_per_h < 1.0:
        raise ValueError(f"wind_autocorr_per_h must be in [0, 1), got {wind_autocorr_per_h}")
    if wind_mean_m_s < 0.0:
        raise ValueError(f"wind_mean_m_s must be >= 0, got {wind_mean_m_s}")

    sd_c = _per_month(noise_sd_c, normals.monthly_noise_sd_c, DEFAULT_NOISE_SD_C)
    skew = _per_month(noise_skew, normals.monthly_noise_skew, 0.0)
    slope = _per_month(range_slope, normals.monthly_range_slope, 0.0)
    lag1 = _per_month(
        None if noise_autocorr_per_h is None else noise_autocorr_per_h**HOURS_PER_DAY,
        normals.monthly_noise_lag1,
        DEFAULT_NOISE_AUTOCORR_PER_H**HOURS_PER_DAY,
    )

    n = HOURS_NON_LEAP_YEAR
    n_days = n // HOURS_PER_DAY
    month, day, hour = _calendar(n)
    month_idx = month - 1
    day_month_idx = month_idx[::HOURS_PER_DAY]
    rng = np.random.default_rng(seed)
    # n draws of which the first n_days drive the daily anomaly: the wind draws that
    # follow stay where they were when the noise was hourly, so a seed's wind is unchanged.
    innovations = rng.standard_normal(n)
    wind_xy = _ar1(rng.standard_normal(n) + 1j * rng.standard_normal(n), wind_autocorr_per_h)

    z = _ar1_varying(innovations[:n_days], lag1[day_month_idx])
    anomaly_c = sd_c[day_month_idx] * _fleishman_quadratic(z, skew[day_month_idx])

    lo = np.asarray(normals.monthly_min_c)
    hi = np.asarray(normals.monthly_max_c)
    mean_c = (lo + hi) / 2.0
    range_c = np.maximum((hi - lo)[day_month_idx] + slope[day_month_idx] * anomaly_c, 0.0)
    fluctuation_c = _hourly_from_daily_extremes(
        anomaly_c - range_c / 2.0, anomaly_c + range_c / 2.0
    )
    noise_c = _hourly_from_daily_extremes(anomaly_c, anomaly_c)

    # Hours are sampled at the end of each hour (EPW convention): t = 1, 2, ... h.
    time_h = np.arange(1, n + 1, dtype=float)
    basis, month_average = _mean_preserving_spline_basis(month_idx, time_h)
    targets = np.column_stack(
        [
            mean_c - _monthly_mean(month_idx, fluctuation_c),
            np.asarray(dew_point_c(mean_c, np.asarray(normals.monthly_rh_pct)))
            - _monthly_mean(month_idx, noise_c),
        ]
    )
    seasonal = basis @ np.linalg.solve(month_average, targets)
    dry_bulb = seasonal[:, 0] + fluctuation_c
    dew = np.minimum(seasonal[:, 1] + noise_c, dry_bulb)
    rh = np.minimum(np.asarray(relative_humidity_pct(dry_bulb, dew)), 100.0)

    rayleigh_sigma_m_s = wind_mean_m_s / math.sqrt(math.pi / 2.0)
    wind = rayleigh_sigma_m_s * np.abs(wind_xy)
    pressure = np.full(n, float(standard_pressure_pa(normals.elevation_m)))

    return Weather(
        source=f"typical_year:{normals.name} (seed {seed})",
        latitude_deg=normals.latitude_deg,
        longitude_deg=normals.longitude_deg,
        timezone_h=normals.timezone_h,
        elevation_m=normals.elevation_m,
        month=month,
        day=day,
        hour=hour,
        dry_bulb_c=dry_bulb,
        dew_point_c=dew,
        relative_humidity_pct=rh,
        pressure_pa=pressure,
        wind_speed_m_s=wind,
    )


def _per_month(
    override: float | None, monthly: tuple[float, ...] | None, default: float
) -> FloatArray:
    """12 values: ``override`` for every month, else the normals' ``monthly``, else ``default``."""
    if override is not None:
        return np.full(12, float(override))
    if monthly is not None:
        return np.asarray(monthly, dtype=float)
    return np.full(12, float(default))


def _fleishman_quadratic(z: FloatArray, skew: FloatArray) -> FloatArray:
    """Skewed variable of mean 0, variance 1 and skewness ``skew`` from standard normal ``z``.

    The quadratic case (d = 0) of Fleishman's power method (Fleishman 1978,
    Psychometrika 43(4), 521-532): ``y = b z + c (z^2 - 1)``. For z ~ N(0, 1),
    E[y] = 0, Var[y] = b^2 + 2 c^2 and E[y^3] = 6 b^2 c + 8 c^3; with
    ``b = sqrt(1 - 2 c^2)`` the variance is 1 and the skewness ``6 c - 4 c^3``.
    The cubic ``4 c^3 - 6 c + g = 0`` has three real roots for |g| < 2 sqrt 2;
    the one through c = 0 at g = 0 is, by the trigonometric solution,
    ``c = sqrt 2 cos(arccos(-g / (2 sqrt 2)) / 3 - 2 pi / 3)``.
    """
    g = np.asarray(skew, dtype=float)
    c = math.sqrt(2.0) * np.cos(np.arccos(-g / MAX_NOISE_SKEW) / 3.0 - 2.0 * math.pi / 3.0)
    b = np.sqrt(np.maximum(1.0 - 2.0 * c * c, 0.0))
    zz = np.asarray(z, dtype=float)
    out: FloatArray = b * zz + c * (zz * zz - 1.0)
    return out


def _ar1_varying(innovations: FloatArray, phi: FloatArray) -> FloatArray:
    """AR(1) of unit variance with a coefficient per step: x0 = e0,
    x_t = phi_t x_(t-1) + sqrt(1 - phi_t^2) e_t (stationary when phi is constant)."""
    e = np.asarray(innovations, dtype=float).tolist()
    p = np.asarray(phi, dtype=float).tolist()
    out = [0.0] * len(e)
    x = e[0] if e else 0.0
    for t in range(len(e)):
        if t:
            x = p[t] * x + math.sqrt(1.0 - p[t] * p[t]) * e[t]
        out[t] = x
    return np.asarray(out, dtype=float)


def _hourly_from_daily_extremes(tmin_c: FloatArray, tmax_c: FloatArray) -> FloatArray:
    """Hourly values (EPW convention) from daily minima and maxima: the two-half-cosine day.

    Element ``24 d + h`` is the value at ``h + 1``:00 of day ``d`` (the end of
    hour ``h``, as a :class:`Weather` row). Day ``d`` is at its minimum at 05:00
    (h = 4) and its maximum at 15:00 (h = 14); between them a rising half-cosine
    over 10 h; from 15:00 a falling half-cosine over 14 h to the next day's
    minimum at 05:00. Before 05:00 on the first day the curve falls from that
    day's own maximum and after 15:00 on the last day towards its own minimum
    (no neighbour). Linear in the inputs; NaN inputs give NaN on the hours they
    touch. See :func:`narvik.physics.weather_measured.hourly_from_daily`.
    """
    lo = np.asarray(tmin_c, dtype=float)
    hi = np.asarray(tmax_c, dtype=float)
    prev_hi = np.concatenate([hi[:1], hi[:-1]])[:, None]
    next_lo = np.concatenate([lo[1:], lo[-1:]])[:, None]
    lo2 = lo[:, None]
    hi2 = hi[:, None]
    t = np.arange(1, HOURS_PER_DAY + 1, dtype=float)[None, :]  # end of each hour
    rising = (1.0 - np.cos(np.pi * (t - 5.0) / 10.0)) / 2.0  # 0 at 05:00, 1 at 15:00
    # falling: 1 at 15:00, 0 at 05:00 the next day (14 h later)
    falling_early = (1.0 + np.cos(np.pi * (t + HOURS_PER_DAY - 15.0) / 14.0)) / 2.0
    falling_late = (1.0 + np.cos(np.pi * (t - 15.0) / 14.0)) / 2.0
    out = np.where(
        t < 5.0,
        lo2 + (prev_hi - lo2) * falling_early,
        np.where(
            t <= 15.0,
            lo2 + (hi2 - lo2) * rising,
            next_lo + (hi2 - next_lo) * falling_late,
        ),
    )
    result: FloatArray = out.reshape(-1)
    return result


def _ar1(innovations: np.ndarray, phi: float) -> np.ndarray:
    """Stationary AR(1) series of unit variance: x0 = e0, x_t = phi x_{t-1} + sqrt(1-phi^2) e_t.

    Works for real or complex innovations (a complex series is two independent
    real ones).
    """
    scale = math.sqrt(1.0 - phi * phi)
    e = innovations.tolist()
    out = [0j] * len(e) if np.iscomplexobj(innovations) else [0.0] * len(e)
    x = e[0]
    out[0] = x
    for t in range(1, len(e)):
        x = phi * x + scale * e[t]
        out[t] = x
    return np.asarray(out)


def _monthly_mean(month_idx: np.ndarray, values: np.ndarray) -> FloatArray:
    """Mean of ``values`` over each of the 12 months (month_idx 0..11)."""
    return np.bincount(month_idx, weights=values, minlength=12) / np.bincount(
        month_idx, minlength=12
    )


def _mean_preserving_spline_basis(
    month_idx: np.ndarray, time_h: np.ndarray
) -> tuple[FloatArray, FloatArray]:
    """Basis of a periodic cubic spline through 12 mid-month nodes, and its monthly averages.

    Returns ``(basis, month_average)``: ``basis @ v`` is the spline (sampled at
    ``time_h``) whose values at the mid-month nodes are ``v``;
    ``month_average @ v`` are its 12 monthly means. Solving
    ``month_average @ v = m`` gives the mean-preserving curve for means ``m``.
    """
    hours_in_month = np.bincount(month_idx, minlength=12).astype(float)
    period_h = float(hours_in_month.sum())
    start_h = np.concatenate([[0.0], np.cumsum(hours_in_month)[:-1]])
    nodes_h = start_h + hours_in_month / 2.0
    h = np.diff(np.append(nodes_h, nodes_h[0] + period_h))  # interval i: node i -> i+1

    # Periodic spline: second derivatives M = C^-1 D y (cyclic tridiagonal C).
    k = 12
    c = np.zeros((k, k))
    d = np.zeros((k, k))
    for i in range(k):
        prev = (i - 1) % k
        nxt = (i + 1) % k
        c[i, prev] += h[prev]
        c[i, i] += 2.0 * (h[prev] + h[i])
        c[i, nxt] += h[i]
        d[i, nxt] += 6.0 / h[i]
        d[i, i] -= 6.0 / h[i] + 6.0 / h[prev]
        d[i, prev] += 6.0 / h[prev]
    second_deriv = np.linalg.solve(c, d)  # row i: M_i as a linear function of y

    t = nodes_h[0] + (time_h - nodes_h[0]) % period_h
    interval = np.clip(np.searchsorted(nodes_h, t, side="right") - 1, 0, k - 1)
    hi_node = (interval + 1) % k
    width = h[interval]
    b = (t - nodes_h[interval]) / width
    a = 1.0 - b
    basis = np.zeros((t.size, k))
    rows = np.arange(t.size)
    basis[rows, interval] += a
    basis[rows, hi_node] += b
    basis += ((a**3 - a) * width**2 / 6.0)[:, None] * second_deriv[interval]
    basis += ((b**3 - b) * width**2 / 6.0)[:, None] * second_deriv[hi_node]

    month_average = np.stack([basis[month_idx == m].mean(axis=0) for m in range(k)])
    return basis, month_average
