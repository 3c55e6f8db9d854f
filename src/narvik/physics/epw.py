"""EnergyPlus Weather (EPW) files: read one into a :class:`Weather`, write one from it.

Format: U.S. DOE, *EnergyPlus Auxiliary Programs*, "EnergyPlus Weather File (EPW)
Data Dictionary" (8 header records, then one record of 35 comma-separated fields
per hour). :func:`read_epw` validates and reads an hourly file, naming the file,
line and field of any fault (:class:`WeatherFileError`); :func:`write_epw`
writes one atomically (:func:`narvik.atomic.write_text_atomic`).

Imports: :mod:`narvik.physics.weather_series` (the record and its calendar),
:mod:`narvik.physics.psychrometrics` (to derive a whole missing humidity column)
and :mod:`narvik.atomic`; never :mod:`narvik.physics.weather`, which re-exports
the public names of this module, so the import graph stays acyclic (see
:mod:`narvik.physics.weather_series`).
"""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from narvik.atomic import write_text_atomic
from narvik.physics.psychrometrics import dew_point_c, relative_humidity_pct, standard_pressure_pa
from narvik.physics.weather_series import (
    HOURS_LEAP_YEAR,
    HOURS_NON_LEAP_YEAR,
    Weather,
    _calendar,
)

__all__ = ["WeatherFileError", "read_epw", "write_epw"]

FloatArray = NDArray[np.float64]


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
    write_text_atomic(p, text)
