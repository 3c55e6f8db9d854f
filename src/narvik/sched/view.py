"""What a policy sees of a pool at an instant (:class:`PoolView`) and what it decides
(:class:`Decision`).

The engine (:mod:`narvik.engine`) builds the view; every policy (``fcfs``, ``easy``,
``narvik``) decides on it, so on a physical site every policy respects halls,
eligibility, topology and the power budget. A view is read-only by contract: its
sequences may be the engine's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from narvik.sched.ends import EstimatedEnds
from narvik.sched.placement import Placement, Topology


@dataclass(slots=True)
class WaitingJob:
    """A queued job (the engine's own record; policies read it)."""

    key: int
    tenant: int
    gpus: int
    runtime_s: float
    estimate_s: float
    submit_s: float
    saved_s: float = 0.0
    """Work kept from earlier stints (checkpointed), s at full speed."""
    fit_since_s: float = math.nan
    """First pass at which it fit its tenant's unused guarantee (NaN: not yet)."""

    @property
    def remaining_estimate_s(self) -> float:
        """The scheduler's estimate of the work left (at least 1 s)."""
        return max(self.estimate_s - self.saved_s, 1.0)


@dataclass(slots=True)
class RunningView:
    job: int
    tenant: int
    tier_priority: int
    gpus: int
    borrowed: bool
    start_s: float
    est_end_s: float
    halls: tuple[tuple[int, int], ...]
    being_preempted: bool
    placement: Placement = ()
    """((hall, domain, gpus), ...) it holds."""
    leaves_at_s: float = math.inf
    """When it stops under notice (inf: not under notice)."""


@dataclass
class TenantView:
    """One tenant at the instant of the pass (counts in GPUs)."""

    index: int
    tier_priority: int
    quota_gpus: int
    reserved_gpus: int
    """GPUs of its active advance reservations."""
    used_guaranteed: int
    used_borrowed: int
    max_borrow_gpus: int
    lends: bool
    fair_share_key: float
    """Decayed past GPU usage divided by the fair-share weight (lower goes first)."""
    allowed_halls: tuple[int, ...]
    queue: list[int]
    """Queued job keys in queue order (the first ``backfill_depth``)."""
    reclaiming_gpus: int = 0
    """GPUs being freed (preemptions in their grace period) for this tenant."""
    earmarked_gpus: int = 0
    """GPUs freed by preemptions made for this tenant: free, but its own while it waits."""
    promised: list[int] = field(default_factory=list)
    """Queued jobs that have fit the unused guarantee, in that order: they keep their claim."""
    min_queued_gpus: int = 0
    """GPUs of its smallest queued job (0: none queued): nothing of it starts in less."""


@dataclass
class PoolView:
    """What every policy sees."""

    now_s: float
    n_gpus: int
    """GPUs online."""
    busy_gpus: int
    free_domains: Sequence[NDArray[np.int64]]
    """Per hall, free GPUs per NVLink domain (all zero while the hall is offline)."""
    topologies: Sequence[Topology]
    free_by_hall: Sequence[int]
    queued: Mapping[int, WaitingJob]
    running: Mapping[int, RunningView]
    victims: Callable[[], Iterable[RunningView]]
    """Running jobs in preemption order: borrowed first, lowest tier, latest start."""
    victims_on: Callable[[Collection[tuple[int, int]]], Iterable[RunningView]]
    """Running jobs on any of the given (hall, domain) pairs, in preemption order."""
    queue_order: Callable[[], Iterator[int]]
    """Every queued job in queue order (submit time, then key), across tenants."""
    tenants: list[TenantView]
    ends: EstimatedEnds
    """Estimated ends of running jobs (sorted, GPUs at each, per hour)."""
    idle_it_power_w: float
    busy_gpu_power_w: float
    """Added IT power of one busy GPU at full power cap, W."""
    it_budget_w: float
    cap_fraction: float
    min_cap_fraction: float
    reservation_holds: int
    """GPUs of active reservations not used by their owners: free, but not for others."""
    hall_pressure: Sequence[float]
    """Per hall, guaranteed GPUs of tenants confined to it (share of the hall)."""
    preempting: set[int]
    """Running jobs already given notice (they stop when their grace period ends)."""
    preempting_gpus: int
    grace_period_s: float
    upcoming: Sequence[tuple[float, int] | tuple[float, int, int]]
    """(start_s, gpus[, committed]) of reservations not yet begun, soonest first;
    ``committed``: GPUs of running jobs whose estimated end falls after ``start_s``
    (computed from ``ends`` when not given)."""
    backfill_depth: int
    lent_domains: Sequence[NDArray[np.int64]] = ()
    """Per hall, GPUs per domain held by borrowed jobs not under notice (evictable)."""
    leaving_domains: Sequence[NDArray[np.int64]] = ()
    """Per hall, GPUs per domain held by jobs under notice (free once they stop)."""
    power_deadline_s: float = math.inf
    """Instant by which the active curtailments must be met (inf: none)."""
    hall_gpus: Sequence[int] = ()
    """Per hall, GPUs online (empty: no protection of confined tenants' guarantees)."""
    guaranteed_by_hall: Sequence[int] = ()
    """Per hall, GPUs of running guaranteed (not borrowed) work."""


class Decision:
    """What a policy decided in one pass (a plain class: one is made per pass)."""

    def __init__(self) -> None:
        self.starts: list[tuple[int, bool, Placement]] = []
        """(job, borrowed, placement: ((hall, domain, gpus), ...))."""
        self.preempt: list[tuple[int, int]] = []
        """(job, tenant index it is reclaimed for, or -1 for power)."""
        self.stop_by_s: dict[int, float] = {}
        """For reclaim victims: the latest time they must stop (the waiting job's deadline)."""
        self.cap_fraction = 1.0
        self.fitting: list[int] = []
        """Queued jobs that fit their tenant's unused guarantee in this pass (started or not)."""
        self.waiting_tenants: set[int] = set()
        """Tenants with guaranteed work waiting for a reclaim (their earmarks stay theirs)."""


class Policy:
    """The one protocol: ``decide(view) -> Decision``; pure, no clock."""

    name: str = ""

    def decide(self, v: PoolView) -> Decision:  # pragma: no cover - interface
        raise NotImplementedError
