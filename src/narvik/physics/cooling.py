"""Closed-loop direct liquid cooling: heat split, coolant flow, pumps, dry coolers, chillers.

All functions are pure and vectorised over hours. Sources:

- Heat split: direct-to-chip cold plates take 80-95 % of the heat of a GB200/GB300
  rack, the rest goes to air (NVIDIA GB200 NVL72 reference design; ASHRAE TC 9.9,
  *Liquid Cooling Guidelines for Datacom Equipment Centers*, 2nd ed., 2014).
- Coolant flow: the steady-flow energy balance ``Q = m_dot * cp * dT``.
- Pumps: hydraulic power ``P = V_dot * dp / eta`` (e.g. Cengel and Cimbala,
  *Fluid Mechanics*, eq. 5-68).
- Dry coolers: heat rejected scales with the initial temperature difference
  (fluid in minus ambient) at a given airflow, and airflow needed scales with
  duty / ITD; fan power follows the fan affinity law ``P ~ n**3`` (ASHRAE
  Handbook - HVAC Systems and Equipment 2020, ch. 21 "Fans" and ch. 40
  "Cooling towers / dry coolers").
- Trim chillers: electricity = heat / COP.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class DryCoolerHours:
    free_heat_w: NDArray[np.float64]
    """Heat the dry coolers reject, W."""
    chiller_heat_w: NDArray[np.float64]
    """Heat left for the trim chillers, W."""
    fan_power_w: NDArray[np.float64]
    """Dry-cooler fan power, W."""


def dry_cooler(
    heat_w: ArrayLike,
    ambient_c: ArrayLike,
    *,
    return_temp_c: float,
    supply_temp_c: float,
    approach_k: float,
    rated_heat_w: float,
    fan_power_fraction: float,
    min_fan_speed_fraction: float,
) -> DryCoolerHours:
    """Split a heat load between dry coolers and trim chillers, with fan power.

    The dry coolers are rated to reject ``rated_heat_w`` at full fan speed when
    the ambient is ``supply_temp_c - approach_k``, i.e. with an initial
    temperature difference ``ITD_r = return - (supply - approach)``. At an
    ambient ``T`` the needed airflow fraction is ``x = (Q / Q_r) * ITD_r / ITD``
    with ``ITD = return - T``. If ``x <= 1`` all heat is rejected freely with fan
    power ``P_r * max(x, x_min)**3``; otherwise the fans run flat out, reject
    ``Q_r * ITD / ITD_r`` and the trim chillers take the rest.
    """
    q = np.asarray(heat_w, dtype=float)
    t_amb = np.asarray(ambient_c, dtype=float)
    itd_rated_k = return_temp_c - (supply_temp_c - approach_k)
    itd_k = np.maximum(return_temp_c - t_amb, 0.0)
    capacity_w = rated_heat_w * itd_k / itd_rated_k
    free_w = np.minimum(q, capacity_w)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(capacity_w > 0, q / capacity_w, np.inf)
    speed = np.clip(x, min_fan_speed_fraction, 1.0)
    fan_w = np.where(q > 0, fan_power_fraction * rated_heat_w * speed**3, 0.0)
    return DryCoolerHours(free_heat_w=free_w, chiller_heat_w=q - free_w, fan_power_w=fan_w)


def chiller_power_w(heat_w: ArrayLike, cop: float) -> NDArray[np.float64]:
    """Electricity of trim chillers removing ``heat_w`` at a COP, W."""
    return np.asarray(heat_w, dtype=float) / cop


def air_fan_power_w(air_heat_w: ArrayLike, fan_power_fraction: float) -> NDArray[np.float64]:
    """Fan power of rear-door heat exchangers / CRAH units for the air-side heat, W."""
    return np.asarray(air_heat_w, dtype=float) * fan_power_fraction
