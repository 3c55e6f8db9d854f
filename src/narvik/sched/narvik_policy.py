"""The narvik policy: guarantees first, surplus lent and reclaimed, power-aware admission.

A pure component: :meth:`NarvikPolicy.decide` reads a :class:`~narvik.sched.view.PoolView`
and returns a :class:`~narvik.sched.view.Decision`; it never reads a clock or changes
the view. One pass runs four steps on a working record (:class:`PassWork`), each a
function that can be tested alone:

1. **Power** (:func:`power_step`). The GPUs allowed to be busy follow from the IT
   power budget (grid cap, less the facility overhead at the current weather, less a
   curtailment): ``limit(c) = (budget - P_idle) / (c * P_busy)`` with GPUs power-capped
   at a fraction ``c`` of their dynamic power. The policy picks the highest ``c`` (in
   steps of 0.05, not below the floor) that fits the busy GPUs; if even the floor does
   not, it preempts work: borrowed jobs of the lowest tier first, the most recently
   started first (least work lost), then guaranteed jobs the same way. Jobs under notice
   draw power until they stop: during a curtailment, notices that would run past its
   deadline are brought forward to it when the power is needed (:func:`stop_late_leavers`).
2. **Guarantees** (:func:`guarantee_step`). Tenants in tier-priority order, then fair
   share (decayed past usage over weight). A tenant's queued jobs that fit its unused
   nominal quota (plus its active reservations) start now if the GPUs, a placement and
   the power are there; otherwise borrowed work is reclaimed by preemption, with a
   grace period, on the NVLink domains chosen for the job (:mod:`narvik.sched.reclaim`),
   and the job starts when it stops. GPUs freed for a tenant are earmarked for its
   promised jobs only (:func:`earmarks_of`), and no longer once its turn leaves nothing
   waiting. Guaranteed work, which no reclaim takes back, leaves the halls of tenants
   confined to them room for their unused guarantee (:func:`guarantee_room`).
3. **Surplus** (:func:`surplus_step`). Remaining GPUs are lent, in the same order,
   within each tenant's borrowing limit, never touching the unused quota of tenants
   that do not lend. EASY backfilling (Mu'alem and Feitelson 2001) over that order: the
   first job that does not fit gets a reservation at the earliest time enough GPUs free
   up (by estimate), and later jobs start only if they end by then or use GPUs the
   reservation does not need, so large jobs are not starved.
4. **Advance reservations** (:class:`Upcoming`). GPUs booked for a future window are
   kept free from any job whose estimated end falls after the window starts; during the
   window they are held for the booking tenant.

Every start carries its placement (:mod:`narvik.sched.placement`): a gang goes on the
fewest NVLink domains; when the free GPUs are too fragmented the job waits.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Sequence
from collections.abc import Set as AbstractSet

from narvik.sched.placement import Placement, Placer
from narvik.sched.reclaim import plan_reclaim, plan_victims
from narvik.sched.view import Decision, PoolView, RunningView, TenantView

CAP_STEP = 0.05


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


class Upcoming:
    """Reservations not yet begun: the GPUs left for work that would still run at their start.

    Rooms are computed on first need in a pass (most jobs end before the next booking).
    """

    def __init__(self, v: PoolView) -> None:
        self._v = v
        self.starts = [u[0] for u in v.upcoming]
        self._first = min(self.starts, default=math.inf)
        self._gpus = [u[1] for u in v.upcoming]
        # (start, gpus, committed): the engine keeps the GPUs committed past each start.
        self._room: list[int | None] = [
            v.n_gpus - u[1] - u[2] if len(u) > 2 else None  # type: ignore[misc]
            for u in v.upcoming
        ]

    def _room_at(self, i: int) -> int:
        room = self._room[i]
        if room is None:
            room = self._v.n_gpus - self._gpus[i] - committed_after(self._v, self.starts[i])
            self._room[i] = room
        return room

    def fits(self, gpus: int, est_end: float) -> bool:
        if est_end <= self._first:
            return True  # ends before every booking starts
        return all(est_end <= s or gpus <= self._room_at(i) for i, s in enumerate(self.starts))

    def take(self, gpus: int, est_end: float) -> None:
        for i, s in enumerate(self.starts):
            if est_end > s:
                self._room[i] = self._room_at(i) - gpus


class Preempting:
    """Jobs under notice: those of the view (read, never copied) and those noticed in
    this pass."""

    __slots__ = ("base", "new")

    def __init__(self, base: AbstractSet[int], new: set[int] | None = None) -> None:
        self.base = base
        self.new: set[int] = set() if new is None else new

    def __contains__(self, job: object) -> bool:
        return job in self.new or job in self.base

    def add(self, job: int) -> None:
        self.new.add(job)

    def with_(self, more: Iterable[int]) -> Preempting:
        """These jobs and ``more``."""
        return Preempting(self.base, self.new | set(more))


class PassWork:
    """The working record of one pass: what is still free, busy and promised."""

    def __init__(
        self,
        d: Decision,
        placer: Placer,
        busy: int,
        staying: int,
        *,
        limit: int = 0,
        holds: int = 0,
        preempting: Preempting | None = None,
        earmarks: dict[int, int] | None = None,
        upcoming: Upcoming | None = None,
    ) -> None:
        self.d = d
        self.placer = placer
        self.busy = busy
        """GPUs busy, jobs under notice included (they draw power until they stop)."""
        self.staying = staying
        """Busy GPUs that stay once the notices run out."""
        self.limit = limit
        """Busy GPUs the power budget allows at the chosen cap."""
        self.holds = holds
        self.preempting = preempting if preempting is not None else Preempting(frozenset())
        self.waiting: set[int] = set()
        self.waiting_power = 0
        """GPUs promised to guaranteed jobs waiting for their reclaim."""
        self.earmarks: dict[int, int] = earmarks if earmarks is not None else {}
        self.upcoming = upcoming
        self.started_ends: list[tuple[float, int]] = []
        """(estimated end, GPUs) of the jobs started in this pass."""
        self.unplaceable: dict[tuple[int, ...], int] = {}
        """Per set of halls, the smallest gang that could not be placed in this pass."""
        self.defrag_tried: set[int] = set()
        """Tenants for which a defragmenting reclaim was looked for in this pass."""
        self.guaranteed_on: list[int] = []
        """Per hall, GPUs of guaranteed work started in this pass (when the view gives
        ``hall_gpus``)."""
        self.guaranteed_started: dict[int, int] = {}
        """Per tenant, GPUs of guaranteed work started in this pass."""
        self.room: list[int] | None = None
        """In a tenant's guarantee turn: per hall, the most GPUs of new guaranteed work it
        may put there (None: no limit); see :func:`guarantee_room`."""

    @classmethod
    def of(cls, v: PoolView) -> PassWork:
        w = cls(
            Decision(),
            Placer(v.free_domains, v.topologies, v.free_by_hall),
            v.busy_gpus,
            v.busy_gpus - v.preempting_gpus,
            holds=v.reservation_holds,
            preempting=Preempting(v.preempting),
            earmarks=earmarks_of(v),
            upcoming=Upcoming(v),
        )
        w.guaranteed_on = [0] * len(v.hall_gpus)
        return w

    def power_room(self) -> int:
        return min(self.limit - self.busy, self.limit - self.staying - self.waiting_power)

    def start(self, job: int, borrowed: bool, placement: Placement, gpus: int, end: float) -> None:
        self.d.starts.append((job, borrowed, placement))
        self.started_ends.append((end, gpus))
        assert self.upcoming is not None
        self.upcoming.take(gpus, end)
        self.busy += gpus
        self.staying += gpus


def earmarks_of(v: PoolView) -> dict[int, int]:
    """Per tenant, its earmarked GPUs, at most what its promised jobs (those that have fit
    its guarantee: the work it reclaimed for) need and at most its unused guarantee. The
    GPUs freed for it can be many more (a victim bigger than the shortfall, GPUs freed in
    its halls by a victim spanning more); no more than that is kept from others."""
    out: dict[int, int] = {}
    for t in v.tenants:
        if t.earmarked_gpus and t.promised:
            mark = min(t.earmarked_gpus, t.quota_gpus + t.reserved_gpus - t.used_guaranteed)
            if mark > 0:
                queued = v.queued
                mark = min(mark, sum(queued[k].gpus for k in t.promised))
                if mark > 0:
                    out[t.index] = mark
    return out


class NarvikPolicy:
    name = "narvik"

    def decide(self, v: PoolView) -> Decision:
        w = PassWork.of(v)
        power_step(v, w)
        order = sorted(v.tenants, key=lambda t: (t.tier_priority, t.fair_share_key, t.index))
        guarantee_step(v, w, order)
        surplus_step(v, w, order)
        return w.d


def power_step(v: PoolView, w: PassWork) -> None:
    """Choose the GPU power cap; preempt for power when even the floor does not fit."""
    cap, limit = power_cap(v, w.busy)
    w.d.cap_fraction, w.limit = cap, limit
    if w.busy > limit and v.preempting:
        stop_late_leavers(v, w)
    if w.staying > limit:
        for job in victims(v, w.preempting, w.staying - limit, allow_guaranteed=True):
            w.d.preempt.append((job, -1))
            w.preempting.add(job)
            w.staying -= v.running[job].gpus


def stop_late_leavers(v: PoolView, w: PassWork) -> None:
    """Jobs under notice draw power until they stop: those whose notice runs past the
    deadline of the active curtailment (a reclaim's grace period, say) still draw it after
    the deadline. While the busy GPUs are over the limit, enough of them (in preemption
    order) are given notice for power, which brings their stop forward to the deadline;
    they stay reclaimed for the tenant they were reclaimed for."""
    deadline = v.power_deadline_s
    if deadline == math.inf:
        return  # no curtailment: a notice for power gives the grace period anyway
    late = [
        r for k in v.preempting if (r := v.running.get(k)) is not None and r.leaves_at_s > deadline
    ]
    over = w.staying + sum(r.gpus for r in late) - w.limit
    if over <= 0:
        return
    late.sort(key=lambda r: (not r.borrowed, -r.tier_priority, -r.start_s, -r.job))
    for r in late:
        if over <= 0:
            break
        w.d.preempt.append((r.job, -1))
        over -= r.gpus


def power_cap(v: PoolView, busy: int) -> tuple[float, int]:
    """Highest cap fraction (steps of 0.05) whose GPU limit holds the busy GPUs."""
    cap = 1.0
    while True:
        limit = gpu_limit(v, cap)
        if busy <= limit or cap <= v.min_cap_fraction + 1e-9:
            return cap, limit
        cap = max(v.min_cap_fraction, round(cap - CAP_STEP, 10))


def gpu_limit(v: PoolView, cap: float) -> int:
    """Busy GPUs the IT budget allows with GPUs capped at ``cap`` of their dynamic power."""
    if v.busy_gpu_power_w <= 0:
        return v.n_gpus
    room_w = v.it_budget_w - v.idle_it_power_w
    if room_w <= 0:
        return 0
    return min(v.n_gpus, int(room_w / (v.busy_gpu_power_w * cap)))


def hall_order(
    v: PoolView, w: PassWork, halls: tuple[int, ...], gpus: int, *, low_first: bool
) -> list[int]:
    """Halls to try for a start: low (or high) pressure first, then the tightest fit."""
    counts = w.placer.counts
    sign = 1.0 if low_first else -1.0
    pressure = v.hall_pressure
    fit = [h for h in halls if counts[h] >= gpus]
    if len(fit) <= 1:
        return fit
    return sorted(fit, key=lambda h: (sign * pressure[h] if pressure else 0.0, counts[h], h))


def place_job(
    v: PoolView, w: PassWork, halls: tuple[int, ...], gpus: int, *, low_first: bool
) -> Placement | None:
    # Within a pass GPUs are only taken: a size that did not fit in these halls, or a
    # larger one, will not fit later in the pass either.
    failed = w.unplaceable.get(halls)
    if failed is not None and gpus >= failed:
        return None
    got = w.placer.place(hall_order(v, w, halls, gpus, low_first=low_first), gpus)
    if got is None and len(halls) > 1:
        got = w.placer.place_across(halls, gpus)
    if got is None:
        w.unplaceable[halls] = gpus if failed is None else min(failed, gpus)
    return got


def hold_by_count(v: PoolView, w: PassWork, halls: tuple[int, ...], gpus: int) -> None:
    """Keep ``gpus`` free by count for a job waiting for a reclaim (low-pressure halls first)."""
    counts = w.placer.counts
    pressure = v.hall_pressure
    for h in sorted(halls, key=lambda x: (pressure[x] if pressure else 0.0, -counts[x], x)):
        take = min(counts[h], gpus)
        if take > 0:
            w.placer.hold(h, take)
            gpus -= take
        if gpus == 0:
            return


def guarantee_step(v: PoolView, w: PassWork, order: list[TenantView]) -> None:
    """Start (or reclaim GPUs for) queued work that fits each tenant's unused guarantee.

    A tenant's earmark is kept from the tenants after it only for its work still waiting
    once its turn is over: GPUs earmarked beyond that (its waiting work started, or needs
    fewer) serve the others in this very pass. (The engine drops the earmark of a tenant
    with nothing waiting after the pass, but the pass would have been decided without
    them, and the next one may come only after a guaranteed job's grace period.)"""
    for t in order:
        headroom = t.quota_gpus + t.reserved_gpus - t.used_guaranteed
        waiting = 0
        if headroom > 0 and t.queue and t.min_queued_gpus <= headroom:
            waiting = _guarantee_tenant(v, w, t, headroom)
        mark = w.earmarks.get(t.index)
        if mark is not None:
            if t.index in w.d.waiting_tenants and waiting > 0:
                w.earmarks[t.index] = min(mark, waiting)
            else:
                del w.earmarks[t.index]


def _guarantee_tenant(v: PoolView, w: PassWork, t: TenantView, headroom: int) -> int:
    """The tenant's turn; returns the GPUs of its jobs left waiting (for a reclaim or a
    placement).

    The GPUs the unused guarantees of tenants confined to some halls need there
    (:func:`guarantee_room`) are held back by count for the turn: its guaranteed work,
    which no reclaim can take back, goes elsewhere (or on more halls), not where they
    alone can run."""
    counts = w.placer.counts
    room = guarantee_room(v, w, t)
    if room is None:
        return _guarantee_jobs(v, w, t, headroom, None, {})
    cut, covered = _protect_cut(v, w, t, room)
    for h, c in enumerate(cut):
        counts[h] -= c
    failed = dict(w.unplaceable)  # placements tried with the cut say nothing of later turns
    w.room = room
    try:
        return _guarantee_jobs(v, w, t, headroom, cut, covered)
    finally:
        w.room = None
        w.unplaceable = failed
        for h, c in enumerate(cut):
            counts[h] += c


def guarantee_room(v: PoolView, w: PassWork, t: TenantView) -> list[int] | None:
    """Per hall, the most GPUs of new guaranteed work tenant ``t`` may put there and still
    leave the tenants confined to some halls (the others) room for their unused guarantee
    (None: no limit).

    Hall pressure sends other work away from a confined tenant's halls, but a gang that
    fits nowhere else would still go there, and guaranteed work cannot be reclaimed: a
    confined tenant whose halls are full of others' guaranteed work waits for it to end,
    far past its grace period. So for each set of halls some tenants are confined to, the
    GPUs there not held by guaranteed work (running or started in this pass) must stay at
    least the unused quotas of the tenants confined within that set; lent work there is no
    obstacle (it is reclaimed). A hall's room is the least slack of the sets holding it.
    (Exact for a gang on one hall; a gang spread over several halls of one set may take
    more than that set's slack.)"""
    cap = v.hall_gpus
    n_h = len(cap)
    if not n_h or len(v.guaranteed_by_hall) != n_h:
        return None
    need: dict[tuple[int, ...], int] = {}
    for c in v.tenants:
        if c.index == t.index or len(c.allowed_halls) >= n_h:
            continue
        r = c.quota_gpus - c.used_guaranteed - w.guaranteed_started.get(c.index, 0)
        if r > 0:
            need[c.allowed_halls] = need.get(c.allowed_halls, 0) + r
    if not need:
        return None
    started = w.guaranteed_on
    unheld = [cap[h] - v.guaranteed_by_hall[h] - started[h] for h in range(n_h)]
    room = list(unheld)
    for halls, _ in need.items():
        inside = set(halls)
        want = sum(r for other, r in need.items() if inside.issuperset(other))
        slack = max(0, sum(unheld[h] for h in halls) - want)
        for h in halls:
            room[h] = min(room[h], slack)
    return room


def _protect_cut(
    v: PoolView, w: PassWork, t: TenantView, room: list[int]
) -> tuple[list[int], dict[int, int]]:
    """(per hall, free GPUs held back from ``t``'s guaranteed work; per other confined
    tenant, GPUs of its earmark among them). Earmarked GPUs of a confined tenant lie in its
    halls: they are held back there, and no longer counted against ``t`` by count."""
    counts = w.placer.counts
    n_h = len(counts)
    marked = [0] * n_h
    covered: dict[int, int] = {}
    for c in v.tenants:
        e = w.earmarks.get(c.index, 0)
        if c.index == t.index or not e or len(c.allowed_halls) >= n_h:
            continue
        for h in c.allowed_halls:  # spread over its halls, as far as they have free GPUs
            take = min(e, max(0, counts[h] - marked[h]))
            marked[h] += take
            covered[c.index] = covered.get(c.index, 0) + take
            e -= take
    cut = [min(counts[h], max(0, counts[h] - max(room[h], 0), marked[h])) for h in range(n_h)]
    return cut, covered


def others_earmarks(
    v: PoolView, w: PassWork, t: TenantView, covered: dict[int, int], outside: int
) -> int:
    """GPUs of the other tenants' earmarks that ``t``'s free GPUs must leave them.

    An earmark is a count of free GPUs in its tenant's halls: like bookings' holds, it is
    covered by free GPUs outside ``t``'s halls first (``outside`` of them are left after the
    holds), as far as they lie in its tenant's halls. (The part ``covered`` by the cut of
    :func:`_protect_cut` is held back already.)"""
    mine = t.allowed_halls
    counts = w.placer.counts
    everywhere = len(mine) == len(counts)
    by_index = {tv.index: tv for tv in v.tenants} if outside > 0 and not everywhere else {}
    out = 0
    for i, e in w.earmarks.items():
        if i == t.index:
            continue
        e -= covered.get(i, 0)
        if e <= 0:
            continue
        tv = by_index.get(i)
        if tv is not None and outside > 0:
            there = sum(counts[h] for h in tv.allowed_halls if h not in mine)
            take = min(e, there, outside)
            outside -= take
            e -= take
        out += e
    return out


def _guarantee_jobs(
    v: PoolView,
    w: PassWork,
    t: TenantView,
    headroom: int,
    cut: list[int] | None,
    covered: dict[int, int],
) -> int:
    d, counts, upcoming = w.d, w.placer.counts, w.upcoming
    assert upcoming is not None
    own_hold = min(w.holds, t.reserved_gpus)
    quota_room = max(0, t.quota_gpus - t.used_guaranteed)  # used before the booking
    # Free GPUs outside every hold and earmark; the tenant's own hold serves only work
    # beyond its quota, so its booking stays whole for what it booked it for. Holds and
    # others' earmarks are kept fleet-wide: free GPUs outside the tenant's halls cover them
    # first. (Counted before the cut for confined tenants, which is then taken from the
    # tenant's own halls.)
    everywhere = len(t.allowed_halls) == len(counts)
    total = sum(counts)
    here = total if everywhere else sum(counts[h] for h in t.allowed_halls)
    outside_cut = total - here  # free outside its halls, less what is held back there
    cut_here = 0
    if cut is not None:
        cut_here = sum(cut) if everywhere else sum(cut[h] for h in t.allowed_halls)
        total += sum(cut)
        here += cut_here
    other_holds = w.holds - own_hold
    outside_left = max(0, min(outside_cut, total - here - other_holds))
    others = others_earmarks(v, w, t, covered, outside_left)
    avail = here - cut_here - max(0, other_holds - (total - here)) - own_hold - others
    incoming = t.reclaiming_gpus  # GPUs being reclaimed for this tenant
    waiting = 0
    scan = t.queue[: v.backfill_depth]
    if t.promised:
        claimed = set(t.promised)
        scan = t.promised + [j for j in scan if j not in claimed]
    for job in scan:
        q = v.queued[job]
        g = q.gpus
        if g > headroom:
            continue
        est_end = v.now_s + q.remaining_estimate_s
        if not upcoming.fits(g, est_end):
            continue
        d.fitting.append(job)
        own_part = min(own_hold, max(0, g - quota_room))
        # Power now (busy, jobs under notice included) and once the reclaims under way
        # are done (staying plus the jobs waiting for them).
        powered = w.busy + g <= w.limit and w.staying + w.waiting_power + g <= w.limit
        if g <= avail + own_part and powered:
            placed = place_job(v, w, t.allowed_halls, g, low_first=True)
            if placed is None:
                # Free GPUs enough, but too fragmented for the fewest domains: lent work
                # on the right domains is reclaimed (or is already leaving); the job
                # waits, holding nothing (GPUs in pieces serve others).
                w.waiting.add(job)
                waiting += g
                headroom -= g  # it keeps its claim on the quota (see below)
                if t.index not in w.defrag_tried:  # one search per tenant and pass
                    w.defrag_tried.add(t.index)
                    if reclaim_for_placement(v, w, t, job, g):
                        d.waiting_tenants.add(t.index)
                continue
        else:
            placed = None
        if placed is not None:
            w.start(job, False, placed, g, est_end)
            _count_guaranteed(w, t, placed, g)
            avail -= g - own_part
            headroom -= g
            if t.index in w.earmarks:
                w.earmarks[t.index] = max(0, w.earmarks[t.index] - g)
            quota_room -= min(g, quota_room)
            own_hold -= own_part
            w.holds -= own_part
            continue
        # Reclaim lent GPUs (and their power) for it; count what is under way.
        need = max(g - max(avail + own_part, 0), w.staying + w.waiting_power + g - w.limit)
        short = need - incoming
        if short > 0:
            got = _reclaim(v, w, t, job, short)
            if got < short:
                # Cannot be reclaimed now; smaller work may still fit, but not in the quota
                # it has fit in: it keeps its claim (otherwise a later job is promised the
                # same GPUs, and one of the two starts past its grace period).
                headroom -= g
                continue
            incoming += got
        # The job waits for the reclaim (or for a placement): its GPUs and power are
        # spoken for, from the halls others need least.
        w.waiting.add(job)
        waiting += g
        d.waiting_tenants.add(t.index)
        incoming -= need
        part = min(g, max(avail, 0))
        if part:
            hold_by_count(v, w, t.allowed_halls, part)
        avail = max(avail - g, 0)
        headroom -= g
        w.waiting_power += g
    return waiting


def _count_guaranteed(w: PassWork, t: TenantView, placed: Placement, gpus: int) -> None:
    """A guaranteed start of ``t`` in this pass (for :func:`guarantee_room`)."""
    w.guaranteed_started[t.index] = w.guaranteed_started.get(t.index, 0) + gpus
    on, room = w.guaranteed_on, w.room
    if on:
        for h, _, c in placed:
            on[h] += c
            if room is not None:
                room[h] -= c


def reclaim_halls(
    w: PassWork, t: TenantView, gpus: int
) -> tuple[tuple[int, ...], tuple[int, ...] | None, tuple[int, ...]]:
    """For a reclaim for a guaranteed job of ``gpus``: (the tenant's halls to plan it on,
    those where it may go whole (None: all of them), those where evicting lent work frees
    GPUs it may use). In its guarantee turn (:func:`guarantee_room`): halls with room for
    it; those whose room holds it; those with room left beyond their free GPUs."""
    halls = t.allowed_halls
    room = w.room
    if room is None:
        return halls, None, halls
    counts = w.placer.counts
    plan_on = tuple(h for h in halls if room[h] > 0)
    whole = tuple(h for h in plan_on if room[h] >= gpus)
    return plan_on, whole, tuple(h for h in plan_on if room[h] > counts[h])


def freed_for(v: PoolView, w: PassWork, jobs: Iterable[int], halls: tuple[int, ...]) -> int:
    """GPUs that stopping ``jobs`` frees in ``halls`` for the turn's guaranteed work: in
    each hall at most the room left beyond its free GPUs."""
    room = w.room
    if room is None:
        return sum(in_halls(v.running[j], halls) for j in jobs)
    per: dict[int, int] = {}
    for j in jobs:
        for h, c in v.running[j].halls:
            if h in halls:
                per[h] = per.get(h, 0) + c
    counts = w.placer.counts
    return sum(min(c, max(0, room[h] - counts[h])) for h, c in per.items())


def reclaim_for_placement(v: PoolView, w: PassWork, t: TenantView, job: int, gpus: int) -> bool:
    """Domains for a guaranteed job the free GPUs are too fragmented to place: True when
    work under notice will free them, or when borrowed work on the domains chosen for it
    (:func:`narvik.sched.reclaim.plan_reclaim`) is given notice so that they will; False
    when no eviction of borrowed work makes room.

    The free GPUs of the chosen domains are kept from the rest of the pass: lent again
    (to the very work just given notice, say), the domains would have to be reclaimed
    again in the next pass, and again, without end when the notices run out at once (the
    job's deadline has come)."""
    halls, whole_in, _ = reclaim_halls(w, t, gpus)
    plan = plan_reclaim(v, w.placer, newly_noticed(v, w), halls, gpus, whole_in, True)
    if plan is None:
        return False
    for j in plan_victims(plan, v.victims_on, w.preempting):
        _notice_reclaim(v, w, t, job, j)
    placer = w.placer
    for h, dom, _ in plan:
        free = int(placer.free_of(h)[dom])
        if free > 0:
            placer.reserve(h, dom, free)
    return True


def newly_noticed(v: PoolView, w: PassWork) -> list[int]:
    """Jobs given notice earlier in this pass."""
    return [j for j in w.preempting.new if j not in v.preempting]


def _notice_reclaim(v: PoolView, w: PassWork, t: TenantView, job: int, victim: int) -> None:
    """Notice to ``victim`` for ``t``: it stops by the waiting job's deadline."""
    since = v.queued[job].fit_since_s
    deadline = v.now_s + v.grace_period_s
    if since == since:  # not NaN: top-ups made late still free the GPUs by its deadline
        deadline = min(deadline, since + v.grace_period_s)
    w.d.preempt.append((victim, t.index))
    w.d.stop_by_s[victim] = max(v.now_s, deadline)
    w.preempting.add(victim)
    w.staying -= v.running[victim].gpus


def _reclaim(v: PoolView, w: PassWork, t: TenantView, job: int, short: int) -> int:
    """Give notice to borrowed work in the tenant's halls: first on the domains the job
    will go on (so that it can be placed once they stop), then more by preemption order
    while fewer than ``short`` GPUs are freed. Returns the GPUs freed in its halls (0 and
    no notice when no eviction makes room for it, or fewer than ``short`` can be freed)."""
    gpus = v.queued[job].gpus
    halls, whole_in, evict_in = reclaim_halls(w, t, gpus)
    plan = plan_reclaim(v, w.placer, newly_noticed(v, w), halls, gpus, whole_in)
    if plan is None:
        return 0
    chosen = plan_victims(plan, v.victims_on, w.preempting)
    got = freed_for(v, w, chosen, evict_in)
    if got < short:
        more = victims(
            v, w.preempting.with_(chosen), short - got, allow_guaranteed=False, halls=evict_in
        )
        chosen += more
        got = freed_for(v, w, chosen, evict_in)
    if got < short:
        return got
    for j in chosen:
        _notice_reclaim(v, w, t, job, j)
    return got


def surplus_step(v: PoolView, w: PassWork, order: list[TenantView]) -> None:
    """Lend what is left, EASY-backfilled over the tenants' order."""
    counts, upcoming = w.placer.counts, w.upcoming
    assert upcoming is not None
    unlent = sum(max(0, t.quota_gpus - t.used_guaranteed) for t in v.tenants if not t.lends)
    promised = sum(w.earmarks.values())
    shadow, extra = math.inf, 0
    reserved_for_head = False
    head: tuple[int, int, int] | None = None  # (avail, GPUs, starts so far): shadow on demand
    started = {s[0] for s in w.d.starts} | w.waiting
    for t in order:
        room = t.max_borrow_gpus - t.used_borrowed
        if room <= 0 or not t.queue:
            continue
        power_room = w.power_room()
        if reserved_for_head and t.min_queued_gpus > min(room, power_room):
            continue  # nothing of it can start in what is left
        total = sum(counts)
        everywhere = len(t.allowed_halls) == len(counts)
        here = total if everywhere else sum(counts[h] for h in t.allowed_halls)
        avail = here - max(0, w.holds - (total - here)) - unlent - promised
        if reserved_for_head and t.min_queued_gpus > avail:
            continue  # nothing of it fits in the GPUs free for it
        for job in t.queue[: v.backfill_depth]:
            if reserved_for_head and min(avail, power_room, room) <= 0:
                break  # nothing more can start for this tenant
            if job in started:
                continue
            q = v.queued[job]
            g = q.gpus
            if g > room or (reserved_for_head and (g > avail or g > power_room)):
                continue  # too big for what is left (the head's reservation is made)
            est_end = v.now_s + q.remaining_estimate_s
            fits = g <= avail and g <= power_room and upcoming.fits(g, est_end)
            if fits and head is not None:  # the head's shadow, computed on first need
                shadow, extra = easy_shadow(v, head[0], head[1], w.started_ends[: head[2]])
                head = None
            if fits and reserved_for_head and not (est_end <= shadow or g <= extra):
                fits = False
            placed = place_job(v, w, t.allowed_halls, g, low_first=False) if fits else None
            if placed is not None:
                if reserved_for_head and est_end > shadow:
                    extra -= g
                w.start(job, True, placed, g, est_end)
                room -= g
                avail -= g
                power_room = w.power_room()
                continue
            if fits:
                continue  # too fragmented now: no count-based reservation would help it
            if not reserved_for_head and g <= v.n_gpus:
                head = (max(avail, 0), g, len(w.started_ends))
                reserved_for_head = True


def committed_after(v: PoolView, start_s: float) -> int:
    """GPUs of running jobs whose estimated end falls after ``start_s``."""
    return v.ends.committed_after(start_s)


def easy_shadow(
    v: PoolView, avail: int, need: int, started: Sequence[tuple[float, int]] = ()
) -> tuple[float, int]:
    """EASY: earliest estimated time ``need`` GPUs are free, and the GPUs to spare then.

    Running jobs end at their estimated end (at ``now`` once it has passed), and so do
    the ``started`` ones, (estimated end, GPUs), started earlier in the same pass; every
    job ending by the shadow time counts towards the spare GPUs
    (:meth:`narvik.sched.ends.EstimatedEnds.shadow`)."""
    return v.ends.shadow(v.now_s, avail, need, started)


def victims(
    v: PoolView,
    preempting: Container[int],
    gpus: int,
    *,
    allow_guaranteed: bool,
    halls: tuple[int, ...] | None = None,
) -> list[int]:
    """Jobs to preempt for ``gpus``: borrowed, lowest tier, latest start first."""
    chosen, got = [], 0
    for r in v.victims():
        if got >= gpus:
            break
        if not (r.borrowed or allow_guaranteed):
            break  # borrowed jobs come first: the rest are guaranteed
        if r.job in preempting:
            continue
        if halls is None:
            got += r.gpus
        else:
            here = in_halls(r, halls)
            if not here:
                continue
            got += here
        chosen.append(r.job)
    return chosen


def in_halls(r: RunningView, halls: tuple[int, ...]) -> int:
    """GPUs a running job holds in the given halls."""
    return sum(c for h, c in r.halls if h in halls)
