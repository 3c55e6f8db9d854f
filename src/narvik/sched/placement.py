"""Topology-aware gang placement on NVLink domains and network blocks.

A job of ``g`` GPUs is placed on the fewest NVLink domains, then the fewest
network blocks, as in topology-aware schedulers (Slurm's ``topology/block``
plugin and segment sizes; Kueue's Topology Aware Scheduling; Jeon et al.,
"Analysis of Large-Scale Multi-Tenant GPU Clusters for DNN Training
Workloads", USENIX ATC 2019, on the cost of spreading gangs):

- ``g <= D`` (one domain's worth): best fit, the domain with the fewest free GPUs
  that still holds the job (lowest index on ties), to keep whole domains free for
  gangs;
- ``g > D``: ``g // D`` whole free domains plus one domain for the remainder,
  all in one network block if some block can hold them (the block with the least
  room that can, to keep big blocks for big gangs); otherwise across the blocks
  with the most whole free domains first;
- when fragmentation leaves too few whole free domains, the job takes the
  fullest-free domains first, so it still uses as few domains as it can.

Placement never refuses a job the scheduler admitted by count: if the pool has
``g`` free GPUs, the job is placed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Topology:
    """NVLink domains of equal size grouped in network blocks."""

    domain_gpus: int
    block_of_domain: NDArray[np.int64]
    """Network block index of each domain."""

    @classmethod
    def uniform(cls, domains: int, domain_gpus: int, domains_per_block: int) -> Topology:
        block = np.arange(domains, dtype=np.int64) // domains_per_block
        return cls(domain_gpus=domain_gpus, block_of_domain=block)

    @classmethod
    def from_halls(cls, halls: list[tuple[int, int, int]]) -> Topology:
        """From (domains, domain_gpus, domains_per_block) per hall; blocks never span halls."""
        sizes = {d for _, d, _ in halls}
        if len(sizes) != 1:
            raise ValueError("placement needs one NVLink domain size across the halls")
        blocks: list[NDArray[np.int64]] = []
        offset = 0
        for domains, _, per_block in halls:
            b = np.arange(domains, dtype=np.int64) // per_block + offset
            blocks.append(b)
            offset = int(b[-1]) + 1 if domains else offset
        return cls(domain_gpus=sizes.pop(), block_of_domain=np.concatenate(blocks))

    @property
    def domains(self) -> int:
        return int(self.block_of_domain.shape[0])

    @property
    def gpus(self) -> int:
        return self.domains * self.domain_gpus


@dataclass(frozen=True)
class Allocation:
    domains: NDArray[np.int64]
    gpus: NDArray[np.int64]
    """GPUs taken in each of ``domains``."""
    blocks: int


class FreeMap:
    """Free GPUs per domain; ``allocate`` and ``release`` keep it consistent."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.free = np.full(topology.domains, topology.domain_gpus, dtype=np.int64)
        self._n_blocks = int(topology.block_of_domain.max()) + 1 if topology.domains else 0

    @property
    def free_gpus(self) -> int:
        return int(self.free.sum())

    def allocate(self, gpus: int) -> Allocation:
        if gpus <= 0 or gpus > self.free_gpus:
            raise ValueError(f"cannot place {gpus} GPUs with {self.free_gpus} free")
        d = self.topology.domain_gpus
        doms, takes = self._choose(gpus) if gpus > d else self._best_fit(gpus)
        self.free[doms] -= takes
        blocks = int(np.unique(self.topology.block_of_domain[doms]).shape[0])
        return Allocation(domains=doms, gpus=takes, blocks=blocks)

    def release(self, alloc: Allocation) -> None:
        self.free[alloc.domains] += alloc.gpus
        if np.any(self.free[alloc.domains] > self.topology.domain_gpus):
            raise AssertionError("released more GPUs than a domain holds")

    # --- strategies ---------------------------------------------------------------
    def _best_fit(self, gpus: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        free = self.free
        fits = free >= gpus
        if fits.any():
            cand = np.where(fits, free, np.iinfo(np.int64).max)
            dom = int(np.argmin(cand))
            return np.array([dom], dtype=np.int64), np.array([gpus], dtype=np.int64)
        return self._fewest_domains(gpus)

    def _choose(self, gpus: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        d = self.topology.domain_gpus
        need_full, rest = divmod(gpus, d)
        free = self.free
        block = self.topology.block_of_domain
        whole = free == d
        whole_per_block = np.bincount(block, weights=whole, minlength=self._n_blocks)
        partial_fit = (free >= rest) & ~whole if rest else np.zeros_like(whole)
        partial_per_block = np.bincount(block, weights=partial_fit, minlength=self._n_blocks)
        extra = 0 if rest == 0 else 1
        # One block can hold the gang: whole domains, plus a partial (or another whole) one.
        need = need_full + np.where(partial_per_block > 0, 0, extra)
        ok = whole_per_block >= need
        if ok.any():
            room = np.where(ok, whole_per_block, np.inf)
            b = int(np.argmin(room))
            in_b = block == b
            full_doms = np.flatnonzero(whole & in_b)
            if rest and partial_per_block[b] > 0:
                cand = np.where(partial_fit & in_b, free, np.iinfo(np.int64).max)
                rest_dom = np.array([int(np.argmin(cand))], dtype=np.int64)
                doms = np.concatenate([full_doms[:need_full], rest_dom])
            else:
                doms = full_doms[: need_full + extra]
            return doms, _takes(len(doms), need_full, rest, d)
        if int(whole.sum()) >= need_full:
            # Across blocks: the blocks with the most whole domains first.
            order = np.lexsort((np.arange(self._n_blocks), -whole_per_block))
            rank = np.empty_like(order)
            rank[order] = np.arange(order.shape[0])
            full_doms = np.flatnonzero(whole)
            full_doms = full_doms[np.lexsort((full_doms, rank[block[full_doms]]))]
            chosen = full_doms[:need_full]
            if rest:
                used = np.zeros(free.shape[0], dtype=bool)
                used[chosen] = True
                fits = (free >= rest) & ~used
                if not fits.any():
                    return self._fewest_domains(gpus)
                cand = np.where(fits, free, np.iinfo(np.int64).max)
                chosen = np.concatenate([chosen, np.array([int(np.argmin(cand))])])
            return chosen.astype(np.int64), _takes(len(chosen), need_full, rest, d)
        return self._fewest_domains(gpus)

    def _fewest_domains(self, gpus: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        free = self.free
        order = np.lexsort((np.arange(free.shape[0]), -free))
        cum = np.cumsum(free[order])
        k = int(np.searchsorted(cum, gpus)) + 1
        doms = order[:k]
        takes = free[doms].copy()
        takes[-1] -= int(cum[k - 1]) - gpus
        keep = takes > 0
        return doms[keep].astype(np.int64), takes[keep]


def _takes(n: int, need_full: int, rest: int, d: int) -> NDArray[np.int64]:
    takes = np.full(n, d, dtype=np.int64)
    if rest:
        takes[need_full] = rest
    return takes


def place_schedule(
    topology: Topology,
    gpus: NDArray[np.int64],
    start_s: NDArray[np.float64],
    end_s: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Place a whole schedule in time order; returns (domains, blocks) used per job.

    Jobs that never started get 0. At one instant, ends are released before
    starts are placed (the simulator's event order). A job whose ``end_s`` is
    NaN is still running at the end and is never released.
    """
    n = gpus.shape[0]
    started = ~np.isnan(start_s)
    idx = np.flatnonzero(started)
    ends = idx[~np.isnan(end_s[idx])]
    # Event keys: time, then ends (0) before starts (1), then job index.
    times = np.concatenate([end_s[ends], start_s[idx]])
    kinds = np.concatenate([np.zeros(ends.shape[0]), np.ones(idx.shape[0])])
    jobs = np.concatenate([ends, idx])
    order = np.lexsort((jobs, kinds, times))
    free_map = FreeMap(topology)
    allocs: dict[int, Allocation] = {}
    n_domains = np.zeros(n, dtype=np.int64)
    n_blocks = np.zeros(n, dtype=np.int64)
    for k in order.tolist():
        j = int(jobs[k])
        if kinds[k] == 0:
            free_map.release(allocs.pop(j))
        else:
            a = free_map.allocate(int(gpus[j]))
            allocs[j] = a
            n_domains[j] = a.domains.shape[0]
            n_blocks[j] = a.blocks
    return n_domains, n_blocks
