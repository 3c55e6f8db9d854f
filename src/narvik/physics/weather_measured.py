"""Measured daily weather: MET Norway daily series, hourly curves from them, their variability.

- :func:`read_metno_daily` reads a MET Norway (seklima, https://seklima.met.no)
  CSV export of daily maximum and minimum temperature into a :class:`DailySeries`,
  naming the file, line and field of any fault (:class:`WeatherFileError`).
- :func:`hourly_from_daily` turns daily minima and maxima into an hourly dry
  bulb curve (two half-cosines a day; Reicosky et al. 1989, Parton and Logan 1981).
- :func:`fit_daily_variability` measures the day-to-day variability of a daily
  series per calendar month (:class:`DailyVariability`): standard deviation,
  skewness and lag-1 autocorrelation of the daily-mean anomaly against a smooth
  seasonal cycle, the mean diurnal range and its slope on the anomaly. The
  built-in Narvik climate (:mod:`narvik.physics.climate`) ships the values this
  returns on the Tromsø-Langnes series in ``../shared/data/weather``.

Imports :mod:`narvik.physics.climate` (the hourly-from-daily kernel it shares with
the typical year) and :mod:`narvik.physics.epw` (:class:`WeatherFileError`); neither
imports this module, so the import graph stays acyclic.
"""

from __future__ import annotations

import datetime
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from narvik.physics.climate import _hourly_from_daily_extremes
from narvik.physics.epw import WeatherFileError

__all__ = [
    "DailySeries",
    "DailyVariability",
    "WeatherFileError",
    "fit_daily_variability",
    "hourly_from_daily",
    "read_metno_daily",
]

FloatArray = NDArray[np.float64]

# Plausible range of a surface air temperature, C (as the EPW reader's dry bulb).
_VALID_MIN_C = -90.0
_VALID_MAX_C = 70.0
_DATE_COLUMN = "date"
_MAX_COLUMN = "max temperature"
_MIN_COLUMN = "min temperature"
_MISSING_TEXT = ("", "-")


@dataclass(frozen=True, eq=False)
class DailySeries:
    """Daily maximum and minimum dry bulb at one station, one row per date.

    ``dates`` are strictly increasing ``datetime64[D]``; ``tmin_c``/``tmax_c``
    are C with NaN where the value is missing. Arrays are read-only copies.
    ``source`` names where the series came from, ``station`` the station id
    (empty when unknown). Equality is identity.
    """

    source: str
    station: str
    dates: np.ndarray
    tmin_c: np.ndarray
    tmax_c: np.ndarray

    def __post_init__(self) -> None:
        dates = np.array(self.dates, dtype="datetime64[D]")
        lo = np.array(self.tmin_c, dtype=np.float64)
        hi = np.array(self.tmax_c, dtype=np.float64)
        for name, arr in (("dates", dates), ("tmin_c", lo), ("tmax_c", hi)):
            if arr.ndim != 1:
                raise ValueError(f"DailySeries.{name} must be one-dimensional, got {arr.shape}")
        if not dates.size == lo.size == hi.size:
            raise ValueError(
                f"DailySeries arrays differ in length: {dates.size}, {lo.size}, {hi.size}"
            )
        if dates.size > 1 and not np.all(np.diff(dates).astype(np.int64) > 0):
            raise ValueError("DailySeries.dates must be strictly increasing")
        both = np.isfinite(lo) & np.isfinite(hi)
        if np.any(lo[both] > hi[both]):
            i = int(np.flatnonzero(both & (lo > hi))[0])
            raise ValueError(f"DailySeries: on {dates[i]} tmin {lo[i]} C exceeds tmax {hi[i]} C")
        for name, arr in (("dates", dates), ("tmin_c", lo), ("tmax_c", hi)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def days(self) -> int:
        """Number of rows (dates)."""
        return int(self.dates.size)

    @property
    def month(self) -> np.ndarray:
        """Calendar month of each date, 1..12."""
        months: np.ndarray = self.dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        return months

    @property
    def mean_c(self) -> FloatArray:
        """Daily mean dry bulb taken as (max + min) / 2, C (NaN where either is missing)."""
        mean: FloatArray = (self.tmin_c + self.tmax_c) / 2.0
        return mean


def read_metno_daily(
    path: str | os.PathLike[str], *, zero_is_missing: bool | None = None
) -> DailySeries:
    """Read a MET Norway (seklima) CSV export of daily maximum and minimum temperature.

    Format: the CSV that https://seklima.met.no exports for daily observations,
    one header line then one line per day. Columns are found by their header
    name, in any order and case: ``date``, ``max temperature`` and
    ``min temperature`` are required; ``station`` is kept if present; other
    columns (name, snow depth, precipitation, ...) are ignored. A UTF-8 byte order
    mark and CR-LF line ends are accepted; blank lines are skipped.

    Two dialects are read: the original export (``;`` between columns, decimal
    comma, dates ``DD.MM.YYYY``, missing values ``-``) and the tidied one in
    ``../shared/data/weather`` (``,`` between columns, decimal point, dates
    ``YYYY-MM-DD``, missing values written as ``0``; see its metno_README.md).
    ``zero_is_missing`` says whether a value of exactly 0 means missing; None
    (default) means yes for comma-separated files (the tidied dialect) and no for
    semicolon-separated ones. Missing values (and blank or ``-``) become NaN.

    Each fault raises :class:`WeatherFileError` naming the file, the 1-based line
    and the field: a missing required column, a line with too few fields, a date
    that does not parse or is not after the previous line's, a temperature that
    is not a number or lies outside -90..70 C, or a minimum above the maximum.
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
    header = lines[0] if lines else ""
    delimiter = ";" if header.count(";") > header.count(",") else ","
    decimal_comma = delimiter == ";"
    zeros_missing = (delimiter == ",") if zero_is_missing is None else zero_is_missing

    columns = [c.strip().strip('"').lower() for c in header.split(delimiter)]
    index: dict[str, int] = {}
    for name in (_DATE_COLUMN, _MAX_COLUMN, _MIN_COLUMN):
        if name not in columns:
            raise WeatherFileError(
                f"{p}:1: no column {name!r} in the header (found {', '.join(columns)!s})"
            )
        index[name] = columns.index(name)
    station_col = columns.index("station") if "station" in columns else None
    needed = max(index.values()) + 1

    dates: list[datetime.date] = []
    tmax: list[float] = []
    tmin: list[float] = []
    stations: set[str] = set()
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip().strip('"') for f in line.split(delimiter)]
        if len(fields) < needed:
            raise WeatherFileError(
                f"{p}:{line_no}: expected at least {needed} {delimiter!r}-separated fields "
                f"(up to column {columns[needed - 1]!r}), found {len(fields)}"
            )
        date = _parse_date(p, line_no, fields[index[_DATE_COLUMN]])
        if dates and date <= dates[-1]:
            raise WeatherFileError(
                f"{p}:{line_no}: field 'date': {date.isoformat()} is not after the previous "
                f"line's {dates[-1].isoformat()} (one line per day, in order)"
            )
        hi = _parse_temperature(
            p, line_no, _MAX_COLUMN, fields[index[_MAX_COLUMN]], decimal_comma, zeros_missing
        )
        lo = _parse_temperature(
            p, line_no, _MIN_COLUMN, fields[index[_MIN_COLUMN]], decimal_comma, zeros_missing
        )
        if lo > hi:  # False when either is NaN
            raise WeatherFileError(
                f"{p}:{line_no}: field {_MIN_COLUMN!r}: {lo:g} C exceeds {_MAX_COLUMN!r} {hi:g} C"
            )
        if station_col is not None and station_col < len(fields):
            stations.add(fields[station_col])
        dates.append(date)
        tmax.append(hi)
        tmin.append(lo)
    if not dates:
        raise WeatherFileError(f"{p}:2: no data lines after the header")
    return DailySeries(
        source=str(p),
        station=stations.pop() if len(stations) == 1 else "",
        dates=np.array(dates, dtype="datetime64[D]"),
        tmin_c=np.array(tmin, dtype=np.float64),
        tmax_c=np.array(tmax, dtype=np.float64),
    )


def _parse_date(p: Path, line_no: int, text: str) -> datetime.date:
    try:
        if "." in text:
            return datetime.datetime.strptime(text, "%d.%m.%Y").date()
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise WeatherFileError(
            f"{p}:{line_no}: field 'date': not a date (YYYY-MM-DD or DD.MM.YYYY): {text!r}"
        ) from None


def _parse_temperature(
    p: Path, line_no: int, field: str, text: str, decimal_comma: bool, zeros_missing: bool
) -> float:
    if text in _MISSING_TEXT:
        return math.nan
    number = text.replace(",", ".") if decimal_comma else text
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise WeatherFileError(f"{p}:{line_no}: field {field!r}: not a number: {text!r}")
    if not _VALID_MIN_C <= value <= _VALID_MAX_C:
        raise WeatherFileError(
            f"{p}:{line_no}: field {field!r}: {value:g} C is outside the valid range "
            f"{_VALID_MIN_C:g}..{_VALID_MAX_C:g} C"
        )
    if zeros_missing and value == 0.0:
        return math.nan
    return value


def hourly_from_daily(dates: np.ndarray, tmin_c: np.ndarray, tmax_c: np.ndarray) -> FloatArray:
    """Hourly dry bulb, C, from daily minima and maxima of consecutive days.

    Method: the piecewise-sinusoidal day of the hourly-from-daily-extremes models
    compared by Reicosky et al. (1989), "Accuracy of hourly air temperatures
    calculated from daily minima and maxima", Agric. For. Meteorol. 46, 193-209
    (cf. Parton and Logan 1981, Agric. Meteorol. 23, 205-216, and the ASHRAE
    Handbook Fundamentals ch. 14 design-day profile): each day is at its
    minimum at 05:00 and its maximum at 15:00 local standard time, joined by a
    rising half-cosine over the 10 h between them,
    ``T = Tmin_d + (Tmax_d - Tmin_d) (1 - cos(pi (t - 5) / 10)) / 2``,
    and a falling half-cosine over the 14 h from 15:00 to the next day's
    minimum at 05:00,
    ``T = Tmin_(d+1) + (Tmax_d - Tmin_(d+1)) (1 + cos(pi (t - 15) / 14)) / 2``,
    so the curve is continuous from day to day. With no neighbour, the first
    day's early hours fall from its own maximum and the last day's evening
    falls towards its own minimum. A missing (NaN) minimum or maximum gives NaN
    on the hours whose limb uses it.

    Returns ``24 * len(dates)`` values in the :class:`~narvik.physics.weather.Weather`
    (EPW) convention: element ``24 i + h`` is the temperature at the end of hour
    ``h``, i.e. at ``h + 1``:00 of ``dates[i]``, so ``24 i + 4`` is
    ``tmin_c[i]`` (05:00) and ``24 i + 14`` is ``tmax_c[i]`` (15:00) exactly.

    ``dates`` (anything numpy reads as ``datetime64[D]``) must be consecutive
    days; a gap, a length mismatch or a minimum above its maximum raises
    ValueError.
    """
    days = np.asarray(dates, dtype="datetime64[D]")
    lo = np.asarray(tmin_c, dtype=np.float64)
    hi = np.asarray(tmax_c, dtype=np.float64)
    if days.ndim != 1 or lo.ndim != 1 or hi.ndim != 1:
        raise ValueError("dates, tmin_c and tmax_c must be one-dimensional")
    if not days.size == lo.size == hi.size:
        raise ValueError(
            f"dates, tmin_c and tmax_c differ in length: {days.size}, {lo.size}, {hi.size}"
        )
    if days.size == 0:
        return np.zeros(0)
    steps = np.diff(days).astype(np.int64)
    if np.any(steps != 1):
        i = int(np.flatnonzero(steps != 1)[0])
        raise ValueError(f"dates must be consecutive days: {days[i]} is followed by {days[i + 1]}")
    both = np.isfinite(lo) & np.isfinite(hi)
    if np.any(lo[both] > hi[both]):
        i = int(np.flatnonzero(both & (lo > hi))[0])
        raise ValueError(f"on {days[i]} tmin {lo[i]} C exceeds tmax {hi[i]} C")
    return _hourly_from_daily_extremes(lo, hi)


@dataclass(frozen=True)
class DailyVariability:
    """Day-to-day variability of a daily temperature series, per calendar month.

    Each ``monthly_*`` field holds 12 values (January first); NaN for a month
    with too few days (fewer than 3 valid days, or 3 valid consecutive pairs for
    the autocorrelation). The anomaly is that of the daily mean (max + min) / 2
    against the smooth seasonal cycle ``seasonal_coefficients_c`` (mean, then
    cosine and sine of each harmonic of the year).

    - ``monthly_anomaly_sd_c``: sample standard deviation (n - 1), C;
    - ``monthly_anomaly_skew``: sample skewness, Wilks (2011) eq. 3.9;
    - ``monthly_anomaly_lag1``: correlation of consecutive days' anomalies,
      the first day in the month;
    - ``monthly_diurnal_range_c``: mean of (max - min), C;
    - ``monthly_range_slope``: least-squares slope of (max - min) on the
      anomaly, K per K;
    - ``monthly_days``: days with both max and min, per month.
    """

    monthly_anomaly_sd_c: tuple[float, ...]
    monthly_anomaly_skew: tuple[float, ...]
    monthly_anomaly_lag1: tuple[float, ...]
    monthly_diurnal_range_c: tuple[float, ...]
    monthly_range_slope: tuple[float, ...]
    monthly_days: tuple[int, ...]
    seasonal_coefficients_c: tuple[float, ...]


def fit_daily_variability(daily: DailySeries, *, harmonics: int = 2) -> DailyVariability:
    """Per-month statistics of the daily-mean anomaly of a daily series (a pure function).

    1. Seasonal cycle: least-squares fit of a mean plus ``harmonics`` harmonics
       of the year (annual, semi-annual, ...) to the daily means
       (max + min) / 2, in the day of the year (0 on 1 January) over a period of
       365.25 days (harmonic analysis, Wilks 2011, *Statistical Methods in the
       Atmospheric Sciences*, 3rd ed., sec. 9.4; Epstein 1991, J. Climate 4,
       365-368). Its smoothness keeps a warm or cold month in the data as an
       anomaly, not as part of the cycle.
    2. Anomaly: daily mean minus the cycle, on days with both max and min.
    3. Per calendar month of the day: the sample standard deviation (n - 1);
       the skewness ``sum((x - mean)^3) / (n - 1) / s^3`` (Wilks 2011, eq.
       3.9); the lag-1 autocorrelation as the Pearson correlation of the pairs
       (anomaly on day d, anomaly on day d + 1) for the days d of the month whose
       next calendar day is also in the series (Wilks 2011, eq. 3.32); the mean
       diurnal range (max - min); and the least-squares slope of the range on
       the anomaly (how much wider the day is when it is warmer).

    Raises ValueError when fewer than ``2 * harmonics + 2`` days have both
    values (the cycle would be undetermined).
    """
    if harmonics < 0:
        raise ValueError(f"harmonics must be >= 0, got {harmonics}")
    mean_c = daily.mean_c
    valid = np.isfinite(mean_c)
    n_params = 1 + 2 * harmonics
    if int(valid.sum()) < n_params + 1:
        raise ValueError(
            f"{daily.source}: {int(valid.sum())} days with both max and min; "
            f"at least {n_params + 1} needed for a {harmonics}-harmonic seasonal cycle"
        )
    day_of_year = (daily.dates - daily.dates.astype("datetime64[Y]")).astype(np.int64)
    phase = 2.0 * np.pi * day_of_year / 365.25
    design = np.column_stack(
        [np.ones(phase.size)]
        + [f(k * phase) for k in range(1, harmonics + 1) for f in (np.cos, np.sin)]
    )
    coefficients, *_ = np.linalg.lstsq(design[valid], mean_c[valid], rcond=None)
    anomaly = mean_c - design @ coefficients
    range_c = daily.tmax_c - daily.tmin_c

    month_idx = daily.month - 1
    next_valid = np.zeros(daily.days, dtype=bool)
    next_anomaly = np.full(daily.days, np.nan)
    if daily.days > 1:
        consecutive = np.diff(daily.dates).astype(np.int64) == 1
        next_valid[:-1] = consecutive & valid[1:]
        next_anomaly[:-1] = anomaly[1:]

    sd: list[float] = []
    skew: list[float] = []
    lag1: list[float] = []
    mean_range: list[float] = []
    slope: list[float] = []
    counts: list[int] = []
    for m in range(12):
        in_month = (month_idx == m) & valid
        x = anomaly[in_month]
        r = range_c[in_month]
        counts.append(int(x.size))
        if x.size >= 3:
            s = float(np.std(x, ddof=1))
            sd.append(s)
            dev = x - x.mean()
            skew.append(float(np.sum(dev**3) / (x.size - 1) / s**3) if s > 0 else math.nan)
            mean_range.append(float(r.mean()))
            var_x = float(np.sum(dev**2))
            slope.append(float(np.sum(dev * (r - r.mean())) / var_x) if var_x > 0 else math.nan)
        else:
            sd.append(math.nan)
            skew.append(math.nan)
            mean_range.append(float(r.mean()) if x.size else math.nan)
            slope.append(math.nan)
        pairs = in_month & next_valid
        if int(pairs.sum()) >= 3:
            lag1.append(float(np.corrcoef(anomaly[pairs], next_anomaly[pairs])[0, 1]))
        else:
            lag1.append(math.nan)
    return DailyVariability(
        monthly_anomaly_sd_c=tuple(sd),
        monthly_anomaly_skew=tuple(skew),
        monthly_anomaly_lag1=tuple(lag1),
        monthly_diurnal_range_c=tuple(mean_range),
        monthly_range_slope=tuple(slope),
        monthly_days=tuple(counts),
        seasonal_coefficients_c=tuple(float(c) for c in coefficients),
    )
