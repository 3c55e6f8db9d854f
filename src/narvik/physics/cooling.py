"""Closed-loop direct liquid cooling: heat split, coolant flow, pumps, dry coolers, chillers.

All functions are pure and vectorised over hours. Sources:

- Heat split: direct-to-chip cold plates take 80-95 % of the heat of a GB200/GB300
  rack, the rest goes to air (NVIDIA GB200 NVL72 reference design; ASHRAE TC 9.9,
  *Liquid Cooling Guidelines for Datacom Equipment Centers*, 2nd ed., 2014).
- Coolant flow: the steady-flow energy balance ``Q = m_dot * cp * dT``.
- Pumps: hydraulic power ``P = V_dot * dp / eta`` (e.g. Cengel and Cimbala,
  *Fluid Mechanics*, eq. 5-68).
- Dry coolers and the split with trim chillers: :func:`narvik.physics.cooling_plant.reject_heat`.
- Trim chillers: electricity = heat / COP.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def liquid_heat_w(it_heat_w: ArrayLike, liquid_heat_fraction: float) -> NDArray[np.float64]:
    """Heat taken by the cold plates, W."""
    return np.asarray(it_heat_w, dtype=float) * liquid_heat_fraction


def air_heat_w(it_heat_w: ArrayLike, liquid_heat_fraction: float) -> NDArray[np.float64]:
    """Heat left to the air side (rear doors / CRAH), W."""
    return np.asarray(it_heat_w, dtype=float) * (1.0 - liquid_heat_fraction)


def coolant_mass_flow_kg_s(
    heat_w: ArrayLike, specific_heat_j_per_kg_k: float, delta_t_k: float
) -> NDArray[np.float64]:
    """Mass flow carrying ``heat_w`` with a temperature rise ``delta_t_k``: Q / (cp dT), kg/s."""
    return np.asarray(heat_w, dtype=float) / (specific_heat_j_per_kg_k * delta_t_k)


def pump_power_w(
    volume_flow_m3_s: ArrayLike, head_pa: float, efficiency: float
) -> NDArray[np.float64]:
    """Electrical power of pumps delivering a flow against a head: V_dot dp / eta, W."""
    return np.asarray(volume_flow_m3_s, dtype=float) * head_pa / efficiency


def chiller_power_w(heat_w: ArrayLike, cop: float) -> NDArray[np.float64]:
    """Electricity of trim chillers removing ``heat_w`` at a COP, W."""
    return np.asarray(heat_w, dtype=float) / cop


def air_fan_power_w(air_heat_w: ArrayLike, fan_power_fraction: float) -> NDArray[np.float64]:
    """Fan power of rear-door heat exchangers / CRAH units for the air-side heat, W."""
    return np.asarray(air_heat_w, dtype=float) * fan_power_fraction
