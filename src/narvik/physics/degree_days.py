"""Heating and cooling degree days after Eurostat, from an hourly dry-bulb series.

Eurostat, "Heating and cooling degree days - statistics" (Statistics Explained)
and the reference metadata of its dataset ``nrg_chdd`` define, for each day with
mean outdoor air temperature Tm:

- heating degree days: HDD = 18 C - Tm when Tm <= 15 C (the heating threshold),
  else 0;
- cooling degree days: CDD = Tm - 21 C when Tm >= 24 C (the cooling threshold),
  else 0;

and a period's HDD and CDD are the sums over its days. Eurostat takes Tm from
gridded daily means (JRC AGRI4CAST); here Tm is the mean of the day's 24 hourly
values, so a series must cover whole days and start at a day's first hour (as a
:class:`narvik.physics.weather.Weather` year does).

Commission Delegated Regulation (EU) 2024/1364 asks data centres to report their
cooling degree days (:mod:`narvik.kpi.eu_report`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

HOURS_PER_DAY = 24
HDD_BASE_C = 18.0
"""Eurostat's base temperature of heating degree days, C."""
HDD_THRESHOLD_C = 15.0
"""Eurostat's heating threshold: a day counts when its mean is at or below this, C."""
CDD_BASE_C = 21.0
"""Eurostat's base temperature of cooling degree days, C."""
CDD_THRESHOLD_C = 24.0
"""Eurostat's cooling threshold: a day counts when its mean is at or above this, C."""


@dataclass(frozen=True)
class DegreeDays:
    """Heating and cooling degree days of a period, in kelvin days (K d)."""

    heating_k_d: float
    cooling_k_d: float
    days: int


def daily_mean_c(hourly_c: ArrayLike) -> NDArray[np.float64]:
    """Mean of each day's 24 hourly temperatures, C (the series starts at a day's first hour)."""
    hours = np.asarray(hourly_c, dtype=float)
    if hours.ndim != 1 or hours.size == 0 or hours.size % HOURS_PER_DAY:
        raise ValueError(
            f"hourly temperatures must cover whole days: a 1-D series of a multiple of "
            f"{HOURS_PER_DAY} values, got shape {hours.shape}"
        )
    if not np.all(np.isfinite(hours)):
        raise ValueError("hourly temperatures must be finite")
    return hours.reshape(-1, HOURS_PER_DAY).mean(axis=1)


def heating_degree_days(daily_c: ArrayLike) -> float:
    """Eurostat HDD of a series of daily means: sum of 18 - Tm over the days with Tm <= 15 C."""
    tm = np.asarray(daily_c, dtype=float)
    return float(np.sum(np.where(tm <= HDD_THRESHOLD_C, HDD_BASE_C - tm, 0.0)))


def cooling_degree_days(daily_c: ArrayLike) -> float:
    """Eurostat CDD of a series of daily means: sum of Tm - 21 over the days with Tm >= 24 C."""
    tm = np.asarray(daily_c, dtype=float)
    return float(np.sum(np.where(tm >= CDD_THRESHOLD_C, tm - CDD_BASE_C, 0.0)))


def degree_days(hourly_c: ArrayLike) -> DegreeDays:
    """Eurostat heating and cooling degree days of an hourly dry-bulb series of whole days."""
    tm = daily_mean_c(hourly_c)
    return DegreeDays(
        heating_k_d=heating_degree_days(tm),
        cooling_k_d=cooling_degree_days(tm),
        days=int(tm.size),
    )
