"""Smoothing the power swings of synchronous AI training before they reach the grid.

Every iteration of a synchronous training job alternates a compute phase, where
all GPUs draw near their busy power, with a communication phase, where they all
drop together: the site's power swings by tens of MW within a second (Choukse
et al., "Power Stabilization for AI Training Datacenters", arXiv 2508.14318,
2025). Three mitigations are modelled here, in the order the power
flows from the GPUs to the grid (Choukse et al. 2025; NVIDIA, "How
new GB300 NVL72 features provide steady power for AI", NVIDIA technical blog,
2025):

- :func:`floor_power_w`, a GPU power floor: a busy GPU never drops below a share
  of its busy power (it burns power in the troughs); this raises the trough of
  each iteration and costs energy.
- :func:`ramp_limit`, a ramp-rate limit held by the energy storage of the rack
  power supplies: the rack draws from the grid a power that changes by at most
  a given rate, the storage supplies or absorbs the difference.
- :func:`battery`, a site battery (BESS) holding the grid draw at a first-order
  low-pass of the demand.

:func:`chain` applies the rack-level ramp limiter then the site battery.

All functions act on a power series sampled every ``dt_s`` seconds and held
constant over each sample (zero-order hold). Storage flows follow one sign
convention: positive is a discharge (the storage supplies the load, the grid
draws less than the demand), negative a charge (the grid draws more).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


def floor_power_w(
    gpu_power_w: ArrayLike, busy_power_w: ArrayLike, floor_fraction: float, dt_s: float
) -> tuple[NDArray[np.float64], float]:
    """GPU power under a power floor, W, and the extra energy the floor burns, J.

    A busy GPU (``busy_power_w > 0``: its power in the compute phase, e.g. its
    power cap or the job's peak) never draws less than ``floor_fraction *
    busy_power_w``: in the communication phase of each iteration it burns power
    (NVIDIA's GB300 "power floor"; Choukse et al. 2025). The floor
    raises the trough of each iteration, so the swing falls from ``busy -
    trough`` to ``busy - max(trough, floor_fraction * busy)``, at the price of
    the energy between the trough and the floor. GPUs with ``busy_power_w <= 0``
    (not in a job) are left alone.

    ``gpu_power_w`` and ``busy_power_w`` broadcast against each other (e.g. a
    series and a scalar, or GPUs x samples); each element lasts ``dt_s`` seconds.
    Returns ``(floored_w, extra_energy_j)`` with ``extra_energy_j = sum(floored_w
    - gpu_power_w) * dt_s`` over all elements.
    """
    if not 0.0 <= floor_fraction <= 1.0:
        raise ValueError(f"floor_fraction must be in [0, 1], got {floor_fraction}")
    if dt_s <= 0:
        raise ValueError(f"dt_s must be positive, got {dt_s}")
    p = np.asarray(gpu_power_w, dtype=float)
    busy = np.asarray(busy_power_w, dtype=float)
    floor = np.where(busy > 0.0, floor_fraction * busy, -np.inf)
    floored = np.maximum(p, floor)
    extra_j = float(np.sum(floored - p) * dt_s)
    return floored, extra_j


@dataclass(frozen=True, eq=False)
class RampLimited:
    """Result of :func:`ramp_limit`; arrays have one value per sample.

    - ``grid_w``: power drawn from the grid (upstream of the storage), W.
    - ``soc_j``: energy in the storage at the end of each sample, J.
    - ``broken``: samples where the storage could not hold the ramp limit (empty,
      full or at its power limit); the grid then took the rest.
    - ``energy_in_j``: energy the storage took from the bus (charging), J.
    - ``energy_out_j``: energy the storage delivered to the load (discharging), J.
    """

    grid_w: NDArray[np.float64]
    soc_j: NDArray[np.float64]
    broken: NDArray[np.bool_]
    energy_in_j: float
    energy_out_j: float


@dataclass(frozen=True, eq=False)
class Battery:
    """Result of :func:`battery`; arrays have one value per sample.

    - ``grid_w``: power drawn from the grid (upstream of the battery), W.
    - ``soc_j``: energy in the battery at the end of each sample, J.
    - ``broken``: samples where the battery could not hold the low-pass (empty,
      full or at its power limit); the grid then took the rest.
    - ``throughput_j``: energy through the battery terminals in both directions,
      ``energy_in_j + energy_out_j``, J (equivalent full cycles =
      ``throughput_j / (2 * energy_j)``).
    - ``energy_in_j``, ``energy_out_j``: charged from and discharged to the bus, J.
    """

    grid_w: NDArray[np.float64]
    soc_j: NDArray[np.float64]
    broken: NDArray[np.bool_]
    throughput_j: float
    energy_in_j: float
    energy_out_j: float


def _check_storage(
    dt_s: float, energy_j: float, power_w: float, soc0_fraction: float, efficiency: float
) -> None:
    if dt_s <= 0:
        raise ValueError(f"dt_s must be positive, got {dt_s}")
    if not (math.isfinite(energy_j) and energy_j >= 0):
        raise ValueError(f"storage energy must be finite and >= 0, got {energy_j}")
    if not power_w >= 0:
        raise ValueError(f"storage power must be >= 0, got {power_w}")
    if not 0.0 <= soc0_fraction <= 1.0:
        raise ValueError(f"soc0_fraction must be in [0, 1], got {soc0_fraction}")
    if not 0.0 < efficiency <= 1.0:
        raise ValueError(f"efficiency must be in (0, 1], got {efficiency}")


def _alpha(dt_s: float, tau_s: float) -> float:
    """Share of the gap a first-order low-pass closes in one sample (exact for a held input)."""
    if not tau_s >= 0:
        raise ValueError(f"tau_s must be >= 0, got {tau_s}")
    return 1.0 - math.exp(-dt_s / tau_s) if tau_s > 0 else 1.0


def _follow(
    demand_w: ArrayLike,
    dt_s: float,
    *,
    alpha: float,
    max_step_w: float,
    energy_j: float,
    power_w: float,
    soc0_j: float,
    efficiency: float,
    grid0_w: float | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], float, float]:
    """Grid draw that follows the demand through a storage, sample by sample.

    The grid's target at each sample moves from the previous grid draw ``g``
    towards the demand ``d``: by ``alpha * (d - g)`` (``alpha = 1``: all the way),
    and by at most ``max_step_w``. The storage supplies ``d - target`` within its
    power and energy; the grid takes what it cannot. A plain loop over Python
    floats: the recursion (each step depends on the previous draw and charge) has
    no closed vectorised form once the storage saturates.
    """
    d = np.asarray(demand_w, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"demand_w must be a 1-D series, got shape {d.shape}")
    n = d.size
    demand = d.tolist()
    grid = [0.0] * n
    soc = [0.0] * n
    broken = [False] * n
    start_w = grid0_w if grid0_w is not None else (demand[0] if n else 0.0)
    g = float(start_w)
    s = soc0_j
    e_in = 0.0
    e_out = 0.0
    charge_per_j = efficiency * dt_s  # stored energy per W charged over one sample
    exact = alpha == 1.0
    for i in range(n):
        di = demand[i]
        target = di if exact else g + alpha * (di - g)
        if target > g + max_step_w:
            target = g + max_step_w
        elif target < g - max_step_w:
            target = g - max_step_w
        flow = di - target  # > 0: discharge, < 0: charge
        if flow > 0.0:
            can = s / dt_s
            if can > power_w:
                can = power_w
            if flow > can:
                flow = can
                broken[i] = True
                s = 0.0 if can < power_w else s - flow * dt_s
            else:
                s -= flow * dt_s
            e_out += flow * dt_s
        elif flow < 0.0:
            can = (energy_j - s) / charge_per_j
            if can > power_w:
                can = power_w
            if -flow > can:
                flow = -can
                broken[i] = True
                s = energy_j if can < power_w else s + can * charge_per_j
            else:
                s -= flow * charge_per_j
            e_in -= flow * dt_s
        g = di - flow
        grid[i] = g
        soc[i] = s
    return (
        np.asarray(grid, dtype=float),
        # Rounding can leave the charge an ulp outside [0, energy_j].
        np.clip(np.asarray(soc, dtype=float), 0.0, energy_j),
        np.asarray(broken, dtype=bool),
        e_in,
        e_out,
    )


def ramp_limit(
    demand_w: ArrayLike,
    dt_s: float,
    *,
    ramp_w_per_s: float,
    storage_energy_j: float,
    storage_power_w: float = math.inf,
    soc0_fraction: float = 0.5,
    efficiency: float = 1.0,
    tau_s: float = 0.0,
    grid0_w: float | None = None,
) -> RampLimited:
    """Grid draw held to a ramp-rate limit by an energy storage, W.

    The grid draw follows the demand but changes by at most ``ramp_w_per_s *
    dt_s`` from one sample to the next; the storage (the energy storage of the
    rack power supplies, NVIDIA GB300 NVL72, 2025; Choukse et al. 2025) supplies
    the difference ``demand - grid`` (discharging, positive) or absorbs it
    (charging, negative). Where its charge would fall below 0 or
    rise above ``storage_energy_j``, or the flow would exceed ``storage_power_w``,
    the storage does what it can and the grid takes the rest: the ramp limit
    breaks at that sample (``broken``), and the grid value is whatever balances
    the demand. The next sample ramps on from that value.

    The series starts in steady state: the grid draw before the first sample is
    ``grid0_w`` (default: the first demand), so the first sample ramps from it.
    The storage starts at ``soc0_fraction * storage_energy_j``.

    A pure ramp limiter (``tau_s = 0``, the default) has no restoring force: on
    a sustained swing of half-height ``A`` whose half-period ``h`` is shorter than
    ``A / ramp_w_per_s``, the grid oscillates by ``ramp * h`` around whatever
    level it started from, the storage drifts by the difference of the means
    until it is empty or full, and breaks follow. With ``tau_s > 0`` the grid
    ramps towards a first-order low-pass of the demand (as in :func:`battery`)
    instead of the demand itself; with ``tau_s >= A / ramp_w_per_s`` it settles
    on the mean of such a swing.

    Losses: ``efficiency`` is the round-trip efficiency, applied on charge (a
    charge of ``P`` W for ``dt_s`` stores ``efficiency * P * dt_s``); the default
    1.0 is a lossless storage, for which ``sum(grid_w) * dt_s == sum(demand_w) *
    dt_s + soc_end - soc_start``. Self-discharge is neglected.

    With a storage large enough, the grid never ramps faster than
    ``ramp_w_per_s`` (exactly); after a step of ``S`` W it ramps linearly while
    the storage supplies ``S - ramp * (t - t0)``, i.e. ``S * tau - ramp * tau**2
    / 2`` joules after ``tau`` seconds.
    """
    if not ramp_w_per_s >= 0:
        raise ValueError(f"ramp_w_per_s must be >= 0, got {ramp_w_per_s}")
    _check_storage(dt_s, storage_energy_j, storage_power_w, soc0_fraction, efficiency)
    grid, soc, broken, e_in, e_out = _follow(
        demand_w,
        dt_s,
        alpha=_alpha(dt_s, tau_s),
        max_step_w=ramp_w_per_s * dt_s,
        energy_j=storage_energy_j,
        power_w=storage_power_w,
        soc0_j=soc0_fraction * storage_energy_j,
        efficiency=efficiency,
        grid0_w=grid0_w,
    )
    return RampLimited(grid, soc, broken, e_in, e_out)


def battery(
    demand_w: ArrayLike,
    dt_s: float,
    *,
    power_w: float,
    energy_j: float,
    tau_s: float,
    soc0_fraction: float = 0.5,
    efficiency: float = 1.0,
    grid0_w: float | None = None,
) -> Battery:
    """Grid draw held at a first-order low-pass of the demand by a site battery, W.

    The battery energy storage system (BESS) lets the grid see only the slow part
    of the demand (Choukse et al. 2025): each sample the grid draw
    ``g`` moves towards the demand ``d`` by ``alpha * (d - g)``, with ``alpha =
    1 - exp(-dt_s / tau_s)`` (the exact discretisation of ``tau dg/dt = d - g``
    for a demand held over each sample). The battery supplies ``d - g``
    (discharging, positive) or absorbs it (charging, negative) within
    ``power_w`` and its charge in ``[0, energy_j]``; where it cannot, the grid
    takes the rest (``broken``) and the filter goes on from that grid value.

    A demand swinging at angular frequency ``w`` reaches the grid attenuated by
    ``1 / sqrt(1 + (w * tau_s)**2)``. The controller has no state-of-charge
    management: a lasting shift of the mean demand drifts the charge. Start,
    losses and sign convention as in :func:`ramp_limit`.
    """
    _check_storage(dt_s, energy_j, power_w, soc0_fraction, efficiency)
    grid, soc, broken, e_in, e_out = _follow(
        demand_w,
        dt_s,
        alpha=_alpha(dt_s, tau_s),
        max_step_w=math.inf,
        energy_j=energy_j,
        power_w=power_w,
        soc0_j=soc0_fraction * energy_j,
        efficiency=efficiency,
        grid0_w=grid0_w,
    )
    return Battery(grid, soc, broken, e_in + e_out, e_in, e_out)


@dataclass(frozen=True, eq=False)
class SmoothingChain:
    """Result of :func:`chain`: the rack-level ramp limiter, then the site battery.

    ``grid_w`` is the site's grid draw (the battery's output); ``rack.grid_w`` is
    what the racks draw from the site bus, the battery's input.
    """

    grid_w: NDArray[np.float64]
    rack: RampLimited
    bess: Battery

    @property
    def rack_soc_j(self) -> NDArray[np.float64]:
        """Energy in the rack power-supply storage (all racks), J."""
        return self.rack.soc_j

    @property
    def bess_soc_j(self) -> NDArray[np.float64]:
        """Energy in the site battery, J."""
        return self.bess.soc_j

    @property
    def rack_broken(self) -> NDArray[np.bool_]:
        """Samples where the rack storage could not hold the ramp limit."""
        return self.rack.broken

    @property
    def bess_broken(self) -> NDArray[np.bool_]:
        """Samples where the site battery could not hold its low-pass."""
        return self.bess.broken


def chain(
    demand_w: ArrayLike,
    dt_s: float,
    ramp_w_per_s: float | None,
    storage_energy_j: float,
    storage_power_w: float,
    bess_power_w: float,
    bess_energy_j: float,
    bess_tau_s: float,
    *,
    storage_soc0_fraction: float = 0.5,
    bess_soc0_fraction: float = 0.5,
    storage_efficiency: float = 1.0,
    bess_efficiency: float = 1.0,
    ramp_tau_s: float = 0.0,
    grid0_w: float | None = None,
) -> SmoothingChain:
    """Rack-storage ramp limiter (:func:`ramp_limit`) then site battery (:func:`battery`).

    ``demand_w`` is the IT demand of all racks (after any GPU power floor);
    ``storage_energy_j`` and ``storage_power_w`` are those of all the racks' power
    supplies together, lumped into one storage (the racks swing in lockstep).
    ``ramp_tau_s`` is the ramp limiter's optional low-pass (see :func:`ramp_limit`);
    ``grid0_w``, the grid draw before the first sample for both stages (default:
    the first demand). A stage the site does not have passes its input through (no
    state of charge, never broken): no ramp limiter when ``ramp_w_per_s`` is None, no
    battery when its power or energy is 0.
    """
    if ramp_w_per_s is None:
        demand = np.asarray(demand_w, dtype=np.float64)
        off = np.zeros(len(demand), dtype=bool)
        rack = RampLimited(demand, np.zeros(len(demand)), off, 0.0, 0.0)
    else:
        rack = ramp_limit(
            demand_w,
            dt_s,
            ramp_w_per_s=ramp_w_per_s,
            storage_energy_j=storage_energy_j,
            storage_power_w=storage_power_w,
            soc0_fraction=storage_soc0_fraction,
            efficiency=storage_efficiency,
            tau_s=ramp_tau_s,
            grid0_w=grid0_w,
        )
    if bess_power_w <= 0 or bess_energy_j <= 0:
        n = len(rack.grid_w)
        bess = Battery(rack.grid_w, np.zeros(n), np.zeros(n, dtype=bool), 0.0, 0.0, 0.0)
    else:
        bess = battery(
            rack.grid_w,
            dt_s,
            power_w=bess_power_w,
            energy_j=bess_energy_j,
            tau_s=bess_tau_s,
            soc0_fraction=bess_soc0_fraction,
            efficiency=bess_efficiency,
            grid0_w=grid0_w,
        )
    return SmoothingChain(bess.grid_w, rack, bess)
    bess = battery(
        rack.grid_w,
        dt_s,
        ramp_w_per_s=ramp_w_per_s,
        storage_energy_j=storage_energy_j,
        storage_power_w=storage_power_w,
        soc0_fraction=storage_soc0_fraction,
        efficiency=storage_efficiency,
        tau_s=ramp_tau_s,
        grid0_w=grid0_w,
    )
    bess = battery(
        rack.grid_w,
        dt_s,
        power_w=bess_power_w,
        energy_j=bess_energy_j,
        tau_s=bess_tau_s,
        soc0_fraction=bess_soc0_fraction,
        efficiency=bess_efficiency,
        grid0_w=grid0_w,
    )
    return SmoothingChain(bess.grid_w, rack, bess)
