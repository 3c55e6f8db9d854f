"""The :class:`Weather` record: hourly weather at a site for one year, and its calendar.

Time convention: ``Weather.hour`` is 0..23 and the row with ``hour == h`` is the
EPW record for hour ``h + 1``, i.e. the hour from ``h``:00 to ``h + 1``:00 local
standard time; its temperature is the value at the end of that hour (EPW reports
dry bulb "at the time indicated").

Why a module of its own: both producers of a Weather, :mod:`narvik.physics.epw`
(files) and :mod:`narvik.physics.climate` (synthetic years), need the record and
the calendar, and :mod:`narvik.physics.weather` (the public facade, with
``builtin_weather``) needs both producers. Keeping the record here, importing
nothing from narvik, makes the graph acyclic::

    psychrometrics, weather_series  <-  epw, climate  <-  weather

so any of these modules can be imported first, on its own. Import ``Weather``
from :mod:`narvik.physics.weather`, which re-exports it; ``_calendar`` and the
``HOURS_*`` constants are for the modules of :mod:`narvik.physics` only.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["HOURS_LEAP_YEAR", "HOURS_NON_LEAP_YEAR", "HOURS_PER_DAY", "Weather"]

FloatArray = NDArray[np.float64]

HOURS_PER_DAY = 24
HOURS_NON_LEAP_YEAR = 8760
HOURS_LEAP_YEAR = 8784


@dataclass(frozen=True, eq=False)
class Weather:
    """Hourly weather at a site: one row per hour of a year (8760 rows, or 8784 for leap-year EPW).

    Arrays are read-only numpy arrays of equal length. ``hour`` is 0..23 (the EPW
    hour ending at ``h`` is stored as ``h - 1``), local standard time, whose
    offset from UTC is ``timezone_h``. Equality is identity (arrays do not
    compare as one truth value); compare fields with numpy instead.
    """

    source: str
    latitude_deg: float
    longitude_deg: float
    timezone_h: float
    elevation_m: float
    month: np.ndarray
    day: np.ndarray
    hour: np.ndarray
    dry_bulb_c: np.ndarray
    dew_point_c: np.ndarray
    relative_humidity_pct: np.ndarray
    pressure_pa: np.ndarray
    wind_speed_m_s: np.ndarray

    def __post_init__(self) -> None:
        lengths = set()
        for name, dtype in _WEATHER_ARRAYS:
            arr: np.ndarray = np.array(getattr(self, name), dtype=dtype)  # a private copy
            if arr.ndim != 1:
                raise ValueError(f"Weather.{name} must be one-dimensional, got shape {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
            lengths.add(arr.size)
        if len(lengths) != 1:
            raise ValueError(f"Weather arrays differ in length: {sorted(lengths)}")
        for name in ("latitude_deg", "longitude_deg", "timezone_h", "elevation_m"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.month.size and (self.month.min() < 1 or self.month.max() > 12):
            raise ValueError("Weather.month must be in 1..12")
        if self.hour.size and (self.hour.min() < 0 or self.hour.max() > 23):
            raise ValueError("Weather.hour must be in 0..23")

    @property
    def hours(self) -> int:
        """Number of hourly rows."""
        return int(self.dry_bulb_c.size)

    def monthly_mean_c(self) -> FloatArray:
        """Mean dry bulb of each calendar month, C: 12 values (NaN for a month with no rows)."""
        idx = self.month - 1
        total = np.bincount(idx, weights=self.dry_bulb_c, minlength=12)
        count = np.bincount(idx, minlength=12)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / count


_WEATHER_ARRAYS: tuple[tuple[str, type], ...] = (
    ("month", np.int64),
    ("day", np.int64),
    ("hour", np.int64),
    ("dry_bulb_c", np.float64),
    ("dew_point_c", np.float64),
    ("relative_humidity_pct", np.float64),
    ("pressure_pa", np.float64),
    ("wind_speed_m_s", np.float64),
)


def _calendar(hours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Month (1..12), day of month and hour (0..23) of each hour of a year from 1 January."""
    if hours == HOURS_NON_LEAP_YEAR:
        year = 2023
    elif hours == HOURS_LEAP_YEAR:
        year = 2024
    else:
        raise ValueError(
            f"a year has {HOURS_NON_LEAP_YEAR} or {HOURS_LEAP_YEAR} hours, not {hours}"
        )
    days_in_month = np.array([calendar.monthrange(year, m)[1] for m in range(1, 13)])
    month_of_day = np.repeat(np.arange(1, 13), days_in_month)
    day_of_month = np.concatenate([np.arange(1, n + 1) for n in days_in_month])
    month = np.repeat(month_of_day, HOURS_PER_DAY)
    day = np.repeat(day_of_month, HOURS_PER_DAY)
    hour = np.tile(np.arange(HOURS_PER_DAY), month_of_day.size)
    return month, day, hour
