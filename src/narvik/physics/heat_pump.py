"""Heat-pump coefficient of performance for lifting data-centre water.

A Carnot COP with temperature approaches in the evaporator and condenser and a
constant second-law (exergy) efficiency, the usual model of large heat pumps
(Arpagaus et al., "High temperature heat pumps: Market overview, state of the
art, research status, refrigerants, and application potentials", Energy 152,
2018; Jesper et al., Renew. Sust. Energy Rev. 137, 2021):

    COP = eta * T_cond / (T_cond - T_evap),
    T_cond = T_sink + approach,  T_evap = T_source - approach   (kelvin)

With ``approach = 8 K`` and ``eta = 0.50`` it reproduces, from 45 C source
water, the published COPs of about 5.5 to 60 C, 4.3 to 70 C and 3.5 to 80 C
(Danish Energy Agency, *Technology Data for Generation of Electricity and
District Heating*, large electric heat pumps; as quoted in docs/MISSION.md).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.units import ZERO_C_IN_K

DEFAULT_APPROACH_K = 8.0
DEFAULT_EXERGY_EFFICIENCY = 0.50


def heat_pump_cop(
    source_temp_c: ArrayLike,
    sink_temp_c: ArrayLike,
    *,
    approach_k: float = DEFAULT_APPROACH_K,
    exergy_efficiency: float = DEFAULT_EXERGY_EFFICIENCY,
) -> NDArray[np.float64]:
    """Heating COP (heat delivered / electricity) lifting ``source`` to ``sink``."""
    t_cond = np.asarray(sink_temp_c, dtype=float) + approach_k + ZERO_C_IN_K
    t_evap = np.asarray(source_temp_c, dtype=float) - approach_k + ZERO_C_IN_K
    lift_k = t_cond - t_evap
    if np.any(lift_k <= 0):
        raise ValueError("heat_pump_cop: sink must be above source less twice the approach")
    return exergy_efficiency * t_cond / lift_k


def source_heat_w(delivered_heat_w: ArrayLike, cop: ArrayLike) -> NDArray[np.float64]:
    """Heat drawn from the source to deliver ``delivered_heat_w``: Q_d (1 - 1/COP), W."""
    return np.asarray(delivered_heat_w, dtype=float) * (1.0 - 1.0 / np.asarray(cop, dtype=float))
