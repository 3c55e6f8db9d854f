"""The ``kueue`` emulation on hand-made pool views (no engine, no simulator).

Views come from :func:`tests.sched.pool_views.make_view`: by default 2 halls (flavors) of
4 NVLink domains of 8 GPUs, 64 GPUs in all. Quotas split over a tenant's halls in
proportion to their room (:func:`narvik.sched.kueue_config.nominal_by_hall`): a tenant of
32 GPUs on both halls has a nominal quota of 16 on each. Each test states its hand
calculation of Kueue's quota arithmetic (``available = max(0, guaranteed - usage) +
min(cohort quota - cohort usage, lendable - max(0, usage - guaranteed) + borrowingLimit)``).
"""

from __future__ import annotations

from tests.sched.pool_views import make_view, rjob, same, snapshot, tenant, wjob

from narvik.sched.baselines import EasyPolicy
from narvik.sched.kueue_policy import KueuePolicy, queue_terms
from narvik.sched.kueue_quota import Usage, build_queues
from narvik.sched.narvik_policy import NarvikPolicy
from narvik.sched.registry import TENANCY_POLICIES, get_pool_policy, policy_names
from narvik.sched.view import Decision, PoolView

FULL = [8, 8, 8, 8]
EMPTY = [0, 0, 0, 0]


def decide(v: PoolView, **kw: object) -> Decision:
    return KueuePolicy(**kw).decide(v)  # type: ignore[arg-type]


def started(d: Decision) -> dict[int, tuple[bool, tuple[int, ...]]]:
    """job -> (borrowed, halls it was placed in)."""
    return {j: (b, tuple(sorted({h for h, _, _ in p}))) for j, b, p in d.starts}


def test_registered_as_a_tenancy_policy():
    assert "kueue" in policy_names()
    assert "kueue" in TENANCY_POLICIES
    assert isinstance(get_pool_policy("kueue"), KueuePolicy)


def test_cluster_queues_from_the_view_and_cached():
    # A (32, lends) and B (32, lends nothing, borrow cap 8): 16 nominal per hall each;
    # B's lendingLimit 0 keeps its 16 per hall guaranteed; the cohort may lend A's 16.
    ts = [tenant(0, quota=32, max_borrow=64), tenant(1, quota=32, max_borrow=8, lends=False)]
    v = make_view([FULL, FULL], ts)
    p = KueuePolicy()
    q = p.queues(v)
    assert [cq.nominal_gpus for cq in q.cqs] == [(16, 16), (16, 16)]
    assert q.cqs[0].borrowing_limit_gpus == (None, None)  # 64 = the fleet: no cap
    assert q.cqs[1].borrowing_limit_gpus == (8, 8)
    assert q.cqs[1].lending_limit_gpus == (0, 0)
    assert q.guaranteed == ((0, 0), (16, 16))
    assert q.cohort_quota == (16, 16)
    assert p.queues(v) is q  # same terms: the same ClusterQueues
    ts[0].quota_gpus = 16
    assert p.queues(v) is not q


def test_cohort_holds_the_quota_no_tenant_has():
    # Quotas of 16 on 64 GPUs: 24 GPUs per hall are nobody's nominal quota; they are the
    # cohort's own quota (lendable to all), or unusable without it.
    ts = [tenant(0, quota=16, max_borrow=64), tenant(1, max_borrow=64)]
    terms = queue_terms(ts, 64)
    q = build_queues(terms, [32, 32], 2)
    assert q.own_cohort_quota == (24, 24) and q.cohort_quota == (32, 32)
    assert build_queues(terms, [32, 32], 2, cohort_surplus=False).cohort_quota == (8, 8)
    usage = Usage(q, [[0, 0], [0, 0]])
    assert usage.available(1, 0) == 32


# --- (a) nominal quota ---------------------------------------------------------------------


def test_nominal_quota_admits_without_borrowing():
    # A: 32 (16 per hall); its 8-GPU job fits hall 0's nominal: 0 + 8 <= 16.
    ts = [tenant(0, quota=32, max_borrow=0), tenant(1, quota=32, max_borrow=0)]
    d = decide(make_view([FULL, FULL], ts, [wjob(1, 0, 8, 100.0)]))
    assert started(d) == {1: (False, (0,))}
    assert d.fitting == [1]
    assert d.cap_fraction == 1.0 and d.preempt == []


def test_nominal_is_per_flavor_the_next_flavor_takes_the_rest():
    # A: 16 used on hall 0 (its nominal there); a 16-GPU job fits hall 1's nominal instead.
    ts = [tenant(0, quota=32, max_borrow=0), tenant(1, quota=32, max_borrow=0)]
    run = [rjob(9, 0, 16, on=((0, 0, 8), (0, 1, 8)))]
    d = decide(make_view([[0, 0, 8, 8], FULL], ts, [wjob(1, 0, 16, 100.0)], run))
    assert started(d) == {1: (False, (1,))}


# --- (b) borrowing ---------------------------------------------------------------------------


def test_borrowing_up_to_the_borrowing_limit():
    # B: nominal 16 per hall, borrowingLimit 8; A lends its unused 16 per hall.
    # available(B, hall 0) = 0 + min(32 - 0, 16 - 0 + 8) = 24: the 24-GPU job borrows 8.
    # A 25-GPU job exceeds nominal + borrowingLimit on every flavor: it stays pending.
    ts = [tenant(0, quota=32, max_borrow=64), tenant(1, quota=32, max_borrow=8)]
    d = decide(make_view([FULL, FULL], ts, [wjob(1, 1, 24, 100.0), wjob(2, 1, 25, 100.0)]))
    assert started(d) == {1: (True, (0,))}
    assert 1 not in d.fitting


def test_borrowing_limit_is_per_flavor():
    # B uses 24 on hall 0 (16 + 8 borrowed): available there = 0 + min(32 - 24, 16 - 24 + 8)
    # = 0; its next 8-GPU job goes to hall 1, within its nominal quota there.
    ts = [tenant(0, quota=32, max_borrow=64), tenant(1, quota=32, max_borrow=8)]
    run = [rjob(9, 1, 24, on=((0, 0, 8), (0, 1, 8), (0, 2, 8)))]
    d = decide(make_view([[0, 0, 0, 8], FULL], ts, [wjob(1, 1, 8, 100.0)], run))
    assert started(d) == {1: (False, (1,))}


def test_no_borrowing_from_a_lender_with_lending_limit_zero():
    # A does not lend (lendingLimit 0): the cohort's quota per hall is B's own 16, so B gets
    # at most 16 per hall although 32 GPUs are free there: 24 GPUs stay pending, 16 start.
    ts = [tenant(0, quota=32, max_borrow=64, lends=False), tenant(1, quota=32, max_borrow=8)]
    jobs = [wjob(1, 1, 24, 100.0), wjob(2, 1, 16, 100.0, submit=1.0)]
    d = decide(make_view([FULL, FULL], ts, jobs))
    assert started(d) == {2: (False, (0,))}


# --- (c) reclaimWithinCohort -----------------------------------------------------------------


def _borrower_fills_the_pool() -> tuple[list, list]:
    # A: 32 (16 per hall), lends. B: 32, no borrowing cap; B runs four 8-GPU jobs per hall,
    # 32 per hall: 16 borrowed from A on each.
    ts = [tenant(0, tier=1, quota=32, max_borrow=0), tenant(1, tier=1, quota=32, max_borrow=64)]
    run = [
        rjob(10 + 4 * h + k, 1, 8, start=float(4 * h + k), on=((h, k, 8),))
        for h in (0, 1)
        for k in range(4)
    ]
    return ts, run


def test_reclaim_within_cohort_evicts_the_latest_borrower_on_the_first_flavor():
    # A's 8-GPU job: available(A, hall 0) = 0 + min(32 - 32, ...) = 0. A is under nominal
    # (0 < 16): it may reclaim from B, which borrows there. Candidates on hall 0, latest
    # admitted first: job 13 (start 3). Without it: cohort usage 24, available(A) = 8: fits,
    # and domain 3 is whole again.
    ts, run = _borrower_fills_the_pool()
    v = make_view([EMPTY, EMPTY], ts, [wjob(1, 0, 8, 100.0)], run)
    before = snapshot(v)
    d = decide(v)
    assert d.starts == []
    assert d.preempt == [(13, 0)]
    assert d.fitting == [1]
    assert same(before, snapshot(v))  # the view is read-only


def test_waiting_for_the_jobs_under_notice_evicts_no_more():
    # The same, with job 13 already under notice: once it leaves A fits; no new eviction.
    ts, run = _borrower_fills_the_pool()
    v = make_view([EMPTY, EMPTY], ts, [wjob(1, 0, 8, 100.0)], run, preempting=[13])
    d = decide(v)
    assert d.starts == [] and d.preempt == []


def test_no_reclaim_of_a_cq_within_its_nominal_quota():
    # B runs only its nominal 16 per hall; A uses the other 16 per hall. A's next job would
    # borrow: B does not borrow, so there is nothing to reclaim (and nothing of a lower
    # priority to take): inadmissible, nothing evicted.
    ts = [tenant(0, tier=1, quota=32, max_borrow=64), tenant(1, tier=1, quota=32, max_borrow=64)]
    run = [
        rjob(10 + 4 * h + k, k // 2, 8, start=float(k), on=((h, k, 8),))
        for h in (0, 1)
        for k in range(4)
    ]
    d = decide(make_view([EMPTY, EMPTY], ts, [wjob(1, 0, 8, 100.0)], run))
    assert d.starts == [] and d.preempt == []


def test_borrow_within_cohort_only_lower_priority():
    # Hall 0: A (tier 0, confined there, nominal 16) runs its 16; C (quota 0) borrows the
    # other 16 (B's lendable nominal there). A's job would borrow (16 + 8 > 16): with
    # borrowWithinCohort LowerPriority it may evict C's latest job only if C's priority is
    # lower; of A's tier, nothing is evicted (and A under no nominal quota to reclaim).
    for c_tier, expect in ((2, [(21, 0)]), (0, [])):
        ts = [
            tenant(0, tier=0, quota=16, max_borrow=64, halls=(0,)),
            tenant(1, tier=1, quota=48, max_borrow=0),
            tenant(2, tier=c_tier, max_borrow=64),
        ]
        run = [rjob(10 + k, 0, 8, tier=0, start=0.0, on=((0, k, 8),)) for k in range(2)]
        run += [
            rjob(20 + k, 2, 8, tier=c_tier, borrowed=True, start=float(k), on=((0, 2 + k, 8),))
            for k in range(2)
        ]
        d = decide(make_view([EMPTY, FULL], ts, [wjob(1, 0, 8, 100.0)], run))
        assert d.preempt == expect, c_tier
        assert d.starts == []


# --- (d) BestEffortFIFO, no backfill -------------------------------------------------------


def test_best_effort_fifo_a_blocked_head_does_not_block_the_queue_and_no_backfill():
    # One hall of 32; A (quota 32) runs 24 GPUs until 100 s. Head: 32 GPUs (available 8):
    # inadmissible, set aside; next: 8 GPUs for a million seconds: admitted now. EASY
    # would hold it back (the head's reservation at 100 s needs all 32 GPUs). Kueue reads
    # no estimates: the decision is the same with a 10 s estimate.
    ts = [tenant(0, quota=32, max_borrow=0, halls=(0,))]
    run = [rjob(9, 0, 24, end=100.0, on=((0, 0, 8), (0, 1, 8), (0, 2, 8)))]
    for est in (1e6, 10.0):
        jobs = [wjob(1, 0, 32, 100.0), wjob(2, 0, 8, est, submit=1.0)]
        v = make_view([[0, 0, 0, 8]], ts, jobs, run)
        assert started(decide(v)) == {2: (False, (0,))}
    jobs = [wjob(1, 0, 32, 100.0), wjob(2, 0, 8, 1e6, submit=1.0)]
    assert EasyPolicy().decide(make_view([[0, 0, 0, 8]], ts, jobs, run)).starts == []


def test_a_head_waiting_for_its_preemption_blocks_its_queue():
    # A's head (8 GPUs) waits for B's job 13 to leave; A's next job (also 8) is not tried in
    # this pass: it would need another eviction of its own, and Kueue keeps the head.
    ts, run = _borrower_fills_the_pool()
    jobs = [wjob(1, 0, 8, 100.0), wjob(2, 0, 8, 100.0, submit=1.0)]
    d = decide(make_view([EMPTY, EMPTY], ts, jobs, run))
    assert d.preempt == [(13, 0)]


def test_workloads_no_flavor_can_hold_stay_pending():
    # 40 GPUs > any hall (32): inadmissible for ever; the 8-GPU job behind it starts.
    ts = [tenant(0, quota=64, max_borrow=0)]
    d = decide(make_view([FULL, FULL], ts, [wjob(1, 0, 40, 10.0), wjob(2, 0, 8, 10.0, 1.0)]))
    assert started(d) == {2: (False, (0,))}


# --- (e) priority --------------------------------------------------------------------------


def test_higher_priority_class_first():
    # Two borrowers (quota 0) on the cohort's own quota; room for one 32-GPU job (hall 0).
    # B's job came first, but A's tier (0) has the higher WorkloadPriorityClass: A's starts.
    ts = [tenant(0, tier=0, max_borrow=64), tenant(1, tier=2, max_borrow=64)]
    run = [rjob(9, 1, 32, tier=2, borrowed=True, on=tuple((1, k, 8) for k in range(4)))]
    jobs = [wjob(1, 1, 32, 10.0, submit=0.0), wjob(2, 0, 32, 10.0, submit=5.0)]
    d = decide(make_view([FULL, EMPTY], ts, jobs, run))
    assert started(d) == {2: (True, (0,))}


def test_heads_that_fit_without_borrowing_go_before_borrowers():
    # C (tier 2) fits its nominal quota; A (tier 0) would borrow: Kueue admits C's first.
    # Room for one 16-GPU job: C's.
    ts = [tenant(0, tier=0, max_borrow=64), tenant(1, tier=2, quota=32, max_borrow=0)]
    run = [rjob(9, 0, 32, tier=0, borrowed=True, on=tuple((1, k, 8) for k in range(4)))]
    run.append(rjob(8, 0, 16, tier=0, borrowed=True, on=((0, 0, 8), (0, 1, 8))))
    jobs = [wjob(1, 0, 16, 10.0, submit=0.0), wjob(2, 1, 16, 10.0, submit=5.0)]
    d = decide(make_view([[0, 0, 8, 8], EMPTY], ts, jobs, run))
    assert [j for j, _, _ in d.starts] == [2]
    assert d.preempt == []  # C is not borrowing: A has nothing to reclaim


# --- (f) halls -----------------------------------------------------------------------------


def test_a_tenant_confined_to_halls_uses_only_its_flavors():
    # A may use hall 1 only (its one flavor): its job goes there although hall 0 is empty;
    # hall 1 is full: the next waits (Kueue has no other flavor for it).
    ts = [tenant(0, quota=16, max_borrow=64, halls=(1,)), tenant(1, max_borrow=64)]
    d = decide(make_view([FULL, FULL], ts, [wjob(1, 0, 8, 10.0)]))
    assert started(d) == {1: (False, (1,))}
    run = [rjob(9, 1, 32, borrowed=True, on=tuple((1, k, 8) for k in range(4)))]
    d = decide(make_view([FULL, EMPTY], ts, [wjob(1, 0, 8, 10.0)], run))
    assert d.starts == []


# --- (g) no power awareness ---------------------------------------------------------------


def test_no_power_cap_no_preemption_for_power():
    # 1 kW per busy GPU, a 10 kW budget, 32 GPUs busy: narvik caps and preempts for power;
    # Kueue knows nothing of power: it caps nothing, evicts nothing, and admits more.
    ts = [tenant(0, quota=64, max_borrow=0)]
    run = [rjob(9, 0, 32, on=tuple((0, k, 8) for k in range(4)))]
    kw = {"busy_w": 1_000.0, "budget": 10_000.0}
    v = make_view([EMPTY, FULL], ts, [wjob(1, 0, 8, 10.0)], run, **kw)
    d = decide(v)
    assert d.cap_fraction == 1.0 and d.preempt == [] and started(d) == {1: (False, (1,))}
    n = NarvikPolicy().decide(make_view([EMPTY, FULL], ts, [wjob(1, 0, 8, 10.0)], run, **kw))
    assert n.cap_fraction < 1.0 and n.preempt and not n.starts


def test_reservations_hold_nothing():
    # 32 GPUs held for a booking of another tenant: Kueue has no bookings; A starts anyway.
    ts = [tenant(0, quota=64, max_borrow=0), tenant(1, reserved=32)]
    d = decide(make_view([FULL, FULL], ts, [wjob(1, 0, 32, 10.0)], holds=32))
    assert started(d) == {1: (False, (0,))}


def test_running_index_follows_starts_stops_and_restarts():
    # The index is kept by difference with the engine's running dict (insertion order);
    # after each change it equals a recount.
    from narvik.sched.kueue_quota import RunningIndex

    running = {k: rjob(k, k % 2, 8, start=float(k), on=((k % 2, k % 4, 8),)) for k in range(6)}
    idx = RunningIndex()

    def check() -> None:
        idx.sync(running, 2, 2)
        want = [[0, 0], [0, 0]]
        for r in running.values():
            for h, c in r.halls:
                want[r.tenant][h] += c
        assert idx.use == want
        assert sorted(k for row in idx.on for on in row for k in on) == sorted(running)

    check()
    del running[2], running[5]
    running[7] = rjob(7, 0, 8, start=7.0, on=((1, 0, 8),))
    check()
    del running[0]
    running[0] = rjob(0, 1, 8, start=8.0, on=((1, 1, 8),))  # a new stint of job 0
    check()
    running.clear()
    check()
