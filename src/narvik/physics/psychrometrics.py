"""Psychrometrics and the standard atmosphere: the humidity and pressure formulas of narvik.

Saturation vapour pressure, dew point and relative humidity over liquid water use
the Magnus formula with the coefficients of Alduchov and Eskridge (1996); station
pressure at an elevation is the standard atmosphere (U.S. Standard Atmosphere
1976, as given in ASHRAE Handbook Fundamentals 2017, ch. 1). All functions are
vectorised over numpy arrays and also accept scalars.

Module layout of the weather code in :mod:`narvik.physics` (the import graph is
acyclic; each module imports only those listed before it)::

    psychrometrics  Magnus formula, standard atmosphere     (numpy only)
    weather_series  the Weather record and its calendar     (numpy only)
    epw             EPW reading and writing                 (psychrometrics, weather_series)
    climate         climate normals and the typical year    (psychrometrics, weather_series)
    weather         builtin_weather, and the public facade  (all of the above)

This module is a leaf: it imports nothing from narvik. Its functions are also
re-exported by :mod:`narvik.physics.weather`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAGNUS_A",
    "MAGNUS_B_C",
    "MAGNUS_E0_PA",
    "STANDARD_PRESSURE_SEA_LEVEL_PA",
    "dew_point_c",
    "relative_humidity_pct",
    "saturation_vapour_pressure_pa",
    "standard_pressure_pa",
]

FloatArray = NDArray[np.float64]

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
