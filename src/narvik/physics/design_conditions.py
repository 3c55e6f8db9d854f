"""Design dry-bulb temperatures of a weather year, and a heat wave to stress one.

:func:`design_conditions` gives the annual heating and cooling design dry bulbs of
the ASHRAE Handbook - Fundamentals (2021), ch. 14 "Climatic Design Information"
(99.6 % and 99 % heating, 0.4 %, 1 % and 2 % cooling), computed from the hourly
dry bulb of one :class:`~narvik.physics.weather.Weather` year, with its minimum,
maximum and mean. :func:`heat_wave` returns a copy of a year with a heat wave of
a given length and peak, to test a facility against a hotter year than the
typical one.

Imports :mod:`narvik.physics.weather_series` and :mod:`narvik.physics.psychrometrics`
only, like :mod:`narvik.physics.climate`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from narvik.physics.psychrometrics import relative_humidity_pct
from narvik.physics.weather_series import HOURS_PER_DAY, Weather

__all__ = ["QUANTILE_METHOD", "DesignConditions", "design_conditions", "heat_wave"]

FloatArray = NDArray[np.float64]

#: numpy quantile method used for the design temperatures (Hyndman and Fan 1996,
#: definition 1, the inverse of the empirical distribution function).
QUANTILE_METHOD: Final = "inverted_cdf"

# Ramp of a heat wave before its first day's hottest hour and after its last day's, h.
HEAT_WAVE_RAMP_H = 24.0


@dataclass(frozen=True)
class DesignConditions:
    """Annual design dry-bulb temperatures of one weather year, C (ASHRAE HOF 2021 ch. 14).

    ``heating_99_6_c``/``heating_99_c``: the hourly dry bulb is at or below them
    for 0.4 % / 1 % of the hours (99.6 % / 99 % of the hours are at or above).
    ``cooling_0_4_c``/``cooling_1_c``/``cooling_2_c``: exceeded by 0.4 % / 1 % /
    2 % of the hours. ``min_c``, ``max_c``, ``mean_c``: the year's extremes and
    mean; ``hours``: the number of hourly values; ``source``: the weather's.
    """

    heating_99_6_c: float
    heating_99_c: float
    cooling_0_4_c: float
    cooling_1_c: float
    cooling_2_c: float
    min_c: float
    max_c: float
    mean_c: float
    hours: int
    source: str


def design_conditions(weather: Weather) -> DesignConditions:
    """Annual heating and cooling design dry bulbs of ``weather`` (ASHRAE HOF 2021, ch. 14).

    ASHRAE Handbook - Fundamentals (2021), ch. 14, defines the annual heating
    design dry bulbs as the temperatures at the 99.6 % and 99.0 % annual
    cumulative frequency of occurrence (the dry bulb is at or below them for
    0.4 % and 1 % of the hours of the year) and the cooling design dry bulbs as
    those exceeded by 0.4 %, 1 % and 2 % of the hours. The Handbook derives them
    from many years of observations; here they describe the one year given.

    Computed with :func:`numpy.quantile` on the hourly dry bulb at probabilities
    0.004 and 0.01 (heating) and 0.996, 0.99 and 0.98 (cooling), method
    ``"inverted_cdf"`` (:data:`QUANTILE_METHOD`; Hyndman and Fan 1996, definition
    1): the smallest hourly value ``x`` with at least a fraction ``p`` of the
    hours at or below ``x``. Why that method: it follows the definition by
    counting hours, it returns a temperature that occurred (no interpolation
    between two hours of perhaps different days), and it is symmetric for the
    two tails. For 8760 hours: 0.4 % is 35.04 hours, so the 99.6 % heating dry
    bulb is the 36th coldest hour (35 hours below it) and the 0.4 % cooling dry
    bulb the 36th hottest (35 hours above it). numpy's default (``"linear"``)
    would differ by at most the gap between neighbouring ranked hours.
    """
    temp_c: FloatArray = np.asarray(weather.dry_bulb_c, dtype=np.float64)
    if temp_c.size == 0:
        raise ValueError("design_conditions needs at least one hourly dry bulb value")
    if not np.isfinite(temp_c).all():
        raise ValueError("design_conditions: the dry bulb has non-finite values")
    probabilities = np.array([0.004, 0.01, 0.996, 0.99, 0.98])
    q = np.quantile(temp_c, probabilities, method=QUANTILE_METHOD)
    return DesignConditions(
        heating_99_6_c=float(q[0]),
        heating_99_c=float(q[1]),
        cooling_0_4_c=float(q[2]),
        cooling_1_c=float(q[3]),
        cooling_2_c=float(q[4]),
        min_c=float(temp_c.min()),
        max_c=float(temp_c.max()),
        mean_c=float(temp_c.mean()),
        hours=int(temp_c.size),
        source=weather.source,
    )


def heat_wave(weather: Weather, start_day_of_year: int, days: int, peak_c: float) -> Weather:
    """A copy of ``weather`` with a heat wave whose daily maxima reach ``peak_c``.

    The wave covers the calendar days ``start_day_of_year`` (1 = 1 January) to
    ``start_day_of_year + days - 1``. For each of these days ``d`` the warming
    needed is ``w_d = peak_c - max_d`` (0 where the day's maximum ``max_d``
    already reaches ``peak_c``), placed at the day's hottest hour; between those
    hours the warming is interpolated linearly in time, and it ramps up from 0
    over the 24 h before the first day's hottest hour and back to 0 over the
    24 h after the last day's (so the nights of the wave stay warm, as in a real
    one, and no hour jumps). Each hour is then ``max(T, min(T + w, peak_c))``:
    never cooler than before and never pushed above ``peak_c``, so every wave
    day's maximum is exactly ``peak_c`` (or its own, if that was higher). This
    is the "shift" of the morphing method (Belcher, Hacker and Powell 2005,
    Building Serv. Eng. Res. Technol. 26(1), 49-61) applied over a few days
    with a time-varying shift, e.g. a two-week 30 C heat wave.

    Humidity: the dew point is raised by the same warming (a humid heat wave, the
    harder case for cooling) and capped at the new dry bulb; relative humidity
    follows from Magnus (:func:`relative_humidity_pct`). Pressure and wind are
    kept. ``weather`` must hold whole days (its rows a multiple of 24), and the
    wave must lie within them.
    """
    n = weather.hours
    if n == 0 or n % HOURS_PER_DAY:
        raise ValueError(f"heat_wave needs whole days of hourly rows, got {n} rows")
    n_days = n // HOURS_PER_DAY
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if not 1 <= start_day_of_year <= n_days - days + 1:
        raise ValueError(
            f"a {days}-day heat wave from day {start_day_of_year} does not fit in the "
            f"{n_days} days of the weather (start_day_of_year is 1-based)"
        )
    temp_c = np.asarray(weather.dry_bulb_c, dtype=float)
    first = start_day_of_year - 1
    wave_days = temp_c.reshape(n_days, HOURS_PER_DAY)[first : first + days]
    hottest_h = (
        np.arange(first, first + days) * HOURS_PER_DAY + np.argmax(wave_days, axis=1)
    ).astype(float)
    warming_k = np.maximum(peak_c - wave_days.max(axis=1), 0.0)
    knots_h = np.concatenate(
        [[hottest_h[0] - HEAT_WAVE_RAMP_H], hottest_h, [hottest_h[-1] + HEAT_WAVE_RAMP_H]]
    )
    knots_k = np.concatenate([[0.0], warming_k, [0.0]])
    offset_k = np.interp(np.arange(n, dtype=float), knots_h, knots_k, left=0.0, right=0.0)

    dry = np.maximum(temp_c, np.minimum(temp_c + offset_k, peak_c))
    dew = np.minimum(np.asarray(weather.dew_point_c, dtype=float) + offset_k, dry)
    rh = np.clip(np.asarray(relative_humidity_pct(dry, dew), dtype=float), 0.0, 100.0)
    return replace(
        weather,
        dry_bulb_c=dry,
        dew_point_c=dew,
        relative_humidity_pct=rh,
        source=(
            f"{weather.source} heat wave {days} d from day {start_day_of_year} to {peak_c:g} C"
        ),
    )
