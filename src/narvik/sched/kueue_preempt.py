"""Kueue's classical preemption on one flavor (hall), for the ``kueue`` emulation.

As configured by :class:`narvik.sched.kueue_config.Preemption` (``reclaimWithinCohort:
Any``, ``borrowWithinCohort: LowerPriority``, ``withinClusterQueue: LowerPriority``) and
as Kueue's preemptor searches (https://kueue.sigs.k8s.io/docs/concepts/preemption/;
``pkg/scheduler/preemption``):

- Candidates: workloads of the preemptor's CQ with a lower priority, and workloads of the
  other CQs of the cohort while their CQ *borrows* on the flavor. With
  ``borrowWithinCohort`` set and the preemptor's CQ at or above its nominal quota there,
  only those of the other CQs with a lower priority than the preemptor are candidates.
- Order: workloads of other CQs before those of the preemptor's own, lower priority first,
  the most recently admitted first (``candidatesOrdering``). Workloads already evicting
  (jobs under notice) are gone first: their GPUs are counted as freed.
- Candidates are removed one by one until the preemptor fits (borrowing allowed, unless a
  candidate of a priority not below the preemptor's was taken: then it must fit within its
  nominal quota); a candidate of another CQ is skipped once that CQ no longer borrows.
  Then the removed ones are added back, latest first, while it still fits
  (``minimalPreemptions`` and ``fillBackWorkloads``).
- It fits when the quota admits it (:class:`narvik.sched.kueue_quota.Usage`) and, as with
  Topology Aware Scheduling's preemption, when the hall's NVLink domains, once the victims
  and the jobs under notice are gone, can place it on the fewest domains
  (https://kueue.sigs.k8s.io/docs/concepts/topology_aware_scheduling/).

Within a CQ every workload has its tenant's tier, so ``withinClusterQueue: LowerPriority``
finds no candidate in narvik's tenancies; it is kept for views where it would.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator

import numpy as np
from numpy.typing import NDArray

from narvik.sched.kueue_quota import Queues, RunningIndex, Usage, available
from narvik.sched.placement import Placer, place
from narvik.sched.view import PoolView, RunningView


class FlavorSim:
    """One hall during a preemption search: usage per CQ and free GPUs as if the jobs under
    notice, and the candidates removed so far, were gone."""

    def __init__(
        self, v: PoolView, placer: Placer, usage: Usage, h: int, leaving: Collection[int]
    ) -> None:
        self.v, self.q, self.h = v, usage.q, h
        self.use = [row[h] for row in usage.use]
        self.free_count = placer.counts[h]
        self.free: NDArray[np.int64] = placer.free_of(h).copy()
        for key in leaving:
            r = v.running.get(key)
            if r is not None:
                self.remove(r, +1)

    def remove(self, r: RunningView, sign: int = +1) -> None:
        """Take job ``r`` off the hall (``sign`` -1: put it back)."""
        h = self.h
        for hh, c in r.halls:
            if hh == h:
                self.use[r.tenant] -= sign * c
                self.free_count += sign * c
        for hh, dom, c in r.placement:
            if hh == h:
                self.free[dom] += sign * c

    def borrowing(self, c: int) -> bool:
        return self.use[c] > self.q.nominal[c][self.h]

    def fits(self, c: int, gpus: int, allow_borrowing: bool) -> bool:
        """Quota (Kueue's ``workloadFits``), then GPUs, then a placement on the fewest domains."""
        q, h = self.q, self.h
        use = self.use[c]
        if not allow_borrowing and use + gpus > q.nominal[c][h]:
            return False
        cohort_used = sum(max(0, u - g[h]) for u, g in zip(self.use, q.guaranteed, strict=True))
        if gpus > available(q, c, h, use, cohort_used) or gpus > self.free_count:
            return False
        return place(self.free, self.v.topologies[h], gpus) is not None


def candidates(
    v: PoolView, q: Queues, index: RunningIndex, c: int, h: int, threshold_only: bool,
    skip: Collection[int],
) -> Iterator[RunningView]:  # fmt: skip
    """Candidates on hall ``h`` for a workload of CQ ``c``, in Kueue's order: other CQs'
    (only those below the preemptor's priority when ``threshold_only``), lower priority
    first, most recently admitted first; then the CQ's own of a lower priority."""
    prio = q.priority[c]
    streams = []
    for x, row in enumerate(index.on):
        if x == c or not row[h] or (threshold_only and q.priority[x] >= prio):
            continue
        streams.append(((q.priority[x], -r.start_s, -r.job), r) for r in reversed(row[h].values()))
    for _, r in heapq.merge(*streams, key=lambda e: e[0]):
        if r.job not in skip:
            yield r
    mine = index.on[c][h].values()
    own = [r for r in mine if q.job_priority(r.tier_priority) < prio and r.job not in skip]
    own.sort(key=lambda r: (q.job_priority(r.tier_priority), -r.start_s, -r.job))
    yield from own


def may_have_candidates(q: Queues, usage: Usage, index: RunningIndex, c: int, h: int) -> bool:
    """Whether any workload could be a candidate (a cheap test before the search): a CQ of
    the cohort borrowing on the hall (of a lower priority, unless ``c`` is under its nominal
    quota there), or a running job of ``c`` of a lower priority."""
    prio = q.priority[c]
    if any(q.job_priority(t) < prio for t in index.tiers[c]):
        return True
    under = usage.use[c][h] < q.nominal[c][h]
    return any(
        x != c and usage.borrowing(x, h) and (under or q.priority[x] < prio)
        for x in range(len(q.cqs))
    )


def plan_preemption(
    v: PoolView,
    placer: Placer,
    usage: Usage,
    index: RunningIndex,
    c: int,
    h: int,
    gpus: int,
    leaving: Collection[int],
    skip: Collection[int],
) -> list[int] | None:
    """Jobs to evict so that a workload of ``gpus`` of CQ ``c`` fits on hall ``h``.

    ``[]``: it fits once the jobs under notice (``leaving``) are gone: it waits for them.
    None: no eviction Kueue's policy allows makes room. ``skip``: jobs not to count or
    evict (given notice earlier in this pass, for another workload)."""
    sim = FlavorSim(v, placer, usage, h, leaving)
    if sim.fits(c, gpus, True):
        return []
    q = usage.q
    if not may_have_candidates(q, usage, index, c, h):
        return None
    under_nominal = usage.use[c][h] < q.nominal[c][h]
    cands = candidates(v, q, index, c, h, not under_nominal, skip)
    return minimal_preemptions(sim, q, c, gpus, cands)


def minimal_preemptions(
    sim: FlavorSim, q: Queues, c: int, gpus: int, cands: Iterator[RunningView]
) -> list[int] | None:
    """Kueue's ``minimalPreemptions`` with ``fillBackWorkloads`` (module docstring)."""
    allow = True
    prio = q.priority[c]
    removed: list[RunningView] = []
    fits = False
    for r in cands:
        x = r.tenant
        if x != c:
            if not sim.borrowing(x):
                continue
            if q.priority[x] >= prio:
                allow = False
        sim.remove(r)
        removed.append(r)
        if sim.fits(c, gpus, allow):
            fits = True
            break
    if not fits:
        return None
    for i in range(len(removed) - 2, -1, -1):
        sim.remove(removed[i], -1)
        if sim.fits(c, gpus, allow):
            removed[i] = removed[-1]
            removed.pop()
        else:
            sim.remove(removed[i])
    return [r.job for r in removed]
