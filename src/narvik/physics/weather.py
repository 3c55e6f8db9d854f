"""Hourly weather for a site: EPW files and built-in synthetic climates.

Two ways to get a :class:`Weather` (one row per hour of a year):

- :func:`read_epw` reads a standard EnergyPlus Weather file. Format: U.S. DOE,
  *EnergyPlus Auxiliary Programs*, "EnergyPlus Weather File (EPW) Data
  Dictionary" (8 header records, then one record of 35 comma-separated fields per
  hour). :func:`write_epw` writes one, atomically.
- :func:`typical_year` synthesises a seeded hourly year from monthly climate
  normals (:class:`ClimateNormals`); :func:`builtin_weather` does so for the
  climates shipped in :data:`BUILTIN_CLIMATES` (at least ``"narvik"``).

Humidity uses the Magnus formula with the coefficients of Alduchov and Eskridge
(1996); station pressure for a synthetic year is the standard atmosphere at the
site elevation.

Time convention: ``Weather.hour`` is 0..23 and the row with ``hour == h`` is the
EPW record for hour ``h + 1``, i.e. the hour from ``h``:00 to ``h + 1``:00 local
standard time; its temperature is the value at the end of that hour (EPW reports
dry bulb "at the time indicated").
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BUILTIN_CLIMATES",
    "ClimateNormals",
    "Weather",
    "WeatherFileError",
    "builtin_weather",
    "dew_point_c",
    "read_epw",
    "relative_humidity_pct",
    "saturation_vapour_pressure_pa",
    "standard_pressure_pa",
    "typical_year",
    "write_epw",
]

FloatArray = NDArray[np.float64]

HOURS_PER_DAY = 24
HOURS_NON_LEAP_YEAR = 8760
HOURS_LEAP_YEAR = 8784

# ---------------------------------------------------------------------------
# Psychrometrics and the standard atmosphere
# ---------------------------------------------------------------------------

# Magnus formula over liquid water, coefficients of Alduchov, O. A. and Eskridge,
# R. E. (1996), "Improved Magnus form approximation of saturation vapor pressure",
# J. Appl. Meteor. 35(4), 601-609 (their AERK fit; error < 0.4 % for -40..50 C).
MAGNUS_A = 17.625
MAGNUS_B_C = 243.04
MAGNUS_E0_PA = 610.94

# Standard atmosphere (troposphere): U.S. Standard Atmosphere 1976 / ICAO, as
# given in ASHRAE Handbook Fundamentals (2017), ch. 1, eq. (3).
STANDARD_PRESSURE_SEA_LEVEL_PA = 101_325.0
_STD_LAPSE_OVER_T0_PER_M = 2.25577e-5  # L / T0 = 0.0065 K/m / 288.15 K
_STD_EXPONENT = 5.2559  # g M / (R L)


def saturation_vapour_pressure_pa(temp_c: ArrayLike) -> FloatArray | float:
    """Saturation vapour pressure over liquid water, Pa.

    Magnus form ``e_s = 610.94 exp(17.625 T / (T + 243.04))`` with T in C
    (Alduchov and Eskridge 1996). At 20 C it gives 2333 Pa; the IAPWS value is
    2339 Pa (0.3 % lower). Saturation over water is used below 0 C too, as in
    WMO relative-humidity reporting.
    """
    t = np.asarray(temp_c, dtype=float)
    return MAGNUS_E0_PA * np.exp(MAGNUS_A * t / (MAGNUS_B_C + t))


def dew_point_c(dry_bulb_c: ArrayLike, relative_humidity_pct: ArrayLike) -> FloatArray | float:
    """Dew point, C, from dry bulb (C) and relative humidity (%, over water).

    Inverse of the Magnus formula (Alduchov and Eskridge 1996 coefficients):
    ``g = ln(RH/100) + a T / (b + T)``, ``Td = b g / (a - g)``. At 20 C and 50 %
    this gives 9.26 C (psychrometric tables: 9.3 C). Vectorised; raises
    ValueError if any relative humidity is <= 0.
    """
    t = np.asarray(dry_bulb_c, dtype=float)
    rh = np.asarray(relative_humidity_pct, dtype=float)
    if np.any(rh <= 0.0):
        raise ValueError("relative_humidity_pct must be > 0 for a dew point")
    g = np.log(rh / 100.0) + MAGNUS_A * t / (MAGNUS_B_C + t)
    return MAGNUS_B_C * g / (MAGNUS_A - g)


def relative_humidity_pct(dry_bulb_c: ArrayLike, dew_point_c: ArrayLike) -> FloatArray | float:
    """Relative humidity, % (over water), from dry bulb and dew point, C.

    ``RH = 100 e_s(Td) / e_s(T)`` with the Magnus formula (Alduchov and Eskridge
    1996); the exact inverse of :func:`dew_point_c`. Not clipped: a dew point
    above the dry bulb gives RH > 100 %.
    """
    t = np.asarray(dry_bulb_c, dtype=float)
    td = np.asarray(dew_point_c, dtype=float)
    return 100.0 * np.exp(MAGNUS_A * td / (MAGNUS_B_C + td) - MAGNUS_A * t / (MAGNUS_B_C + t))


def standard_pressure_pa(elevation_m: ArrayLike) -> FloatArray | float:
    """Standard-atmosphere station pressure at an elevation, Pa.

    ``p = 101325 (1 - 2.25577e-5 z)^5.2559`` with z in m: the troposphere of the
    U.S. Standard Atmosphere 1976, as ASHRAE Handbook Fundamentals (2017) ch. 1
    eq. (3). 101325 Pa at 0 m, 89875 Pa at 1000 m (table: 89876 Pa).
    """
    z = np.asarray(elevation_m, dtype=float)
    return STANDARD_PRESSURE_SEA_LEVEL_PA * (1.0 - _STD_LAPSE_OVER_T0_PER_M * z) ** _STD_EXPONENT


# ---------------------------------------------------------------------------
# The Weather record
# ---------------------------------------------------------------------------


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
            arr = np.array(getattr(self, name), dtype=dtype)  # a private copy
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


# ---------------------------------------------------------------------------
# EPW reading and writing
# ---------------------------------------------------------------------------


class WeatherFileError(ValueError):
    """Bad weather file; the message names the file and the 1-based line (and field)."""


# (attribute name, 0-based EPW field index, missing-value threshold or None,
#  valid minimum, valid maximum). Thresholds and ranges from the EPW data
#  dictionary, except dry bulb and dew point whose lower limit is widened from
#  -70 to -90 C so that record-cold sites read; a value >= the threshold is
#  "missing".
_EPW_NUMERIC_FIELDS: tuple[tuple[str, int, float | None, float, float], ...] = (
    ("month", 1, None, 1, 12),
    ("day", 2, None, 1, 31),
    ("hour", 3, None, 1, 24),
    ("dry_bulb_c", 6, 99.9, -90.0, 70.0),
    ("dew_point_c", 7, 99.9, -90.0, 70.0),
    ("relative_humidity_pct", 8, 999.0, 0.0, 110.0),
    ("pressure_pa", 9, 999_999.0, 31_000.0, 120_000.0),
    ("wind_speed_m_s", 21, 999.0, 0.0, 40.0),
)
_EPW_REQUIRED_FIELDS = ("month", "day", "hour", "dry_bulb_c")
_EPW_MIN_FIELDS = 22  # year .. wind speed; fields 23..35 are not used by narvik
_EPW_FIELDS = 35
_EPW_HEADER_SEARCH_LINES = 20


def read_epw(path: str | os.PathLike[str]) -> Weather:
    """Read an hourly EnergyPlus Weather (EPW) file.

    Format: EnergyPlus *Auxiliary Programs*, "EnergyPlus Weather File (EPW) Data
    Dictionary". The first record must be ``LOCATION,city,state,country,source,
    WMO,lat,lon,tz,elevation``; data start after the ``DATA PERIODS`` record
    (the 8th line in a standard file) and must be one record per hour for a whole
    calendar year from 1 January: 8760 rows, or 8784 with 29 February. Each row
    needs at least the first 22 fields (year .. wind speed); the remaining
    fields, if present, are not read.

    Validation (each failure raises :class:`WeatherFileError` naming the file and
    the 1-based line, and the field where one is at fault): month 1..12, day
    valid, hour 1..24 and in calendar order; dry bulb a number in -90..70 C and
    never the missing code 99.9. Dew point, relative humidity, station pressure
    and wind speed must be numbers in the data dictionary's valid range, or the
    dictionary's missing code (or blank): missing values are filled by linear
    interpolation in time from the nearest valid hours (held constant before the
    first and after the last). If a whole column is missing, dew point is
    computed from relative humidity or vice versa (Magnus), pressure becomes the
    standard atmosphere at the file's elevation, and missing wind speed on every
    row is an error.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise WeatherFileError(f"{p}: no such weather file") from None
    except OSError as exc:
        raise WeatherFileError(f"{p}: cannot read weather file: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff").replace("\r", "")
    lines = text.split("\n")

    latitude_deg, longitude_deg, timezone_h, elevation_m = _parse_location(p, lines)
    data_start = _find_data_start(p, lines)  # 0-based index of the first data line
    rows = lines[data_start:]
    while rows and not rows[-1].strip():
        rows.pop()
    if not rows:
        raise WeatherFileError(f"{p}:{data_start + 1}: no data rows after the DATA PERIODS record")

    table = _parse_rows(p, data_start, rows)
    values: dict[str, FloatArray] = {}
    missing: dict[str, np.ndarray] = {}
    for (name, index, missing_code, lo, hi), arr in zip(_EPW_NUMERIC_FIELDS, table.T, strict=True):
        is_missing = (
            arr >= missing_code if missing_code is not None else np.zeros(arr.size, dtype=bool)
        )
        if name == "dry_bulb_c" and is_missing.any():
            i = int(np.argmax(is_missing))
            raise WeatherFileError(
                f"{p}:{data_start + i + 1}: field '{name}' ({index + 1}): missing value "
                f"({arr[i]:g}); narvik needs a dry bulb temperature on every row"
            )
        bad = ~is_missing & ((arr < lo) | (arr > hi))
        if bad.any():
            i = int(np.argmax(bad))
            raise WeatherFileError(
                f"{p}:{data_start + i + 1}: field '{name}' ({index + 1}): {arr[i]:g} "
                f"is outside the valid range {lo:g}..{hi:g}"
            )
        if name in ("month", "day", "hour"):
            frac = arr != np.round(arr)
            if frac.any():
                i = int(np.argmax(frac))
                raise WeatherFileError(
                    f"{p}:{data_start + i + 1}: field '{name}' ({index + 1}): "
                    f"not an integer: {arr[i]:g}"
                )
        values[name] = np.ascontiguousarray(arr)
        missing[name] = is_missing

    n = len(rows)
    if n not in (HOURS_NON_LEAP_YEAR, HOURS_LEAP_YEAR):
        line = data_start + min(n, HOURS_LEAP_YEAR) + 1
        raise WeatherFileError(
            f"{p}:{line}: expected {HOURS_NON_LEAP_YEAR} or {HOURS_LEAP_YEAR} hourly data rows "
            f"(a whole year), found {n}"
        )
    month, day, hour = _calendar(n)
    got = (values["month"].astype(np.int64), values["day"].astype(np.int64))
    got_hour = values["hour"].astype(np.int64) - 1
    wrong = (got[0] != month) | (got[1] != day) | (got_hour != hour)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise WeatherFileError(
            f"{p}:{data_start + i + 1}: row {i + 1} of {n} is month {got[0][i]}, day {got[1][i]}, "
            f"hour {got_hour[i] + 1}; expected month {month[i]}, day {day[i]}, hour {hour[i] + 1} "
            "(one row per hour, in order, from 1 January hour 1)"
        )

    first_line = data_start + 1
    dry_bulb = values["dry_bulb_c"]
    dew, dew_all_missing = _fill_missing(values["dew_point_c"], missing["dew_point_c"])
    rh, rh_all_missing = _fill_missing(
        values["relative_humidity_pct"], missing["relative_humidity_pct"]
    )
    if dew_all_missing and rh_all_missing:
        raise WeatherFileError(
            f"{p}:{first_line}: fields 'dew_point_c' (8) and 'relative_humidity_pct' (9) "
            "are missing on every row"
        )
    if dew_all_missing:
        if np.any(rh <= 0.0):
            i = int(np.argmax(rh <= 0.0))
            raise WeatherFileError(
                f"{p}:{data_start + i + 1}: field 'relative_humidity_pct' (9): 0 % with no dew "
                "point in the file; cannot derive a dew point"
            )
        dew = np.asarray(dew_point_c(dry_bulb, rh))
    elif rh_all_missing:
        rh = np.asarray(relative_humidity_pct(dry_bulb, dew))
    pressure, pressure_all_missing = _fill_missing(values["pressure_pa"], missing["pressure_pa"])
    if pressure_all_missing:
        pressure = np.full(n, float(standard_pressure_pa(elevation_m)))
    wind, wind_all_missing = _fill_missing(values["wind_speed_m_s"], missing["wind_speed_m_s"])
    if wind_all_missing:
        raise WeatherFileError(
            f"{p}:{first_line}: field 'wind_speed_m_s' (22) is missing on every row"
        )

    return Weather(
        source=str(p),
        latitude_deg=latitude_deg,
        longitude_deg=longitude_deg,
        timezone_h=timezone_h,
        elevation_m=elevation_m,
        month=month,
        day=day,
        hour=hour,
        dry_bulb_c=dry_bulb,
        dew_point_c=dew,
        relative_humidity_pct=rh,
        pressure_pa=pressure,
        wind_speed_m_s=wind,
    )


def _parse_location(p: Path, lines: list[str]) -> tuple[float, float, float, float]:
    """Latitude, longitude, time zone and elevation from the LOCATION record (line 1)."""
    first = lines[0] if lines else ""
    fields = [f.strip() for f in first.split(",")]
    if fields[0].upper() != "LOCATION":
        raise WeatherFileError(
            f"{p}:1: expected the EPW 'LOCATION' header record, found {first[:40]!r}"
        )
    if len(fields) < 10:
        raise WeatherFileError(
            f"{p}:1: LOCATION record needs 10 fields "
            "(LOCATION,city,state,country,source,WMO,lat,lon,tz,elevation), "
            f"found {len(fields)}"
        )
    out = []
    specs = (
        ("latitude_deg", 6, -90.0, 90.0),
        ("longitude_deg", 7, -180.0, 180.0),
        ("timezone_h", 8, -12.0, 14.0),
        ("elevation_m", 9, -1000.0, 9999.9),
    )
    for name, index, lo, hi in specs:
        text = fields[index]
        try:
            value = float(text)
        except ValueError:
            raise WeatherFileError(
                f"{p}:1: LOCATION field '{name}' ({index + 1}): not a number: {text!r}"
            ) from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise WeatherFileError(
                f"{p}:1: LOCATION field '{name}' ({index + 1}): {text!r} is outside "
                f"the valid range {lo:g}..{hi:g}"
            )
        out.append(value)
    return out[0], out[1], out[2], out[3]


def _find_data_start(p: Path, lines: list[str]) -> int:
    """0-based index of the first data line: the line after the DATA PERIODS record."""
    for i, line in enumerate(lines[:_EPW_HEADER_SEARCH_LINES]):
        if line.upper().startswith("DATA PERIODS"):
            fields = [f.strip() for f in line.split(",")]
            per_hour = fields[2] if len(fields) > 2 else ""
            try:
                records_per_hour = int(per_hour)
            except ValueError:
                raise WeatherFileError(
                    f"{p}:{i + 1}: DATA PERIODS: records per hour is not an integer: {per_hour!r}"
                ) from None
            if records_per_hour != 1:
                raise WeatherFileError(
                    f"{p}:{i + 1}: DATA PERIODS: {records_per_hour} records per hour; "
                    "only hourly files (1 record per hour) are supported"
                )
            return i + 1
    raise WeatherFileError(
        f"{p}:{min(len(lines), 8)}: no 'DATA PERIODS' header record in the first "
        f"{_EPW_HEADER_SEARCH_LINES} lines (a standard EPW file has it on line 8)"
    )


def _parse_rows(p: Path, data_start: int, rows: list[str]) -> FloatArray:
    """The numeric EPW columns narvik reads, shape (rows, len(_EPW_NUMERIC_FIELDS)).

    Fast path: numpy's C parser. If it fails (a bad or blank value, a short or
    blank row), the slow path finds and names the first fault, or, where the only
    trouble was blank optional values, returns them as the field's missing code.
    """
    usecols = [index for _, index, _, _, _ in _EPW_NUMERIC_FIELDS]
    if all(row.strip() for row in rows):
        try:
            table = np.loadtxt(
                rows, delimiter=",", usecols=usecols, comments=None, dtype=np.float64, ndmin=2
            )
        except ValueError:
            pass
        else:
            if table.shape[0] == len(rows) and np.isfinite(table).all():
                return table
    return _parse_rows_slowly(p, data_start, rows)


def _parse_rows_slowly(p: Path, data_start: int, rows: list[str]) -> FloatArray:
    """Row-by-row parse of the numeric columns, raising WeatherFileError at the first fault."""
    split_rows = [line.split(",", _EPW_MIN_FIELDS) for line in rows]
    for i, parts in enumerate(split_rows):
        if len(parts) < _EPW_MIN_FIELDS:
            raise WeatherFileError(
                f"{p}:{data_start + i + 1}: expected at least {_EPW_MIN_FIELDS} comma-separated "
                f"fields (year .. wind speed; a full EPW row has {_EPW_FIELDS}), "
                f"found {len(parts)}"
            )
    table = np.empty((len(rows), len(_EPW_NUMERIC_FIELDS)))
    for j, (name, index, missing_code, _, _) in enumerate(_EPW_NUMERIC_FIELDS):
        optional = name not in _EPW_REQUIRED_FIELDS
        for i, parts in enumerate(split_rows):
            text = parts[index].strip()
            if optional and not text and missing_code is not None:
                table[i, j] = missing_code
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise WeatherFileError(
                    f"{p}:{data_start + i + 1}: field '{name}' ({index + 1}): "
                    f"not a number: {text!r}"
                )
            table[i, j] = value
    return table


def _fill_missing(values: FloatArray, is_missing: np.ndarray) -> tuple[FloatArray, bool]:
    """Linear interpolation in time over missing values; (filled, whether all were missing)."""
    if not is_missing.any():
        return values, False
    if is_missing.all():
        return values, True
    idx = np.arange(values.size)
    ok = ~is_missing
    filled = values.copy()
    filled[is_missing] = np.interp(idx[is_missing], idx[ok], values[ok])
    return filled, False


# Values written for the EPW fields narvik does not model: the data dictionary's
# missing codes (EnergyPlus sets missing direct/diffuse radiation to 0 and
# derives horizontal infrared from temperatures when it is missing), or "no
# observation" for present weather. Index = 0-based field number.
_EPW_UNMODELLED: dict[int, str] = {
    10: "9999",  # extraterrestrial horizontal radiation, Wh/m2
    11: "9999",  # extraterrestrial direct normal radiation, Wh/m2
    12: "9999",  # horizontal infrared radiation intensity, Wh/m2
    13: "9999",  # global horizontal radiation, Wh/m2
    14: "9999",  # direct normal radiation, Wh/m2
    15: "9999",  # diffuse horizontal radiation, Wh/m2
    16: "999999",  # global horizontal illuminance, lux
    17: "999999",  # direct normal illuminance, lux
    18: "999999",  # diffuse horizontal illuminance, lux
    19: "9999",  # zenith luminance, Cd/m2
    20: "999",  # wind direction, deg
    22: "99",  # total sky cover, tenths
    23: "99",  # opaque sky cover, tenths
    24: "9999",  # visibility, km
    25: "99999",  # ceiling height, m
    26: "9",  # present weather observation: 9 = not made
    27: "999999999",  # present weather codes
    28: "999",  # precipitable water, mm
    29: ".999",  # aerosol optical depth
    30: "999",  # snow depth, cm
    31: "99",  # days since last snowfall
    32: "999",  # albedo
    33: "999",  # liquid precipitation depth, mm
    34: "99",  # liquid precipitation quantity, h
}
_EPW_FLAGS = "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9?9?9*9*9?9?9?9"
_EPW_TAIL = ",".join(_EPW_UNMODELLED[i] for i in range(22, _EPW_FIELDS))
_EPW_MIDDLE = ",".join(_EPW_UNMODELLED[i] for i in range(10, 21))


def write_epw(
    path: str | os.PathLike[str],
    weather: Weather,
    *,
    city: str = "Narvik",
    country: str = "NOR",
) -> None:
    """Write ``weather`` as an hourly EPW file (EPW Data Dictionary format), atomically.

    Writes the 8 header records and 35 fields per hour: dry bulb and dew point to
    0.1 C, relative humidity to 1 %, station pressure to 1 Pa, wind speed to
    0.1 m/s; fields narvik does not model carry the data dictionary's missing
    codes (wind direction 999, radiation 9999, ...). The year column is 2023 for
    8760 rows or 2024 for 8784 rows (any year with the right calendar would do).
    The file is written to a temporary file in the same directory and moved into
    place with :func:`os.replace`, so a failure leaves no partial file.
    """
    p = Path(path)
    n = weather.hours
    if n not in (HOURS_NON_LEAP_YEAR, HOURS_LEAP_YEAR):
        raise ValueError(
            f"EPW needs {HOURS_NON_LEAP_YEAR} or {HOURS_LEAP_YEAR} hourly rows, got {n}"
        )
    year = 2023 if n == HOURS_NON_LEAP_YEAR else 2024
    weekday = datetime.date(year, 1, 1).strftime("%A")

    def clean(text: str) -> str:
        return text.replace(",", " ").replace("\n", " ").strip()

    header = [
        f"LOCATION,{clean(city)},-,{clean(country)},{clean(weather.source)[:60]},999999,"
        f"{weather.latitude_deg:.6g},{weather.longitude_deg:.6g},{weather.timezone_h:.6g},"
        f"{weather.elevation_m:.6g}",
        "DESIGN CONDITIONS,0",
        "TYPICAL/EXTREME PERIODS,0",
        "GROUND TEMPERATURES,0",
        f"HOLIDAYS/DAYLIGHT SAVINGS,{'Yes' if n == HOURS_LEAP_YEAR else 'No'},0,0,0",
        "COMMENTS 1,written by narvik.physics.weather.write_epw",
        "COMMENTS 2,fields not modelled by narvik carry the EPW missing codes",
        f"DATA PERIODS,1,1,Data,{weekday},1/1,12/31",
    ]
    rows = [
        f"{year},{m},{d},{h + 1},60,{_EPW_FLAGS},{t:.1f},{td:.1f},{rh:.0f},{pa:.0f},"
        f"{_EPW_MIDDLE},{ws:.1f},{_EPW_TAIL}"
        for m, d, h, t, td, rh, pa, ws in zip(
            weather.month.tolist(),
            weather.day.tolist(),
            weather.hour.tolist(),
            weather.dry_bulb_c.tolist(),
            weather.dew_point_c.tolist(),
            np.clip(weather.relative_humidity_pct, 0.0, 110.0).tolist(),
            weather.pressure_pa.tolist(),
            weather.wind_speed_m_s.tolist(),
            strict=True,
        )
    ]
    text = "\n".join(header + rows) + "\n"
    _atomic_write_text(p, text)


def _atomic_write_text(p: Path, text: str) -> None:
    """Write text to a temporary file beside ``p``, then os.replace it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


# ---------------------------------------------------------------------------
# Climate normals and the synthetic typical year
# ---------------------------------------------------------------------------


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


def builtin_weather(name: str, seed: int = 0) -> Weather:
    """The seeded synthetic year (:func:`typical_year`) of a built-in climate.

    ``name`` is a key of :data:`BUILTIN_CLIMATES` (case-insensitive); an unknown
    name raises ValueError listing the known ones. ``source`` is
    ``"builtin:<name> (seed <seed>)"``.
    """
    key = name.strip().lower()
    if key not in BUILTIN_CLIMATES:
        known = ", ".join(sorted(BUILTIN_CLIMATES))
        raise ValueError(f"unknown built-in climate {name!r}; known: {known}")
    weather = typical_year(BUILTIN_CLIMATES[key], seed)
    return replace(weather, source=f"builtin:{key} (seed {seed})")


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
