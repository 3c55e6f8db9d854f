"""Climate normals and the seeded synthetic typical year built from them.

:class:`ClimateNormals` holds the monthly normals of a site (mean daily minimum
and maximum dry bulb, mean relative humidity); :func:`typical_year` synthesises a
seeded hourly year (a :class:`Weather`) from them whose calendar months have
exactly the normal mean dry bulb. :data:`BUILTIN_CLIMATES` holds the climates
shipped with narvik (at least ``"narvik"``); ``builtin_weather`` in
:mod:`narvik.physics.weather` picks one by name.

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

__all__ = ["BUILTIN_CLIMATES", "ClimateNormals", "typical_year"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ClimateNormals:
    """Monthly climate normals of a site, enough to synthesise an hourly year.

    ``monthly_min_c``/``monthly_max_c`` are the mean daily minimum and maximum
    dry bulb of each month, C; ``monthly_rh_pct`` the mean relative humidity, %;
    ``source`` cites where they come from.
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

    def __post_init__(self) -> None:
        for name in ("monthly_min_c", "monthly_max_c", "monthly_rh_pct"):
            values = tuple(float(v) for v in getattr(self, name))
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

    def monthly_mean_c(self) -> tuple[float, ...]:
        """Monthly mean dry bulb taken as (mean daily min + mean daily max) / 2, C."""
        return tuple(
            (lo + hi) / 2.0 for lo, hi in zip(self.monthly_min_c, self.monthly_max_c, strict=True)
        )


BUILTIN_CLIMATES: dict[str, ClimateNormals] = {
    "narvik": ClimateNormals(
        name="narvik",
        latitude_deg=68.44,
        longitude_deg=17.43,
        timezone_h=1.0,
        elevation_m=30.0,
        monthly_min_c=(-6.0, -4.0, -3.0, 0.0, 4.0, 8.0, 11.0, 10.0, 7.0, 2.0, 0.0, -3.0),
        monthly_max_c=(-2.0, 1.0, 3.0, 6.0, 12.0, 15.0, 18.0, 18.0, 14.0, 7.0, 3.0, 2.0),
        monthly_rh_pct=(78.0, 77.0, 74.0, 70.0, 68.0, 72.0, 76.0, 78.0, 79.0, 79.0, 79.0, 79.0),
        source=(
            "Temperature: MET Norway (seklima) normals 1991-2020 for Narvik, as summarised "
            "in the project MISSION.md (mean daily min/max per month; annual mean about "
            "3.8 C). Note: these monthly (min + max) / 2 average 5.1 C, not the 3.8 C quoted "
            "beside them. Relative humidity: an assumption (coastal northern Norway, "
            "68-79 %, driest in late spring), not a published Narvik normal."
        ),
    ),
}


def typical_year(
    normals: ClimateNormals,
    seed: int = 0,
    *,
    noise_sd_c: float = 2.5,
    noise_autocorr_per_h: float = 0.97,
    wind_mean_m_s: float = 5.0,
    wind_autocorr_per_h: float = 0.9,
) -> Weather:
    """Synthesise a seeded hourly year (8760 h, non-leap, from 1 January) from monthly normals.

    Dry bulb, C, is the sum of

    1. a smooth seasonal curve: a periodic cubic spline through one node per
       mid-month whose node values are solved so that the curve's mean over every
       calendar month is exactly what is asked (a mean-preserving interpolation
       in the sense of Rymes and Myers 2001, Solar Energy 71(4), 225-231, with a
       periodic cubic spline, de Boor 1978, *A Practical Guide to Splines*);
    2. a diurnal cycle of half-amplitude (max - min) / 2 with its minimum at
       05:00 and maximum at 15:00 local time: two half-cosines (rising over 10 h,
       falling over 14 h), the piecewise-sinusoidal shape of the hourly-from-
       daily-extremes models compared by Reicosky et al. (1989), Agric. For.
       Meteorol. 46, 193-209, cf. Parton and Logan (1981), Agric. Meteorol. 23,
       205-216, and the ASHRAE Handbook Fundamentals ch. 14 design-day profile
       (minimum near sunrise, maximum at 15:00);
    3. seeded AR(1) synoptic noise of standard deviation ``noise_sd_c`` and lag-1
       autocorrelation ``noise_autocorr_per_h``.

    The spline in (1) is fitted to the normal's monthly mean (min + max) / 2
    minus the month's mean of (2) + (3), so every calendar month's mean dry bulb
    equals the normal exactly (to rounding) and the correction is smooth, with
    no steps at month boundaries.

    Humidity: the monthly normal RH at the monthly mean temperature gives a
    monthly mean dew point (Magnus); the hourly dew point is a mean-preserving
    seasonal spline of those plus the same synoptic noise (air masses move
    temperature and humidity together), capped at the dry bulb. The dew point
    has no diurnal cycle, so RH is highest at dawn and lowest in the afternoon;
    monthly mean RH stays within a few % of the normal.

    Pressure: the standard atmosphere at the site elevation
    (:func:`standard_pressure_pa`), constant. Wind speed, m/s: the magnitude of a
    2-D wind whose components are independent AR(1) Gaussian series (lag-1
    autocorrelation ``wind_autocorr_per_h``), hence Weibull-distributed with
    shape k = 2 (Rayleigh) and mean ``wind_mean_m_s``; an assumption, not a
    Narvik statistic.

    Random numbers come from ``numpy.random.default_rng(seed)``; the same seed
    gives bit-identical arrays.
    """
    if noise_sd_c < 0.0:
        raise ValueError(f"noise_sd_c must be >= 0, got {noise_sd_c}")
    if not 0.0 <= noise_autocorr_per_h < 1.0:
        raise ValueError(f"noise_autocorr_per_h must be in [0, 1), got {noise_autocorr_per_h}")
    if not 0.0 <= wind_autocorr_per_h < 1.0:
        raise ValueError(f"wind_autocorr_per_h must be in [0, 1), got {wind_autocorr_per_h}")
    if wind_mean_m_s < 0.0:
        raise ValueError(f"wind_mean_m_s must be >= 0, got {wind_mean_m_s}")

    n = HOURS_NON_LEAP_YEAR
    month, day, hour = _calendar(n)
    month_idx = month - 1
    rng = np.random.default_rng(seed)
    noise_c = noise_sd_c * _ar1(rng.standard_normal(n), noise_autocorr_per_h)
    wind_xy = _ar1(rng.standard_normal(n) + 1j * rng.standard_normal(n), wind_autocorr_per_h)

    # Hours are sampled at the end of each hour (EPW convention): t = 1, 2, ... h.
    time_h = np.arange(1, n + 1, dtype=float)
    hour_of_day = time_h % HOURS_PER_DAY
    diurnal = _diurnal_shape(hour_of_day)

    lo = np.asarray(normals.monthly_min_c)
    hi = np.asarray(normals.monthly_max_c)
    mean_c = (lo + hi) / 2.0
    half_range_c = (hi - lo) / 2.0
    fluctuation_c = half_range_c[month_idx] * diurnal + noise_c

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


def _diurnal_shape(hour_of_day: np.ndarray) -> FloatArray:
    """Diurnal shape in -1..1: -1 at 05:00, +1 at 15:00, half-cosines between."""
    h = np.asarray(hour_of_day, dtype=float) % HOURS_PER_DAY
    rising = (h >= 5.0) & (h <= 15.0)
    falling_h = (h - 15.0) % HOURS_PER_DAY  # 0..14 from 15:00 to 05:00
    return np.where(rising, -np.cos(np.pi * (h - 5.0) / 10.0), np.cos(np.pi * falling_h / 14.0))


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
