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


@dataclass(frozen=True)
class HeatReuseHours:
    delivered_w: NDArray[np.float64]
    """Heat delivered to each offtaker at its temperature, W, shape (offtakers, hours)."""
    source_w: NDArray[np.float64]
    """Heat drawn from the facility loop for each offtaker, W, shape (offtakers, hours)."""
    heat_pump_power_w: NDArray[np.float64]
    """Heat-pump electricity for each offtaker, W, shape (offtakers, hours)."""


def allocate_heat(
    available_w: ArrayLike, demand_w: NDArray[np.float64], cop: ArrayLike
) -> HeatReuseHours:
    """Serve offtakers in order from the heat available each hour.

    ``demand_w`` has shape (offtakers, hours) and is heat wanted at the offtaker;
    ``cop`` has one value per offtaker, ``inf`` for a direct heat exchanger.
    """
    remaining = np.array(available_w, dtype=float, copy=True)
    demand = np.atleast_2d(np.asarray(demand_w, dtype=float))
    cops = np.broadcast_to(np.asarray(cop, dtype=float), (demand.shape[0],))
    delivered = np.zeros_like(demand)
    source = np.zeros_like(demand)
    for i, c in enumerate(cops):
        source_share = 1.0 - 1.0 / c
        wanted_source = demand[i] * source_share
        taken = np.minimum(wanted_source, remaining)
        remaining -= taken
        source[i] = taken
        delivered[i] = taken / source_share
    with np.errstate(divide="ignore", invalid="ignore"):
        hp_w = np.where(np.isfinite(cops)[:, None], delivered / cops[:, None], 0.0)
    return HeatReuseHours(delivered_w=delivered, source_w=source, heat_pump_power_w=hp_w)
