"""Allocating recovered heat to offtakers, hour by hour.

Heat is available at the facility return temperature from the liquid loop.
Offtakers are served in priority order (their order in the site file). One
without a heat pump takes facility water through a heat exchanger; one with a
heat pump draws ``Q_d (1 - 1/COP)`` from the loop and adds ``Q_d / COP`` of
electricity (:mod:`narvik.physics.heat_pump`). Energy balance: heat drawn from
the loop never exceeds the liquid heat of the hour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.physics.district_heating import dispatch_heat_w


@dataclass(frozen=True)
class HeatReuseHours:
    delivered_w: NDArray[np.float64]
    """Heat delivered to each offtaker at its temperature, W, shape (offtakers, hours)."""
    source_w: NDArray[np.float64]
    """Heat drawn from the facility loop for each offtaker, W, shape (offtakers, hours)."""
    heat_pump_power_w: NDArray[np.float64]
    """Heat-pump electricity for each offtaker, W, shape (offtakers, hours)."""


def allocate_heat(
    available_w: ArrayLike,
    demand_w: NDArray[np.float64],
    cop: ArrayLike,
    *,
    heat_pump_capacity_w: ArrayLike | None = None,
    existing_plant_min_share: ArrayLike | None = None,
) -> HeatReuseHours:
    """Serve offtakers in order from the heat available each hour.

    ``demand_w`` has shape (offtakers, hours) and is heat wanted at the offtaker;
    ``cop`` has one value per offtaker, or one per offtaker and hour, ``inf`` for a
    direct heat exchanger. Each offtaker's share is found by
    :func:`narvik.physics.district_heating.dispatch_heat_w`: limited by its heat
    pump's capacity (one per offtaker, default unlimited), by the share its existing
    plant keeps (default none) and by the heat the earlier offtakers left.
    """
    remaining = np.array(available_w, dtype=float, copy=True)
    demand = np.atleast_2d(np.asarray(demand_w, dtype=float))
    n = demand.shape[0]
    if n == 0:
        empty = np.zeros_like(demand)
        return HeatReuseHours(delivered_w=empty, source_w=empty, heat_pump_power_w=empty)
    cops = np.broadcast_to(np.asarray(cop, dtype=float).reshape(n, -1), demand.shape)
    caps = np.full(n, np.inf) if heat_pump_capacity_w is None else np.asarray(heat_pump_capacity_w)
    keep = np.zeros(n) if existing_plant_min_share is None else np.asarray(existing_plant_min_share)
    delivered = np.zeros_like(demand)
    source = np.zeros_like(demand)
    hp_w = np.zeros_like(demand)
    for i in range(n):
        d = dispatch_heat_w(
            demand[i],
            remaining,
            cops[i],
            heat_pump_capacity_w=float(caps[i]),
            existing_plant_min_share=float(keep[i]),
        )
        remaining = np.maximum(remaining - d.source_w, 0.0)
        delivered[i], source[i], hp_w[i] = d.delivered_w, d.source_w, d.heat_pump_power_w
    return HeatReuseHours(delivered_w=delivered, source_w=source, heat_pump_power_w=hp_w)
