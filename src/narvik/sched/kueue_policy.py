"""``kueue``: an emulation of Kueue's admission on narvik's one engine.

The tenancy as ClusterQueues (one per tenant, one cohort, a ResourceFlavor per hall) comes
from the shared mapping :mod:`narvik.sched.kueue_config`, built at each pass from the terms
the :class:`~narvik.sched.view.PoolView` holds (cached while they do not change), so the
emulation runs what ``narvik export kueue`` exports. What Kueue does with them (v1beta2
defaults unless said; https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/,
/docs/concepts/preemption/, /docs/concepts/topology_aware_scheduling/):

- **Quota per flavor** (:mod:`narvik.sched.kueue_quota`): a workload (job) is admitted on
  *one* flavor of its CQ, flavors tried in order (``flavorFungibility``: ``whenCanBorrow:
  MayStopSearch``, so the first flavor where it fits, borrowing or not, is taken;
  ``whenCanPreempt: TryNextFlavor``, so a flavor that would need preemption is passed over
  for a later one where it fits). It fits when the quota admits it and when Topology Aware
  Scheduling places it in that hall on the fewest NVLink domains (narvik's placement
  restricted to the hall).
- **BestEffortFIFO** queueing: each CQ's workloads by priority (its tier's
  WorkloadPriorityClass), then creation (submit) time. A pass is a run of scheduling
  cycles at one instant: each cycle takes the head of every CQ and orders the heads as
  Kueue's scheduler does with fair sharing off (the default): those that fit without
  borrowing first, then by priority, then by creation time. A head that is inadmissible
  (no flavor fits, no preemption helps) is set aside and the next workload of its CQ is
  tried in the next cycle; a head admitted is replaced by the next; a head that waits for
  its preemptions stays the head (Kueue requeues it at once), so its CQ admits nothing
  more in the pass. At most ``backfill_depth`` inadmissible workloads are set aside per
  CQ and pass (Kueue parks them and retries on cluster events; the engine's passes are
  those events). Workloads no flavor could ever hold stay pending (inadmissible) without
  costing the pass anything.
- **Preemption** (:mod:`narvik.sched.kueue_preempt`): when no flavor fits, the first
  flavor (in order) where Kueue's classical preemption finds victims gets them evicted
  (``Decision.preempt``, reclaimed for the workload's tenant): the engine's grace period
  stands for the pods' ``terminationGracePeriodSeconds`` and the engine requeues the
  victims with their checkpointed work. The workload waits for them as its CQ's head.
- **Not in Kueue, deliberately not emulated**: no backfill by runtime estimates (estimates
  are never read), no advance reservations (GPUs held for bookings are anyone's), no
  power awareness (no GPU power cap, no preemption for power: ``cap_fraction`` stays 1).

Fair sharing is off (Kueue's default), so the tenants' fair-share weights, which the
view does not carry, do not change any decision: they are 1 unless given to the
constructor (for the ClusterQueues to equal the exported ones).
"""

from __future__ import annotations

from collections.abc import Sequence

from narvik.sched.kueue_preempt import plan_preemption
from narvik.sched.kueue_quota import Queues, QueueTerms, RunningIndex, Usage, build_queues
from narvik.sched.narvik_policy import PassWork, place_job
from narvik.sched.view import Decision, PoolView, TenantView, WaitingJob

ADMITTED, WAITING, INADMISSIBLE = 0, 1, 2


def queue_terms(
    tenants: Sequence[TenantView], n_gpus: int, weights: Sequence[float] | None = None
) -> tuple[QueueTerms, ...]:
    """Each tenant's terms at the pass, as :func:`narvik.sched.kueue_config.cluster_queues`
    takes them. The engine shows "no borrowing cap" as the online fleet
    (``max_borrow_gpus >= n_gpus``): that is None here, as the exporter has it."""
    return tuple(
        QueueTerms(
            name=f"tenant-{t.index}",
            tier_priority=t.tier_priority,
            quota_gpus=t.quota_gpus,
            max_borrow_gpus=None if t.max_borrow_gpus >= n_gpus else t.max_borrow_gpus,
            lends=t.lends,
            weight=1.0 if weights is None else float(weights[t.index]),
            halls=tuple(t.allowed_halls),
        )
        for t in tenants
    )


def online_hall_gpus(v: PoolView) -> tuple[int, ...]:
    """GPUs online per hall (0: offline): the view's, else every hall's topology."""
    if len(v.hall_gpus):
        return tuple(int(g) for g in v.hall_gpus)
    return tuple(t.gpus for t in v.topologies)


class KueuePolicy:
    """Kueue's admission as a pool policy (module docstring)."""

    name = "kueue"

    def __init__(
        self, weights: Sequence[float] | None = None, *, cohort_surplus: bool = True
    ) -> None:
        self.weights = tuple(weights) if weights is not None else None
        self.cohort_surplus = cohort_surplus
        self._key: object = None
        self._queues: Queues | None = None
        self.index = RunningIndex()

    def queues(self, v: PoolView) -> Queues:
        """The ClusterQueues at this pass (rebuilt only when the terms or halls change)."""
        hall_gpus = online_hall_gpus(v)
        terms = queue_terms(v.tenants, v.n_gpus, self.weights)
        n_tiers = max((t.tier_priority for t in v.tenants), default=0) + 1
        key = (terms, hall_gpus, n_tiers)
        if self._queues is None or key != self._key:
            self._queues = build_queues(
                terms, hall_gpus, n_tiers, cohort_surplus=self.cohort_surplus
            )
            self._key = key
        return self._queues

    def decide(self, v: PoolView) -> Decision:
        q = self.queues(v)
        self.index.sync(v.running, len(q.cqs), len(q.hall_gpus))
        usage = Usage(q, [list(row) for row in self.index.use])
        return Pass(v, q, usage, self.index).run()


class Pass:
    """One pass: scheduling cycles over the CQs' heads until none is left to try."""

    def __init__(self, v: PoolView, q: Queues, usage: Usage, index: RunningIndex) -> None:
        self.v, self.q, self.usage, self.index = v, q, usage, index
        self.w = PassWork.of(v)
        self.no_room: dict[tuple[int, int], int] = {}
        """Per (CQ, hall): the smallest workload no preemption could make room for."""
        self.noticed: set[int] = set()

    def run(self) -> Decision:
        v, q = self.v, self.q
        cursor = [0] * len(q.cqs)
        set_aside = [0] * len(q.cqs)
        active = [t.index for t in v.tenants if t.queue]
        while active:
            heads = []
            for c in active:
                job = self._head(c, cursor, set_aside[c])
                if job is not None:
                    heads.append((self._borrows(c, job), -q.priority[c], job.submit_s, job.key, c))
            heads.sort()
            active = []
            for _, _, _, _, c in heads:
                job = v.queued[v.tenants[c].queue[cursor[c]]]
                got = self.admit(c, job)
                if got == WAITING:
                    continue  # stays the head: the CQ is done for this pass
                cursor[c] += 1
                set_aside[c] += got == INADMISSIBLE
                active.append(c)
        return self.w.d

    def _head(self, c: int, cursor: list[int], set_aside: int) -> WaitingJob | None:
        """The CQ's next workload to try (None: none left for this pass). Workloads larger
        than any of its flavors could ever hold are passed over (inadmissible)."""
        if set_aside >= self.v.backfill_depth:
            return None
        queue = self.v.tenants[c].queue
        queued = self.v.queued
        biggest = self.q.max_gpus[c]
        i = cursor[c]
        while i < len(queue) and queued[queue[i]].gpus > biggest:
            i += 1
        cursor[c] = i
        return queued[queue[i]] if i < len(queue) else None

    def _borrows(self, c: int, job: WaitingJob) -> bool:
        """Kueue's first sort key: whether the flavor it would take makes its CQ borrow
        (no flavor fits: it would need preemption, sorted with the borrowers)."""
        usage, g = self.usage, job.gpus
        for h in self.q.cqs[c].flavors:
            if usage.fits(c, h, g):
                return usage.use[c][h] + g > self.q.nominal[c][h]
        return True

    def admit(self, c: int, job: WaitingJob) -> int:
        """Try the workload's flavors in order: admit it on the first that fits; else evict
        for it on the first where preemption makes room; else it is inadmissible."""
        q, usage, g = self.q, self.usage, job.gpus
        need_preemption = []
        for h in q.cqs[c].flavors:
            if g > q.potential(c, h):
                continue
            if usage.fits(c, h, g):
                placed = place_job(self.v, self.w, (h,), g, low_first=True)
                if placed is not None:
                    self._start(c, h, job, placed)
                    return ADMITTED
            need_preemption.append(h)
        for h in need_preemption:
            if self._preempt_for(c, h, job):
                return WAITING
        return INADMISSIBLE

    def _start(
        self, c: int, h: int, job: WaitingJob, placed: tuple[tuple[int, int, int], ...]
    ) -> None:
        borrowed = self.usage.use[c][h] + job.gpus > self.q.nominal[c][h]
        if not borrowed:
            self.w.d.fitting.append(job.key)
        self.w.start(job.key, borrowed, placed, job.gpus, self.v.now_s + job.remaining_estimate_s)
        self.usage.add(c, h, job.gpus)

    def _preempt_for(self, c: int, h: int, job: WaitingJob) -> bool:
        """Evict Kueue's targets on hall ``h`` for ``job`` (or wait for the jobs under notice
        that make room); False when no preemption helps."""
        g = job.gpus
        failed = self.no_room.get((c, h))
        if failed is not None and g >= failed:
            return False
        targets = plan_preemption(
            self.v, self.w.placer, self.usage, self.index, c, h, g, self.v.preempting,
            self.noticed,
        )  # fmt: skip
        if targets is None:
            self.no_room[(c, h)] = g if failed is None else min(failed, g)
            return False
        d = self.w.d
        for j in targets:
            d.preempt.append((j, c))
            self.noticed.add(j)
            self.w.preempting.add(j)
        if self.usage.use[c][h] + g <= self.q.nominal[c][h]:
            d.fitting.append(job.key)
        return True
