"""The narvik policy: guarantees first, surplus lent and reclaimed, power-aware admission.

A pure component: :meth:`NarvikPolicy.decide` reads a :class:`PoolView` (the
state of the fleet, the queues, the tenants and the power budget at an instant
``now_s``) and returns a :class:`Decision`; it never reads a clock or changes
the view. The simulator (:mod:`narvik.sim.tenancy_sim`) and the control plane
drive it with their own clocks.

Rules, in the order of one pass:

1. **Power.** The GPUs allowed to be busy follow from the IT power budget (grid
   cap, less the facility overhead at the current weather, less a curtailment):
   ``limit(c) = (budget - P_idle) / (c * P_busy)`` with GPUs power-capped at a
   fraction ``c`` of their dynamic power. The policy picks the highest ``c`` (in
   steps of 0.05, not below the floor) that fits the busy GPUs; if even the floor
   does not, it preempts work: borrowed jobs of the lowest tier first, the most
   recently started first (least work lost), then guaranteed jobs the same way.
2. **Guarantees first.** Tenants in tier-priority order, then fair share
   (decayed past usage over weight). A tenant's queued jobs that fit its unused
   nominal quota (plus its active reservations) start now if the GPUs and the
   power are there; otherwise borrowed jobs of others are reclaimed by
   preemption, with a grace period, and the job starts when they stop.
3. **Surplus.** Remaining GPUs are lent, in the same order, within each
   tenant's borrowing limit, never touching the unused quota of tenants that do
   not lend. EASY backfilling (Mu'alem and Feitelson 2001) over that order: the
   first job that does not fit gets a reservation at the earliest time enough
   GPUs free up (by estimate), and later jobs start only if they end by then or
   use GPUs the reservation does not need, so large jobs are not starved.
4. **Advance reservations.** GPUs booked for a future window are kept free from
   any job whose estimated end falls after the window starts; during the window
   they are held for the booking tenant.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

CAP_STEP = 0.05

#: Per-job figures, by job index: a list (the simulator) or a mapping (the control plane).
IntByJob = Sequence[int] | Mapping[int, int]
FloatByJob = Sequence[float] | Mapping[int, float]


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
    """Queued job indices in submit order."""
    reclaiming_gpus: int = 0
    """GPUs being freed (preemptions in their grace period) for this tenant."""
    earmarked_gpus: int = 0
    """GPUs freed at this instant by preemptions made for this tenant: free, but its own."""
    promised: list[int] = field(default_factory=list)
    """Queued jobs that have fit the unused guarantee, in that order: they keep their claim."""


@dataclass
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


@dataclass
class PoolView:
    """What the policy sees. Read-only by contract; sequences may be the caller's own."""

    now_s: float
    free_by_hall: list[int]
    busy_gpus: int
    n_gpus: int
    job_gpus: IntByJob
    job_estimate_s: FloatByJob
    tenants: list[TenantView]
    running: dict[int, RunningView]
    est_end_keys: list[float]
    """Sorted distinct estimated ends of running jobs."""
    est_end_gpus: dict[float, int]
    idle_it_power_w: float
    busy_gpu_power_w: float
    """Added IT power of one busy GPU at full power cap, W."""
    it_budget_w: float
    cap_fraction: float
    min_cap_fraction: float
    reservation_holds: int
    """GPUs of active reservations not used by their owners: free, but not for others."""
    hall_pressure: list[float] = field(default_factory=list)
    """Per hall, guaranteed GPUs of tenants confined to it (share of the hall): guaranteed
    work of unconfined tenants goes to low-pressure halls, lent work to high-pressure ones,
    so confined tenants can always reclaim their quota."""
    preempting: set[int] = field(default_factory=set)
    """Running jobs already given notice (they stop when their grace period ends)."""
    preempting_gpus: int = 0
    fit_since_s: FloatByJob = field(default_factory=list)
    """Per job, the first instant it fit its tenant's unused guarantee (NaN: not yet)."""
    grace_period_s: float = 600.0
    upcoming: list[tuple[float, int]] = field(default_factory=list)
    """(start_s, gpus) of reservations not yet begun, soonest first."""
    backfill_depth: int = 64


@dataclass
class Decision:
    starts: list[tuple[int, bool, tuple[tuple[int, int], ...]]] = field(default_factory=list)
    """(job, borrowed, ((hall, gpus), ...))."""
    preempt: list[tuple[int, int]] = field(default_factory=list)
    """(job, tenant it is reclaimed for, or -1 for power)."""
    stop_by_s: dict[int, float] = field(default_factory=dict)
    """For reclaim victims: the latest time they must stop (the waiting job's deadline)."""
    cap_fraction: float = 1.0
    fitting: list[int] = field(default_factory=list)
    """Queued jobs that fit their tenant's unused guarantee in this pass (started or not)."""
    waiting_tenants: set[int] = field(default_factory=set)
    """Tenants with guaranteed work waiting for a reclaim (their earmarks stay theirs)."""


def hall_pressure(
    hall_gpus: Sequence[int], confined: Sequence[tuple[Sequence[int], int]]
) -> list[float]:
    """Per hall, the largest guaranteed GPUs of tenants confined to it, as a share of it.

    ``confined`` holds (halls the tenant may use, its peak quota) for each tenant kept
    to some of the halls; its quota is spread over them in proportion to their GPUs.
    """
    n_h = len(hall_gpus)
    load = [0.0] * n_h
    for halls, peak in confined:
        if len(halls) < n_h:
            room = sum(hall_gpus[h] for h in halls) or 1
            for h in halls:
                load[h] += peak * hall_gpus[h] / room
    return [load[h] / max(hall_gpus[h], 1) for h in range(n_h)]


class NarvikPolicy:
    name = "narvik"

    def decide(self, v: PoolView) -> Decision:
        d = Decision()
        free = list(v.free_by_hall)
        preempting = set(v.preempting)
        # Jobs under notice still draw power until they stop: the cap covers them too.
        busy = v.busy_gpus
        cap, limit = self._power(v, busy)
        staying = busy - v.preempting_gpus
        if staying > limit:
            for job in _victims(v, preempting, staying - limit, allow_guaranteed=True):
                d.preempt.append((job, -1))
                preempting.add(job)
                staying -= v.running[job].gpus
        d.cap_fraction = cap
        order = sorted(v.tenants, key=lambda t: (t.tier_priority, t.fair_share_key, t.index))
        holds = v.reservation_holds
        upcoming = [[s, v.n_gpus - g - _committed_after(v, s)] for s, g in v.upcoming]

        def fits_upcoming(gpus: int, est_end: float) -> bool:
            return all(est_end <= s or gpus <= room for s, room in upcoming)

        def take_upcoming(gpus: int, est_end: float) -> None:
            for u in upcoming:
                if est_end > u[0]:
                    u[1] -= gpus

        # 2. Guarantees first.
        waiting_power = 0  # GPUs promised to guaranteed jobs waiting for their reclaim
        waiting: set[int] = set()
        earmarks = {t.index: t.earmarked_gpus for t in v.tenants if t.earmarked_gpus}
        for t in order:
            headroom = t.quota_gpus + t.reserved_gpus - t.used_guaranteed
            if headroom <= 0:
                continue
            own_hold = min(holds, t.reserved_gpus)
            quota_room = max(0, t.quota_gpus - t.used_guaranteed)  # used before the booking
            others = sum(e for i, e in earmarks.items() if i != t.index)
            # Free GPUs outside every hold; the tenant's own hold serves only work beyond
            # its quota, so its booking stays whole for what it booked it for.
            here = sum(free[h] for h in t.allowed_halls)
            # Holds are kept fleet-wide: free GPUs outside the tenant's halls cover them first.
            avail = here - max(0, holds - own_hold - (sum(free) - here)) - own_hold - others
            incoming = t.reclaiming_gpus  # GPUs being reclaimed for this tenant
            scan = t.queue[: v.backfill_depth]
            if t.promised:
                claimed = set(t.promised)
                scan = t.promised + [j for j in scan if j not in claimed]
            for job in scan:
                g = v.job_gpus[job]
                if g > headroom:
                    continue
                est_end = v.now_s + v.job_estimate_s[job]
                if not fits_upcoming(g, est_end):
                    continue
                d.fitting.append(job)
                own_part = min(own_hold, max(0, g - quota_room))
                # Power now (busy, jobs under notice included) and once the reclaims under
                # way are done (staying plus the jobs waiting for them).
                powered = busy + g <= limit and staying + waiting_power + g <= limit
                if g <= avail + own_part and powered:
                    alloc = _allocate(free, t.allowed_halls, g, v.hall_pressure, low_first=True)
                    d.starts.append((job, False, alloc))
                    take_upcoming(g, est_end)
                    busy += g
                    staying += g
                    avail -= g - own_part
                    headroom -= g
                    if t.index in earmarks:
                        earmarks[t.index] = max(0, earmarks[t.index] - g)
                    quota_room -= min(g, quota_room)
                    own_hold -= own_part
                    holds -= own_part
                    continue
                # Reclaim lent GPUs (and their power) for it; count what is under way.
                need = max(g - max(avail + own_part, 0), staying + waiting_power + g - limit)
                short = need - incoming
                if short > 0:
                    victims = _victims(
                        v, preempting, short, allow_guaranteed=False, halls=t.allowed_halls
                    )
                    got = sum(_in_halls(v.running[j], t.allowed_halls) for j in victims)
                    if got < short:
                        continue  # cannot be reclaimed now; smaller work may still fit
                    # Top-ups made late still free the GPUs by the job's own deadline.
                    since = v.fit_since_s[job] if v.fit_since_s else math.nan
                    deadline = v.now_s + v.grace_period_s
                    if since == since:  # not NaN
                        deadline = min(deadline, since + v.grace_period_s)
                    for j in victims:
                        d.preempt.append((j, t.index))
                        d.stop_by_s[j] = max(v.now_s, deadline)
                        preempting.add(j)
                        staying -= v.running[j].gpus
                    incoming += got
                # The job waits for the reclaim: its GPUs and power are spoken for.
                waiting.add(job)
                d.waiting_tenants.add(t.index)
                incoming -= need
                part = min(g, max(avail, 0))
                if part:  # keep the free part for it, from the halls others need least
                    _allocate(free, t.allowed_halls, part, v.hall_pressure, low_first=True)
                avail = max(avail - g, 0)
                headroom -= g
                waiting_power += g

        # 3. Surplus, lent with EASY backfilling over the same order.
        unlent = sum(max(0, t.quota_gpus - t.used_guaranteed) for t in v.tenants if not t.lends)
        promised = sum(earmarks.values())
        shadow = math.inf
        extra = 0
        reserved_for_head = False
        started = {s[0] for s in d.starts} | waiting
        for t in order:
            room = t.max_borrow_gpus - t.used_borrowed
            if room <= 0:
                continue
            for job in t.queue[: v.backfill_depth]:
                if job in started:
                    continue
                g = v.job_gpus[job]
                if g > room:
                    continue
                est_end = v.now_s + v.job_estimate_s[job]
                here = sum(free[h] for h in t.allowed_halls)
                avail = here - max(0, holds - (sum(free) - here)) - unlent - promised
                power_room = min(limit - busy, limit - staying - waiting_power)
                fits = g <= avail and g <= power_room and fits_upcoming(g, est_end)
                if fits and reserved_for_head and not (est_end <= shadow or g <= extra):
                    fits = False
                if fits:
                    if reserved_for_head and est_end > shadow:
                        extra -= g
                    alloc = _allocate(free, t.allowed_halls, g, v.hall_pressure, low_first=False)
                    d.starts.append((job, True, alloc))
                    take_upcoming(g, est_end)
                    busy += g
                    staying += g
                    room -= g
                    continue
                if not reserved_for_head and g <= v.n_gpus:
                    shadow, extra = _shadow(v, max(avail, 0), g)
                    reserved_for_head = True
        return d

    def _power(self, v: PoolView, busy: int) -> tuple[float, int]:
        """Highest cap fraction (steps of 0.05) whose GPU limit holds the busy GPUs."""
        cap = 1.0
        while True:
            limit = _limit(v, cap)
            if busy <= limit or cap <= v.min_cap_fraction + 1e-9:
                return cap, limit
            cap = max(v.min_cap_fraction, round(cap - CAP_STEP, 10))


def _limit(v: PoolView, cap: float) -> int:
    if v.busy_gpu_power_w <= 0:
        return v.n_gpus
    room_w = v.it_budget_w - v.idle_it_power_w
    if room_w <= 0:
        return 0
    return min(v.n_gpus, int(room_w / (v.busy_gpu_power_w * cap)))


def _committed_after(v: PoolView, start_s: float) -> int:
    """GPUs of running jobs whose estimated end falls after ``start_s``."""
    keys = v.est_end_keys
    i = bisect_right(keys, start_s)
    return sum(v.est_end_gpus[k] for k in keys[i:])


def _shadow(v: PoolView, avail: int, need: int) -> tuple[float, int]:
    """EASY: earliest estimated time ``need`` GPUs are free, and the GPUs to spare then."""
    acc = avail
    for key in v.est_end_keys:
        acc += v.est_end_gpus[key]
        if acc >= need:
            return max(key, v.now_s), acc - need
    return math.inf, 0


def _victims(
    v: PoolView,
    preempting: set[int],
    gpus: int,
    *,
    allow_guaranteed: bool,
    halls: tuple[int, ...] | None = None,
) -> list[int]:
    """Jobs to preempt for ``gpus``: borrowed, lowest tier, latest start first."""
    cands = [
        r
        for r in v.running.values()
        if r.job not in preempting
        and (r.borrowed or allow_guaranteed)
        and (halls is None or any(h in halls for h, _ in r.halls))
    ]
    cands.sort(key=lambda r: (not r.borrowed, -r.tier_priority, -r.start_s, r.job))
    chosen, got = [], 0
    for r in cands:
        if got >= gpus:
            break
        chosen.append(r.job)
        got += r.gpus if halls is None else _in_halls(r, halls)
    return chosen


def _in_halls(r: RunningView, halls: tuple[int, ...]) -> int:
    """GPUs a running job holds in the given halls."""
    return sum(c for h, c in r.halls if h in halls)


def _allocate(
    free: list[int],
    halls: tuple[int, ...],
    gpus: int,
    pressure: list[float],
    *,
    low_first: bool,
) -> tuple[tuple[int, int], ...]:
    """Take ``gpus`` from the allowed halls: one hall if one can hold it, else the fullest-free
    halls first; among halls, low (or high) pressure first, then best fit. Updates ``free`` in
    place (the caller's working copy)."""
    sign = 1.0 if low_first else -1.0

    def rank(h: int) -> float:
        return sign * pressure[h] if pressure else 0.0

    fitting = [h for h in halls if free[h] >= gpus]
    if fitting:
        h = min(fitting, key=lambda x: (rank(x), free[x], x))
        free[h] -= gpus
        return ((h, gpus),)
    alloc = []
    left = gpus
    for h in sorted(halls, key=lambda x: (rank(x), -free[x], x)):
        take = min(free[h], left)
        if take > 0:
            free[h] -= take
            alloc.append((h, take))
            left -= take
        if left == 0:
            break
    return tuple(alloc)
