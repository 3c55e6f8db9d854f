"""SI units and the few conversions narvik needs at its edges.

Inside narvik every quantity is SI and carries its unit in its name
(``power_w``, ``energy_j``, ``temp_c``). Time is seconds. The edges (files a
person writes, reports a person reads) may use MW, MWh and kWh; these helpers
convert, and nothing else does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

SECONDS_PER_HOUR = 3600.0
HOURS_PER_YEAR = 8760
SECONDS_PER_DAY = 86400.0
ZERO_C_IN_K = 273.15
J_PER_KWH = 3.6e6
J_PER_MWH = 3.6e9
W_PER_MW = 1.0e6
W_PER_KW = 1.0e3


def c_to_k(temp_c: ArrayLike) -> NDArray[np.float64] | float:
    """Celsius to kelvin."""
    return np.asarray(temp_c, dtype=float) + ZERO_C_IN_K


def k_to_c(temp_k: ArrayLike) -> NDArray[np.float64] | float:
    """Kelvin to Celsius."""
    return np.asarray(temp_k, dtype=float) - ZERO_C_IN_K


def mw_to_w(power_mw: ArrayLike) -> NDArray[np.float64] | float:
    return np.asarray(power_mw, dtype=float) * W_PER_MW


def w_to_mw(power_w: ArrayLike) -> NDArray[np.float64] | float:
    return np.asarray(power_w, dtype=float) / W_PER_MW


def j_to_mwh(energy_j: ArrayLike) -> NDArray[np.float64] | float:
    return np.asarray(energy_j, dtype=float) / J_PER_MWH


def j_to_kwh(energy_j: ArrayLike) -> NDArray[np.float64] | float:
    return np.asarray(energy_j, dtype=float) / J_PER_KWH


def hourly_w_to_mwh(power_w: ArrayLike) -> float:
    """Energy in MWh of a series of hourly mean powers in W (one value per hour)."""
    return float(np.sum(np.asarray(power_w, dtype=float)) / W_PER_MW)
