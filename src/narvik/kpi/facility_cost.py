"""A facility year's electricity cost as the bill shows it: energy at hourly day-ahead
prices, the grid tariff's energy and capacity terms, and the electricity tax, each its
own line (:func:`narvik.physics.energy_cost.cost_lines_eur`)."""

from __future__ import annotations

import calendar
from pathlib import Path

import numpy as np

from narvik.kpi.facility_year import FacilityYear
from narvik.physics.energy_cost import (
    ElectricityTax,
    GridTariff,
    PriceSeries,
    cost_lines_eur,
    default_no4_prices,
    prices_for_weather_hours,
    read_price_csv,
)


def price_series(prices: Path | None, year: int, hours: int) -> PriceSeries:
    """The hourly prices: a CSV file, or the shipped NO4 profile for ``year`` (moved to the
    nearest year of the weather's length, so a leap-year EPW gets a leap year)."""
    if prices is not None:
        return read_price_csv(prices)
    leap = hours > 8760
    while calendar.isleap(year) != leap:
        year += 1
    return default_no4_prices(year)


def facility_cost(year: FacilityYear, prices: PriceSeries) -> dict[str, object] | None:
    """The cost lines of the year's grid draw, EUR; None when the site has no
    ``[electricity]`` accounts."""
    acc = year.site.electricity
    if acc is None:
        return None
    w = year.weather
    price = prices_for_weather_hours(prices, w.month, w.day, w.hour)
    lines = cost_lines_eur(
        year.hours.facility_power_w,
        price,
        GridTariff(acc.tariff_energy_eur_per_mwh, acc.tariff_capacity_eur_per_kw_month),
        ElectricityTax(acc.electricity_tax_eur_per_mwh),
        w.month,
    )
    return {
        "prices": prices.source,
        "mean_price_eur_per_mwh": float(np.mean(price)),
        "energy_mwh": lines.energy_mwh,
        "energy_eur": lines.energy_eur,
        "tariff_energy_eur": lines.tariff_energy_eur,
        "tariff_capacity_eur": lines.tariff_capacity_eur,
        "electricity_tax_eur": lines.tax_eur,
        "total_eur": lines.total_eur,
        "tariff_source": acc.tariff_source,
    }
