"""The pool's state at an instant and the rules that change it: one engine, two clocks.

:class:`Pool` owns everything a scheduling pass depends on: halls online and the free
GPUs of every NVLink domain, running and queued jobs with their work, estimated ends,
earmarks and promises, fair-share usage, bookings, curtailments, the GPU power cap and
checkpoint loss. It has no clock: every method takes the instant ``now_s`` from its
driver. The simulator (:mod:`narvik.sim`) drives it in virtual time, the control plane
(:mod:`narvik.service`) with the wall clock, and both call the same :meth:`Pool.step`:

1. halls whose phase has begun come online;
2. fair-share usage is advanced to ``now_s``;
3. jobs whose time has come stop (finished, notice over, cancelled);
4. arrivals join their tenant's queue (in the order given);
5. bookings that open now get their GPUs back from others' overrunning work;
6. the policy decides on :meth:`Pool.view` and :meth:`Pool.apply` carries it out.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from narvik.engine.config import (
    CurtailmentSpec,
    HallSpec,
    PowerModel,
    ReservationSpec,
    Rules,
    TenantSpec,
)
from narvik.engine.jobs import RunningJob, Stop, due_stop, stop_now
from narvik.engine.tenants import TenantState
from narvik.physics.it_power import capped_throughput_fraction
from narvik.sched.ends import EstimatedEnds
from narvik.sched.narvik_policy import hall_pressure
from narvik.sched.placement import Placement, hall_gpus
from narvik.sched.view import Decision, PoolView, RunningView, TenantView, WaitingJob


class PassOutcome:
    """What one pass changed: what a driver records or persists.

    (A plain class, not a dataclass: one is made per pass, and a compiled build makes
    plain classes natively.)"""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s
        self.stops: list[Stop] = []
        self.starts: list[RunningJob] = []
        self.notices: list[tuple[int, float, int]] = []
        """(job, stop at, tenant reclaimed for or -1)."""
        self.fitting: list[int] = []
        """Queued jobs that fit their tenant's guarantee for the first time."""
        self.fit_on_arrival: list[int] = []
        """Arrivals that fit their tenant's unused guarantee as they came."""
        self.rejected: list[int] = []
        """Arrivals refused: more GPUs than their tenant's halls will ever hold."""
        self.retimed = False
        """The GPU power cap changed: every running job was re-timed."""
        self.cap_fraction = 1.0
        self.it_power_w = 0.0
        self.it_budget_w = math.inf
        self.shed_w = 0.0
        self.busy_gpus = 0
        self.opened_short: list[int] = []
        """Bookings opening now whose GPUs were not all free for them."""
        self.booking_available: dict[int, int] = {}
        """Per active booking, GPUs its owner had (free for it, or its own work in it)."""


class Pool:
    def __init__(
        self,
        halls: Sequence[HallSpec],
        tenants: Sequence[TenantSpec],
        rules: Rules,
        power: PowerModel,
        reservations: Sequence[ReservationSpec] = (),
        curtailments: Sequence[CurtailmentSpec] = (),
    ) -> None:
        self.halls = list(halls)
        self.topologies = [h.topology for h in halls]
        self.rules = rules
        self.power = power
        n_h = len(halls)
        self.online = [False] * n_h
        self.capacity = [0] * n_h
        self.free_by_hall = [0] * n_h
        self.free = [np.zeros(t.domains, dtype=np.int64) for t in self.topologies]
        self.lent_on = [np.zeros(t.domains, dtype=np.int64) for t in self.topologies]
        """Per hall, GPUs per domain of borrowed jobs not under notice."""
        self.leaving_on = [np.zeros(t.domains, dtype=np.int64) for t in self.topologies]
        """Per hall, GPUs per domain of jobs under notice."""
        self.guaranteed_on = [0] * n_h
        """Per hall, GPUs of running guaranteed (not borrowed) jobs."""
        self.tenants: list[TenantState] = []
        self.reservations: list[ReservationSpec] = []
        self.curtailments: list[CurtailmentSpec] = []
        self.queued: dict[int, WaitingJob] = {}
        self.running: dict[int, RunningJob] = {}
        self.views: dict[int, RunningView] = {}
        self._by_class: dict[tuple[bool, int], dict[int, RunningView]] = {}
        self._jobs_on: dict[tuple[int, int], set[int]] = {}
        """Running jobs on each (hall, domain)."""
        self._started_seq: dict[int, int] = {}
        """Order in which running jobs were added (later: preempted first in their class)."""
        self._seq = 0
        self.ends = EstimatedEnds()
        """Estimated ends of the running jobs."""
        self._committed: dict[float, int] = {}
        """Per booking start: GPUs of running jobs whose estimated end falls after it."""
        self.timers: list[tuple[float, int]] = []
        self.busy = 0
        self.cap_fraction = 1.0
        self.rate = 1.0
        self.noticed: set[int] = set()
        self.noticed_gpus = 0
        self.last_s = -math.inf
        self._usage_s = -math.inf
        self.pressure: list[float] = [0.0] * n_h
        self._next_change_s = -math.inf
        self._any_reserved = False
        self._pass_view: PoolView | None = None
        self.set_tenants(tenants)
        self.set_reservations(reservations)
        self.set_curtailments(curtailments)

    # --- configuration that may change while the pool runs ---------------------------
    def set_tenants(self, specs: Sequence[TenantSpec]) -> None:
        """The tenants, by index (new ones are appended; existing ones keep their state)."""
        if len(specs) < len(self.tenants):
            raise ValueError("tenants cannot be removed from a running pool")
        all_halls = tuple(range(len(self.halls)))
        for i, spec in enumerate(specs):
            halls = spec.allowed_halls or all_halls
            reach = sum(self.halls[h].gpus for h in halls)
            if i < len(self.tenants):
                self.tenants[i].respec(spec, halls, reach)
            else:
                self.tenants.append(TenantState(i, spec, halls, reach))
        self._refresh_pressure()
        self._next_change_s = -math.inf

    def set_reservations(self, reservations: Sequence[ReservationSpec]) -> None:
        self.reservations = sorted(reservations, key=lambda r: (r.start_s, r.end_s, r.tenant))
        self._committed = {}
        self._next_change_s = -math.inf

    def set_curtailments(self, curtailments: Sequence[CurtailmentSpec]) -> None:
        self.curtailments = list(curtailments)

    def _refresh_pressure(self) -> None:
        confined = [
            (t.halls, max((q for _, q in t.spec.quota_steps), default=0))
            for t in self.tenants
            if t.spec.allowed_halls
        ]
        self.pressure = hall_pressure(self.capacity, confined)

    def instants(self) -> list[float]:
        """Instants at which the pool changes by itself (phases, bookings, curtailments,
        quota steps): a driver runs a pass at each."""
        out = {h.online_from_s for h in self.halls if math.isfinite(h.online_from_s)}
        for r in self.reservations:
            out.update((r.start_s, r.end_s))
        for c in self.curtailments:
            out.update((c.start_s, c.start_s + c.deadline_s, c.end_s))
        for t in self.tenants:
            out.update(s for s, _ in t.spec.quota_steps)
        return sorted(out)

    # --- events ---------------------------------------------------------------------
    def bring_online(self, now_s: float) -> list[int]:
        """Halls whose phase has begun by ``now_s`` come online (all their GPUs free)."""
        new = [
            h
            for h, spec in enumerate(self.halls)
            if not self.online[h] and spec.online_from_s <= now_s
        ]
        for h in new:
            topo = self.topologies[h]
            self.online[h] = True
            self.capacity[h] = topo.gpus
            self.free[h] = np.full(topo.domains, topo.domain_gpus, dtype=np.int64)
            self.free_by_hall[h] = topo.gpus
        if new:
            self._refresh_pressure()
            self._next_change_s = -math.inf
        return new

    def submit(self, job: WaitingJob) -> bool:
        """Queue a job; False (and not queued) when its tenant can never hold that many GPUs.

        Marks whether it fits its tenant's unused guarantee on arrival (:attr:`fits`)."""
        t = self.tenants[job.tenant]
        if job.gpus > t.reach_gpus:
            return False
        quota = t.spec.quota_at(job.submit_s)
        used = t.view.used_guaranteed
        room = quota + self._reserved(job.tenant, job.submit_s) - used - t.pending_fit
        if job.gpus <= room:
            t.pending_fit += job.gpus
            t.fit_pending.add(job.key)
        self._enqueue(job)
        return True

    def cancel(self, key: int, at_s: float) -> bool:
        """Cancel a queued job now, or a running one at ``at_s``; False when unknown."""
        if key in self.queued:
            q = self._dequeue(key)
            t = self.tenants[q.tenant]
            if key in t.fit_pending:
                t.fit_pending.discard(key)
                t.pending_fit -= q.gpus
            return True
        job = self.running.get(key)
        if job is None:
            return False
        job.cancel_at_s = at_s if job.cancel_at_s is None else job.cancel_at_s
        heapq.heappush(self.timers, (max(at_s, job.stint_start_s), key))
        return True

    def add_running(self, job: RunningJob) -> None:
        """A running job loaded from storage (the control plane's restart)."""
        self._add_running(job)

    def add_queued(self, job: WaitingJob) -> None:
        """A queued job loaded from storage: queued as it was (its arrival was judged then)."""
        self._enqueue(job)

    def restore(
        self,
        last_s: float,
        cap_fraction: float,
        usage_gpu_s: Sequence[float],
        earmarked_gpus: Sequence[int],
    ) -> None:
        """The state a stored pool had after its last pass at ``last_s`` (before its jobs
        are added back): halls online, the GPU power cap, fair-share usage (decayed to
        ``last_s``) and earmarks per tenant."""
        self.bring_online(last_s)
        self.last_s = self._usage_s = last_s
        self.cap_fraction = cap_fraction
        self.rate = float(capped_throughput_fraction(cap_fraction))
        for t, used, mark in zip(self.tenants, usage_gpu_s, earmarked_gpus, strict=True):
            t.usage_gpu_s = used
            t.view.fair_share_key = used / t.spec.weight
            t.view.earmarked_gpus = mark

    # --- the pass -------------------------------------------------------------------
    def step(
        self, now_s: float, policy: object, arrivals: Iterable[WaitingJob] = ()
    ) -> PassOutcome:
        """One pass at ``now_s``: the sequence of the module docstring."""
        self.bring_online(now_s)
        self.advance_usage(now_s)
        out = PassOutcome(now_s)
        for s in self.due_stops(now_s):
            out.stops.append(s)
        for job in arrivals:
            if not self.submit(job):
                out.rejected.append(job.key)
            elif job.key in self.tenants[job.tenant].fit_pending:
                out.fit_on_arrival.append(job.key)
        last = self.last_s
        opened = [i for i, r in enumerate(self.reservations) if last < r.start_s <= now_s]
        if opened:
            out.stops.extend(self._honour_bookings(now_s))
        shed_w = self.shed_w(now_s)
        idle_w, busy_w = self.power.gpu_power_w(now_s)
        view = self._view(now_s, shed_w, idle_w, busy_w)
        decision = policy.decide(view)  # type: ignore[attr-defined]
        self.apply(decision, now_s, out)
        if opened or self._any_reserved:
            self._check_bookings(view, opened, out)
        out.cap_fraction = self.cap_fraction
        out.it_power_w = idle_w + self.busy * busy_w * self.cap_fraction
        out.it_budget_w = view.it_budget_w
        out.shed_w = shed_w
        out.busy_gpus = self.busy
        self.last_s = now_s
        return out

    def advance_usage(self, now_s: float) -> None:
        """Fair share: decayed GPU-seconds per tenant, with the GPUs held since the last pass."""
        dt_s = now_s - self._usage_s
        if self._usage_s == -math.inf:
            self._usage_s = now_s
            return
        if dt_s <= 0:
            return
        f = fair_share_decay(dt_s, self.rules.fair_share_half_life_s)
        for t in self.tenants:
            t.usage_gpu_s = t.usage_gpu_s * f + t.used_gpus * dt_s
            t.view.fair_share_key = t.usage_gpu_s / t.spec.weight
        self._usage_s = now_s

    def due_stops(self, now_s: float) -> list[Stop]:
        """Stop every job whose finish, notice or cancel has come by ``now_s``."""
        stops: list[Stop] = []
        ckpt = self.rules.checkpoint_interval_s
        while self.timers and self.timers[0][0] <= now_s:
            _, key = heapq.heappop(self.timers)
            job = self.running.get(key)
            if job is None:
                continue
            stop = due_stop(job, now_s, ckpt)
            if stop is not None:
                self._stop(stop)
                stops.append(stop)
        return stops

    def next_due_s(self) -> float:
        """The next instant a running job stops by itself (inf: none)."""
        timers = self.timers
        while timers:
            at, key = timers[0]
            job = self.running.get(key)
            if job is not None and self._due_at(job) == at:
                return at
            heapq.heappop(timers)
        return math.inf

    def _due_at(self, job: RunningJob) -> float:
        at = job.finish_s()
        for t in (job.preempt_at_s, job.cancel_at_s):
            if t is not None and t < at:
                at = t
        return max(at, job.stint_start_s)

    # --- what the policy sees ---------------------------------------------------------
    def shed_w(self, now_s: float) -> float:
        if not self.curtailments:
            return 0.0
        return max((c.shed_w for c in self._curtailed(now_s)), default=0.0)

    def _curtailed(self, now_s: float) -> list[CurtailmentSpec]:
        return [c for c in self.curtailments if c.start_s <= now_s < c.end_s]

    def curtailment_deadline_s(self, now_s: float) -> float:
        """Instant by which the active curtailments must be met (inf: none)."""
        return min((c.start_s + c.deadline_s for c in self._curtailed(now_s)), default=math.inf)

    def _reserved(self, tenant: int, now_s: float) -> int:
        return sum(
            r.gpus for r in self.reservations if r.tenant == tenant and r.start_s <= now_s < r.end_s
        )

    def _refresh_tenant_views(self, now_s: float) -> None:
        """Quotas, bookings and borrowing limits as of ``now_s`` (recomputed only when a
        quota step, a booking's start or end, or the fleet has changed since)."""
        if now_s < self._next_change_s:
            return
        n_gpus = sum(self.capacity)
        reserved = [0] * len(self.tenants)
        nxt = math.inf
        for r in self.reservations:
            if r.start_s <= now_s < r.end_s:
                reserved[r.tenant] += r.gpus
            for at in (r.start_s, r.end_s):
                if at > now_s:
                    nxt = min(nxt, at)
        self._any_reserved = any(reserved)
        for t, res in zip(self.tenants, reserved, strict=True):
            spec, v = t.spec, t.view
            v.quota_gpus = spec.quota_at(now_s)
            v.reserved_gpus = res
            v.max_borrow_gpus = n_gpus if spec.max_borrow_gpus is None else spec.max_borrow_gpus
            nxt = min([nxt] + [s for s, _ in spec.quota_steps if s > now_s])
        self._next_change_s = nxt

    def view(self, now_s: float) -> PoolView:
        """A view of the pool at ``now_s`` (a new one: it stays as it is while the caller
        keeps it, until the pool changes the sequences it shares)."""
        idle_w, busy_w = self.power.gpu_power_w(now_s)
        v = self._new_view()
        self._update_view(v, now_s, self.shed_w(now_s), idle_w, busy_w)
        return v

    def _view(self, now_s: float, shed_w: float, idle_w: float, busy_w: float) -> PoolView:
        """The view a pass decides on: one object, brought up to date at every pass."""
        v = self._pass_view
        if v is None:
            v = self._pass_view = self._new_view()
        self._update_view(v, now_s, shed_w, idle_w, busy_w)
        return v

    def _new_view(self) -> PoolView:
        """A view holding the pool's own sequences; :meth:`_update_view` sets the rest."""
        return PoolView(
            now_s=-math.inf,
            n_gpus=0,
            busy_gpus=0,
            free_domains=self.free,
            topologies=self.topologies,
            free_by_hall=self.free_by_hall,
            queued=self.queued,
            running=self.views,
            victims=self._victims,
            victims_on=self._victims_on,
            queue_order=self._queue_order,
            tenants=[],
            ends=self.ends,
            idle_it_power_w=0.0,
            busy_gpu_power_w=0.0,
            it_budget_w=math.inf,
            cap_fraction=1.0,
            min_cap_fraction=self.rules.min_cap_fraction,
            reservation_holds=0,
            hall_pressure=self.pressure,
            preempting=self.noticed,
            preempting_gpus=0,
            grace_period_s=self.rules.grace_period_s,
            upcoming=[],
            backfill_depth=self.rules.backfill_depth,
            lent_domains=self.lent_on,
            leaving_domains=self.leaving_on,
            hall_gpus=self.capacity,
            guaranteed_by_hall=self.guaranteed_on,
        )

    def _update_view(
        self, v: PoolView, now_s: float, shed_w: float, idle_w: float, busy_w: float
    ) -> None:
        """Everything of a view that changes from pass to pass."""
        self._refresh_tenant_views(now_s)
        tviews = [t.view for t in self.tenants]
        holds = 0
        if self._any_reserved:
            holds = sum(tv.reserved_gpus - in_booking_gpus(tv) for tv in tviews if tv.reserved_gpus)
        v.now_s = now_s
        v.n_gpus = sum(self.capacity)
        v.busy_gpus = self.busy
        v.tenants = tviews
        v.ends = self.ends
        v.idle_it_power_w = idle_w
        v.busy_gpu_power_w = busy_w
        v.it_budget_w = self.power.it_budget_w(now_s, shed_w)
        v.cap_fraction = self.cap_fraction
        v.min_cap_fraction = self.rules.min_cap_fraction
        v.reservation_holds = holds
        v.hall_pressure = self.pressure
        v.preempting_gpus = self.noticed_gpus
        v.grace_period_s = self.rules.grace_period_s
        v.backfill_depth = self.rules.backfill_depth
        v.power_deadline_s = self.curtailment_deadline_s(now_s) if self.curtailments else math.inf
        v.upcoming = (
            [
                (r.start_s, r.gpus, self._committed_after(r.start_s))
                for r in self.reservations
                if r.start_s > now_s
            ]
            if self.reservations
            else []
        )

    def _victims(self) -> Iterator[RunningView]:
        for cls in sorted(self._by_class, key=lambda c: (not c[0], -c[1])):
            yield from reversed(self._by_class[cls].values())

    def _victims_on(self, domains: Collection[tuple[int, int]]) -> list[RunningView]:
        """Running jobs on any of ``domains``, in the order of :meth:`_victims`."""
        keys: set[int] = set()
        for hd in domains:
            on = self._jobs_on.get(hd)
            if on:
                keys |= on
        seq = self._started_seq
        views = [self.views[k] for k in keys]
        views.sort(key=lambda r: (not r.borrowed, -r.tier_priority, -seq[r.job]))
        return views

    def _queue_order(self) -> Iterator[int]:
        for _, key in heapq.merge(*(t.queue for t in self.tenants)):
            yield key

    # --- carrying out a decision ------------------------------------------------------
    def apply(self, d: Decision, now_s: float, out: PassOutcome | None = None) -> PassOutcome:
        out = out if out is not None else PassOutcome(now_s)
        for key in d.fitting:
            q = self.queued[key]
            if q.fit_since_s != q.fit_since_s:  # NaN: first time
                q.fit_since_s = now_s
                self.tenants[q.tenant].add_promised(now_s, key)
                out.fitting.append(key)
        if d.cap_fraction != self.cap_fraction:
            self._retime(now_s, d.cap_fraction)
            out.retimed = True
        for key, owner in d.preempt:
            at = self._notice(key, owner, d.stop_by_s.get(key), now_s)
            if at is not None:
                # A notice brought forward for power keeps the tenant it reclaims for.
                out.notices.append((key, at, owner if owner >= 0 else self._owner(key)))
        for key, borrowed, placement in d.starts:
            out.starts.append(self._start(key, borrowed, placement, now_s))
        for i, t in enumerate(self.tenants):  # earmarks last while the tenant still waits
            t.waits_for_reclaim = i in d.waiting_tenants
            if not t.waits_for_reclaim:
                t.view.earmarked_gpus = 0
        return out

    def _notice(self, key: int, owner: int, stop_by: float | None, now_s: float) -> float | None:
        """Give ``key`` notice (None: it has one that ends no later). A job under notice
        already (e.g. reclaimed for a tenant) that the power budget needs gone sooner (by a
        curtailment's deadline) has its notice brought forward; it stays reclaimed for the
        same tenant."""
        job = self.running[key]
        grace = self.rules.grace_period_s
        if owner >= 0:
            at = stop_by if stop_by is not None else now_s + grace
        else:
            at = now_s + min(grace, max(0.0, self.curtailment_deadline_s(now_s) - now_s))
        if job.preempt_at_s is not None:
            if owner >= 0 or at >= job.preempt_at_s:
                return None
            job.preempt_at_s = job.view.leaves_at_s = at
        else:
            job.preempt_at_s, job.preempt_for = at, owner
            self._mark_noticed(job)
        heapq.heappush(self.timers, (max(at, job.stint_start_s), key))
        return at

    def _owner(self, key: int) -> int:
        owner = self.running[key].preempt_for
        return -1 if owner is None else owner

    def _mark_noticed(self, job: RunningJob) -> None:
        if job.borrowed:
            add_placement(self.lent_on, job.placement, -1)
        add_placement(self.leaving_on, job.placement, +1)
        self.noticed.add(job.key)
        self.noticed_gpus += job.gpus
        job.view.being_preempted = True
        job.view.leaves_at_s = math.inf if job.preempt_at_s is None else job.preempt_at_s
        if job.preempt_for is not None and job.preempt_for >= 0:
            self.tenants[job.preempt_for].view.reclaiming_gpus += job.gpus

    def _start(self, key: int, borrowed: bool, placement: Placement, now_s: float) -> RunningJob:
        q = self._dequeue(key)
        t = self.tenants[q.tenant]
        if key in t.fit_pending:
            t.fit_pending.discard(key)
            t.pending_fit -= q.gpus
        if not borrowed:
            t.view.earmarked_gpus = max(0, t.view.earmarked_gpus - q.gpus)
        job = RunningJob(
            key, q.tenant, q.gpus, q.runtime_s, q.estimate_s, q.submit_s, q.saved_s, now_s,
            self.rate, q.saved_s, now_s, borrowed, placement,
            RunningView(key, q.tenant, t.spec.tier_priority, q.gpus, borrowed, now_s, 0.0,
                        hall_gpus(placement), False, placement),
        )  # fmt: skip
        self._add_running(job)
        return job

    def _add_running(self, job: RunningJob) -> None:
        t = self.tenants[job.tenant]
        job.view.placement = job.placement
        self._take(job.placement, -1)
        if job.borrowed:
            add_placement(self.lent_on, job.placement, +1)
        self.busy += job.gpus
        t.use(job.borrowed, job.gpus)
        t.running_jobs += 1
        if not job.borrowed:
            for h, _, c in job.placement:
                self.guaranteed_on[h] += c
        job.view.est_end_s = job.est_end_s()
        self.running[job.key] = job
        self.views[job.key] = job.view
        cls = (job.borrowed, t.spec.tier_priority)
        self._by_class.setdefault(cls, {})[job.key] = job.view
        self._seq += 1
        self._started_seq[job.key] = self._seq
        for h, dom, _ in job.placement:
            self._jobs_on.setdefault((h, dom), set()).add(job.key)
        self._add_est(job.view.est_end_s, job.gpus)
        if job.preempt_at_s is not None:
            self._mark_noticed(job)
        heapq.heappush(self.timers, (self._due_at(job), job.key))

    def _take(self, placement: Placement, sign: int) -> None:
        """Take (-1) or give back (+1) the GPUs of a placement on their domains."""
        add_placement(self.free, placement, sign, self.free_by_hall)

    def _stop(self, stop: Stop) -> None:
        job = stop.job
        key = job.key
        del self.running[key]
        view = self.views.pop(key)
        del self._by_class[(job.borrowed, view.tier_priority)][key]
        del self._started_seq[key]
        for h, dom, _ in job.placement:
            self._jobs_on[(h, dom)].discard(key)
        t = self.tenants[job.tenant]
        self._take(job.placement, +1)
        self.busy -= job.gpus
        t.use(job.borrowed, -job.gpus)
        t.running_jobs -= 1
        if not job.borrowed:
            for h, _, c in job.placement:
                self.guaranteed_on[h] -= c
        self._drop_est(view.est_end_s, job.gpus)
        if key in self.noticed:
            self.noticed.discard(key)
            self.noticed_gpus -= job.gpus
            add_placement(self.leaving_on, job.placement, -1)
        elif job.borrowed:
            add_placement(self.lent_on, job.placement, -1)
        owner = job.preempt_for
        if owner is not None and owner >= 0 and job.preempt_at_s is not None:
            o = self.tenants[owner]
            o.view.reclaiming_gpus = max(0, o.view.reclaiming_gpus - job.gpus)
            # The freed GPUs are the reclaiming tenant's own this instant, if its work still
            # waits for them (it may have started elsewhere since the notice).
            if o.waits_for_reclaim:
                o.view.earmarked_gpus += sum(c for h, c in view.halls if h in o.halls)
        if stop.outcome == "preempted":
            self._enqueue(job.queued(stop.kept_s))

    def _honour_bookings(self, now_s: float) -> list[Stop]:
        """At a window's start, stop others' work still on booked GPUs (it overran its
        estimate): borrowed first, lowest tier first, the most recently started first."""
        v = self.view(now_s)
        short = v.reservation_holds - sum(self.free_by_hall)
        if short <= 0:
            return []
        owners = {t.index for t in v.tenants if t.reserved_gpus}
        cands = sorted(
            (j for j in self.running.values() if j.tenant not in owners),
            key=lambda j: (not j.borrowed, -j.view.tier_priority, -j.stint_start_s, j.key),
        )
        stops = []
        for job in cands:
            if short <= 0:
                break
            job.preempt_at_s, job.preempt_for = now_s, -1
            stop = stop_now(job, now_s, "preempted", self.rules.checkpoint_interval_s)
            self._stop(stop)
            stops.append(stop)
            short -= job.gpus
        return stops

    def _check_bookings(self, v: PoolView, opened: list[int], out: PassOutcome) -> None:
        """Did each active booking find its GPUs (free for it, or its owner's work in it)?"""
        now_s = out.now_s
        free = sum(self.free_by_hall)
        held = sum(
            t.reserved_gpus - self._in_booking(t.index, now_s) for t in v.tenants if t.reserved_gpus
        )
        out.opened_short.extend(i for i in opened if free < held)
        for i, r in enumerate(self.reservations):
            if r.start_s <= now_s < r.end_s:
                out.booking_available[i] = min(free, held) + self._in_booking(r.tenant, now_s)

    def _in_booking(self, tenant: int, now_s: float) -> int:
        t = self.tenants[tenant]
        reserved = self._reserved(tenant, now_s)
        quota = t.spec.quota_at(now_s)
        v = t.view
        return min(reserved, max(0, v.used_guaranteed - quota) + v.used_borrowed)

    # --- queues and indexes -----------------------------------------------------------
    def _enqueue(self, q: WaitingJob) -> None:
        if q.key in self.queued:
            return
        self.queued[q.key] = q
        t = self.tenants[q.tenant]
        t.add_queued(q.submit_s, q.key, q.gpus)
        t.queued_gpus += q.gpus
        if q.fit_since_s == q.fit_since_s:
            t.add_promised(q.fit_since_s, q.key)

    def _dequeue(self, key: int) -> WaitingJob:
        q = self.queued.pop(key)
        t = self.tenants[q.tenant]
        t.drop_queued(q.submit_s, key, q.gpus)
        t.queued_gpus -= q.gpus
        if q.fit_since_s == q.fit_since_s:
            t.drop_promised(q.fit_since_s, key)
        return q

    def _retime(self, now_s: float, cap: float) -> None:
        """A new GPU power cap: every running job goes on at the new speed."""
        self.cap_fraction = cap
        self.rate = float(capped_throughput_fraction(cap))
        ends = EstimatedEnds()
        for job in self.running.values():
            job.done_s = job.done_at(now_s)
            job.updated_s = now_s
            job.rate = self.rate
            job.view.est_end_s = job.est_end_s()
            ends.add(job.view.est_end_s, job.gpus)
        self.ends = ends
        self._committed.clear()
        # Every running job's stop moved: the timers are rebuilt (stale ones dropped).
        self.timers = [(self._due_at(j), k) for k, j in self.running.items()]
        heapq.heapify(self.timers)

    def _committed_after(self, start_s: float) -> int:
        """GPUs of running jobs whose estimated end falls after ``start_s`` (kept up to date
        for the bookings' starts)."""
        got = self._committed.get(start_s)
        if got is None:
            got = self._committed[start_s] = self.ends.committed_after(start_s)
        return got

    def _add_est(self, e: float, g: int) -> None:
        for s in self._committed:
            if e > s:
                self._committed[s] += g
        self.ends.add(e, g)

    def _drop_est(self, e: float, g: int) -> None:
        for s in self._committed:
            if e > s:
                self._committed[s] -= g
        self.ends.drop(e, g)


def add_placement(
    arrays: list[NDArray[np.int64]],
    placement: Placement,
    sign: int,
    totals: list[int] | None = None,
) -> None:
    """Add ``sign`` times a placement's GPUs to per-hall, per-domain arrays (and to the
    per-hall ``totals``, when given)."""
    if len(placement) <= 8:
        for h, dom, c in placement:
            arrays[h][dom] += sign * c
            if totals is not None:
                totals[h] += sign * c
        return
    arr = np.asarray(placement, dtype=np.int64)  # a big gang: vectorised per hall
    for h in np.unique(arr[:, 0]).tolist():
        part = arr[arr[:, 0] == h]
        arrays[h][part[:, 1]] += sign * part[:, 2]
        if totals is not None:
            totals[h] += sign * int(part[:, 2].sum())


def fair_share_decay(dt_s: float, half_life_s: float) -> float:
    """Factor by which past GPU usage counts after ``dt_s`` (halved every half-life)."""
    return math.exp(-math.log(2.0) / half_life_s * max(dt_s, 0.0))


def in_booking_gpus(tv: TenantView) -> int:
    """GPUs of the owner's own work inside its booking: beyond its quota, or borrowed."""
    return min(tv.reserved_gpus, max(0, tv.used_guaranteed - tv.quota_gpus) + tv.used_borrowed)
