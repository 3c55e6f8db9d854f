"""Topology-aware gang placement on NVLink domains and network blocks, inside the decision.

A job of ``g`` GPUs is admitted only onto a concrete set of domains, as in
topology-aware schedulers (Slurm's ``topology/block`` plugin and segment sizes;
Kueue's Topology Aware Scheduling; Jeon et al., "Analysis of Large-Scale
Multi-Tenant GPU Clusters for DNN Training Workloads", USENIX ATC 2019, on the
cost of spreading gangs):

- ``g <= D`` (one domain's worth): one domain, best fit (the domain with the
  fewest free GPUs that still holds the job, lowest index on ties), to keep whole
  domains free for gangs;
- ``g > D``: ``ceil(g / D)`` domains: ``g // D`` whole free domains plus one
  domain holding the remainder, all in one network block if some block can hold
  them (the block with the least room that can, to keep big blocks for big
  gangs); otherwise across the blocks with the most whole free domains first.

When the free GPUs are too fragmented for that, :func:`place` returns ``None``:
the job waits (and backfilling works around it) rather than being spread.
Functions here are pure: they read a free-GPUs-per-domain array and return the
domains to take; :class:`Placer` is a pass's working copy of the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

_BIG = np.iinfo(np.int64).max

#: A placement: (hall, domain within the hall, GPUs taken there), one per domain used.
Placement = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Topology:
    """NVLink domains of equal size grouped in network blocks (one hall)."""

    domain_gpus: int
    block_of_domain: NDArray[np.int64]
    """Network block index of each domain."""
    n_blocks: int = field(init=False, compare=False, repr=False)
    """Network blocks (computed once: placement asks for it at every gang)."""

    def __post_init__(self) -> None:
        b = self.block_of_domain
        object.__setattr__(self, "n_blocks", int(b.max()) + 1 if b.shape[0] else 0)

    @classmethod
    def uniform(cls, domains: int, domain_gpus: int, domains_per_block: int) -> Topology:
        block = np.arange(domains, dtype=np.int64) // max(domains_per_block, 1)
        return cls(domain_gpus=domain_gpus, block_of_domain=block)

    @property
    def domains(self) -> int:
        return int(self.block_of_domain.shape[0])

    @property
    def blocks(self) -> int:
        return self.n_blocks

    @property
    def gpus(self) -> int:
        return self.domains * self.domain_gpus


Choice = tuple[NDArray[np.int64], NDArray[np.int64]]
"""(domains, GPUs taken in each)."""


def place(free: NDArray[np.int64], topo: Topology, gpus: int) -> Choice | None:
    """Domains for a gang of ``gpus`` in one hall, or None when it cannot go on the fewest."""
    if gpus <= 0:
        raise ValueError(f"cannot place {gpus} GPUs")
    if gpus <= topo.domain_gpus:
        dom = best_fit_domain(free, gpus)
        if dom < 0:
            return None
        return np.array([dom], dtype=np.int64), np.array([gpus], dtype=np.int64)
    return _gang(free, topo, gpus)


def best_fit_domain(free: NDArray[np.int64], gpus: int) -> int:
    """The domain with the fewest free GPUs that still holds ``gpus`` (lowest index on
    ties), or -1."""
    cand = np.where(free >= gpus, free, _BIG)
    dom = int(cand.argmin())
    return dom if int(cand[dom]) != _BIG else -1


def _gang(free: NDArray[np.int64], topo: Topology, gpus: int) -> Choice | None:
    d = topo.domain_gpus
    need_full, rest = divmod(gpus, d)
    block = topo.block_of_domain
    n_blocks = topo.blocks
    whole = free == d
    n_whole = int(whole.sum())
    if n_whole < need_full:
        return None
    whole_per_block = np.bincount(block, weights=whole, minlength=n_blocks)
    partial_fit = (free >= rest) & ~whole if rest else np.zeros_like(whole)
    partial_per_block = np.bincount(block, weights=partial_fit, minlength=n_blocks)
    extra = 1 if rest else 0
    # One block can hold the gang: whole domains, plus a partial (or another whole) one.
    need = need_full + np.where(partial_per_block > 0, 0, extra)
    ok = whole_per_block >= need
    if ok.any():
        b = int(np.argmin(np.where(ok, whole_per_block, np.inf)))
        in_b = block == b
        full_doms = np.flatnonzero(whole & in_b)
        if rest and partial_per_block[b] > 0:
            cand = np.where(partial_fit & in_b, free, _BIG)
            doms = np.concatenate([full_doms[:need_full], [int(np.argmin(cand))]])
        else:
            doms = full_doms[: need_full + extra]
        return doms.astype(np.int64), _takes(len(doms), need_full, rest, d)
    # Across blocks: the blocks with the most whole domains first.
    order = np.lexsort((np.arange(n_blocks), -whole_per_block))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    full_doms = np.flatnonzero(whole)
    full_doms = full_doms[np.lexsort((full_doms, rank[block[full_doms]]))]
    chosen = full_doms[:need_full]
    if rest:
        fits = free >= rest
        fits[chosen] = False
        if not fits.any():
            return None
        cand = np.where(fits, free, _BIG)
        chosen = np.concatenate([chosen, [int(np.argmin(cand))]])
    return chosen.astype(np.int64), _takes(len(chosen), need_full, rest, d)


def _takes(n: int, need_full: int, rest: int, d: int) -> NDArray[np.int64]:
    takes = np.full(n, d, dtype=np.int64)
    if rest:
        takes[need_full] = rest
    return takes


def blocks_used(topo: Topology, domains: NDArray[np.int64]) -> int:
    return int(np.unique(topo.block_of_domain[domains]).shape[0])


class Placer:
    """A pass's working copy of free GPUs per domain (copied per hall on first change).

    The policy tries halls in its order of preference; :meth:`place` takes the
    domains from the copy so later jobs in the same pass see them taken.
    ``counts`` are free GPUs per hall that the policy may also hold back by count
    (:meth:`hold`) for jobs waiting for a reclaim.
    """

    def __init__(
        self,
        free: Sequence[NDArray[np.int64]],
        topos: Sequence[Topology],
        counts: Sequence[int] | None = None,
    ) -> None:
        self._free = list(free)
        self._owned = [False] * len(free)
        self._whole = [-1] * len(free)
        self.topos = topos
        self.counts = list(counts) if counts is not None else [int(f.sum()) for f in free]

    def place(self, halls: Sequence[int], gpus: int) -> Placement | None:
        """Place on the first hall (in ``halls`` order) that can hold the gang on the fewest
        domains."""
        for h in halls:
            if self.counts[h] < gpus:
                continue
            if gpus <= self.topos[h].domain_gpus:  # one domain: no arrays to build
                dom = best_fit_domain(self._free[h], gpus)
                if dom >= 0:
                    return self._take_one(h, dom, gpus)
                continue
            got = place(self._free[h], self.topos[h], gpus)
            if got is not None:
                return self._take(((h, got),))
        return None

    def _own(self, h: int) -> NDArray[np.int64]:
        """This pass's copy of hall ``h``'s free GPUs (made on first change)."""
        if not self._owned[h]:
            self._free[h] = self._free[h].copy()
            self._owned[h] = True
        self._whole[h] = -1
        return self._free[h]

    def _take_one(self, h: int, dom: int, gpus: int) -> Placement:
        self._own(h)[dom] -= gpus
        self.counts[h] -= gpus
        return ((h, dom, gpus),)

    def whole_domains(self, h: int) -> int:
        """Wholly free domains of hall ``h`` as the pass has left them."""
        n = self._whole[h]
        if n < 0:
            n = self._whole[h] = int(np.count_nonzero(self._free[h] == self.topos[h].domain_gpus))
        return n

    def free_of(self, h: int) -> NDArray[np.int64]:
        """Free GPUs per domain of hall ``h`` as the pass has left them (do not change)."""
        return self._free[h]

    def hold(self, h: int, gpus: int) -> None:
        self.counts[h] -= gpus

    def reserve(self, h: int, dom: int, gpus: int) -> None:
        """Keep ``gpus`` free GPUs of domain ``dom`` of hall ``h`` from every placement
        for the rest of the pass (a job waiting for that domain)."""
        self._own(h)[dom] -= gpus
        self.counts[h] -= gpus

    def place_across(self, halls: Sequence[int], gpus: int) -> Placement | None:
        """A gang no single hall can place takes whole domains across ``halls`` (plus one for
        the remainder): still the fewest domains, in more network blocks."""
        if not halls:
            return None
        d = self.topos[halls[0]].domain_gpus
        if gpus <= d:
            return None  # one domain's worth never spans domains
        need_full, rest = divmod(gpus, d)
        if sum(self.whole_domains(h) for h in halls) < need_full:
            return None  # not enough whole domains anywhere
        parts: list[tuple[int, Choice]] = []
        for h in halls:
            if need_full == 0 and not rest:
                break
            free = self._free[h]
            if self.topos[h].domain_gpus != d:
                continue
            whole = np.flatnonzero(free == d)
            take = whole[: min(need_full, max(0, (self.counts[h]) // d))]
            need_full -= take.shape[0]
            doms, takes = take, np.full(take.shape[0], d, dtype=np.int64)
            if need_full == 0 and rest:
                left = free >= rest
                left[take] = False
                if left.any() and self.counts[h] - d * take.shape[0] >= rest:
                    cand = np.where(left, free, _BIG)
                    doms = np.concatenate([doms, [int(np.argmin(cand))]]).astype(np.int64)
                    takes = np.concatenate([takes, [rest]]).astype(np.int64)
                    rest = 0
            if doms.shape[0]:
                parts.append((h, (doms, takes)))
        if need_full or rest:
            return None
        return self._take(tuple(parts))

    def _take(self, parts: tuple[tuple[int, Choice], ...]) -> Placement:
        out: list[tuple[int, int, int]] = []
        for h, (doms, takes) in parts:
            self._own(h)[doms] -= takes
            self.counts[h] -= int(takes.sum())
            out.extend(zip([h] * len(doms), doms.tolist(), takes.tolist(), strict=True))
        return tuple(out)


def hall_gpus(p: Placement) -> tuple[tuple[int, int], ...]:
    """GPUs per hall of a placement, halls in first-use order."""
    by: dict[int, int] = {}
    for h, _, c in p:
        by[h] = by.get(h, 0) + c
    return tuple(by.items())
