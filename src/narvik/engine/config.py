"""What a pool is made of: halls (with their topology and the instant they come online),
tenants (with quota ramps), bookings, grid curtailments, the rules and the power model.

Plain frozen records in seconds and W; the simulator builds them from a scenario,
the control plane from its database rows.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Protocol

from narvik.sched.placement import Topology


@dataclass(frozen=True)
class HallSpec:
    name: str
    topology: Topology
    online_from_s: float = -math.inf
    """Instant the hall's phase comes online (-inf: from the start)."""

    @property
    def gpus(self) -> int:
        return self.topology.gpus


@dataclass(frozen=True)
class TenantSpec:
    name: str
    tier_priority: int
    quota_steps: tuple[tuple[float, int], ...]
    """(from t_s, guaranteed GPUs), in time order."""
    max_borrow_gpus: int | None
    """None: up to the whole online fleet."""
    lends: bool
    weight: float
    allowed_halls: tuple[int, ...]
    """Hall indices it may use (every hall when empty)."""

    def quota_at(self, t_s: float) -> int:
        i = bisect_right([s for s, _ in self.quota_steps], t_s)
        return self.quota_steps[i - 1][1] if i else 0


@dataclass(frozen=True)
class ReservationSpec:
    tenant: int
    gpus: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class CurtailmentSpec:
    start_s: float
    end_s: float
    shed_w: float
    deadline_s: float
    """Seconds after ``start_s`` by which the lowered cap must be met."""


@dataclass(frozen=True)
class Rules:
    grace_period_s: float = 600.0
    checkpoint_interval_s: float = 3600.0
    fair_share_half_life_s: float = 7 * 86400.0
    backfill_depth: int = 64
    min_cap_fraction: float = 0.6


class PowerModel(Protocol):
    """The facility as the scheduler needs it (no clock: functions of the instant)."""

    def gpu_power_w(self, t_s: float) -> tuple[float, float]:
        """(IT power of the idle online fleet, added IT power of one busy GPU at full cap), W."""
        ...

    def it_budget_w(self, t_s: float, shed_w: float) -> float:
        """IT power the grid cap (less ``shed_w``) allows at ``t_s``, W (inf: no limit)."""
        ...


class NoPowerLimit:
    """A pool without physics (``flat:N``): no budget, no power drawn."""

    def gpu_power_w(self, t_s: float) -> tuple[float, float]:
        return 0.0, 0.0

    def it_budget_w(self, t_s: float, shed_w: float) -> float:
        return math.inf
