"""Reclaiming lent GPUs for a guaranteed gang: by domain, not by count.

A guaranteed job that does not fit takes back GPUs its tenant lent. Freeing GPUs by
count is not enough once gangs are placed on the fewest NVLink domains: a 8,000-GPU
job needs 112 whole domains, and evicting the latest-started small borrowed jobs frees
GPUs scattered over hundreds of domains, which the job still cannot use, which the
surplus step lends again, which the next pass reclaims again (a preemption storm).
Like Kueue's topology-aware preemption (it evicts the workloads on the topology
domains it chose for the preemptor, not any workloads of the right size), the plan
here first picks the domains the job will go on, then evicts only the borrowed work on
them:

- free after work under notice leaves: ``after = free + leaving`` per domain;
- evictable: GPUs of borrowed jobs not under notice and not started in this pass
  (``lent``); ``after + lent`` is the most a domain can offer;
- ``g <= D``: the domain that needs the fewest GPUs evicted to hold the job;
- ``g > D``: ``g // D`` domains that can be made whole (no guaranteed work on them),
  cheapest first, plus one for the remainder, in one hall if one can hold them all
  (the cheapest such hall), else across the tenant's halls.

Pure functions of the view and the pass's working copy; no state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from narvik.sched.placement import Placer
from narvik.sched.view import PoolView, RunningView

#: A plan: (hall, domain, GPUs still to free there), cheapest first.
Plan = list[tuple[int, int, int]]


def domain_room(
    v: PoolView, placer: Placer, newly_noticed: Iterable[int], h: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(after, lent) per domain of hall ``h``: free GPUs once work under notice leaves,
    and GPUs of borrowed work that could still be evicted."""
    after = placer.free_of(h) + v.leaving_domains[h]
    lent = v.lent_domains[h].copy()
    for key in newly_noticed:  # noticed in this pass: leaving, no longer to evict
        r = v.running.get(key)
        if r is None or not r.borrowed:
            continue
        for hh, dom, c in r.placement:
            if hh == h:
                after[dom] += c
                lent[dom] -= c
    return after, lent


def plan_domains(
    after: NDArray[np.int64],
    lent: NDArray[np.int64],
    d: int,
    gpus: int,
    with_free: bool = False,
) -> tuple[int, list[tuple[int, int]]] | None:
    """(GPUs to evict, [(domain, GPUs still to free there), ...]) for ``gpus`` on domains
    of ``d`` GPUs, or None when no eviction of borrowed work there can make room on the
    fewest domains. ``with_free``: the chosen domains with nothing to free are listed too
    (with 0)."""
    pot = after + lent
    keep = 0 if with_free else 1
    if gpus <= d:
        short = np.where(pot >= gpus, np.maximum(gpus - after, 0), np.iinfo(np.int64).max)
        dom = int(np.argmin(short))
        if pot[dom] < gpus:
            return None
        return int(short[dom]), ([(dom, int(short[dom]))] if short[dom] >= keep else [])
    need_full, rest = divmod(gpus, d)
    wholeable = np.flatnonzero(pot >= d)
    if wholeable.shape[0] < need_full:
        return None
    cost = (d - after)[wholeable]
    order = np.lexsort((wholeable, cost))[:need_full]
    chosen = wholeable[order]
    plan = [(int(dom), int(c)) for dom, c in zip(chosen, cost[order], strict=True) if c >= keep]
    total = int(cost[order].sum())
    if rest:
        ok = pot >= rest
        ok[chosen] = False
        if not ok.any():
            return None
        short = np.where(ok, np.maximum(rest - after, 0), np.iinfo(np.int64).max)
        dom = int(np.argmin(short))
        total += int(short[dom])
        if short[dom] >= keep:
            plan.append((dom, int(short[dom])))
    return total, plan


def plan_reclaim(
    v: PoolView,
    placer: Placer,
    newly_noticed: Sequence[int],
    halls: Sequence[int],
    gpus: int,
    whole_in: Sequence[int] | None = None,
    with_free: bool = False,
) -> Plan | None:
    """The cheapest plan for ``gpus`` in ``halls``: one hall if any can hold the job (one
    of ``whole_in`` when given: halls where the job may go whole), else across halls
    (whole domains anywhere, the remainder on one). ``[]``: the job fits once the work
    under notice has left. None: no eviction makes room. ``with_free``: every domain the
    job would go on is listed, those with nothing to free with 0."""
    rooms = {h: domain_room(v, placer, newly_noticed, h) for h in halls}
    best: tuple[int, int, Plan] | None = None
    for h in halls if whole_in is None else [h for h in halls if h in whole_in]:
        after, lent = rooms[h]
        got = plan_domains(after, lent, v.topologies[h].domain_gpus, gpus, with_free)
        if got is not None and (best is None or got[0] < best[0]):
            best = (got[0], h, [(h, dom, c) for dom, c in got[1]])
    if best is not None:
        return best[2]
    return _plan_across(v, rooms, halls, gpus, with_free)


def _plan_across(
    v: PoolView,
    rooms: dict[int, tuple[NDArray[np.int64], NDArray[np.int64]]],
    halls: Sequence[int],
    gpus: int,
    with_free: bool = False,
) -> Plan | None:
    if not halls:
        return None
    d = v.topologies[halls[0]].domain_gpus
    if gpus <= d or any(v.topologies[h].domain_gpus != d for h in halls):
        return None
    hs = np.concatenate([np.full(rooms[h][0].shape[0], h) for h in halls]).astype(np.int64)
    ds = np.concatenate([np.arange(rooms[h][0].shape[0]) for h in halls]).astype(np.int64)
    after = np.concatenate([rooms[h][0] for h in halls])
    lent = np.concatenate([rooms[h][1] for h in halls])
    got = plan_domains(after, lent, d, gpus, with_free)
    if got is None:
        return None
    return [(int(hs[i]), int(ds[i]), c) for i, c in got[1]]


def plan_victims(
    plan: Plan,
    victims_on: Callable[[Collection[tuple[int, int]]], Iterable[RunningView]],
    skip: Container[int],
) -> list[int]:
    """Borrowed jobs to evict for a plan, in preemption order on each planned domain
    (``victims_on`` yields the jobs on the given (hall, domain) pairs in that order); a
    job spanning domains frees all of them."""
    need = {(h, dom): c for h, dom, c in plan}
    on: dict[tuple[int, int], list[RunningView]] = {k: [] for k in need}
    for r in victims_on(need.keys()):
        if not r.borrowed:
            break  # preemption order: the rest are guaranteed
        if r.job in skip:
            continue
        for h, dom, _ in r.placement:
            if (h, dom) in on:
                on[(h, dom)].append(r)
    freed: dict[tuple[int, int], int] = {}
    chosen: list[int] = []
    taken: set[int] = set()
    for k, c in need.items():
        for r in on[k]:
            if freed.get(k, 0) >= c:
                break
            if r.job in taken:
                continue
            taken.add(r.job)
            chosen.append(r.job)
            for h, dom, g in r.placement:
                freed[(h, dom)] = freed.get((h, dom), 0) + g
    return chosen
