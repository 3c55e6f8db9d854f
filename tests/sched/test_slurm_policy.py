"""The ``slurm`` emulation on hand-made pool views (no engine, no simulator).

Views come from :func:`tests.sched.pool_views.make_view`: 2 halls of 4 NVLink domains of
8 GPUs, 64 GPUs in all. Each test states its hand calculation.
"""

from __future__ import annotations

import math

import pytest
from tests.sched.pool_views import make_view, rjob, same, snapshot, tenant, wjob

from narvik.sched.ends import EstimatedEnds
from narvik.sched.registry import TENANCY_POLICIES, get_pool_policy
from narvik.sched.slurm_backfill import Profile
from narvik.sched.slurm_config import SlurmParams
from narvik.sched.slurm_policy import SlurmPolicy
from narvik.sched.slurm_priority import (
    PriorityOrder,
    SlurmTerms,
    age_factor,
    fair_share_factors,
    job_priority,
)
from narvik.sched.view import Decision, PoolView

FULL = [8, 8, 8, 8]
EMPTY = [0, 0, 0, 0]
BIG = 10_000  # a borrow limit that never binds


def decide(v: PoolView, **params: object) -> Decision:
    return SlurmPolicy(SlurmParams(**params)).decide(v)  # type: ignore[arg-type]


def started(d: Decision) -> list[int]:
    return [k for k, _, _ in d.starts]


def test_registered_as_a_tenancy_policy() -> None:
    assert "slurm" in TENANCY_POLICIES
    assert isinstance(get_pool_policy("slurm"), SlurmPolicy)


# --- (a) priority factors by hand ------------------------------------------------------------


def three_tenants() -> list:
    return [
        tenant(0, tier=0, quota=16, fair=100.0),
        tenant(1, tier=1, quota=16, fair=300.0),
        tenant(2, tier=2, max_borrow=BIG, fair=0.0),
    ]


def test_terms_follow_the_shared_mapping() -> None:
    terms = SlurmTerms(three_tenants(), [1.0, 1.0, 1.0])
    # Tiers 0, 1, 2 -> QOS priority (3 - p) * 1000; factors 1, 2/3, 1/3.
    assert [q.priority for q in terms.qos] == [3000, 2000, 1000]
    assert terms.qos_factor == pytest.approx([1.0, 2 / 3, 1 / 3])
    # Tier 0 preempts tiers 1 and 2; tier 2 preempts nothing.
    assert terms.qos_preempts == [frozenset({1, 2}), frozenset({2}), frozenset()]
    # GrpTRES: the tiers' quotas added up; none for the borrow-only tier.
    assert terms.qos_limit == [16, 16, None]
    # Accounts: shares max(quota, 1) * weight = 16, 16, 1; borrow-only capped at its borrow.
    assert terms.shares == pytest.approx([16 / 33, 16 / 33, 1 / 33])
    assert terms.account_limit == [None, None, BIG]


def test_fair_share_factor_by_hand() -> None:
    ts = three_tenants()
    terms = SlurmTerms(ts, [1.0, 1.0, 1.0])
    # U = 100/400, 300/400, 0; S = 16/33, 16/33, 1/33: F = 2^(-U/S).
    f = fair_share_factors(ts, terms)
    assert f[0] == pytest.approx(2 ** (-0.25 * 33 / 16))
    assert f[1] == pytest.approx(2 ** (-0.75 * 33 / 16))
    assert f[2] == 1.0
    # Weights scale the usage (fair_share_key is usage / weight): weight 3 on tenant 0
    # gives usage 300, 300, 0 and shares 48, 16, 1.
    terms3 = SlurmTerms(ts, [3.0, 1.0, 1.0])
    f3 = fair_share_factors(ts, terms3)
    assert f3[0] == pytest.approx(2 ** (-0.5 / (48 / 65)))
    assert f3[1] == pytest.approx(2 ** (-0.5 / (16 / 65)))


def test_age_factor_caps_at_max_age() -> None:
    assert age_factor(3.5 * 86400, 0.0, 7 * 86400) == pytest.approx(0.5)
    assert age_factor(30 * 86400, 0.0, 7 * 86400) == 1.0
    assert age_factor(0.0, 10.0, 7 * 86400) == 0.0


def test_priority_by_hand_and_the_order_it_gives() -> None:
    p = SlurmParams()
    ts = three_tenants()
    now = 3.5 * 86400
    # Jobs 1, 2, 3 (tenants 0, 1, 2) submitted at 0: age factor 0.5; job 4 (tenant 2) now.
    jobs = [wjob(1, 0, 8, 100.0, 0.0), wjob(2, 1, 8, 100.0, 0.0), wjob(3, 2, 8, 100.0, 0.0)]
    jobs.append(wjob(4, 2, 8, 100.0, now))
    v = make_view([FULL, FULL], ts, jobs, now=now)
    f0, f1 = 2 ** (-0.25 * 33 / 16), 2 ** (-0.75 * 33 / 16)
    hand = {
        1: 1000 * 0.5 + 10000 * f0 + 10000 * 1.0,  # 500 + 7000.6 + 10000 = 17500.6
        2: 1000 * 0.5 + 10000 * f1 + 10000 * 2 / 3,  # 500 + 3425.0 + 6666.7 = 10591.7
        3: 1000 * 0.5 + 10000 * 1.0 + 10000 / 3,  # 500 + 10000 + 3333.3 = 13833.3
        4: 0.0 + 10000 * 1.0 + 10000 / 3,  # 13333.3
    }
    terms = SlurmTerms(ts, [1.0] * 3)
    order = PriorityOrder(v, p, terms)
    for k, want in hand.items():
        assert order.priority(k) == pytest.approx(want)
    assert job_priority(p, now, 0.0, f0, 1.0) == pytest.approx(hand[1])
    # The regional tenant with no usage comes before the anchor with 75 % of it.
    assert list(order) == [1, 3, 4, 2]


def test_priority_ties_go_by_submit_then_key() -> None:
    ts = [tenant(0, tier=2, max_borrow=BIG), tenant(1, tier=2, max_borrow=BIG)]
    # Age factor capped (both older than PriorityMaxAge): equal priorities.
    now = 30 * 86400.0
    jobs = [wjob(9, 1, 8, 10.0, 5.0), wjob(7, 0, 8, 10.0, 5.0), wjob(3, 0, 8, 10.0, 6.0)]
    v = make_view([FULL, FULL], ts, jobs, now=now)
    order = PriorityOrder(v, SlurmParams(), SlurmTerms(ts, [1.0, 1.0]))
    assert list(order) == [7, 9, 3]


def test_the_highest_priority_job_gets_the_last_free_gpus() -> None:
    ts = three_tenants()
    # 8 GPUs free (hall 1, domain 3); the rest busy with tenant 0's work ending at 1000.
    run = [
        rjob(50, 0, 32, tier=0, on=tuple((0, d, 8) for d in range(4))),
        rjob(51, 0, 24, tier=0, on=tuple((1, d, 8) for d in range(3))),
    ]
    ts[0].quota_gpus = 100  # room under its QOS limit
    jobs = [wjob(1, 1, 8, 100.0, 0.0), wjob(2, 2, 8, 100.0, 0.0)]
    v = make_view([EMPTY, [0, 0, 0, 8]], ts, jobs, run, now=3600.0)
    d = decide(v)
    assert started(d) == [2]  # tenant 2 (F = 1, regional) outranks tenant 1 (F < 1, anchor)


# --- (c) backfill ------------------------------------------------------------------------------


def blocked_pool(jobs: list, **kw: object) -> PoolView:
    """56 GPUs busy (tenant 1) until 1000 s; 8 free; tenant 0 queues."""
    ts = [tenant(0, tier=2, max_borrow=BIG), tenant(1, tier=2, max_borrow=BIG)]
    run = [
        rjob(50, 1, 32, tier=2, borrowed=True, end=1000.0, on=tuple((0, d, 8) for d in range(4))),
        rjob(51, 1, 24, tier=2, borrowed=True, end=1000.0, on=tuple((1, d, 8) for d in range(3))),
    ]
    return make_view([EMPTY, [0, 0, 0, 8]], ts, jobs, run, **kw)  # type: ignore[arg-type]


def test_short_job_backfills_before_the_big_jobs_reservation() -> None:
    # Big job 1 (64 GPUs) first: reserved at 1000 s. Job 2 (8 GPUs, 500 s) ends before.
    v = blocked_pool([wjob(1, 0, 64, 5000.0, 0.0), wjob(2, 0, 8, 500.0, 1.0)])
    assert started(decide(v)) == [2]


def test_long_job_does_not_backfill_when_it_would_delay_the_reservation() -> None:
    # Job 2 (8 GPUs, 5000 s) would still hold 8 GPUs at 1000 s: 56 free < 64.
    v = blocked_pool([wjob(1, 0, 64, 5000.0, 0.0), wjob(2, 0, 8, 5000.0, 1.0)])
    assert started(decide(v)) == []


def test_every_blocked_job_tested_gets_a_reservation() -> None:
    # Unlike EASY, the second blocked job is protected too. Job 1 (16 GPUs, 100 s) is
    # reserved at 1000 s (slot 17), job 2 (64 GPUs) after it, at 1100 s (slot 19): job 3
    # (8 GPUs, 1500 s) would delay job 2, though not job 1; job 4 (8 GPUs, 900 s) ends
    # before both.
    jobs = [wjob(1, 0, 16, 100.0, 0.0), wjob(2, 0, 64, 100.0, 1.0)]
    jobs += [wjob(3, 0, 8, 1500.0, 2.0), wjob(4, 0, 8, 900.0, 3.0)]
    v = blocked_pool(jobs)
    assert started(decide(v)) == [4]


def test_job_beyond_bf_max_job_test_is_not_looked_at() -> None:
    # Two blocked big jobs, then a short one that would backfill.
    jobs = [wjob(1, 0, 64, 5000.0, 0.0), wjob(2, 0, 64, 5000.0, 1.0), wjob(3, 0, 8, 500.0, 2.0)]
    assert started(decide(blocked_pool(jobs), bf_max_job_test=2)) == []
    assert started(decide(blocked_pool(jobs), bf_max_job_test=3)) == [3]


def test_reservation_beyond_bf_window_does_not_block_backfill() -> None:
    # Job 1 can start at 1000 s at the earliest: within a 1-day window it is reserved and
    # job 2 (5000 s) waits; with a 600-s window it has no reservation and job 2 starts.
    jobs = [wjob(1, 0, 64, 5000.0, 0.0), wjob(2, 0, 8, 5000.0, 1.0)]
    assert started(decide(blocked_pool(jobs))) == []
    assert started(decide(blocked_pool(jobs), bf_window_s=600.0)) == [2]


def test_profile_by_hand() -> None:
    ends = EstimatedEnds.of([(90.0, 8), (130.0, 16), (10_000.0, 4)])
    prof = Profile(0.0, 8, ends, [(60.0, 2)], window_s=600.0, resolution_s=60.0)
    # Slots of 60 s: ends at 60 -> slot 1, 90 -> slot 2, 130 -> slot 3; 10000 s is past.
    assert prof.free.tolist() == [8, 10, 18, 34, 34, 34, 34, 34, 34, 34]
    assert prof.earliest(30, 2) == 3
    assert prof.earliest(35, 1) is None
    prof.take(20, 3, 3)
    assert prof.free.tolist()[:7] == [8, 10, 18, 14, 14, 14, 34]
    # 18 GPUs for 2 slots: slot 2 then 14 < 18; first run of 2 slots with >= 18 is 6.
    assert prof.earliest(18, 2) == 6
    # Reaching the window's end counts as fitting (nothing is known past it).
    assert prof.earliest(34, 5) == 6


# --- (d) preemption --------------------------------------------------------------------------


def preempt_pool(queued: list, extra_tenant_tier: int = 1) -> PoolView:
    """Every GPU busy: hall 0 domain 0 holds a regional job (4 GPUs, started at 0) and an
    anchor job (4 GPUs, started at 100); the rest is the national tenant's own work."""
    ts = [
        tenant(0, tier=0, quota=64),
        tenant(1, tier=1, quota=32),
        tenant(2, tier=2, max_borrow=BIG),
    ]
    run = [
        rjob(60, 2, 4, tier=2, borrowed=True, start=0.0, end=5000.0, on=((0, 0, 4),)),
        rjob(61, 1, 4, tier=1, start=100.0, end=5000.0, on=((0, 0, 4),)),
        rjob(62, 0, 24, tier=0, end=5000.0, on=tuple((0, d, 8) for d in (1, 2, 3))),
        rjob(63, 0, 32, tier=0, end=5000.0, on=tuple((1, d, 8) for d in range(4))),
    ]
    return make_view([EMPTY, EMPTY], ts, queued, run, now=200.0, grace=300.0)


def test_national_job_preempts_the_regional_one_first() -> None:
    ts_queue = [wjob(1, 0, 4, 100.0, 150.0)]
    v = preempt_pool(ts_queue)
    before = snapshot(v)
    d = decide(v)
    # The lowest QOS goes first (though it started earlier): one job, just enough.
    assert d.preempt == [(60, 0)]
    assert d.stop_by_s == {60: 500.0}
    assert d.starts == []
    assert same(before, snapshot(v))


def test_national_job_takes_as_many_victims_as_needed() -> None:
    v = preempt_pool([wjob(1, 0, 8, 100.0, 150.0)])
    d = decide(v)
    assert sorted(j for j, _ in d.preempt) == [60, 61]


def test_regional_job_never_preempts_and_anchor_preempts_only_regional() -> None:
    assert decide(preempt_pool([wjob(1, 2, 4, 100.0, 150.0)])).preempt == []
    # The anchor (tier 1) may preempt the regional job, not the national work.
    d = decide(preempt_pool([wjob(1, 1, 4, 100.0, 150.0)]))
    assert d.preempt == [(60, 1)]
    assert decide(preempt_pool([wjob(1, 1, 8, 100.0, 150.0)])).preempt == []


def test_preemptor_waits_while_its_victims_leave() -> None:
    pol = SlurmPolicy()
    v = preempt_pool([wjob(1, 0, 4, 100.0, 150.0)])
    assert pol.decide(v).preempt == [(60, 0)]
    # Next pass: job 60 under notice; no second notice for the same job.
    v2 = preempt_pool([wjob(1, 0, 4, 100.0, 150.0)])
    v2.preempting.add(60)
    assert pol.decide(v2).preempt == []


# --- (e) GrpTRES limits ------------------------------------------------------------------------


def test_qos_limit_holds_a_job_and_a_lower_job_of_another_qos_starts() -> None:
    # Tier 1 (one tenant, quota 16) runs 16 GPUs: its QOS GrpTRES is 16. Its queued job is
    # held (skipped, not blocking); the regional job after it starts.
    ts = [tenant(0, tier=1, quota=16), tenant(1, tier=2, max_borrow=BIG, fair=1e9)]
    ts[0].fair_share_key = 0.0
    run = [rjob(70, 0, 16, tier=1, on=((0, 0, 8), (0, 1, 8)))]
    jobs = [wjob(1, 0, 8, 100.0, 0.0), wjob(2, 1, 8, 100.0, 0.0)]
    v = make_view([[0, 0, 8, 8], FULL], ts, jobs, run, now=10.0)
    d = decide(v)
    assert started(d) == [2]


def test_account_limit_of_a_borrow_only_tenant() -> None:
    ts = [tenant(0, tier=2, max_borrow=8)]
    jobs = [wjob(1, 0, 8, 100.0, 0.0), wjob(2, 0, 8, 100.0, 1.0)]
    d = decide(make_view([FULL, FULL], ts, jobs))
    assert started(d) == [1]


# --- (f) reservations --------------------------------------------------------------------------


def test_booked_gpus_are_not_given_to_other_accounts() -> None:
    # Tenant 0 holds an active booking of 16 GPUs, unused: 16 of the 16 free are held.
    ts = [tenant(0, tier=1, max_borrow=BIG, reserved=16), tenant(1, tier=2, max_borrow=BIG)]
    on = tuple((h, d, 8) for h in (0, 1) for d in range(3))
    run = [rjob(80, 1, 48, tier=2, borrowed=True, on=on)]
    v = make_view([[0, 0, 0, 8], [0, 0, 0, 8]], ts, [wjob(1, 1, 8, 100.0)], run, holds=16)
    assert started(decide(v)) == []
    # The owner may use them.
    v = make_view([[0, 0, 0, 8], [0, 0, 0, 8]], ts, [wjob(1, 0, 8, 100.0)], run, holds=16)
    assert started(decide(v)) == [1]


def test_no_start_that_would_run_into_an_upcoming_booking() -> None:
    # All 64 free; a booking of 64 GPUs starts at 1000 s: a 2000-s job waits, a 500-s runs.
    ts = [tenant(0, tier=2, max_borrow=BIG)]
    up = [(1000.0, 64)]
    long = make_view([FULL, FULL], ts, [wjob(1, 0, 8, 2000.0)], upcoming=up)
    assert started(decide(long)) == []
    short = make_view([FULL, FULL], ts, [wjob(1, 0, 8, 500.0)], upcoming=up)
    assert started(decide(short)) == [1]


# --- (g) no power awareness --------------------------------------------------------------------


def test_no_power_awareness() -> None:
    # A budget that allows no busy GPU at all: Slurm starts the job anyway, caps nothing and
    # preempts nothing for power.
    ts = [tenant(0, tier=2, max_borrow=BIG)]
    run = [rjob(90, 0, 8, tier=2, borrowed=True, on=((0, 0, 8),))]
    v = make_view(
        [[0, 8, 8, 8], FULL], ts, [wjob(1, 0, 8, 100.0)], run, idle_w=1e6, busy_w=1e3, budget=1.0
    )
    d = decide(v)
    assert started(d) == [1]
    assert d.cap_fraction == 1.0
    assert d.preempt == []


def test_decide_changes_nothing_of_the_view() -> None:
    v = blocked_pool([wjob(1, 0, 64, 5000.0, 0.0), wjob(2, 0, 8, 500.0, 1.0)])
    before = snapshot(v)
    decide(v)
    assert same(before, snapshot(v))


def test_terms_are_cached_between_passes() -> None:
    pol = SlurmPolicy()
    v = blocked_pool([wjob(1, 0, 8, 100.0)])
    first = pol.terms(v)
    assert pol.terms(v) is first
    v.tenants[0].max_borrow_gpus = 7
    assert pol.terms(v) is not first
    assert math.isfinite(v.now_s)
