"""What the site's grid electricity costs, line by line, as a Norwegian invoice shows it.

Four lines, each from its own source, plus the total (:func:`cost_lines_eur`):

1. **energy**: day-ahead spot price times energy, hour by hour (Nord Pool / ENTSO-E
   day-ahead price for bidding zone NO4);
2. **grid tariff, energy term**: EUR/MWh on all energy (for a transmission-grid
   customer Statnett's energy term is the connection point's marginal-loss rate
   times the area price; for a regional-grid customer a fixed rate);
3. **grid tariff, capacity term**: EUR per kW per month on each calendar month's
   peak hourly draw (the "effektledd" of Norwegian high-voltage tariffs);
4. **electricity tax** ("avgift på elektrisk kraft", Stortinget's yearly
   *særavgiftsvedtak*, collected by the grid company): EUR/MWh on all energy.
   Data centres with a draw above 0.5 MW pay the reduced rate of industry.

VAT is left out (recoverable for a business); so is the Enova levy for businesses
(800 NOK per metering point and year, immaterial at this scale).

Prices come from a CSV file (:func:`read_price_csv`, two formats) or, when none is
given, from :func:`default_no4_prices`: a deterministic year built from the
published NO4 monthly means of 2023 and an assumed daily/weekly shape.
:func:`write_price_csv` writes a series (the default included) as an editable CSV;
:func:`prices_for_weather_hours` aligns a series to the hours of a weather year.

Time convention: every timestamp here is the *start* of an hour; arrays are in
UTC (``datetime64[s]``, no zone attached). Weather years are in local standard
time (Norway: UTC+1 all year, see :mod:`narvik.physics.weather_series`).

Imports only :mod:`narvik.atomic` (layer below physics).
"""

from __future__ import annotations

import calendar
import csv
import datetime
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.atomic import write_text_atomic

__all__ = [
    "DEFAULT_ELECTRICITY_TAX",
    "DEFAULT_GRID_TARIFF",
    "ELAVGIFT_ORDINARY_2024_APR_DEC_NOK_PER_MWH",
    "ELAVGIFT_ORDINARY_2026_NOK_PER_MWH",
    "ELAVGIFT_REDUCED_2024_NOK_PER_MWH",
    "NO4_2023_MONTHLY_NOK_PER_MWH",
    "NOK_PER_EUR_2023",
    "NOK_PER_EUR_2024",
    "STATNETT_CONSUMPTION_2024_NOK_PER_KW_YEAR",
    "STATNETT_LARGE_CONSUMPTION_2024_NOK_PER_KW_YEAR",
    "CostLines",
    "ElectricityTax",
    "GridTariff",
    "PriceFileError",
    "PriceSeries",
    "cost_lines_eur",
    "default_no4_prices",
    "prices_for_weather_hours",
    "read_price_csv",
    "write_default_no4_price_csv",
    "write_price_csv",
]

FloatArray = NDArray[np.float64]
TimeArray = NDArray[np.datetime64]

_HOUR = np.timedelta64(3600, "s")
_SECONDS_PER_HOUR = 3600
_W_PER_MW = 1e6
_W_PER_KW = 1e3

# --------------------------------------------------------------------------------------
# Exchange rates (named so that every NOK figure says how it became EUR)
# --------------------------------------------------------------------------------------

#: NOK per EUR, Norges Bank annual average of daily mid rates, 2023. Assumption: the
#: figure is quoted from memory (Norges Bank, "Valutakurser, årsgjennomsnitt"); it could
#: not be re-read here. Used to turn the 2023 NO4 prices (NOK) into EUR.
NOK_PER_EUR_2023 = 11.4248

#: NOK per EUR, Norges Bank annual average 2024. Assumption as above (from memory).
#: Used for the 2024 tariff and tax rates.
NOK_PER_EUR_2024 = 11.6290

# --------------------------------------------------------------------------------------
# Published Norwegian rates (NOK), kept in the currency of their source
# --------------------------------------------------------------------------------------

#: Statnett transmission-grid tariff 2024, consumption ("forbruk"), fixed term
#: 270 NOK/kW/year (Statnett, "Tariffsatser i transmisjonsnettet", table 2018-2024;
#: press release "Statnetts tariffer for 2024", 2023: up from 0 in 2023).
STATNETT_CONSUMPTION_2024_NOK_PER_KW_YEAR = 270.0

#: Same table: "stort forbruk (gj.snitt)" 135 NOK/kW/year in 2024, the average for
#: large, high-utilisation consumers after their reduction (at most 50 % in 2024).
STATNETT_LARGE_CONSUMPTION_2024_NOK_PER_KW_YEAR = 135.0

#: Electricity tax, reduced rate 2024: 0.580 øre/kWh = 5.80 NOK/MWh, for power to
#: industry and mining, district heating and *data centres with a draw above 0.5 MW*
#: (Norgesnett, "Avgifter på nettleien 2024"; L-nett price list 01.01.2024
#: "Forbruksavgift, lav 0,58 øre/kWh"). History: reduced rate for large data centres
#: since 1 Jan 2016 (Prop. 1 LS 2015-2016), threshold cut from 5 MW to 0.5 MW in 2017;
#: the government's proposal to abolish it for 2023 (regjeringen.no, 6.10.2022) was
#: not carried, since the rate still applies to data centres in 2024. Assumption for
#: later years: the 2025/2026 reduced rate could not be checked; 2024's is used. In
#: November 2025 Senterpartiet, backed by SV and Rødt, proposed a higher tax for data
#: centres in the 2026 budget talks (E24); its outcome is not known here.
ELAVGIFT_REDUCED_2024_NOK_PER_MWH = 5.80

#: Electricity tax, ordinary rate April-December 2024: 16.44 øre/kWh (Norgesnett,
#: L-nett, as above; 9.51 øre/kWh January-March 2024). For a sensitivity only.
ELAVGIFT_ORDINARY_2024_APR_DEC_NOK_PER_MWH = 164.4

#: Electricity tax, ordinary rate 2026: 7.13 øre/kWh (Fjellnett, "Nettleiepriser for
#: privatkunder fra 1.1.2026"). For a sensitivity only (what a data centre would pay
#: without the reduced rate).
ELAVGIFT_ORDINARY_2026_NOK_PER_MWH = 71.3

#: NO4 (Nord-Norge) day-ahead monthly mean prices, 2023, NOK/MWh (January..December).
#: Source: Nord Pool day-ahead NO4 daily averages for 2023 as republished in the public
#: dataset github.com/martinju/stromstotte, data/database_nordpool_daily.csv (NOK/kWh;
#: NO4 without VAT, the zone is VAT-exempt for households); narvik took the mean of the
#: daily averages of each month. Cross-checks against the press: March 49.0 øre/kWh
#: (Europower/NTB, Finansavisen 2.4.2024: "49 øre per kWh i 2023"), April 40.3
#: (Europower via vol.no: 40), year 34.2 (Europower 2023 overview: "34 øre"). Not
#: Nord Pool's own monthly table (which could not be read here): treat each figure as
#: +-1 % and replace by Nord Pool's monthly averages for audit use.
NO4_2023_MONTHLY_NOK_PER_MWH: tuple[float, ...] = (
    463.8,  # Jan
    315.7,  # Feb
    489.8,  # Mar
    403.5,  # Apr
    219.3,  # May
    217.0,  # Jun
    223.3,  # Jul
    190.0,  # Aug
    98.7,  # Sep
    160.9,  # Oct
    627.8,  # Nov
    689.5,  # Dec
)

#: Shape of the default price year within a day, by local standard-time hour 0..23.
#: Assumption: a mild two-peak pattern (morning 07-10, evening 16-20, night trough
#: ~8 % below the mean), the usual shape of Nordic hydro-dominated zones whose
#: reservoirs flatten the daily spread; chosen by hand, not fitted. The monthly means
#: above are kept exactly whatever the shape.
_HOUR_SHAPE: tuple[float, ...] = (
    0.94, 0.93, 0.92, 0.92, 0.93, 0.96, 1.00, 1.05, 1.07, 1.06, 1.04, 1.03,
    1.02, 1.01, 1.01, 1.02, 1.04, 1.06, 1.07, 1.05, 1.02, 1.00, 0.98, 0.96,
)  # fmt: skip

#: Shape within a week, Monday..Sunday. Assumption: weekend demand and prices ~5-8 %
#: below weekdays; chosen by hand.
_WEEKDAY_SHAPE: tuple[float, ...] = (1.02, 1.02, 1.02, 1.02, 1.01, 0.96, 0.93)


class PriceFileError(ValueError):
    """Bad price file; the message names the file, the 1-based line and the field."""


@dataclass(frozen=True, eq=False)
class PriceSeries:
    """Hourly day-ahead prices: one price per consecutive hour, hour starts in UTC.

    ``start_utc`` is ``datetime64[s]`` (UTC, no zone attached), strictly hourly with
    no gaps; ``price_eur_per_mwh`` is finite (negative prices are allowed: they
    occur in NO4). Arrays are read-only copies; equality is identity.
    """

    source: str
    start_utc: TimeArray
    price_eur_per_mwh: FloatArray

    def __post_init__(self) -> None:
        start = np.array(self.start_utc, dtype="datetime64[s]")
        price = np.array(self.price_eur_per_mwh, dtype=np.float64)
        if start.ndim != 1 or price.ndim != 1 or start.size != price.size:
            raise ValueError(
                f"PriceSeries arrays must be one-dimensional and of equal length "
                f"(got {start.shape} and {price.shape})"
            )
        if start.size == 0:
            raise ValueError("PriceSeries needs at least one hour")
        if np.any(start.astype(np.int64) % _SECONDS_PER_HOUR != 0):
            raise ValueError("PriceSeries hours must start on whole UTC hours")
        steps = np.diff(start)
        if np.any(steps != _HOUR):
            i = int(np.argmax(steps != _HOUR))
            raise ValueError(
                f"PriceSeries hours must be consecutive: {start[i]}Z is followed by {start[i + 1]}Z"
            )
        if not np.all(np.isfinite(price)):
            i = int(np.argmax(~np.isfinite(price)))
            raise ValueError(f"PriceSeries price for {start[i]}Z is not finite ({price[i]!r})")
        start.setflags(write=False)
        price.setflags(write=False)
        object.__setattr__(self, "start_utc", start)
        object.__setattr__(self, "price_eur_per_mwh", price)

    @property
    def hours(self) -> int:
        return int(self.start_utc.size)


# --------------------------------------------------------------------------------------
# Reading and writing price files
# --------------------------------------------------------------------------------------

_SIMPLE_HEADER = ("time", "price_eur_per_mwh")
_MISSING_CELLS = ("", "-", "n/e", "n/a", "nan")
_ENTSOE_DATE_FORMATS = (
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
)
_ENTSOE_ZONE_SUFFIXES = {"(CET)": 1, "(CEST)": 2, "(CET/CEST)": 0}


def read_price_csv(path: str | os.PathLike[str]) -> PriceSeries:
    """Read hourly day-ahead prices (EUR/MWh) from a CSV file; return them in UTC.

    Two formats are recognised by their header line:

    (a) narvik's own: header ``time,price_eur_per_mwh``; one row per hour; ``time``
        an ISO-8601 timestamp with a UTC offset or ``Z`` (e.g.
        ``2023-01-01T00:00:00+01:00`` or ``2022-12-31T23:00:00Z``), the start of the
        hour, on a whole hour; :func:`write_price_csv` writes this format.
    (b) the ENTSO-E Transparency Platform export of "Day-ahead Prices" (CSV): a
        column ``MTU (CET/CEST)`` (or ``MTU``) whose cells are intervals such as
        ``"01.01.2023 00:00 - 01.01.2023 01:00"`` (the legacy site) or
        ``"01/01/2025 00:00:00 - 01/01/2025 01:00:00"`` (the 2024 site), in
        Brussels time, and a column ``Day-ahead Price [EUR/MWh]`` (or ``(EUR/MWh)``);
        other columns (Area, Sequence, Currency, BZN|NO4, ...) are ignored.
        Local times become UTC by the EU summer-time rule (CEST from 01:00 UTC on
        the last Sunday of March to 01:00 UTC on the last Sunday of October); a
        ``(CET)``/``(CEST)`` suffix, where the export writes one, wins; of the two
        rows labelled 02:00 on the autumn day the first is CEST, the second CET.
        A row for the non-existent spring hour 02:00 with no price is skipped.
        Quarter-hour (or half-hour) MTUs, as exported since the day-ahead market's
        move to 15-minute products in 2025, are averaged to hours; every hour
        needs all of its quarters.

    Validation (:class:`PriceFileError` naming file, 1-based line and field): the
    header must be one of the above; each row must have its fields, a parseable
    time and a finite number as price (a blank, ``-`` or ``n/e`` price is an
    error); no hour may appear twice; the hours must be consecutive, and a missing
    hour is an error naming the first gap. Rows may come in any order.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PriceFileError(f"{p}: no such price file") from None
    except OSError as exc:
        raise PriceFileError(f"{p}: cannot read price file: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = text.splitlines()
    rows = [(i + 1, fields) for i, fields in enumerate(csv.reader(lines)) if _non_blank(fields)]
    if not rows:
        raise PriceFileError(f"{p}:1: empty price file (no header line)")
    header_line, header = rows[0]
    data = rows[1:]
    names = [h.strip().lower() for h in header]
    if tuple(names) == _SIMPLE_HEADER:
        hours = _read_simple_rows(p, data)
    else:
        mtu_col = next((i for i, n in enumerate(names) if n.startswith("mtu")), None)
        price_col = next((i for i, n in enumerate(names) if n.startswith("day-ahead price")), None)
        if mtu_col is None or price_col is None:
            raise PriceFileError(
                f"{p}:{header_line}: unknown header {','.join(header)!r}; expected "
                f"'time,price_eur_per_mwh' or an ENTSO-E day-ahead export with columns "
                f"'MTU (CET/CEST)' and 'Day-ahead Price [EUR/MWh]'"
            )
        if "eur/mwh" not in names[price_col]:
            raise PriceFileError(
                f"{p}:{header_line}: field {price_col + 1} ({header[price_col].strip()!r}): "
                "prices must be in EUR/MWh"
            )
        hours = _read_entsoe_rows(p, data, mtu_col, price_col, header[price_col].strip())
    if not hours:
        raise PriceFileError(f"{p}:{header_line + 1}: no price rows after the header")
    return _assemble(p, hours)


def _non_blank(fields: list[str]) -> bool:
    return any(f.strip() for f in fields)


def _read_simple_rows(
    p: Path, data: list[tuple[int, list[str]]]
) -> list[tuple[int, np.datetime64, float]]:
    out: list[tuple[int, np.datetime64, float]] = []
    for line, fields in data:
        if len(fields) != 2:
            raise PriceFileError(
                f"{p}:{line}: expected 2 fields (time, price), found {len(fields)}"
            )
        raw_time = fields[0].strip()
        try:
            stamp = datetime.datetime.fromisoformat(raw_time)
        except ValueError:
            raise PriceFileError(
                f"{p}:{line}: field 'time' (1): not an ISO-8601 timestamp: {raw_time!r}"
            ) from None
        if stamp.tzinfo is None or stamp.utcoffset() is None:
            raise PriceFileError(
                f"{p}:{line}: field 'time' (1): {raw_time!r} has no UTC offset; write e.g. "
                "'2023-01-01T00:00:00+01:00' or '2022-12-31T23:00:00Z'"
            )
        utc = stamp.astimezone(datetime.UTC).replace(tzinfo=None)
        if (utc.minute, utc.second, utc.microsecond) != (0, 0, 0):
            raise PriceFileError(
                f"{p}:{line}: field 'time' (1): {raw_time!r} is not the start of a whole hour"
            )
        price = _parse_price(p, line, fields[1], "price_eur_per_mwh", 2)
        out.append((line, np.datetime64(utc, "s"), price))
    return out


def _parse_price(p: Path, line: int, cell: str, name: str, index: int) -> float:
    text = cell.strip()
    if text.lower() in _MISSING_CELLS:
        raise PriceFileError(f"{p}:{line}: field {name!r} ({index}): no price ({text!r})")
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError(
            f"{p}:{line}: field {name!r} ({index}): not a number: {text!r}"
        ) from None
    if not math.isfinite(value):
        raise PriceFileError(f"{p}:{line}: field {name!r} ({index}): not a finite number: {text!r}")
    return value


def _read_entsoe_rows(
    p: Path, data: list[tuple[int, list[str]]], mtu_col: int, price_col: int, price_name: str
) -> list[tuple[int, np.datetime64, float]]:
    need = max(mtu_col, price_col) + 1
    seen_local: set[datetime.datetime] = set()
    quarters: list[tuple[int, np.datetime64, int, float]] = []  # line, start UTC, minutes, price
    for line, fields in data:
        if len(fields) < need:
            raise PriceFileError(
                f"{p}:{line}: expected at least {need} fields, found {len(fields)}"
            )
        cell = fields[mtu_col].strip()
        start_local, minutes, zone_hint = _parse_mtu(p, line, cell, mtu_col + 1)
        nonexistent = _cet_nonexistent(start_local) and zone_hint == 0
        if nonexistent:
            if fields[price_col].strip().lower() in _MISSING_CELLS:
                continue  # the spring-forward placeholder row: no such local hour
            raise PriceFileError(
                f"{p}:{line}: field 'MTU' ({mtu_col + 1}): {cell!r} starts at a local time that "
                "does not exist (clocks go from 02:00 CET to 03:00 CEST) yet has a price"
            )
        price = _parse_price(p, line, fields[price_col], price_name, price_col + 1)
        if zone_hint:
            offset_h = zone_hint
        elif _cet_ambiguous(start_local):
            offset_h = 1 if start_local in seen_local else 2  # first CEST, then CET
        else:
            offset_h = 2 if _is_cest_local(start_local) else 1
        seen_local.add(start_local)
        utc = start_local - datetime.timedelta(hours=offset_h)
        quarters.append((line, np.datetime64(utc, "s"), minutes, price))
    if not quarters:
        return []
    lengths = {m for _, _, m, _ in quarters}
    if len(lengths) != 1:
        line = next(ln for ln, _, m, _ in quarters if m != quarters[0][2])
        raise PriceFileError(
            f"{p}:{line}: field 'MTU' ({mtu_col + 1}): MTUs of {sorted(lengths)} minutes "
            "mixed in one file"
        )
    minutes = quarters[0][2]
    if minutes == 60:
        out: list[tuple[int, np.datetime64, float]] = []
        for line, start, _, price in quarters:
            if start.astype(np.int64) % _SECONDS_PER_HOUR != 0:
                raise PriceFileError(
                    f"{p}:{line}: field 'MTU' ({mtu_col + 1}): hourly MTU not on a whole hour"
                )
            out.append((line, start, price))
        return out
    return _average_to_hours(p, quarters, minutes, mtu_col + 1)


def _parse_mtu(p: Path, line: int, cell: str, index: int) -> tuple[datetime.datetime, int, int]:
    """Start (local, naive), length in minutes and zone hint (1 CET, 2 CEST, 0 none)."""
    text = cell
    hint = 0
    for suffix, hours in _ENTSOE_ZONE_SUFFIXES.items():
        if text.upper().endswith(suffix):
            text, hint = text[: -len(suffix)].strip(), hours
            break
    parts = [s.strip() for s in text.split(" - ")]
    if len(parts) != 2:
        raise PriceFileError(
            f"{p}:{line}: field 'MTU' ({index}): expected an interval like "
            f"'01.01.2023 00:00 - 01.01.2023 01:00', got {cell!r}"
        )
    start = _parse_local(parts[0])
    end = _parse_local(parts[1])
    if start is None or end is None:
        raise PriceFileError(f"{p}:{line}: field 'MTU' ({index}): unreadable date/time in {cell!r}")
    wall_minutes = int((end - start).total_seconds() // 60)
    # Across a summer-time change the wall clock gains or loses an hour.
    minutes = wall_minutes
    if wall_minutes not in (15, 30, 60):
        for shift in (-60, 60):
            if wall_minutes + shift in (15, 30, 60):
                minutes = wall_minutes + shift
                break
        else:
            raise PriceFileError(
                f"{p}:{line}: field 'MTU' ({index}): interval of {wall_minutes} minutes; "
                "expected 15, 30 or 60"
            )
    return start, minutes, hint


def _parse_local(text: str) -> datetime.datetime | None:
    for fmt in _ENTSOE_DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _last_sunday(year: int, month: int) -> int:
    last = calendar.monthrange(year, month)[1]
    return last - (calendar.weekday(year, month, last) - calendar.SUNDAY) % 7


def _is_cest_local(t: datetime.datetime) -> bool:
    """Summer time by the EU rule, for an unambiguous local (CET/CEST) wall time."""
    spring = datetime.datetime(t.year, 3, _last_sunday(t.year, 3), 3)
    autumn = datetime.datetime(t.year, 10, _last_sunday(t.year, 10), 2)
    return spring <= t < autumn


def _cet_nonexistent(t: datetime.datetime) -> bool:
    return t.month == 3 and t.day == _last_sunday(t.year, 3) and t.hour == 2


def _cet_ambiguous(t: datetime.datetime) -> bool:
    return t.month == 10 and t.day == _last_sunday(t.year, 10) and t.hour == 2


def _average_to_hours(
    p: Path, quarters: list[tuple[int, np.datetime64, int, float]], minutes: int, index: int
) -> list[tuple[int, np.datetime64, float]]:
    per_hour = 60 // minutes
    groups: dict[np.datetime64, list[tuple[int, np.datetime64, float]]] = {}
    for line, start, _, price in quarters:
        secs = int(start.astype(np.int64))
        if secs % (minutes * 60) != 0:
            raise PriceFileError(
                f"{p}:{line}: field 'MTU' ({index}): {minutes}-minute MTU not on its grid"
            )
        hour_start = np.datetime64(secs - secs % _SECONDS_PER_HOUR, "s")
        groups.setdefault(hour_start, []).append((line, start, price))
    out: list[tuple[int, np.datetime64, float]] = []
    for hour, members in groups.items():
        starts = {s for _, s, _ in members}
        if len(starts) != len(members):
            dup = _first_duplicate(members)
            raise PriceFileError(f"{p}:{dup}: field 'MTU' ({index}): interval appears twice")
        if len(members) != per_hour:
            raise PriceFileError(
                f"{p}:{members[0][0]}: the hour starting {hour}Z has {len(members)} of its "
                f"{per_hour} {minutes}-minute prices; every hour needs all of them"
            )
        out.append((members[0][0], hour, float(np.mean([pr for _, _, pr in members]))))
    return out


def _first_duplicate(members: list[tuple[int, np.datetime64, float]]) -> int:
    seen: set[np.datetime64] = set()
    for line, start, _ in members:
        if start in seen:
            return line
        seen.add(start)
    return members[0][0]


def _assemble(p: Path, hours: list[tuple[int, np.datetime64, float]]) -> PriceSeries:
    ordered = sorted(hours, key=lambda row: (row[1], row[0]))
    for (line_a, t_a, _), (line_b, t_b, _) in zip(ordered, ordered[1:], strict=False):
        if t_a == t_b:
            first, second = sorted((line_a, line_b))
            raise PriceFileError(
                f"{p}:{second}: the hour starting {t_a}Z appears twice (also on line {first})"
            )
    for (line_a, t_a, _), (_, t_b, _) in zip(ordered, ordered[1:], strict=False):
        if t_b - t_a != _HOUR:
            missing = int((t_b - t_a) // _HOUR) - 1
            raise PriceFileError(
                f"{p}:{line_a}: missing hour: no price for the hour starting {t_a + _HOUR}Z "
                f"(first gap, {missing} hour(s) missing after this line's hour {t_a}Z)"
            )
    start = np.array([t for _, t, _ in ordered], dtype="datetime64[s]")
    price = np.array([v for _, _, v in ordered], dtype=np.float64)
    return PriceSeries(source=str(p), start_utc=start, price_eur_per_mwh=price)


def write_price_csv(path: str | os.PathLike[str], series: PriceSeries) -> None:
    """Write ``series`` as format (a) of :func:`read_price_csv` (atomically).

    Header ``time,price_eur_per_mwh``; one row per hour, the hour's start as
    ``YYYY-MM-DDTHH:MM:SSZ`` and the price with 4 decimals. A file written here
    reads back to the same series (prices to 1e-4 EUR/MWh).
    """
    lines = ["time,price_eur_per_mwh"]
    for t, v in zip(series.start_utc, series.price_eur_per_mwh, strict=True):
        lines.append(f"{np.datetime_as_string(t, unit='s')}Z,{v:.4f}")
    write_text_atomic(Path(path), "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------
# The default price year and its alignment to weather years
# --------------------------------------------------------------------------------------


def _lst_year_starts(year: int, timezone_h: float) -> TimeArray:
    hours = 8784 if calendar.isleap(year) else 8760
    first_local = np.datetime64(f"{year:04d}-01-01T00:00:00", "s")
    offset = np.timedelta64(round(timezone_h * _SECONDS_PER_HOUR), "s")
    return first_local - offset + np.arange(hours) * _HOUR


def default_no4_prices(year: int, *, nok_per_eur: float = NOK_PER_EUR_2023) -> PriceSeries:
    """The price year narvik uses when no price file is given: deterministic, no randomness.

    What it is, exactly: the hours of calendar year ``year`` in Norwegian local
    standard time (UTC+1; 8760 or 8784 hours, from ``year-1``-12-31T23:00Z); each
    hour's price is the NO4 monthly mean of **2023**
    (:data:`NO4_2023_MONTHLY_NOK_PER_MWH`, NOK/MWh, converted at ``nok_per_eur``,
    by default :data:`NOK_PER_EUR_2023`) times an assumed shape (hour of day x day
    of week, ``_HOUR_SHAPE`` x ``_WEEKDAY_SHAPE``, weekdays from ``year``'s own
    calendar), the shape rescaled within each month so that the month's mean
    equals the published mean exactly. 29 February takes February's mean. The
    annual mean is 29.9 EUR/MWh (34.2 øre/kWh).

    It is not a forecast for ``year``: it replays 2023's price level and seasonal
    pattern (dear in November-March, near zero in September-October) on
    ``year``'s calendar, with no price spikes, no negative hours and no
    weather-year correlation. Write it out with :func:`write_default_no4_price_csv`,
    edit it, and read it back with :func:`read_price_csv` to use other prices.
    """
    if not nok_per_eur > 0.0:
        raise ValueError(f"nok_per_eur must be positive (got {nok_per_eur!r})")
    start = _lst_year_starts(year, 1.0)
    local = start + np.timedelta64(_SECONDS_PER_HOUR, "s")
    month = (local.astype("datetime64[M]").astype(np.int64) % 12).astype(np.intp)  # 0..11
    days = local.astype("datetime64[D]")
    hour = ((local - days) // _HOUR).astype(np.intp)
    weekday = ((days.astype(np.int64) + 3) % 7).astype(np.intp)  # 1970-01-01 was a Thursday
    shape = np.asarray(_HOUR_SHAPE)[hour] * np.asarray(_WEEKDAY_SHAPE)[weekday]
    mean_shape = np.bincount(month, weights=shape, minlength=12) / np.bincount(month, minlength=12)
    monthly_eur = np.asarray(NO4_2023_MONTHLY_NOK_PER_MWH) / nok_per_eur
    price = monthly_eur[month] * shape / mean_shape[month]
    return PriceSeries(
        source=(
            f"narvik default NO4 prices for {year}: 2023 NO4 monthly means "
            f"(Nord Pool, NOK/MWh) / {nok_per_eur:g} NOK/EUR x assumed daily/weekly shape"
        ),
        start_utc=start,
        price_eur_per_mwh=price,
    )


def write_default_no4_price_csv(
    path: str | os.PathLike[str], year: int, *, nok_per_eur: float = NOK_PER_EUR_2023
) -> None:
    """Write :func:`default_no4_prices` for ``year`` as an editable CSV (format (a))."""
    write_price_csv(path, default_no4_prices(year, nok_per_eur=nok_per_eur))


def prices_for_weather_hours(
    series: PriceSeries,
    month: ArrayLike,
    day: ArrayLike,
    hour: ArrayLike,
    *,
    year: int | None = None,
    timezone_h: float = 1.0,
) -> FloatArray:
    """The price of each hour of a weather year (e.g. ``Weather.month/.day/.hour``).

    Weather row (month, day, hour h) is the hour from h:00 to h+1:00 local standard
    time (UTC + ``timezone_h``; Norway UTC+1, no summer time) of ``year``; its
    price is the series' price for the hour starting at that instant in UTC. So a
    weather hour is matched to the same clock hour of the price year, not to the
    same weekday. ``year`` defaults to the local-standard-time calendar year that
    holds most of the series' hours (the year of its middle hour). Errors
    (ValueError): a date that does not exist in ``year`` (29 February of a common
    year: pass a leap ``year`` for a leap weather year), or a weather hour the
    series does not cover (named, with the series' span).
    """
    m = np.asarray(month, dtype=np.int64)
    d = np.asarray(day, dtype=np.int64)
    h = np.asarray(hour, dtype=np.int64)
    if not (m.shape == d.shape == h.shape) or m.ndim != 1:
        raise ValueError("month, day and hour must be one-dimensional arrays of equal length")
    offset = np.timedelta64(round(timezone_h * _SECONDS_PER_HOUR), "s")
    if year is None:
        middle = series.start_utc[series.hours // 2] + offset
        year = int(middle.astype("datetime64[Y]").astype(np.int64)) + 1970
    days_in_month = np.array([calendar.monthrange(year, k)[1] for k in range(1, 13)])
    bad = (m < 1) | (m > 12) | (h < 0) | (h > 23)
    bad |= (d < 1) | (d > days_in_month[np.clip(m, 1, 12) - 1])
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"weather hour {i}: month {m[i]}, day {d[i]}, hour {h[i]} does not exist in {year}"
        )
    day_of_year = np.concatenate(([0], np.cumsum(days_in_month)))[m - 1] + d - 1
    local = np.datetime64(f"{year:04d}-01-01T00:00:00", "s") + (day_of_year * 24 + h) * _HOUR
    index = (local - offset - series.start_utc[0]) // _HOUR
    outside = (index < 0) | (index >= series.hours)
    if outside.any():
        i = int(np.argmax(outside))
        raise ValueError(
            f"the price series ({series.source}) covers {series.start_utc[0]}Z to "
            f"{series.start_utc[-1]}Z; it has no price for weather hour {i} "
            f"({year}-{m[i]:02d}-{d[i]:02d} {h[i]:02d}:00 at UTC{timezone_h:+g})"
        )
    return np.asarray(series.price_eur_per_mwh[index.astype(np.intp)], dtype=np.float64)


# --------------------------------------------------------------------------------------
# Tariffs, tax and the cost lines
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridTariff:
    """A grid tariff: an energy term on all energy and a capacity term on monthly peaks.

    ``capacity_term_eur_per_kw_month`` is one rate for every month or 12 monthly
    rates (January..December), as seasonal tariffs charge (e.g. Hafslund Nett's
    high-voltage tariff 2017: 122 NOK/kW/month in Dec-Feb, 47 in Mar/Nov, 8 in
    Apr-Oct). It applies to each calendar month's highest hourly mean draw.
    The energy term may be negative (a marginal-loss credit).
    """

    energy_term_eur_per_mwh: float
    capacity_term_eur_per_kw_month: float | tuple[float, ...]
    name: str = ""
    _monthly: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not math.isfinite(self.energy_term_eur_per_mwh):
            raise ValueError("GridTariff.energy_term_eur_per_mwh must be finite")
        rate = self.capacity_term_eur_per_kw_month
        monthly = (float(rate),) * 12 if isinstance(rate, int | float) else tuple(map(float, rate))
        if len(monthly) != 12:
            raise ValueError(
                f"GridTariff.capacity_term_eur_per_kw_month needs 1 or 12 rates, got {len(monthly)}"
            )
        if not all(math.isfinite(r) and r >= 0.0 for r in monthly):
            raise ValueError("GridTariff capacity rates must be finite and non-negative")
        object.__setattr__(self, "_monthly", monthly)

    @property
    def capacity_eur_per_kw_by_month(self) -> tuple[float, ...]:
        """The 12 monthly capacity rates, EUR per kW of the month's peak."""
        return self._monthly

    @classmethod
    def from_nok(
        cls,
        energy_term_nok_per_mwh: float,
        capacity_term_nok_per_kw_year: float | Sequence[float],
        *,
        nok_per_eur: float,
        name: str = "",
    ) -> GridTariff:
        """From NOK rates: a yearly capacity rate (NOK/kW/year, spread evenly over the
        12 months) or 12 monthly rates (NOK/kW/month), converted at ``nok_per_eur``."""
        if not nok_per_eur > 0.0:
            raise ValueError(f"nok_per_eur must be positive (got {nok_per_eur!r})")
        if isinstance(capacity_term_nok_per_kw_year, int | float):
            capacity: float | tuple[float, ...] = capacity_term_nok_per_kw_year / 12 / nok_per_eur
        else:
            capacity = tuple(float(r) / nok_per_eur for r in capacity_term_nok_per_kw_year)
        return cls(energy_term_nok_per_mwh / nok_per_eur, capacity, name)


@dataclass(frozen=True)
class ElectricityTax:
    """The electricity tax ("elavgift"), EUR per MWh of energy taken from the grid."""

    rate_eur_per_mwh: float
    name: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_eur_per_mwh) and self.rate_eur_per_mwh >= 0.0):
            raise ValueError("ElectricityTax.rate_eur_per_mwh must be finite and non-negative")

    @classmethod
    def from_nok(
        cls, rate_nok_per_mwh: float, *, nok_per_eur: float, name: str = ""
    ) -> ElectricityTax:
        if not nok_per_eur > 0.0:
            raise ValueError(f"nok_per_eur must be positive (got {nok_per_eur!r})")
        return cls(rate_nok_per_mwh / nok_per_eur, name)


#: Default grid tariff: a 200+ MW load connected to Statnett's transmission grid.
#: Capacity: Statnett 2024 consumption tariff 270 NOK/kW/year, spread as 22.5 NOK/kW
#: on each month's peak (simplification: Statnett bills its fixed term on a measured
#: basis over the year, not on monthly peaks; a large, flat consumer may qualify for
#: the "stort forbruk" reduction, 135 NOK/kW/year on average in 2024), at
#: NOK_PER_EUR_2024 -> 1.935 EUR/kW/month. Energy term: assumption 0.9 EUR/MWh =
#: an assumed +3 % marginal-loss rate x the 2023 NO4 mean price (29.9 EUR/MWh);
#: Statnett's energy term is the connection point's weekly marginal-loss rate (capped
#: at +-15 %) x the area price (capped at 350 NOK/MWh in 2024), and in surplus areas
#: such as NO4 it can be a credit; replace it with the rates of the actual point.
DEFAULT_GRID_TARIFF = GridTariff(
    energy_term_eur_per_mwh=0.9,
    capacity_term_eur_per_kw_month=STATNETT_CONSUMPTION_2024_NOK_PER_KW_YEAR
    / 12
    / NOK_PER_EUR_2024,
    name="Statnett transmission 2024 (capacity), assumed 3 % marginal loss (energy)",
)

#: Default tax: the reduced rate for data centres above 0.5 MW, 2024
#: (:data:`ELAVGIFT_REDUCED_2024_NOK_PER_MWH`), at NOK_PER_EUR_2024 -> 0.499 EUR/MWh.
DEFAULT_ELECTRICITY_TAX = ElectricityTax.from_nok(
    ELAVGIFT_REDUCED_2024_NOK_PER_MWH,
    nok_per_eur=NOK_PER_EUR_2024,
    name="elavgift, reduced rate (data centre > 0.5 MW), 2024",
)


@dataclass(frozen=True)
class CostLines:
    """A period's electricity cost, line by line, EUR (VAT excluded).

    ``energy_eur`` = sum of hourly energy x spot price; ``tariff_energy_eur`` =
    energy x energy term; ``tariff_capacity_eur`` = sum over the calendar months
    present of the month's peak hourly draw x that month's capacity rate (a month
    only partly in the period is charged in full); ``tax_eur`` = energy x tax rate;
    ``total_eur`` their sum. ``peak_kw_by_month`` and
    ``tariff_capacity_eur_by_month`` (January..December, 0 for months not
    present) show the capacity line's working.
    """

    energy_mwh: float
    energy_eur: float
    tariff_energy_eur: float
    tariff_capacity_eur: float
    tax_eur: float
    total_eur: float
    peak_kw_by_month: tuple[float, ...]
    tariff_capacity_eur_by_month: tuple[float, ...]


def cost_lines_eur(
    grid_energy_w_hourly: ArrayLike,
    price_eur_per_mwh_hourly: ArrayLike,
    tariff: GridTariff,
    tax: ElectricityTax,
    month: ArrayLike,
) -> CostLines:
    """The cost lines of an hourly grid draw (see :class:`CostLines`).

    ``grid_energy_w_hourly`` is each hour's mean draw from the grid in W (so its
    energy is W x 1 h; 200 MW for an hour = 200 MWh); ``price_eur_per_mwh_hourly``
    the spot price of each hour (negative prices reduce the energy line);
    ``month`` each hour's calendar month 1..12. Arrays of equal length; the draw
    must be finite and non-negative (export is not modelled), prices finite.
    """
    draw_w = np.asarray(grid_energy_w_hourly, dtype=np.float64)
    price = np.asarray(price_eur_per_mwh_hourly, dtype=np.float64)
    months = np.asarray(month)
    if not (draw_w.ndim == price.ndim == months.ndim == 1) or not (
        draw_w.size == price.size == months.size
    ):
        raise ValueError(
            "grid_energy_w_hourly, price_eur_per_mwh_hourly and month must be "
            f"one-dimensional and of equal length (got {draw_w.shape}, {price.shape}, "
            f"{months.shape})"
        )
    if not np.all(np.isfinite(draw_w)) or np.any(draw_w < 0.0):
        raise ValueError("grid_energy_w_hourly must be finite and non-negative")
    if not np.all(np.isfinite(price)):
        raise ValueError("price_eur_per_mwh_hourly must be finite")
    if months.size and (
        not np.issubdtype(months.dtype, np.integer) or months.min() < 1 or months.max() > 12
    ):
        raise ValueError("month must be integers 1..12")
    energy_mwh_h = draw_w / _W_PER_MW  # one hour at W watts
    energy_mwh = float(np.sum(energy_mwh_h))
    energy_eur = float(np.sum(energy_mwh_h * price))
    tariff_energy_eur = energy_mwh * tariff.energy_term_eur_per_mwh
    tax_eur = energy_mwh * tax.rate_eur_per_mwh
    idx = months.astype(np.intp) - 1
    peak_kw = np.zeros(12)
    present = np.bincount(idx, minlength=12) > 0
    np.maximum.at(peak_kw, idx, draw_w / _W_PER_KW)
    capacity_by_month = np.where(
        present, peak_kw * np.asarray(tariff.capacity_eur_per_kw_by_month), 0.0
    )
    tariff_capacity_eur = float(np.sum(capacity_by_month))
    total = energy_eur + tariff_energy_eur + tariff_capacity_eur + tax_eur
    return CostLines(
        energy_mwh=energy_mwh,
        energy_eur=energy_eur,
        tariff_energy_eur=tariff_energy_eur,
        tariff_capacity_eur=tariff_capacity_eur,
        tax_eur=tax_eur,
        total_eur=total,
        peak_kw_by_month=tuple(float(x) for x in peak_kw),
        tariff_capacity_eur_by_month=tuple(float(x) for x in capacity_by_month),
    )
