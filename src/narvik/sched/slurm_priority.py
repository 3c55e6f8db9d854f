"""The ``slurm`` emulation's configuration at an instant and its multifactor priority.

:class:`SlurmTerms` turns the pool view's tenants into what ``narvik export slurm`` writes
(:mod:`narvik.sched.slurm_config`): a QOS per tier (the tier priority is its identity,
named ``tier{p}``: tier names are not in the view) and an account per tenant
(``acct{index}``). It is rebuilt only when the terms change (quota steps, halls coming
online): passes stay cheap.

Multifactor priority (https://slurm.schedmd.com/priority_multifactor.html), with the
weights of :class:`~narvik.sched.slurm_config.SlurmParams` (job size, partition,
association and TRES factors have weight 0)::

    priority = w_age * min(age / PriorityMaxAge, 1) + w_fs * F + w_qos * qos / max(qos)

- age: seconds since the job was submitted (a requeued job keeps its submit time);
- F: the classic fair-share factor ``2 ** (-U / S)``, U the account's decayed usage
  normalised by the total, S its normalised ``Fairshare`` shares. The decayed usage is the
  engine's (``TenantView.fair_share_key`` = decayed GPU-seconds / weight, decayed with the
  tenancy's half-life, which the export writes as ``PriorityDecayHalfLife``), times the
  tenant's weight;
- qos: the QOS ``Priority`` over the largest one.

Within a tenant every job has the same fair-share and QOS factors and the age factor falls
along its queue (submit time, then key), so each tenant's queue is already in priority
order: the pool's order (priority descending, then submit time, then key) is a lazy merge
of the tenants' queues (:class:`PriorityOrder`), walked only as far as a pass needs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from narvik.sched.slurm_config import (
    AccountTerms,
    SlurmParams,
    TierTerms,
    slurm_accounts,
    slurm_qos,
)
from narvik.sched.view import PoolView, TenantView

DEFAULT_WEIGHT = 1.0
"""A tenant's fair-share weight when none is given (the tenancy's default)."""


def tier_name(priority: int) -> str:
    """The QOS name of a tier, from its priority (tier names are not in the view)."""
    return f"tier{priority}"


def account_name(index: int) -> str:
    return f"acct{index}"


class SlurmTerms:
    """QOS and accounts of the tenants at an instant, as numbers a pass reads per tenant."""

    def __init__(self, tenants: Sequence[TenantView], weights: Sequence[float]) -> None:
        prios = sorted({t.tier_priority for t in tenants})
        tiers = [
            TierTerms(
                name=tier_name(p),
                priority=p,
                quota_gpus=sum(t.quota_gpus for t in tenants if t.tier_priority == p),
                holds_quota=any(t.quota_gpus > 0 for t in tenants if t.tier_priority == p),
            )
            for p in prios
        ]
        self.qos = slurm_qos(tiers)
        self.accounts = slurm_accounts(
            [
                AccountTerms(
                    name=account_name(t.index),
                    tier=tier_name(t.tier_priority),
                    quota_gpus=t.quota_gpus,
                    max_borrow_gpus=t.max_borrow_gpus,
                    weight=weights[i],
                )
                for i, t in enumerate(tenants)
            ]
        )
        by_name = {q.name: i for i, q in enumerate(self.qos)}
        top = max((q.priority for q in self.qos), default=1) or 1
        self.qos_factor = [q.priority / top for q in self.qos]
        """Per QOS, its priority over the largest."""
        self.qos_limit = [q.grp_gpus for q in self.qos]
        """Per QOS, its ``GrpTRES=gres/gpu`` (None: no limit)."""
        self.qos_preempts = [frozenset(by_name[n] for n in q.preempt) for q in self.qos]
        """Per QOS, the QOS (indices) whose jobs it may preempt."""
        self.qos_of = [by_name[a.qos] for a in self.accounts]
        """Per tenant (view order), its QOS index."""
        self.account_limit = [a.grp_gpus for a in self.accounts]
        total = sum(a.fairshare for a in self.accounts) or 1
        self.shares = [a.fairshare / total for a in self.accounts]
        """Per tenant, its normalised shares S."""
        self.weights = list(weights)
        self.tier_rank = {q.name: q.priority for q in self.qos}


def terms_key(tenants: Sequence[TenantView], weights: Sequence[float]) -> tuple[object, ...]:
    """What the terms depend on (they are rebuilt when it changes)."""
    return tuple(
        (t.index, t.tier_priority, t.quota_gpus, t.max_borrow_gpus, w)
        for t, w in zip(tenants, weights, strict=True)
    )


def fair_share_factors(tenants: Sequence[TenantView], terms: SlurmTerms) -> list[float]:
    """Per tenant, the classic fair-share factor ``2 ** (-U / S)``.

    U = the tenant's decayed usage (``fair_share_key * weight``) over the total (0 when
    nobody has used anything yet, so F = 1), S = its normalised shares
    (https://slurm.schedmd.com/priority_multifactor.html, "Fair-share factor")."""
    usage = [max(t.fair_share_key, 0.0) * w for t, w in zip(tenants, terms.weights, strict=True)]
    total = sum(usage)
    out = []
    for u, s in zip(usage, terms.shares, strict=True):
        ratio = (u / total) / s if total > 0 and s > 0 else 0.0
        out.append(2.0 ** (-ratio))
    return out


def age_factor(now_s: float, submit_s: float, max_age_s: float) -> float:
    """``min(age / PriorityMaxAge, 1)`` (0 for a job not yet submitted)."""
    if max_age_s <= 0:
        return 1.0
    return min(max(now_s - submit_s, 0.0) / max_age_s, 1.0)


def job_priority(
    p: SlurmParams, now_s: float, submit_s: float, fair_share: float, qos_factor: float
) -> float:
    """The multifactor priority of one job."""
    return (
        p.priority_weight_age * age_factor(now_s, submit_s, p.priority_max_age_s)
        + p.priority_weight_fairshare * fair_share
        + p.priority_weight_qos * qos_factor
    )


class PriorityOrder:
    """The queued jobs in priority order (descending, then submit time, then key): a lazy
    merge of the tenants' queues, from which a tenant's remaining jobs can be dropped
    (:meth:`drop`) once none of them can start in the pass (a limit reached)."""

    def __init__(self, v: PoolView, p: SlurmParams, terms: SlurmTerms) -> None:
        self._v, self._p = v, p
        fs = fair_share_factors(v.tenants, terms)
        self.base = [
            p.priority_weight_fairshare * f + p.priority_weight_qos * terms.qos_factor[q]
            for f, q in zip(fs, terms.qos_of, strict=True)
        ]
        """Per tenant, the fair-share and QOS parts of its jobs' priority."""
        self._pos = [0] * len(v.tenants)
        self._dropped: set[int] = set()
        self._heap: list[tuple[float, float, int, int]] = []
        for i, t in enumerate(v.tenants):
            if t.queue:
                self._push(i)

    def priority(self, key: int) -> float:
        q = self._v.queued[key]
        p = self._p
        age = age_factor(self._v.now_s, q.submit_s, p.priority_max_age_s)
        return p.priority_weight_age * age + self.base[q.tenant]

    def _push(self, i: int) -> None:
        queue = self._v.tenants[i].queue
        pos = self._pos[i]
        if pos < len(queue) and i not in self._dropped:
            key = queue[pos]
            q = self._v.queued[key]
            heapq.heappush(self._heap, (-self.priority(key), q.submit_s, key, i))

    def drop(self, tenant: int) -> None:
        """No more jobs of ``tenant`` in this walk."""
        self._dropped.add(tenant)

    def __iter__(self) -> Iterator[int]:
        heap = self._heap
        while heap:
            _, _, key, i = heapq.heappop(heap)
            self._pos[i] += 1
            self._push(i)
            if i in self._dropped:
                continue
            yield key
