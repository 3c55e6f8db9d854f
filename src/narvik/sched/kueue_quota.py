"""Kueue's quota accounting on narvik's halls, for the ``kueue`` emulation.

The ClusterQueues come from the shared mapping :mod:`narvik.sched.kueue_config` (the same
one ``narvik export kueue`` renders); this module turns them into per-hall arrays and
follows Kueue's quota arithmetic on them:

- A ClusterQueue (CQ) holds ``nominalQuota`` per flavor (hall); of it, ``lendingLimit``
  may be lent to the cohort (none given: all of it). Kueue keeps the rest, the
  *guaranteed* quota ``nominal - min(nominal, lendingLimit)``, for the CQ alone.
- The cohort's quota on a flavor is its own ``nominalQuota`` (a Kueue ``Cohort`` object,
  hierarchical cohorts) plus what its CQs may lend; its usage is what the CQs use beyond
  their guaranteed quota.
- What a CQ may still admit on a flavor (Kueue ``pkg/cache``, ``available()``):
  ``max(0, guaranteed - usage) + min(cohort quota - cohort usage,
  nominal - guaranteed - max(0, usage - guaranteed) + borrowingLimit)`` (the second term
  without its ``min`` when there is no ``borrowingLimit``). A CQ *borrows* on a flavor
  when its usage is above its nominal quota there.

(https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/#lendinglimit,
https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/#borrowinglimit,
https://kueue.sigs.k8s.io/docs/concepts/hierarchical_cohorts/.)

The GPUs of a hall that no tenant's quota covers (the site's surplus, which narvik lends)
would be out of every CQ's reach in Kueue: the emulation gives them to the cohort itself as
its nominal quota (:func:`cohort_quota_by_hall`), which is how Kueue lends a pool that
belongs to no queue. Pure numbers; :class:`RunningIndex` keeps the usage per CQ and hall
from the view's running jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from narvik.sched.kueue_config import ClusterQueueConfig, cluster_queues, priority_value
from narvik.sched.kueue_config import QueueTerms as QueueTerms
from narvik.sched.view import RunningView


def cohort_quota_by_hall(cqs: Sequence[ClusterQueueConfig], hall_gpus: Sequence[int]) -> list[int]:
    """Per hall, the GPUs no CQ's nominal quota covers: the cohort's own nominal quota."""
    out = [int(g) for g in hall_gpus]
    for cq in cqs:
        for h, n in zip(cq.flavors, cq.nominal_gpus, strict=True):
            out[h] -= n
    return [max(0, g) for g in out]


@dataclass(frozen=True)
class Queues:
    """The ClusterQueues of a pass as per-hall arrays (``[cq][hall]``; 0 off its flavors)."""

    cqs: tuple[ClusterQueueConfig, ...]
    nominal: tuple[tuple[int, ...], ...]
    guaranteed: tuple[tuple[int, ...], ...]
    """Nominal quota the CQ does not lend."""
    borrow_limit: tuple[tuple[int | None, ...], ...]
    """None: no borrowing limit."""
    cohort_quota: tuple[int, ...]
    """Per hall: the cohort's own quota plus what its CQs may lend."""
    own_cohort_quota: tuple[int, ...]
    priority: tuple[int, ...]
    """WorkloadPriorityClass value of each CQ's workloads."""
    hall_gpus: tuple[int, ...]
    max_gpus: tuple[int, ...]
    """Per CQ, the most GPUs one workload could ever be admitted with (on one flavor)."""
    n_tiers: int = 1

    def job_priority(self, tier_priority: int) -> int:
        """The WorkloadPriorityClass value of a workload of a tier."""
        return priority_value(tier_priority, self.n_tiers)

    def potential(self, c: int, h: int) -> int:
        """The most a CQ could ever use of a hall: nominal plus borrowing limit (or all the
        cohort's quota), never more than the hall."""
        b = self.borrow_limit[c][h]
        n = self.nominal[c][h]
        cohort = self.cohort_quota[h] + self.guaranteed[c][h]
        top = cohort if b is None else min(cohort, n + b)
        return min(top, self.hall_gpus[h])


def build_queues(
    terms: Sequence[QueueTerms],
    hall_gpus: Sequence[int],
    n_tiers: int,
    *,
    cohort_surplus: bool = True,
) -> Queues:
    """The ClusterQueues of :func:`narvik.sched.kueue_config.cluster_queues` as arrays;
    ``cohort_surplus``: the halls' GPUs outside every nominal quota are the cohort's own."""
    cqs = cluster_queues(terms, hall_gpus, n_tiers)
    n_h = len(hall_gpus)
    nominal, guaranteed, borrow = [], [], []
    lendable = [0] * n_h
    for cq in cqs:
        n_row, g_row = [0] * n_h, [0] * n_h
        b_row: list[int | None] = [0] * n_h
        for h, n, b, lend in zip(
            cq.flavors,
            cq.nominal_gpus,
            cq.borrowing_limit_gpus,
            cq.lending_limit_gpus,
            strict=True,
        ):
            lends = n if lend is None else min(n, lend)
            n_row[h], g_row[h], b_row[h] = n, n - lends, b
            lendable[h] += lends
        nominal.append(tuple(n_row))
        guaranteed.append(tuple(g_row))
        borrow.append(tuple(b_row))
    own = cohort_quota_by_hall(cqs, hall_gpus) if cohort_surplus else [0] * n_h
    q = Queues(
        cqs=cqs,
        nominal=tuple(nominal),
        guaranteed=tuple(guaranteed),
        borrow_limit=tuple(borrow),
        cohort_quota=tuple(o + lend for o, lend in zip(own, lendable, strict=True)),
        own_cohort_quota=tuple(own),
        priority=tuple(cq.priority_value for cq in cqs),
        hall_gpus=tuple(int(g) for g in hall_gpus),
        max_gpus=(),
        n_tiers=n_tiers,
    )
    biggest = tuple(max((q.potential(c, h) for h in cq.flavors), default=0) for c, cq in
                    enumerate(cqs))  # fmt: skip
    object.__setattr__(q, "max_gpus", biggest)
    return q


class Usage:
    """GPUs each CQ uses per hall during a pass (admissions of the pass added), with the
    cohort's usage, and Kueue's ``available()`` on them."""

    def __init__(self, q: Queues, use: list[list[int]]) -> None:
        self.q = q
        self.use = use
        n_h = len(q.hall_gpus)
        self.cohort_used = [
            sum(max(0, row[h] - g[h]) for row, g in zip(use, q.guaranteed, strict=True))
            for h in range(n_h)
        ]

    def available(self, c: int, h: int) -> int:
        """GPUs CQ ``c`` may still be admitted with on hall ``h`` (borrowing included)."""
        return available(self.q, c, h, self.use[c][h], self.cohort_used[h])

    def fits(self, c: int, h: int, gpus: int, allow_borrowing: bool = True) -> bool:
        """Kueue's ``workloadFits`` on one flavor."""
        if not allow_borrowing and self.use[c][h] + gpus > self.q.nominal[c][h]:
            return False
        return gpus <= self.available(c, h)

    def borrowing(self, c: int, h: int) -> bool:
        return self.use[c][h] > self.q.nominal[c][h]

    def add(self, c: int, h: int, gpus: int) -> None:
        """``gpus`` more (fewer when negative) used by CQ ``c`` on hall ``h``."""
        g = self.q.guaranteed[c][h]
        old = self.use[c][h]
        self.use[c][h] = old + gpus
        self.cohort_used[h] += max(0, old + gpus - g) - max(0, old - g)


def available(q: Queues, c: int, h: int, use: int, cohort_used: int) -> int:
    """Kueue's ``available()`` for a CQ under a root cohort (module docstring)."""
    if q.hall_gpus[h] <= 0:
        return 0
    g = q.guaranteed[c][h]
    local = max(0, g - use)
    parent = q.cohort_quota[h] - cohort_used
    b = q.borrow_limit[c][h]
    if b is not None:
        stored = q.nominal[c][h] - g
        parent = min(parent, stored - max(0, use - g) + b)
    return local + max(0, parent)


class RunningIndex:
    """Per CQ and hall: GPUs of running jobs and the jobs, in start order.

    Kept up to date by difference with the view's running jobs (a pass at full scale sees
    thousands; only those started or stopped since the last pass are looked at). A key
    names one stint of a job while it stays among the running: the engine stops a job
    before a pass (its key leaves the view) and restarts it only in a later decision. A
    different running mapping (another pool, a test's hand-made view) rebuilds the index.
    """

    def __init__(self) -> None:
        self._src: Mapping[int, RunningView] | None = None
        self._known: dict[int, RunningView] = {}
        self.use: list[list[int]] = []
        self.on: list[list[dict[int, RunningView]]] = []
        self.tiers: list[dict[int, int]] = []
        """Per CQ, running jobs by tier priority."""

    def sync(self, running: Mapping[int, RunningView], n_cq: int, n_halls: int) -> None:
        """Bring the index up to date with ``running``."""
        if running is not self._src or len(self.use) != n_cq:
            self._src = running
            self._known = {}
            self.use = [[0] * n_halls for _ in range(n_cq)]
            self.on = [[{} for _ in range(n_halls)] for _ in range(n_cq)]
            self.tiers = [{} for _ in range(n_cq)]
        known = self._known
        if not isinstance(running, dict):
            self._diff(running)
            return
        # A dict keeps insertion order: jobs started since the last pass are at its end.
        fresh: list[RunningView] = []
        for key in reversed(running):
            r = running[key]
            seen = known.get(key)
            if seen is r:
                break
            if seen is not None:  # the same key, a new stint: the old one has gone
                self._drop(known.pop(key))
            fresh.append(r)
        if len(known) + len(fresh) > len(running):  # some have stopped
            for key in known.keys() - running.keys():
                self._drop(known.pop(key))
        for r in reversed(fresh):
            known[r.job] = r
            self._add(r)

    def _diff(self, running: Mapping[int, RunningView]) -> None:
        """Bring the index up to date by set difference (any mapping)."""
        known = self._known
        for key in known.keys() - running.keys():
            self._drop(known.pop(key))
        new = [running[k] for k in running.keys() - known.keys()]
        new.sort(key=lambda r: (r.start_s, r.job))
        for r in new:
            known[r.job] = r
            self._add(r)

    def _add(self, r: RunningView) -> None:
        tiers = self.tiers[r.tenant]
        tiers[r.tier_priority] = tiers.get(r.tier_priority, 0) + 1
        for h, c in r.halls:
            self.use[r.tenant][h] += c
            self.on[r.tenant][h][r.job] = r

    def _drop(self, r: RunningView) -> None:
        tiers = self.tiers[r.tenant]
        left = tiers[r.tier_priority] - 1
        if left:
            tiers[r.tier_priority] = left
        else:
            del tiers[r.tier_priority]
        for h, c in r.halls:
            self.use[r.tenant][h] -= c
            self.on[r.tenant][h].pop(r.job, None)
