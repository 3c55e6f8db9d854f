"""Hand-made pool views for the policies' unit tests (no engine, no simulator).

:func:`make_view` builds a consistent view: by default 2 halls of 4 NVLink domains of 8
GPUs (one network block per hall), 64 GPUs in all.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Collection, Iterable, Sequence

import numpy as np

from narvik.sched.ends import EstimatedEnds
from narvik.sched.placement import Topology, hall_gpus
from narvik.sched.view import PoolView, RunningView, TenantView, WaitingJob

TOPO = Topology.uniform(domains=4, domain_gpus=8, domains_per_block=4)
ALL = (0, 1)


def tenant(
    index: int,
    *,
    tier: int = 1,
    quota: int = 0,
    max_borrow: int = 0,
    lends: bool = True,
    fair: float = 0.0,
    halls: tuple[int, ...] = ALL,
    reserved: int = 0,
    reclaiming: int = 0,
    earmarked: int = 0,
) -> TenantView:
    """A tenant; its used GPUs and queue are filled in by :func:`make_view`."""
    return TenantView(
        index=index,
        tier_priority=tier,
        quota_gpus=quota,
        reserved_gpus=reserved,
        used_guaranteed=0,
        used_borrowed=0,
        max_borrow_gpus=max_borrow,
        lends=lends,
        fair_share_key=fair,
        allowed_halls=halls,
        queue=[],
        reclaiming_gpus=reclaiming,
        earmarked_gpus=earmarked,
    )


def wjob(
    key: int, tenant: int, gpus: int, est: float, submit: float = 0.0, fit_since: float = math.nan
) -> WaitingJob:
    return WaitingJob(key, tenant, gpus, est, est, submit, fit_since_s=fit_since)


def rjob(
    job: int,
    tenant: int,
    gpus: int,
    *,
    tier: int = 1,
    borrowed: bool = False,
    start: float = 0.0,
    end: float = 1000.0,
    halls: tuple[tuple[int, int], ...] | None = None,
    on: tuple[tuple[int, int, int], ...] = (),
) -> RunningView:
    """A running job; ``on``: its placement ((hall, domain, GPUs), ...), from which its
    GPUs per hall follow (else ``halls``, or all on hall 0, with no domains)."""
    if on:
        assert sum(c for _, _, c in on) == gpus
        halls = hall_gpus(on)
    return RunningView(
        job, tenant, tier, gpus, borrowed, start, end, halls or ((0, gpus),), False, on
    )


def make_view(
    free: Sequence[Sequence[int]],
    tenants: list[TenantView],
    queued: Iterable[WaitingJob] = (),
    running: Iterable[RunningView] = (),
    *,
    now: float = 0.0,
    idle_w: float = 0.0,
    busy_w: float = 0.0,
    budget: float = 0.0,
    min_cap: float = 0.5,
    pressure: Sequence[float] | None = None,
    preempting: Iterable[int] = (),
    grace: float = 300.0,
    upcoming: Sequence[tuple[float, int]] = (),
    holds: int = 0,
    depth: int = 16,
    topo: Topology = TOPO,
) -> PoolView:
    """A consistent view: busy GPUs = running GPUs = online GPUs - free GPUs."""
    free_domains = [np.array(f, dtype=np.int64) for f in free]
    topos = [topo] * len(free_domains)
    n_gpus = sum(t.gpus for t in topos)
    run = {r.job: r for r in running}
    busy = sum(r.gpus for r in run.values())
    assert busy + sum(int(f.sum()) for f in free_domains) == n_gpus
    q = {j.key: j for j in queued}
    order = sorted(q, key=lambda k: (q[k].submit_s, k))
    promised = sorted((j.fit_since_s, k) for k, j in q.items() if j.fit_since_s == j.fit_since_s)
    for t in tenants:
        t.queue = [k for k in order if q[k].tenant == t.index]
        t.promised = [k for _, k in promised if q[k].tenant == t.index]
        t.used_guaranteed = sum(
            r.gpus for r in run.values() if r.tenant == t.index and not r.borrowed
        )
        t.used_borrowed = sum(r.gpus for r in run.values() if r.tenant == t.index and r.borrowed)
    ends: dict[float, int] = {}
    for r in run.values():
        ends[r.est_end_s] = ends.get(r.est_end_s, 0) + r.gpus
    by_victim = sorted(run.values(), key=lambda r: (not r.borrowed, -r.tier_priority, -r.start_s))
    noticed = set(preempting)
    lent = [np.zeros(topo.domains, dtype=np.int64) for _ in free_domains]
    leaving = [np.zeros(topo.domains, dtype=np.int64) for _ in free_domains]
    guaranteed = [0] * len(free_domains)
    for r in run.values():
        for h, dom, c in r.placement:
            if r.job in noticed:
                leaving[h][dom] += c
            elif r.borrowed:
                lent[h][dom] += c
        if not r.borrowed:
            for h, c in r.halls:
                guaranteed[h] += c
    return PoolView(
        now_s=now,
        n_gpus=n_gpus,
        busy_gpus=busy,
        free_domains=free_domains,
        topologies=topos,
        free_by_hall=[int(f.sum()) for f in free_domains],
        queued=q,
        running=run,
        victims=lambda: iter(by_victim),
        victims_on=victims_on_of(by_victim),
        queue_order=lambda: iter(order),
        tenants=tenants,
        ends=EstimatedEnds.of(ends.items()),
        idle_it_power_w=idle_w,
        busy_gpu_power_w=busy_w,
        it_budget_w=budget,
        cap_fraction=1.0,
        min_cap_fraction=min_cap,
        reservation_holds=holds,
        hall_pressure=list(pressure) if pressure is not None else [0.0] * len(free_domains),
        preempting=noticed,
        preempting_gpus=sum(run[j].gpus for j in noticed),
        grace_period_s=grace,
        upcoming=list(upcoming),
        backfill_depth=depth,
        lent_domains=lent,
        leaving_domains=leaving,
        hall_gpus=[t.gpus for t in topos],
        guaranteed_by_hall=guaranteed,
    )


def snapshot(v: PoolView) -> dict[str, object]:
    """Everything of a view a policy could change (to check that it changes nothing)."""
    return {
        "free_domains": [f.copy() for f in v.free_domains],
        "free_by_hall": list(v.free_by_hall),
        "busy": v.busy_gpus,
        "queued": copy.deepcopy(dict(v.queued)),
        "running": copy.deepcopy(dict(v.running)),
        "tenants": copy.deepcopy(v.tenants),
        "est": (list(v.ends.keys), dict(v.ends.gpus)),
        "preempting": set(v.preempting),
        "upcoming": list(v.upcoming),
        "pressure": list(v.hall_pressure),
        "victims": [r.job for r in v.victims()],
        "order": list(v.queue_order()),
    }


def same(a: dict[str, object], b: dict[str, object]) -> bool:
    fa, fb = a.pop("free_domains"), b.pop("free_domains")
    assert isinstance(fa, list) and isinstance(fb, list)
    return all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True)) and a == b


def victims_on_of(
    by_victim: Sequence[RunningView],
) -> Callable[[Collection[tuple[int, int]]], list[RunningView]]:
    """The jobs on given (hall, domain) pairs, kept in the order of ``by_victim``."""

    def on(domains: Collection[tuple[int, int]]) -> list[RunningView]:
        want = set(domains)
        return [r for r in by_victim if any((h, d) in want for h, d, _ in r.placement)]

    return on
