"""``--policy slurm``: an emulation of Slurm deciding on narvik's one engine.

A pool policy like the others (:class:`~narvik.sched.view.PoolView` in,
:class:`~narvik.sched.view.Decision` out), configured by exactly what ``narvik export
slurm`` writes (:mod:`narvik.sched.slurm_config`): a QOS per tier, an account per tenant,
a partition per set of halls a tenant may use, and :class:`SlurmParams`. One pass:

1. **Priority** (:mod:`narvik.sched.slurm_priority`): multifactor priority, age + fair
   share ``2 ** (-U / S)`` + QOS (https://slurm.schedmd.com/priority_multifactor.html);
   jobs in priority order, then submit time, then key.
2. **Main scheduling** (https://slurm.schedmd.com/sched_config.html): jobs in priority
   order start where they fit (gang placement on the fewest NVLink domains,
   :func:`~narvik.sched.narvik_policy.place_job`, as ``topology/block`` would). A job held
   by a limit (QOS or account ``GrpTRES=gres/gpu``, counted over running jobs of that
   QOS / account; https://slurm.schedmd.com/resource_limits.html) is skipped and blocks
   nothing (Slurm's ``QOSGrpGRES`` / ``AssocGrpGRES`` reasons). A job that does not fit
   for want of GPUs blocks its partition: like Slurm's ``schedule()``, no later job is
   started by the main scheduler in that partition or on its halls.
3. **Backfill** (:mod:`narvik.sched.slurm_backfill`; sched/backfill, ``bf_window``,
   ``bf_max_job_test``, ``bf_resolution``): the jobs the main scheduler could not start,
   in priority order, at most ``bf_max_job_test`` of them: each starts now if it fits and
   delays none of the reservations made for the blocked jobs tested before it; otherwise
   it gets its own reservation at its earliest start within ``bf_window`` (none when that
   lies beyond the window, so it does not hold back later jobs).
4. **Preemption** (``PreemptType=preempt/qos``, ``PreemptMode=REQUEUE``;
   https://slurm.schedmd.com/preempt.html, qos.html): a job that cannot start and whose
   QOS lists other QOS in ``Preempt`` gives notice to running jobs of those QOS on the
   NVLink domains chosen for it (lowest QOS first, then the most recently started), only
   as many as needed and only where freeing them lets it be placed; the engine requeues
   them with their checkpointed work once the grace period (Slurm's ``GraceTime``) ends.
   While they leave, the job waits and the free GPUs of its domains are kept for it.
5. **Reservations** (https://slurm.schedmd.com/reservations.html): GPUs of active
   bookings (``reservation_holds``) are not given to other accounts; the owner uses them
   for its work beyond its quota (what the engine counts inside the booking); no job is
   started that would still run, on GPUs a booking needs, when the booking begins
   (``upcoming``). No advance planning beyond that.

No power awareness: no GPU power cap, no preemption for power (Slurm does neither).

Fair-share weights are not in the view: the policy takes them as ``weights`` (by tenant
index; the tenancy's default 1.0 when not given), see docs/design.md (the slurm policy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from narvik.sched.narvik_policy import PassWork, place_job
from narvik.sched.reclaim import plan_domains
from narvik.sched.slurm_backfill import Profile
from narvik.sched.slurm_config import SlurmParams
from narvik.sched.slurm_priority import DEFAULT_WEIGHT, PriorityOrder, SlurmTerms, terms_key
from narvik.sched.view import Decision, PoolView, RunningView, TenantView, WaitingJob

STARTED, BUSY, HELD = 0, 1, 2
"""Outcomes of a start attempt: started; not enough GPUs (blocks the partition); kept
off booked GPUs only (skipped, like Slurm's reservation reasons)."""


class SlurmPolicy:
    """Slurm's scheduling on a pool view (module docstring)."""

    name = "slurm"

    def __init__(
        self, params: SlurmParams | None = None, weights: Sequence[float] | None = None
    ) -> None:
        self.params = params if params is not None else SlurmParams()
        self.weights = tuple(weights) if weights is not None else ()
        self._key: tuple[object, ...] | None = None
        self._terms: SlurmTerms | None = None
        self.plans: dict[int, tuple[tuple[int, ...], tuple[tuple[int, int], ...]]] = {}
        """Per job waiting for its preemptions: (victims, (hall, domain) it will go on)."""

    def terms(self, v: PoolView) -> SlurmTerms:
        """The QOS and accounts of the view's tenants (rebuilt only when they change)."""
        weights = [
            self.weights[t.index] if t.index < len(self.weights) else DEFAULT_WEIGHT
            for t in v.tenants
        ]
        key = terms_key(v.tenants, weights)
        if self._terms is None or key != self._key:
            self._terms, self._key = SlurmTerms(v.tenants, weights), key
        return self._terms

    def decide(self, v: PoolView) -> Decision:
        w = PassWork.of(v)
        self.plans = {k: p for k, p in self.plans.items() if k in v.queued}
        SlurmPass(v, w, self.params, self.terms(v), self.plans).run()
        return w.d


class SlurmPass:
    """The working record of one pass (module docstring, steps 2 to 5)."""

    def __init__(
        self,
        v: PoolView,
        w: PassWork,
        p: SlurmParams,
        terms: SlurmTerms,
        plans: dict[int, tuple[tuple[int, ...], tuple[tuple[int, int], ...]]],
    ) -> None:
        self.v, self.w, self.p, self.terms, self.plans = v, w, p, terms, plans
        tenants = v.tenants
        self.acct_used = [t.used_guaranteed + t.used_borrowed for t in tenants]
        self.qos_used = [0] * len(terms.qos)
        for i, used in enumerate(self.acct_used):
            self.qos_used[terms.qos_of[i]] += used
        self.quota_room = [max(0, t.quota_gpus - t.used_guaranteed) for t in tenants]
        self.own_hold = {t.index: own_hold(t) for t in tenants if t.reserved_gpus}
        self.holds = v.reservation_holds
        self.blocked: set[int] = set()
        """Halls of partitions the main scheduler found full."""
        self.tested = 0
        self.profile: Profile | None = None
        self.failed_preempt: dict[tuple[int, tuple[int, ...]], int] = {}
        """Per (QOS, halls), the smallest job no preemption could make room for."""
        self.evictable: dict[int, list[NDArray[np.int64]]] = {}
        """Per QOS, GPUs per domain of running jobs it may preempt (built on first need)."""

    # --- the walk -----------------------------------------------------------------------
    def run(self) -> None:
        """The walk in priority order. Once no job can start now any more (too few GPUs
        for the smallest job queued, reservations counted), reservations change nothing
        in this pass: only jobs that may preempt are still looked at."""
        v, p = self.v, self.p
        order = PriorityOrder(v, p, self.terms)
        min_g = 0
        for t in v.tenants:
            if t.queue:
                if self.headroom(t.index) < t.min_queued_gpus:
                    order.drop(t.index)
                min_g = t.min_queued_gpus if not min_g else min(min_g, t.min_queued_gpus)
        n_halls = len(v.free_domains)
        starved = False
        for key in order:
            q = v.queued[key]
            t = v.tenants[q.tenant]
            if self.held_by_limit(t.index, q.gpus):
                if self.headroom(t.index) < t.min_queued_gpus:
                    order.drop(t.index)
                continue
            if key in self.plans and self.wait_for_preemption(key):
                continue
            if starved:
                if self.tested >= p.bf_max_job_test:
                    break
                self.tested += 1
                self.try_preempt(q, t, v.now_s + q.remaining_estimate_s)
                continue
            if self.consider(q, t, backfill=self.tested < p.bf_max_job_test):
                continue
            if self.nothing_starts(min_g, n_halls):
                starved = True
                for u in v.tenants:  # only jobs that may preempt are looked at now
                    if not self.terms.qos_preempts[self.terms.qos_of[u.index]]:
                        order.drop(u.index)
            elif len(self.blocked) >= n_halls and self.tested >= p.bf_max_job_test:
                break

    def nothing_starts(self, min_g: int, n_halls: int) -> bool:
        """Whether no queued job can start now any more in this pass: fewer GPUs free (for
        anyone, bookings counted) than the smallest job queued, or, once the main scheduler
        is blocked everywhere, fewer in the backfill profile's first slot."""
        slack = max(self.own_hold.values(), default=0)
        if sum(self.w.placer.counts) - self.holds + slack < min_g:
            return True
        prof = self.profile
        return (
            prof is not None and len(self.blocked) >= n_halls and int(prof.free[0]) + slack < min_g
        )

    def consider(self, q: WaitingJob, t: TenantView, *, backfill: bool) -> bool:
        """Main scheduling, then (when ``backfill``) backfill for one job; True when it
        started, waits for a preemption or was skipped."""
        halls = t.allowed_halls
        est_end = self.v.now_s + q.remaining_estimate_s
        main = tuple(h for h in halls if h not in self.blocked) if self.blocked else halls
        preempt_tried = False
        if main:
            got = self.try_start(q, t, main, est_end, use_profile=False)
            if got != BUSY:
                return True
            preempt_tried = True
            if self.try_preempt(q, t, est_end):
                return True
            self.blocked.update(halls)
        if not backfill:
            return False
        self.tested += 1
        prof = self.get_profile()
        m = prof.slots(q.remaining_estimate_s)
        if len(main) < len(halls):  # the main scheduler did not try all its halls
            got = self.try_start(q, t, halls, est_end, use_profile=True)
            if got != BUSY:
                return True
        if not preempt_tried and self.try_preempt(q, t, est_end):
            return True
        need = q.gpus - self.own_part(t, q.gpus)
        if prof.fits_now(need, m):
            # Enough GPUs by count but too fragmented to place it: the free ones do not
            # serve it; it is reserved where running jobs' ends alone free enough.
            k = prof.earliest(need + int(prof.free[0]), m, 1)
        else:
            k = prof.earliest(need, m)
        if k is not None:
            prof.take(need, k, m)
        return False

    # --- limits -------------------------------------------------------------------------
    def headroom(self, i: int) -> int:
        """GPUs tenant ``i`` may still start under its QOS and account ``GrpTRES``."""
        terms = self.terms
        room = 1 << 62
        qi = terms.qos_of[i]
        lim = terms.qos_limit[qi]
        if lim is not None:
            room = min(room, lim - self.qos_used[qi])
        alim = terms.account_limit[i]
        if alim is not None:
            room = min(room, alim - self.acct_used[i])
        return room

    def held_by_limit(self, i: int, gpus: int) -> bool:
        return gpus > self.headroom(i)

    # --- starts -------------------------------------------------------------------------
    def own_part(self, t: TenantView, gpus: int) -> int:
        """GPUs of its own booking a job of ``t`` may use: for work beyond its quota."""
        own = self.own_hold.get(t.index, 0)
        if not own or gpus <= self.quota_room[t.index]:
            return 0
        return min(own, gpus)

    def try_start(
        self,
        q: WaitingJob,
        t: TenantView,
        halls: tuple[int, ...],
        est_end: float,
        *,
        use_profile: bool,
    ) -> int:
        """Start ``q`` on ``halls`` now if it fits (and, with ``use_profile``, delays no
        backfill reservation)."""
        v, w = self.v, self.w
        g = q.gpus
        counts = w.placer.counts
        total = sum(counts)
        here = sum(counts[h] for h in halls)
        if g > here:
            return BUSY
        own = self.own_part(t, g)
        others = self.holds - self.own_hold.get(t.index, 0)
        avail = here - max(0, others - (total - here)) - (self.own_hold.get(t.index, 0) - own)
        assert w.upcoming is not None
        if g > avail or not w.upcoming.fits(g, est_end):
            return HELD
        prof = self.profile
        m = 1
        if prof is not None:
            m = prof.slots(q.remaining_estimate_s)
            if use_profile and not prof.fits_now(g, m, own):
                return BUSY
        placed = place_job(v, w, halls, g, low_first=True)
        if placed is None:
            return BUSY
        i = t.index
        borrowed = g > self.quota_room[i]
        if not borrowed:
            self.quota_room[i] -= g
        w.start(q.key, borrowed, placed, g, est_end)
        self.acct_used[i] += g
        self.qos_used[self.terms.qos_of[i]] += g
        if own:
            self.own_hold[i] -= own
            self.holds -= own
        if prof is not None:
            prof.take(g - own, 0, m)
        return STARTED

    def get_profile(self) -> Profile:
        """The backfill profile, built on first need from the pass as it stands."""
        if self.profile is None:
            v, p = self.v, self.p
            self.profile = Profile(
                v.now_s,
                sum(self.w.placer.counts) - self.holds,
                v.ends,
                self.w.started_ends,
                window_s=p.bf_window_s,
                resolution_s=p.bf_resolution_s,
                upcoming=[(u[0], u[1]) for u in v.upcoming],
            )
        return self.profile

    # --- preemption ---------------------------------------------------------------------
    def wait_for_preemption(self, key: int) -> bool:
        """A job whose victims are still leaving waits; the free GPUs of the domains
        chosen for it stay free. False once they have all left (it is scheduled as any)."""
        victims, domains = self.plans[key]
        if not any(j in self.v.running for j in victims):
            del self.plans[key]
            return False
        self.keep(self.v.queued[key], domains)
        return True

    def try_preempt(self, q: WaitingJob, t: TenantView, est_end: float) -> bool:
        """Give notice to running jobs of the QOS ``t``'s QOS preempts, on the domains
        chosen for ``q``; True when it now waits for them."""
        terms = self.terms
        qi = terms.qos_of[t.index]
        if not terms.qos_preempts[qi]:
            return False
        halls = t.allowed_halls
        g = q.gpus
        failed = self.failed_preempt.get((qi, halls))
        if failed is not None and g >= failed:
            return False
        assert self.w.upcoming is not None
        if not self.w.upcoming.fits(g, est_end):
            return False  # it would run into a booking: no preemption helps it now
        plan = self.plan(qi, halls, g)
        if plan is None:
            self.failed_preempt[(qi, halls)] = g if failed is None else min(failed, g)
            return False
        victims = self.choose_victims(qi, plan)
        self.notice(t, q.key, victims, plan)
        return True

    def evictable_for(self, qi: int) -> list[NDArray[np.int64]]:
        """Per hall, GPUs per domain of running jobs QOS ``qi`` may preempt, not under
        notice."""
        got = self.evictable.get(qi)
        if got is None:
            v = self.v
            targets = self.terms.qos_preempts[qi]
            qos_of = self.terms.qos_of
            got = [np.zeros(f.shape[0], dtype=np.int64) for f in v.free_domains]
            preempting = self.w.preempting
            for r in v.running.values():
                if qos_of[r.tenant] in targets and r.job not in preempting:
                    for h, dom, c in r.placement:
                        got[h][dom] += c
            self.evictable[qi] = got
        return got

    def plan(self, qi: int, halls: tuple[int, ...], g: int) -> list[tuple[int, int, int]] | None:
        """((hall, domain, GPUs to free there), ...) for a gang of ``g`` on ``halls``: the
        hall needing the fewest GPUs evicted, else whole domains across them; None when no
        eviction makes room (or only booked GPUs would)."""
        v, placer = self.v, self.w.placer
        ev = self.evictable_for(qi)
        counts = placer.counts
        total = sum(counts)
        here = sum(counts[h] for h in halls)
        others = self.holds
        short_by_count = g - (here - max(0, others - (total - here)))
        best: tuple[int, list[tuple[int, int, int]]] | None = None
        for h in halls:
            got = plan_domains(placer.free_of(h), ev[h], v.topologies[h].domain_gpus, g, True)
            if got is not None and (best is None or got[0] < best[0]):
                best = (got[0], [(h, dom, c) for dom, c in got[1]])
        if best is None and len(halls) > 1:
            best = self._plan_across(halls, ev, g)
        if best is None or best[0] <= 0 or best[0] < short_by_count:
            return None
        return best[1]

    def _plan_across(
        self, halls: tuple[int, ...], ev: list[NDArray[np.int64]], g: int
    ) -> tuple[int, list[tuple[int, int, int]]] | None:
        v, placer = self.v, self.w.placer
        d = v.topologies[halls[0]].domain_gpus
        if g <= d or any(v.topologies[h].domain_gpus != d for h in halls):
            return None
        hs = np.concatenate([np.full(ev[h].shape[0], h) for h in halls])
        ds = np.concatenate([np.arange(ev[h].shape[0]) for h in halls])
        after = np.concatenate([placer.free_of(h) for h in halls])
        got = plan_domains(after, np.concatenate([ev[h] for h in halls]), d, g, True)
        if got is None:
            return None
        return got[0], [(int(hs[i]), int(ds[i]), c) for i, c in got[1]]

    def choose_victims(self, qi: int, plan: list[tuple[int, int, int]]) -> list[int]:
        """On each planned domain, jobs of preemptable QOS until enough GPUs are freed there:
        the lowest QOS first, then the most recently started (a job spanning domains frees
        all of them)."""
        targets, qos_of = self.terms.qos_preempts[qi], self.terms.qos_of
        need = {(h, dom): c for h, dom, c in plan if c > 0}
        cands = [
            r
            for r in self.v.victims_on(need.keys())
            if qos_of[r.tenant] in targets and r.job not in self.w.preempting
        ]
        cands.sort(key=_victim_order)
        freed: dict[tuple[int, int], int] = {}
        chosen: list[int] = []
        for k, c in need.items():
            for r in cands:
                if freed.get(k, 0) >= c:
                    break
                if r.job in chosen or not any((h, dom) == k for h, dom, _ in r.placement):
                    continue
                chosen.append(r.job)
                for h, dom, n in r.placement:
                    freed[(h, dom)] = freed.get((h, dom), 0) + n
        return chosen

    def notice(
        self, t: TenantView, job: int, victims: list[int], plan: list[tuple[int, int, int]]
    ) -> None:
        """Notice to ``victims`` for ``t``'s ``job`` (requeued at the end of the grace
        period); the free GPUs of its domains are kept for it."""
        v, w = self.v, self.w
        stop_by = v.now_s + v.grace_period_s
        for j in victims:
            w.d.preempt.append((j, t.index))
            w.d.stop_by_s[j] = stop_by
            w.preempting.add(j)
            r = v.running[j]
            w.staying -= r.gpus
            for ev in self.evictable.values():
                for h, dom, c in r.placement:
                    ev[h][dom] -= c
        domains = tuple((h, dom) for h, dom, _ in plan)
        self.plans[job] = (tuple(victims), domains)
        self.keep(v.queued[job], domains)

    def keep(self, q: WaitingJob, domains: tuple[tuple[int, int], ...]) -> None:
        """Keep the free GPUs of ``domains`` for ``q`` (waiting for its preemptions) for
        the rest of the pass, and in the backfill profile for its grace period and run."""
        placer = self.w.placer
        kept = 0
        for h, dom in domains:
            free = int(placer.free_of(h)[dom])
            if free > 0:
                placer.reserve(h, dom, free)
                kept += free
        prof = self.profile
        if prof is not None and kept:
            prof.take(kept, 0, prof.slots(self.v.grace_period_s + q.remaining_estimate_s))


def _victim_order(r: RunningView) -> tuple[int, float, int]:
    """Lowest QOS (highest tier priority) first, then the most recently started."""
    return (-r.tier_priority, -r.start_s, -r.job)


def own_hold(t: TenantView) -> int:
    """GPUs of ``t``'s active bookings not used by its own work (the engine counts its
    work beyond its quota, or borrowed, as inside the booking)."""
    inside = min(t.reserved_gpus, max(0, t.used_guaranteed - t.quota_gpus) + t.used_borrowed)
    return t.reserved_gpus - inside
