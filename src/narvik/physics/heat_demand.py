"""Hourly heat demand of an offtaker driven by the ambient temperature.

The degree-hour method: above a base load, demand grows linearly as the
ambient falls below the balance-point temperature and reaches its peak at the
design temperature (CIBSE TM41, *Degree-days: theory and application*, 2006,
section 2; EN 12831-1:2017 for the design temperature). Year-round needs
(aquaculture tanks, industrial drying) are a high base share.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def heat_demand_w(
    ambient_c: ArrayLike,
    *,
    peak_demand_w: float,
    base_demand_fraction: float,
    balance_temp_c: float,
    design_temp_c: float,
) -> NDArray[np.float64]:
    """Heat demand, W: ``peak * (base + (1 - base) * clip((Tb - T) / (Tb - Td), 0, 1))``."""
    t = np.asarray(ambient_c, dtype=float)
    weather = np.clip((balance_temp_c - t) / (balance_temp_c - design_temp_c), 0.0, 1.0)
    return peak_demand_w * (base_demand_fraction + (1.0 - base_demand_fraction) * weather)
