"""The cooling plant with its loops and its equipment's capacities.

Two water loops and an air path carry the heat (ASHRAE TC 9.9, *Liquid Cooling
Guidelines for Datacom Equipment Centers*, 2nd ed., 2014, fig. 2.1; OCP,
*Advanced Cooling Solutions: CDU requirements*, 2023):

- the **technology cooling system (TCS)**, the rack loop: cold plates, manifolds
  and the secondary side of the coolant distribution units (CDUs), with its own
  pumps;
- the **facility water system (FWS)**: the CDUs' primary side, the air-side coils
  (CRAH units and rear doors in the halls, and the electrical rooms' coolers),
  the heat-recovery exchangers, the dry coolers and trim chillers, with its own
  pumps;
- the **air path**: heat the cold plates do not take, fan heat and the
  distribution losses in the halls go to air and from air to facility water at
  the air coils, whose water returns cooler than the CDUs' (its own return
  temperature).

Pure, vectorised functions. Sources per function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


def counterflow_effectiveness(ntu: ArrayLike, capacity_ratio: float) -> NDArray[np.float64]:
    """Effectiveness of a counterflow heat exchanger (Incropera, DeWitt, Bergman and
    Lavine, *Fundamentals of Heat and Mass Transfer*, 6th ed., eq. 11.29a and 11.29b):

        eps = (1 - exp(-NTU (1 - Cr))) / (1 - Cr exp(-NTU (1 - Cr)))   (Cr < 1)
        eps = NTU / (1 + NTU)                                             (Cr = 1)
    """
    n = np.asarray(ntu, dtype=float)
    if abs(capacity_ratio - 1.0) < 1e-9:
        return n / (1.0 + n)
    e = np.exp(-n * (1.0 - capacity_ratio))
    return (1.0 - e) / (1.0 - capacity_ratio * e)


def cdu_approach_k(
    heat_w: ArrayLike, design_heat_w: float, design_approach_k: float, delta_t_k: float
) -> NDArray[np.float64]:
    """Approach of a CDU (TCS supply minus facility supply), K, at a heat load.

    Both loops hold their design temperature rise ``delta_t_k`` with variable flow, so
    the two capacity rates are equal (Cr = 1) and scale with the heat. For a balanced
    counterflow exchanger ``eps = NTU / (1 + NTU)`` (Incropera eq. 11.29b) and the
    approach (hot outlet minus cold inlet) is ``dT (1 - eps) / eps = dT / NTU``. The
    exchanger's UA is fixed, so ``NTU = UA / C`` grows as the flow falls: from the
    design point ``NTU_d = dT / approach_d`` the approach is
    ``approach_d * Q / Q_d`` (the CDU closes its approach at part load).
    """
    q = np.asarray(heat_w, dtype=float)
    if design_approach_k <= 0 or design_heat_w <= 0:
        return np.zeros_like(q)
    ntu_design = delta_t_k / design_approach_k
    with np.errstate(divide="ignore", invalid="ignore"):
        ntu = ntu_design * design_heat_w / np.where(q > 0, q, np.nan)
        eps = counterflow_effectiveness(ntu, 1.0)
        return np.where(q > 0, delta_t_k * (1.0 - eps) / eps, 0.0)


def mixed_temp_c(
    supply_c: float, heat_w: ArrayLike, mass_flow_kg_s: ArrayLike, cp_j_per_kg_k: float
) -> NDArray[np.float64]:
    """Temperature of a stream after taking up ``heat_w`` from ``supply_c``:
    ``T = T_s + Q / (m_dot cp)`` (steady-flow energy balance), C; ``T_s`` at no flow."""
    q = np.asarray(heat_w, dtype=float)
    m = np.asarray(mass_flow_kg_s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m > 0, supply_c + q / (np.maximum(m, 1e-300) * cp_j_per_kg_k), supply_c)


@dataclass(frozen=True)
class RejectionHours:
    """How the plant rejects a heat load, each step, W."""

    dry_cooler_heat_w: NDArray[np.float64]
    chiller_heat_w: NDArray[np.float64]
    shortfall_w: NDArray[np.float64]
    """Heat neither the dry coolers at full fan speed nor the chillers at their rated
    capacity can remove: the supply temperature cannot be held."""
    dry_cooler_fan_power_w: NDArray[np.float64]


def reject_heat(
    heat_w: ArrayLike,
    inlet_temp_c: ArrayLike,
    ambient_c: ArrayLike,
    *,
    rated_heat_w: float,
    rated_itd_k: float,
    fan_power_fraction: float,
    min_fan_speed_fraction: float,
    chiller_capacity_w: float,
) -> RejectionHours:
    """Split a heat load between dry coolers, trim chillers and what neither can take.

    Dry coolers: with fans at full speed they reject ``rated_heat_w`` at an initial
    temperature difference (fluid in minus ambient) of ``rated_itd_k``, and their
    capacity scales with the actual ITD (ASHRAE Handbook - HVAC Systems and Equipment
    2020, ch. 40; EN 1048 rates dry coolers at an ITD). The airflow needed is
    ``x = Q / capacity`` and fan power follows the affinity law ``P_r max(x, x_min)**3``
    (ch. 21). Heat above their capacity goes to trim chillers up to
    ``chiller_capacity_w``; the rest is the shortfall.
    """
    q = np.asarray(heat_w, dtype=float)
    t_in = np.asarray(inlet_temp_c, dtype=float)
    t_amb = np.asarray(ambient_c, dtype=float)
    itd_k = np.maximum(t_in - t_amb, 0.0)
    capacity_w = rated_heat_w * itd_k / rated_itd_k
    free_w = np.minimum(q, capacity_w)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(capacity_w > 0, q / capacity_w, np.inf)
    speed = np.clip(x, min_fan_speed_fraction, 1.0)
    fan_w = np.where(q > 0, fan_power_fraction * rated_heat_w * speed**3, 0.0)
    rest_w = q - free_w
    chiller_w = np.minimum(rest_w, chiller_capacity_w)
    return RejectionHours(
        dry_cooler_heat_w=free_w,
        chiller_heat_w=chiller_w,
        shortfall_w=rest_w - chiller_w,
        dry_cooler_fan_power_w=fan_w,
    )
