"""Thermal transients of the facility cooling loop: a lumped-capacitance model.

The loop's fluid inventory (and, optionally, the steel that holds it) is one
well-mixed thermal mass ``C = rho V cp + m_steel cp_steel``, J/K, whose energy
balance is

    C dT_s/dt = Q_in(t) - Q_rej(t) - Q_reuse(t)

with ``T_s`` the supply temperature, ``Q_in`` the heat the racks and the pumps put
into the water, ``Q_rej`` the heat the dry coolers and trim chillers reject and
``Q_reuse`` the heat drawn by the offtakers. The pumps hold the design rise across
the racks (flow follows the heat, as in the steady-state model of
:mod:`narvik.physics.facility`), so the temperature profile of the loop keeps its
shape, the return is ``T_s + rise`` and the stored energy changes by ``C dT_s``.
This is the energy-based ride-through estimate of Schneider Electric White Paper 179
(Lin, Zhang and VanGilder, "Data Center Temperature Rise During a Cooling System
Outage", rev. 0) and of the lumped-capacitance method (Incropera and DeWitt,
*Fundamentals of Heat and Mass Transfer*, 6th ed., sec. 5.1-5.3). It leaves out
transport delay: in a loop with little mixing the supply holds its set point for
about the supply leg's transit time and then steps up by as much as the rack rise,
so for margins smaller than that rise the lumped time is the shorter (conservative)
one; :func:`circulation_time_s` gives the transit time to compare.

The heat rejection responds as a first-order lag with time constant ``tau``
(fan speed ramps, the supply-temperature control loop) towards a target made of
the heat to reject (feed-forward) plus a proportional correction that works off
the excess stored heat with time constant ``tau_fb``:

    tau dQ_rej/dt = (Q_in - Q_reuse + (C / tau_fb) (T_s - T_set)) - Q_rej,

clamped at once to the capacity available (dry coolers at full fan speed, whose
heat scales with the initial temperature difference return minus ambient as in
:func:`narvik.physics.cooling.dry_cooler`, plus the trim chillers). After a step
``dQ`` of net heat the supply error obeys ``tau e'' + e' + e / tau_fb = 0`` with
``e(0) = 0``, ``e'(0) = dQ / C``: with no correction (``tau_fb = inf``) it is the
first-order rise ``e = dQ tau / C (1 - exp(-t / tau))``; with ``tau_fb = 4 tau``
(critical damping, the default) ``e = dQ / C t exp(-t / (2 tau))``, peaking at
``2 dQ tau / (e C)`` at ``t = 2 tau`` and returning to the set point without
overshoot.

All functions are pure; :func:`simulate_loop` is an explicit Euler loop (the lag
is integrated exactly over each step) over a few thousand steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.physics.fluids import density_kg_per_m3, specific_heat_j_per_kg_k

STEEL_SPECIFIC_HEAT_J_PER_KG_K = 434.0
"""Plain carbon steel at 300 K (Incropera and DeWitt, 6th ed., table A.1)."""


def loop_heat_capacity_j_per_k(
    volume_m3: float,
    coolant: str,
    temp_c: float,
    pressure_pa: float = 3e5,
    steel_mass_kg: float = 0.0,
) -> float:
    """Heat capacity of a loop's fluid inventory plus its steel, J/K.

    ``rho(T) V cp(T)`` with the coolant's properties from CoolProp at ``temp_c``
    and ``pressure_pa``, plus ``m_steel * 434 J/(kg K)``.
    """
    if volume_m3 < 0 or steel_mass_kg < 0:
        raise ValueError("volume_m3 and steel_mass_kg must not be negative")
    rho = density_kg_per_m3(coolant, temp_c, pressure_pa)
    cp = specific_heat_j_per_kg_k(coolant, temp_c, pressure_pa)
    return rho * volume_m3 * cp + steel_mass_kg * STEEL_SPECIFIC_HEAT_J_PER_KG_K


def time_to_limit_s(
    heat_capacity_j_per_k: ArrayLike, net_heat_w: ArrayLike, margin_k: ArrayLike
) -> NDArray[np.float64]:
    """Seconds for a net heat to warm a lumped mass by ``margin_k``: ``C dT / Q``.

    ``inf`` where the net heat is zero or negative (the limit is never reached).
    """
    c = np.asarray(heat_capacity_j_per_k, dtype=float)
    q = np.asarray(net_heat_w, dtype=float)
    dt_k = np.asarray(margin_k, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > 0, c * dt_k / q, np.inf)


def circulation_time_s(volume_m3: float, volume_flow_m3_s: float) -> float:
    """Time for the whole inventory to pass once round the loop, ``V / V_dot``, s."""
    if volume_flow_m3_s <= 0:
        return math.inf
    return volume_m3 / volume_flow_m3_s


def lag_step_rise_k(
    t_s: ArrayLike, heat_step_w: float, heat_capacity_j_per_k: float, response_s: float
) -> NDArray[np.float64]:
    """Supply rise after a heat step when rejection follows it by a first-order lag
    alone (no temperature correction): ``dQ tau / C (1 - exp(-t / tau))``, K."""
    t = np.asarray(t_s, dtype=float)
    return heat_step_w * response_s / heat_capacity_j_per_k * (1.0 - np.exp(-t / response_s))


def critical_step_rise_k(
    t_s: ArrayLike, heat_step_w: float, heat_capacity_j_per_k: float, response_s: float
) -> NDArray[np.float64]:
    """Supply rise after a heat step under the critically damped controller
    (``tau_fb = 4 tau``): ``dQ / C t exp(-t / (2 tau))``, K."""
    t = np.asarray(t_s, dtype=float)
    return heat_step_w / heat_capacity_j_per_k * t * np.exp(-t / (2.0 * response_s))


def critical_step_peak_rise_k(
    heat_step_w: float, heat_capacity_j_per_k: float, response_s: float
) -> float:
    """Peak of :func:`critical_step_rise_k`, ``2 dQ tau / (e C)``, reached at ``2 tau``, K."""
    return 2.0 * heat_step_w * response_s / (math.e * heat_capacity_j_per_k)


@dataclass(frozen=True)
class LoopSeries:
    """Temperatures and heat flows of the loop at each time of a simulation."""

    t_s: NDArray[np.float64]
    supply_c: NDArray[np.float64]
    return_c: NDArray[np.float64]
    heat_in_w: NDArray[np.float64]
    """Heat put into the water by the racks and pumps, W."""
    heat_reused_w: NDArray[np.float64]
    """Heat drawn by the offtakers, W."""
    heat_rejected_w: NDArray[np.float64]
    """Heat rejected by dry coolers and trim chillers together, W."""
    dry_cooler_heat_w: NDArray[np.float64]
    chiller_heat_w: NDArray[np.float64]
    rejection_capacity_w: NDArray[np.float64]
    """Dry coolers at full fan speed plus chillers, 0 when rejection is stopped, W."""


def simulate_loop(
    t_s: ArrayLike,
    heat_in_w: ArrayLike,
    heat_reused_w: ArrayLike,
    ambient_c: ArrayLike,
    rejection_available: ArrayLike,
    *,
    heat_capacity_j_per_k: float,
    setpoint_c: float,
    rack_rise_k: float,
    response_s: float,
    feedback_s: float | None = None,
    dry_cooler_w_per_k: float,
    chiller_capacity_w: float = math.inf,
    initial_supply_c: float | None = None,
    initial_rejected_w: float | None = None,
) -> LoopSeries:
    """Supply and return temperatures of a lumped loop through a series of inputs.

    ``t_s`` are increasing times (the first the start); ``heat_in_w``,
    ``heat_reused_w``, ``ambient_c`` and ``rejection_available`` (0 or False: the dry
    coolers and chillers are stopped, 1 or True: running) are given per time and hold
    until the next. ``dry_cooler_w_per_k`` is the dry coolers' heat at full fan speed
    per K of initial temperature difference (rated heat / rated ITD); their capacity
    is ``dry_cooler_w_per_k * max(T_return - T_ambient, 0)``. ``feedback_s`` is the
    time constant of the temperature correction (default ``4 * response_s``, critical
    damping; ``inf`` for the pure lag). The loop starts at ``initial_supply_c``
    (default the set point) rejecting ``initial_rejected_w`` (default the net heat of
    the first time, i.e. in steady state), clamped to the capacity.
    """
    t = np.asarray(t_s, dtype=float)
    n = t.shape[0]
    q_in = np.broadcast_to(np.asarray(heat_in_w, dtype=float), (n,))
    q_re = np.broadcast_to(np.asarray(heat_reused_w, dtype=float), (n,))
    t_amb = np.broadcast_to(np.asarray(ambient_c, dtype=float), (n,))
    avail = np.broadcast_to(np.asarray(rejection_available, dtype=float), (n,))
    if n < 1 or np.any(np.diff(t) <= 0):
        raise ValueError("t_s must hold at least one time and increase")
    if heat_capacity_j_per_k <= 0 or response_s <= 0:
        raise ValueError("heat_capacity_j_per_k and response_s must be positive")
    fb_s = 4.0 * response_s if feedback_s is None else feedback_s
    gain_w_per_k = heat_capacity_j_per_k / fb_s if fb_s > 0 else 0.0
    step_s = np.diff(t)
    keep = np.exp(-step_s / response_s)  # exact lag over each step

    supply = np.empty(n)
    rejected = np.empty(n)
    dc_w = np.empty(n)
    cap_w = np.empty(n)
    temp = setpoint_c if initial_supply_c is None else initial_supply_c
    lagged = float(q_in[0] - q_re[0]) if initial_rejected_w is None else initial_rejected_w
    lagged = max(lagged, 0.0)
    for k in range(n):
        dc_cap = dry_cooler_w_per_k * max(temp + rack_rise_k - t_amb[k], 0.0) * avail[k]
        cap = dc_cap + chiller_capacity_w * avail[k] if avail[k] > 0 else 0.0
        q_rej = min(lagged, cap)
        supply[k], rejected[k], dc_w[k], cap_w[k] = temp, q_rej, min(q_rej, dc_cap), cap
        if k == n - 1:
            break
        target = max(q_in[k] - q_re[k] + gain_w_per_k * (temp - setpoint_c), 0.0)
        lagged = target + (q_rej - target) * keep[k]
        temp += step_s[k] * (q_in[k] - q_re[k] - q_rej) / heat_capacity_j_per_k
    return LoopSeries(
        t_s=t,
        supply_c=supply,
        return_c=supply + rack_rise_k,
        heat_in_w=np.array(q_in),
        heat_reused_w=np.array(q_re),
        heat_rejected_w=rejected,
        dry_cooler_heat_w=dc_w,
        chiller_heat_w=rejected - dc_w,
        rejection_capacity_w=cap_w,
    )


def crossing_time_s(t_s: ArrayLike, temp_c: ArrayLike, limit_c: float) -> float | None:
    """First time a series rises above ``limit_c``, linearly interpolated between
    samples, s; ``None`` if it never does (0 if it starts above)."""
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(temp_c, dtype=float)
    above = np.flatnonzero(y > limit_c)
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(t[0])
    frac = (limit_c - y[k - 1]) / (y[k] - y[k - 1])
    return float(t[k - 1] + frac * (t[k] - t[k - 1]))
