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

This module is the public entry point: import weather names from here. It
defines :func:`builtin_weather` and re-exports the rest from one module per
concept (in the manner of pvlib)::

    narvik.physics.psychrometrics  Magnus formula, standard atmosphere
    narvik.physics.weather_series  the Weather record and its calendar
    narvik.physics.epw             EPW reading and writing
    narvik.physics.climate         climate normals and the typical year
    narvik.physics.weather         builtin_weather; re-exports all of the above

The import graph is acyclic: ``psychrometrics`` and ``weather_series`` import
nothing from narvik, ``epw`` and ``climate`` import only those two (and
``narvik.atomic``), and only this module imports ``epw`` and ``climate``. The
Weather record lives in ``weather_series`` rather than here because ``epw`` and
``climate`` build Weather objects while this module needs ``climate`` for
:func:`builtin_weather`; keeping it here would make ``weather`` and ``epw`` or
``climate`` import each other.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from narvik.physics.climate import BUILTIN_CLIMATES, ClimateNormals, typical_year
from narvik.physics.epw import WeatherFileError, read_epw, write_epw

# Module constants that were defined here before the split stay importable from here.
from narvik.physics.psychrometrics import (  # noqa: F401
    MAGNUS_A,
    MAGNUS_B_C,
    MAGNUS_E0_PA,
    STANDARD_PRESSURE_SEA_LEVEL_PA,
    dew_point_c,
    relative_humidity_pct,
    saturation_vapour_pressure_pa,
    standard_pressure_pa,
)
from narvik.physics.weather_series import (  # noqa: F401
    HOURS_LEAP_YEAR,
    HOURS_NON_LEAP_YEAR,
    HOURS_PER_DAY,
    FloatArray,
    Weather,
)

__all__ = [
    "BUILTIN_CLIMATES",
    "ClimateNormals",
    "Weather",
    "WeatherFileError",
    "builtin_weather",
    "dew_point_c",
    "read_epw",
    "shifted_weather",
    "relative_humidity_pct",
    "saturation_vapour_pressure_pa",
    "standard_pressure_pa",
    "typical_year",
    "write_epw",
]


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


def shifted_weather(weather: Weather, offset_k: float) -> Weather:
    """The same year ``offset_k`` kelvin warmer (colder when negative): dry-bulb and
    dew-point temperatures shifted alike, relative humidity recomputed from them.

    The "shift" operation of the morphing method (Belcher, Hacker and Powell,
    "Constructing design weather data for future climates", Building Services
    Engineering Research and Technology 26(1), 2005, pp. 49-61: ``T' = T + dT``), with
    the dew point moved by the same amount so the dew-point depression, and so the
    hours of condensation risk, keep their pattern; relative humidity then follows
    from Magnus (:func:`relative_humidity_pct`). Pressure and wind are kept.
    """
    if offset_k == 0:
        return weather
    dry = weather.dry_bulb_c + offset_k
    dew = weather.dew_point_c + offset_k
    rh = np.clip(np.asarray(relative_humidity_pct(dry, dew), dtype=float), 0.0, 100.0)
    return replace(
        weather,
        dry_bulb_c=dry,
        dew_point_c=dew,
        relative_humidity_pct=rh,
        source=f"{weather.source} shifted {offset_k:+g} K",
    )
