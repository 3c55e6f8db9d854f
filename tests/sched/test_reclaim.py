"""Reclaim by domain (narvik.sched.reclaim): hand-worked plans, and the policy evicting only
the borrowed work on the domains a guaranteed gang will use (no preemption storm)."""

from __future__ import annotations

import numpy as np
from tests.sched.pool_views import TOPO, make_view, rjob, tenant, victims_on_of, wjob

from narvik.sched.narvik_policy import NarvikPolicy
from narvik.sched.reclaim import plan_domains, plan_victims
from narvik.sched.view import PoolView

A = np.array


def test_small_job_takes_the_domain_needing_fewest_evictions() -> None:
    # D = 8, job of 6: domain 0 has 2 free + 6 lent (short 4), domain 2 has 5 free + 1 lent
    # (short 1), domain 3 has 8 lent (short 6); domain 1 cannot (2 + 0 < 6).
    got = plan_domains(A([2, 2, 5, 0]), A([6, 0, 1, 8]), TOPO.domain_gpus, 6)
    assert got == (1, [(2, 1)])
    # Room once the work under notice leaves: nothing to evict.
    assert plan_domains(A([2, 6, 0, 0]), A([0, 0, 0, 0]), TOPO.domain_gpus, 6) == (0, [])
    assert plan_domains(A([2, 2, 5, 0]), A([0, 0, 0, 3]), TOPO.domain_gpus, 6) is None


def test_gang_takes_the_cheapest_domains_that_can_be_made_whole() -> None:
    # Job of 20 = 2 whole domains + 4. Whole-able: 0 (cost 8), 2 (cost 3), 3 (cost 0);
    # domain 1 holds guaranteed work (after + lent = 6). Whole: 3 and 2 (cost 0 + 3); the
    # remainder of 4 on domain 1 (5 free after notices, cost 0).
    got = plan_domains(A([0, 5, 5, 8]), A([8, 1, 3, 0]), TOPO.domain_gpus, 20)
    assert got == (3, [(2, 3)])
    # Two whole domains cannot be made: guaranteed work on three of the four.
    assert plan_domains(A([0, 5, 5, 8]), A([7, 1, 2, 0]), TOPO.domain_gpus, 16) is None


def test_victims_are_taken_in_preemption_order_on_each_planned_domain() -> None:
    # On domain (0, 3): B (latest start) then A; 5 GPUs to free: B (4) then A (2).
    # C spans domains 2 and 3 of hall 0 but comes last in preemption order.
    runs = [
        rjob(2, 1, 4, borrowed=True, start=30.0, on=((0, 3, 4),)),  # B
        rjob(1, 1, 2, borrowed=True, start=20.0, on=((0, 3, 2),)),  # A
        rjob(3, 1, 4, borrowed=True, start=10.0, on=((0, 2, 2), (0, 3, 2))),  # C
        rjob(4, 1, 8, on=((0, 0, 8),)),  # guaranteed: never a victim
    ]
    assert plan_victims([(0, 3, 5)], victims_on_of(runs), set()) == [2, 1]
    assert plan_victims([(0, 3, 5)], victims_on_of(runs), {2}) == [1, 3]
    assert plan_victims([(0, 0, 8)], victims_on_of(runs), set()) == []


def _storm_view() -> PoolView:
    """Hall 0 (4 domains of 8) full: domains 0-1 hold guaranteed work of tenant 1 (6 each)
    and the latest-started borrowed jobs (2 each); domains 2-3 hold older borrowed jobs
    only. Hall 1 full of guaranteed work. Tenant 0 wants 16 GPUs (two whole domains)."""
    running = [
        rjob(10, 1, 12, on=((0, 0, 6), (0, 1, 6))),
        rjob(11, 1, 32, on=tuple((1, d, 8) for d in range(4))),
        rjob(20, 1, 2, borrowed=True, start=50.0, on=((0, 0, 2),)),
        rjob(21, 1, 2, borrowed=True, start=49.0, on=((0, 1, 2),)),
        rjob(22, 1, 8, borrowed=True, start=10.0, on=((0, 2, 8),)),
        rjob(23, 1, 8, borrowed=True, start=9.0, on=((0, 3, 8),)),
    ]
    return make_view(
        [[0, 0, 0, 0], [0, 0, 0, 0]],
        [tenant(0, tier=0, quota=16), tenant(1, tier=1, quota=44, max_borrow=64)],
        [wjob(1, 0, 16, 100.0)],
        running,
        now=100.0,
    )


def test_reclaim_evicts_the_domains_the_gang_will_use_not_the_latest_started() -> None:
    # By count, the latest-started borrowed jobs (20, 21: 4 GPUs, then 22) come first,
    # but their GPUs sit beside guaranteed work and could never hold the gang: the plan
    # evicts 22 and 23, whose domains become whole.
    d = NarvikPolicy().decide(_storm_view())
    assert sorted(d.preempt) == [(22, 0), (23, 0)]
    assert d.waiting_tenants == {0} and d.starts == []


def test_no_notice_when_no_eviction_makes_room() -> None:
    # The same pool with guaranteed work on every domain of hall 0: 16 borrowed GPUs are
    # there by count, but no two domains can be made whole: nobody is given notice.
    v = _storm_view()
    running = [r for r in v.running.values() if r.job not in (22, 23)] + [
        rjob(12, 1, 2, on=((0, 2, 2),)),
        rjob(13, 1, 2, on=((0, 3, 2),)),
        rjob(22, 1, 6, borrowed=True, start=10.0, on=((0, 2, 6),)),
        rjob(23, 1, 6, borrowed=True, start=9.0, on=((0, 3, 6),)),
    ]
    v = make_view(
        [[0, 0, 0, 0], [0, 0, 0, 0]],
        [tenant(0, tier=0, quota=16), tenant(1, tier=1, quota=48, max_borrow=64)],
        [wjob(1, 0, 16, 100.0)],
        running,
        now=100.0,
    )
    d = NarvikPolicy().decide(v)
    assert d.preempt == [] and d.starts == [] and d.fitting == [1]
