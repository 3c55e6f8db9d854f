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
   started first (least work lost), then guaranteed jobs the same way.
2. **Guarantees** (:func:`guarantee_step`). Tenants in tier-priority order, then fair
   share (decayed past usage over weight). A tenant's queued jobs that fit its unused
   nominal quota (plus its active reservations) start now if the GPUs, a placement and
   the power are there; otherwise borrowed work is reclaimed by preemption, with a
   grace period, on the NVLink domains chosen for the job (:mod:`narvik.sched.reclaim`),
   and the job starts when it stops.
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

    @classmethod
    def of(cls, v: PoolView) -> PassWork:
        return cls(
            Decision(),
            Placer(v.free_domains, v.topologies, v.free_by_hall),
            v.busy_gpus,
            v.busy_gpus - v.preempting_gpus,
            holds=v.reservation_holds,
            preempting=Preempting(v.preempting),
            earmarks={t.index: t.earmarked_gpus for t in v.tenants if t.earmarked_gpus},
            upcoming=Upcoming(v),
        )

    def power_room(self) -> int:
        return min(self.limit - self.busy, self.limit - self.staying - self.waiting_power)

    def start(self, job: int, borrowed: bool, placement: Placement, gpus: int, end: float) -> None:
        self.d.starts.append((job, borrowed, placement))
        self.started_ends.append((end, gpus))
        assert self.upcoming is not None
        self.upcoming.take(gpus, end)
        self.busy += gpus
        self.staying += gpus


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
    if w.staying > limit:
        for job in victims(v, w.preempting, w.staying - limit, allow_guaranteed=True):
            w.d.preempt.append((job, -1))
            w.preempting.add(job)
            w.staying -= v.running[job].gpus


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
    """Start (or reclaim GPUs for) queued work that fits each tenant's unused guarantee."""
    for t in order:
        headroom = t.quota_gpus + t.reserved_gpus - t.used_guaranteed
        if headroom > 0 and t.queue and t.min_queued_gpus <= headroom:
            _guarantee_tenant(v, w, t, headroom)


def _guarantee_tenant(v: PoolView, w: PassWork, t: TenantView, headroom: int) -> None:
    d, counts, upcoming = w.d, w.placer.counts, w.upcoming
    assert upcoming is not None
    own_hold = min(w.holds, t.reserved_gpus)
    quota_room = max(0, t.quota_gpus - t.used_guaranteed)  # used before the booking
    others = sum(e for i, e in w.earmarks.items() if i != t.index)
    # Free GPUs outside every hold; the tenant's own hold serves only work beyond its
    # quota, so its booking stays whole for what it booked it for. Holds are kept
    # fleet-wide: free GPUs outside the tenant's halls cover them first.
    total = sum(counts)
    here = total if len(t.allowed_halls) == len(counts) else sum(counts[h] for h in t.allowed_halls)
    avail = here - max(0, w.holds - own_hold - (total - here)) - own_hold - others
    incoming = t.reclaiming_gpus  # GPUs being reclaimed for this tenant
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
                if t.index not in w.defrag_tried:  # one search per tenant and pass
                    w.defrag_tried.add(t.index)
                    if reclaim_for_placement(v, w, t, job, g):
                        d.waiting_tenants.add(t.index)
                continue
        else:
            placed = None
        if placed is not None:
            w.start(job, False, placed, g, est_end)
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
                continue  # cannot be reclaimed now; smaller work may still fit
            incoming += got
        # The job waits for the reclaim (or for a placement): its GPUs and power are
        # spoken for, from the halls others need least.
        w.waiting.add(job)
        d.waiting_tenants.add(t.index)
        incoming -= need
        part = min(g, max(avail, 0))
        if part:
            hold_by_count(v, w, t.allowed_halls, part)
        avail = max(avail - g, 0)
        headroom -= g
        w.waiting_power += g


def reclaim_for_placement(v: PoolView, w: PassWork, t: TenantView, job: int, gpus: int) -> bool:
    """Domains for a guaranteed job the free GPUs are too fragmented to place: True when
    work under notice will free them, or when borrowed work on the domains chosen for it
    (:func:`narvik.sched.reclaim.plan_reclaim`) is given notice so that they will; False
    when no eviction of borrowed work makes room."""
    plan = plan_reclaim(v, w.placer, newly_noticed(v, w), t.allowed_halls, gpus)
    if plan is None:
        return False
    for j in plan_victims(plan, v.victims_on, w.preempting):
        _notice_reclaim(v, w, t, job, j)
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
    halls = t.allowed_halls
    plan = plan_reclaim(v, w.placer, newly_noticed(v, w), halls, v.queued[job].gpus)
    if plan is None:
        return 0
    chosen = plan_victims(plan, v.victims_on, w.preempting)
    got = sum(in_halls(v.running[j], halls) for j in chosen)
    if got < short:
        more = victims(
            v, w.preempting.with_(chosen), short - got, allow_guaranteed=False, halls=halls
        )
        chosen += more
        got += sum(in_halls(v.running[j], halls) for j in more)
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
