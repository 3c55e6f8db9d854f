"""The narvik policy's steps on hand-made pool views (no engine, no simulator).

Every view is built by :func:`make_view`: by default 2 halls of 4 NVLink domains of 8
GPUs (one network block per hall), 64 GPUs in all. Each test states its hand
calculation and asserts the exact decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from tests.sched.pool_views import ALL, make_view, rjob, same, snapshot, tenant, wjob

from narvik.sched.narvik_policy import (
    NarvikPolicy,
    PassWork,
    Upcoming,
    gpu_limit,
    guarantee_step,
    hall_pressure,
    power_cap,
    power_step,
    surplus_step,
    victims,
)
from narvik.sched.view import PoolView


def starts(v: PoolView) -> list[tuple[int, bool, tuple[tuple[int, int, int], ...]]]:
    return NarvikPolicy().decide(v).starts


FULL = [8, 8, 8, 8]
EMPTY = [0, 0, 0, 0]


# --- hall pressure -------------------------------------------------------------------------


def test_hall_pressure_spreads_confined_quota_over_its_halls() -> None:
    # Tenant confined to hall 0 with 16 GPUs: 16/32 = 0.5; an unconfined one adds nothing.
    assert hall_pressure([32, 32], [((0,), 16), ((0, 1), 32)]) == [0.5, 0.0]
    # Confined to halls 0 and 2 (32 + 64 GPUs) with 48: hall 0 gets 48*32/96 = 16 (0.5),
    # hall 2 gets 48*64/96 = 32 (0.5).
    assert hall_pressure([32, 32, 64], [((0, 2), 48)]) == [0.5, 0.0, 0.5]


# --- power ---------------------------------------------------------------------------------

POWER = {"idle_w": 10_000.0, "busy_w": 1_000.0, "budget": 40_000.0}


def test_gpu_limit_hand_calc() -> None:
    v = make_view([FULL, FULL], [tenant(0)], **POWER)
    # limit(c) = (40000 - 10000) / (c * 1000): 30 at 1.0, 37.5 -> 37 at 0.8, 60 at 0.5
    assert gpu_limit(v, 1.0) == 30
    assert gpu_limit(v, 0.8) == 37
    assert gpu_limit(v, 0.5) == 60
    # never more than the GPUs online: 30000 / 250 = 120 -> 64
    assert gpu_limit(v, 0.25) == 64
    # no room above the idle power: nothing may be busy
    v = make_view([FULL, FULL], [tenant(0)], idle_w=10_000.0, busy_w=1_000.0, budget=9_000.0)
    assert gpu_limit(v, 1.0) == 0
    # no busy power at all: no limit (even with a budget below the idle power)
    v = make_view([FULL, FULL], [tenant(0)], idle_w=10_000.0, budget=0.0)
    assert gpu_limit(v, 1.0) == 64


def test_power_cap_is_the_highest_step_that_holds_the_busy_gpus() -> None:
    v = make_view([FULL, FULL], [tenant(0)], **POWER)
    # limit: 1.0 -> 30, 0.95 -> 31.58 -> 31, 0.9 -> 33.3 -> 33, 0.85 -> 35.3 -> 35,
    # 0.8 -> 37.5 -> 37, ... 0.5 -> 60
    assert power_cap(v, 30) == (1.0, 30)
    assert power_cap(v, 31) == (0.95, 31)
    cap, limit = power_cap(v, 36)  # 35 < 36 <= 37
    assert math.isclose(cap, 0.8) and limit == 37
    cap, limit = power_cap(v, 62)  # even the floor (60) does not hold 62: the floor
    assert math.isclose(cap, 0.5) and limit == 60


def _power_floor_view(budget: float, preempting: Iterable[int] = ()) -> PoolView:
    """62 of 64 GPUs busy. Victim order (borrowed first, tier 2 before 1, latest start
    first): C (borrowed t2, start 20), B (borrowed t2, start 10), D (borrowed t1),
    then guaranteed: E (t2), A (t1)."""
    running = [
        rjob(1, 0, 32, tier=1, start=0.0, halls=((0, 32),)),  # A
        rjob(2, 1, 8, tier=2, borrowed=True, start=10.0, halls=((1, 8),)),  # B
        rjob(3, 1, 4, tier=2, borrowed=True, start=20.0, halls=((1, 4),)),  # C
        rjob(4, 0, 8, tier=1, borrowed=True, start=30.0, halls=((1, 8),)),  # D
        rjob(5, 1, 10, tier=2, start=40.0, halls=((1, 10),)),  # E
    ]
    return make_view(
        [EMPTY, [0, 0, 0, 2]],
        [tenant(0, tier=1, quota=40), tenant(1, tier=2, quota=24)],
        running=running,
        idle_w=10_000.0,
        busy_w=1_000.0,
        budget=budget,
        preempting=preempting,
    )


def test_victims_order_borrowed_lowest_tier_latest_first() -> None:
    v = _power_floor_view(40_000.0)
    assert victims(v, set(), 100, allow_guaranteed=True) == [3, 2, 4, 5, 1]
    assert victims(v, set(), 100, allow_guaranteed=False) == [3, 2, 4]
    # enough once the GPUs are covered: C (4) + B (8) >= 10
    assert victims(v, set(), 10, allow_guaranteed=True) == [3, 2]
    # only the GPUs in the given halls count: A (hall 0) is the only job there
    assert victims(v, set(), 4, allow_guaranteed=True, halls=(0,)) == [1]


def test_power_step_at_the_floor_preempts_the_latest_borrowed_lowest_tier_job() -> None:
    # floor 0.5: limit = 30000 / 500 = 60 < 62 busy: 2 GPUs to shed -> C (4 GPUs) alone
    v = _power_floor_view(40_000.0)
    w = PassWork.of(v)
    power_step(v, w)
    assert math.isclose(w.d.cap_fraction, 0.5) and w.limit == 60
    assert w.d.preempt == [(3, -1)]
    assert w.staying == 58 and w.busy == 62  # C draws power until it stops


def test_power_step_takes_guaranteed_jobs_only_after_all_borrowed_ones() -> None:
    # floor 0.5: limit = 20000 / 500 = 40; 62 - 40 = 22 to shed:
    # C 4 + B 8 + D 8 = 20 (all borrowed) < 22 -> then guaranteed E (10): 30 >= 22; A stays
    v = _power_floor_view(30_000.0)
    w = PassWork.of(v)
    power_step(v, w)
    assert w.limit == 40
    assert w.d.preempt == [(3, -1), (2, -1), (4, -1), (5, -1)]
    assert w.staying == 32
    # C already under notice: staying = 62 - 4 = 58, 18 to shed: B 8 + D 8 = 16 < 18 -> E
    v = _power_floor_view(30_000.0, preempting=[3])
    d = NarvikPolicy().decide(v)
    assert d.preempt == [(2, -1), (4, -1), (5, -1)]
    assert math.isclose(d.cap_fraction, 0.5) and d.starts == []


def test_power_step_brings_forward_notices_that_run_past_the_curtailment_deadline() -> None:
    # floor 0.5: limit = 30000 / 500 = 60 < 62 busy. C (4) is under notice (a reclaim),
    # staying = 58 <= 60: enough only if C stops by the deadline (100). Its notice runs to
    # 500: it still draws power after the deadline (58 + 4 > 60), so it is given notice
    # for power (the engine brings its stop forward); nothing else is preempted.
    def view(leaves_at: float, deadline: float) -> PoolView:
        v = _power_floor_view(40_000.0, preempting=[3])
        v.running[3].leaves_at_s = leaves_at
        v.power_deadline_s = deadline
        return v

    d = NarvikPolicy().decide(view(500.0, 100.0))
    assert d.preempt == [(3, -1)] and d.starts == []
    assert NarvikPolicy().decide(view(100.0, 100.0)).preempt == []  # stops by the deadline
    assert NarvikPolicy().decide(view(500.0, math.inf)).preempt == []  # no curtailment


def test_no_power_limit_without_busy_gpu_power() -> None:
    # busy_gpu_power_w == 0: cap 1.0, limit = all 64 GPUs, although the budget is below idle
    t0 = tenant(0, quota=8)
    v = make_view([FULL, FULL], [t0], [wjob(1, 0, 8, 100.0)], idle_w=5_000.0, budget=0.0)
    w = PassWork.of(v)
    power_step(v, w)
    assert (w.d.cap_fraction, w.limit, w.d.preempt) == (1.0, 64, [])
    assert starts(v) == [(1, False, ((0, 0, 8),))]
    # the same view with 1 kW per busy GPU: room = 0 - 5000 < 0 -> limit 0, nothing starts
    v = make_view(
        [FULL, FULL], [tenant(0, quota=8)], [wjob(1, 0, 8, 100.0)], idle_w=5_000.0, busy_w=1e3
    )
    d = NarvikPolicy().decide(v)
    assert d.starts == [] and d.preempt == [] and d.fitting == [1]


def test_power_room_caps_guaranteed_starts() -> None:
    # limit(1.0) = (28000 - 10000) / 1000 = 18; 8 busy -> 10 more may start at the cap the
    # busy GPUs allow (starts never lower it): job 1 (8) starts, job 2 (8) would make
    # 24 > 18 -> no start (no borrowed work to reclaim).
    running = [rjob(9, 1, 8, halls=((0, 8),))]
    v = make_view(
        [[0, 8, 8, 8], FULL],
        [tenant(0, quota=32), tenant(1, quota=8)],
        [wjob(1, 0, 8, 100.0), wjob(2, 0, 8, 100.0, submit=1.0)],
        running,
        idle_w=10_000.0,
        busy_w=1_000.0,
        budget=28_000.0,
    )
    d = NarvikPolicy().decide(v)
    assert d.cap_fraction == 1.0
    # hall 0 (24 free) is the tighter fit than hall 1 (32): best fit domain 1
    assert d.starts == [(1, False, ((0, 1, 8),))]
    assert d.fitting == [1, 2] and d.preempt == []


# --- guarantees ----------------------------------------------------------------------------


def _two_small_jobs(pressure: list[float]) -> PoolView:
    # hall 1: domain 1 has 3 free, domain 3 has 5 free (tenant 1 runs 8 there)
    return make_view(
        [FULL, [8, 3, 8, 5]],
        [tenant(0, quota=16), tenant(1, quota=8)],
        [wjob(1, 0, 4, 100.0), wjob(2, 0, 8, 100.0, submit=1.0)],
        [rjob(9, 1, 8, halls=((1, 8),))],
        pressure=pressure,
    )


def test_guaranteed_job_starts_on_one_domain_in_the_low_pressure_hall() -> None:
    # hall 1 has the lower pressure: 4 GPUs go on its tightest domain holding 4 (domain 3,
    # 5 free); then 8 on its first whole domain (domain 0).
    d = NarvikPolicy().decide(_two_small_jobs([0.5, 0.0]))
    assert d.starts == [(1, False, ((1, 3, 4),)), (2, False, ((1, 0, 8),))]
    assert d.fitting == [1, 2] and d.preempt == []
    # hall 0 has the lower pressure: both go there (domain 0 for 4, then domain 1 for 8:
    # domain 0 has 4 left)
    d = NarvikPolicy().decide(_two_small_jobs([0.0, 0.5]))
    assert d.starts == [(1, False, ((0, 0, 4),)), (2, False, ((0, 1, 8),))]


def test_guaranteed_gang_goes_on_ceil_g_over_8_domains() -> None:
    # 20 GPUs = 2 whole domains + 4 on a partial one (3 domains); hall 0 (pressure 0) first:
    # whole 0, 1, and domain 2 (6 free) is the tightest holding 4.
    # Then 16 = 2 whole domains: hall 0 has only 10 left -> hall 1, domains 0 and 1.
    v = make_view(
        [[8, 8, 6, 8], FULL],
        [tenant(0, quota=40), tenant(1, quota=2)],
        [wjob(1, 0, 20, 100.0), wjob(2, 0, 16, 100.0, submit=1.0)],
        [rjob(9, 1, 2, halls=((0, 2),))],
        pressure=[0.0, 0.5],
    )
    assert starts(v) == [
        (1, False, ((0, 0, 8), (0, 1, 8), (0, 2, 4))),
        (2, False, ((1, 0, 8), (1, 1, 8))),
    ]


def _reclaim_view(halls: tuple[int, ...], fit_since: float = math.nan) -> PoolView:
    """56 of 64 busy, 8 free on hall 0 domain 0. Tenant 1 (tier 2) runs guaranteed 40
    (16 on hall 0 domains 1-2, 24 on hall 1 domains 0-2) and borrowed X (4, hall 0
    domain 3, start 10), Z (4, hall 0 domain 3, start 5), Y (8, hall 1 domain 3, start
    20). Tenant 0 wants 16 (two whole domains) within its quota of 24."""
    running = [
        rjob(11, 1, 16, tier=2, on=((0, 1, 8), (0, 2, 8))),
        rjob(12, 1, 24, tier=2, on=((1, 0, 8), (1, 1, 8), (1, 2, 8))),
        rjob(21, 1, 4, tier=2, borrowed=True, start=10.0, on=((0, 3, 4),)),  # X
        rjob(22, 1, 4, tier=2, borrowed=True, start=5.0, on=((0, 3, 4),)),  # Z
        rjob(23, 1, 8, tier=2, borrowed=True, start=20.0, on=((1, 3, 8),)),  # Y
    ]
    return make_view(
        [[8, 0, 0, 0], EMPTY],
        [
            tenant(0, tier=1, quota=24, halls=halls),
            tenant(1, tier=2, quota=40, max_borrow=64),
        ],
        [wjob(1, 0, 16, 100.0, fit_since=fit_since), wjob(2, 1, 4, 10.0, submit=1.0)],
        running,
        now=1000.0,
        grace=300.0,
    )


def test_guaranteed_job_that_does_not_fit_reclaims_borrowed_work_in_its_halls() -> None:
    # Confined to hall 0: avail 8 < 16, need = max(16 - 8, 56 + 16 - 64) = 8. The job
    # goes on hall 0 domain 0 (free) and domain 3, made whole by evicting X and Z (in
    # preemption order there). stop_by = now + grace = 1300. The 8 free GPUs are held for
    # job 1, so tenant 1's borrowed job 2 gets nothing.
    d = NarvikPolicy().decide(_reclaim_view((0,)))
    assert d.preempt == [(21, 0), (22, 0)]
    assert d.stop_by_s == {21: 1300.0, 22: 1300.0}
    assert d.starts == [] and d.fitting == [1] and d.waiting_tenants == {0}
    # Unconfined: Y (8 GPUs, latest start) would be enough by count, but evicting it
    # leaves the job on two halls; one hall costs the same 8 GPUs: X and Z again.
    d = NarvikPolicy().decide(_reclaim_view(ALL))
    assert d.preempt == [(21, 0), (22, 0)] and d.stop_by_s == {21: 1300.0, 22: 1300.0}
    assert d.starts == []


def test_reclaim_deadline_counts_from_fit_since() -> None:
    # fit since 900: deadline = min(1000 + 300, 900 + 300) = 1200
    d = NarvikPolicy().decide(_reclaim_view(ALL, fit_since=900.0))
    assert d.stop_by_s == {21: 1200.0, 22: 1200.0}
    # fit since 500: 800 has passed -> stop now (1000)
    d = NarvikPolicy().decide(_reclaim_view(ALL, fit_since=500.0))
    assert d.stop_by_s == {21: 1000.0, 22: 1000.0}


def test_guarantee_step_alone_records_the_waiting_job() -> None:
    v = _reclaim_view((0,))
    w = PassWork.of(v)
    power_step(v, w)
    guarantee_step(v, w, sorted(v.tenants, key=lambda t: t.tier_priority))
    # 8 free GPUs held by count in hall 0; job 1 waits with its 16 GPUs of power promised
    assert w.waiting == {1} and w.waiting_power == 16
    assert w.placer.counts == [0, 0]
    assert w.preempting.new == {21, 22} and not v.preempting and w.staying == 56 - 8


def _earmark_view(earmark_t0: int, t0_gpus: int, reclaiming: int = 0) -> PoolView:
    # 8 free (hall 0 domain 0); tenant 2 runs its whole quota of 56 (guaranteed). Tenant 0
    # has an earmark only while work of it waits (the engine drops it otherwise): its job 2,
    # promised (it fit its guarantee at 900, when the reclaim was made for it).
    queued = [wjob(1, 1, 8, 100.0), wjob(2, 0, t0_gpus, 100.0, submit=1.0, fit_since=900.0)]
    return make_view(
        [[8, 0, 0, 0], EMPTY],
        [
            tenant(0, tier=2, quota=16, earmarked=earmark_t0, reclaiming=reclaiming),
            tenant(1, tier=1, quota=8),
            tenant(2, tier=3, quota=56),
        ],
        queued,
        [rjob(9, 2, 24, tier=3, halls=((0, 24),)), rjob(10, 2, 32, tier=3, halls=((1, 32),))],
        now=950.0,
    )


def test_earmarked_gpus_of_one_tenant_are_not_used_by_another() -> None:
    # Tenant 1 (tier 1, first) fits its quota but the 8 free GPUs are tenant 0's earmark:
    # avail = 8 - 8 = 0, nothing borrowed to reclaim -> no start, no notice. Tenant 0's job
    # of 16 waits for the 8 more under way (no new notice either).
    d = NarvikPolicy().decide(_earmark_view(8, 16, reclaiming=8))
    assert d.starts == [] and d.preempt == [] and d.fitting == [1, 2]
    assert d.waiting_tenants == {0}
    # Without the earmark it starts on domain 0 of hall 0.
    d = NarvikPolicy().decide(_earmark_view(0, 16, reclaiming=8))
    assert d.starts == [(1, False, ((0, 0, 8),))]


def test_own_earmark_is_usable() -> None:
    # Tenant 0 has the earmark and a job of 8; tenant 1 (first) cannot take the GPUs,
    # tenant 0 then does.
    d = NarvikPolicy().decide(_earmark_view(8, 8))
    assert d.starts == [(2, False, ((0, 0, 8),))]
    assert d.fitting == [1, 2]


def test_an_earmark_is_worth_at_most_what_the_promised_work_needs() -> None:
    # Tenant 0's earmark of 8 is more than its promised job of 4 needs: 4 are kept from
    # tenant 1, which cannot start its 8 (nothing to reclaim), and tenant 0's job starts.
    d = NarvikPolicy().decide(_earmark_view(8, 4))
    assert d.starts == [(2, False, ((0, 0, 4),))]
    # The same earmark, of 16 and tenant 0 promised nothing: nothing is kept from tenant 1.
    v = _earmark_view(16, 4)
    v.tenants[0].promised = []
    assert NarvikPolicy().decide(v).starts[0] == (1, False, ((0, 0, 8),))


def _leftover_earmark_view(free0: list[int], earmark: int, promised: list[int]) -> PoolView:
    # Tenant 0 (tier 1, first) has an earmark and promised jobs (fit since 0) of the given
    # GPUs, its quota 8; tenant 1 (tier 2) fits 8 in its quota; tenant 2 runs the rest
    # (guaranteed).
    busy = 32 - sum(free0)
    mine = [wjob(1 + i, 0, g, 100.0, fit_since=0.0) for i, g in enumerate(promised)]
    return make_view(
        [free0, EMPTY],
        [
            tenant(0, tier=1, quota=8, earmarked=earmark),
            tenant(1, tier=2, quota=8),
            tenant(2, tier=3, quota=64),
        ],
        [*mine, wjob(9, 1, 8, 100.0, submit=1.0)],
        [rjob(9, 2, busy, tier=3, halls=((0, busy),)), rjob(10, 2, 32, tier=3, halls=((1, 32),))],
        now=10.0,
    )


def test_an_earmark_beyond_what_its_tenant_waits_for_serves_others_in_the_same_pass() -> None:
    # 12 free (domains 0 and 1 of hall 0); tenant 0's earmark of 8 covers its promised
    # jobs of 4 and 8, but only the 4 fit its quota now: it starts (best fit: domain 1) and
    # tenant 0 waits for nothing more, so the 4 GPUs left of its earmark are not kept from
    # tenant 1, whose 8 go on domain 0.
    d = NarvikPolicy().decide(_leftover_earmark_view([8, 4, 0, 0], 8, [4, 8]))
    assert d.starts == [(1, False, ((0, 1, 4),)), (9, False, ((0, 0, 8),))]
    # An earmark is worth at most the tenant's unused guarantee (8 of 16 here).
    d = NarvikPolicy().decide(_leftover_earmark_view([8, 8, 0, 0], 16, [8, 8]))
    assert d.starts == [(1, False, ((0, 0, 8),)), (9, False, ((0, 1, 8),))]


def test_another_tenants_earmark_is_met_outside_a_confined_tenants_halls_first() -> None:
    # 8 free on each hall. Tenant 0 (tier 1, first) is confined to hall 1 and fits 8;
    # tenant 1 has 8 earmarked for its promised job of 8. Like a booking's hold, the
    # earmark is met by the free GPUs outside tenant 0's halls first (hall 0): tenant 0's
    # job starts on hall 1, tenant 1's on hall 0.
    v = make_view(
        [[8, 0, 0, 0], [8, 0, 0, 0]],
        [
            tenant(0, tier=1, quota=8, halls=(1,)),
            tenant(1, tier=2, quota=16, earmarked=8),
            tenant(2, tier=3, quota=48),
        ],
        [wjob(1, 0, 8, 100.0), wjob(2, 1, 8, 100.0, fit_since=0.0)],
        [rjob(9, 2, 24, tier=3, halls=((0, 24),)), rjob(10, 2, 24, tier=3, halls=((1, 24),))],
        now=10.0,
    )
    assert starts(v) == [(1, False, ((1, 0, 8),)), (2, False, ((0, 0, 8),))]


def test_confined_tenant_only_gets_its_halls() -> None:
    def view(hall1: list[int]) -> PoolView:
        busy1 = 32 - sum(hall1)
        return make_view(
            [FULL, hall1],
            [tenant(0, quota=16, halls=(1,)), tenant(1, quota=48)],
            [wjob(1, 0, 8, 100.0)],
            [rjob(9, 1, busy1, halls=((1, busy1),))],
            pressure=[0.0, 0.5],
        )

    # Hall 1 full, hall 0 empty: no start (and nothing borrowed to reclaim).
    d = NarvikPolicy().decide(view(EMPTY))
    assert d.starts == [] and d.preempt == [] and d.fitting == [1]
    # Domain 2 of hall 1 free: it goes there, though hall 0 has the lower pressure.
    assert starts(view([0, 0, 8, 0])) == [(1, False, ((1, 2, 8),))]


def test_guaranteed_gang_leaves_a_confined_tenants_hall_room_for_its_guarantee() -> None:
    # Tenant 0 is confined to hall 1 with a quota of 8, unused. Tenant 1 (quota 56, 16
    # guaranteed on hall 0) wants 32: only hall 1 has 32 free, but then tenant 0 could get
    # its guarantee only when that guaranteed work ends. Room on hall 1 for tenant 1's
    # guaranteed work: 32 - 0 - 8 = 24, so the gang goes on 2 whole domains of each hall,
    # leaving hall 1 16 free.
    v = make_view(
        [[8, 8, 0, 0], FULL],
        [tenant(0, tier=1, quota=8, halls=(1,)), tenant(1, tier=2, quota=56)],
        [wjob(1, 1, 32, 100.0)],
        [rjob(9, 1, 16, tier=2, on=((0, 2, 8), (0, 3, 8)))],
        pressure=[0.0, 0.25],
    )
    d = NarvikPolicy().decide(v)
    assert d.starts == [(1, False, ((0, 0, 8), (0, 1, 8), (1, 0, 8), (1, 1, 8)))]
    # Tenant 0 at its quota: nothing to protect, the gang takes hall 1 whole.
    v = make_view(
        [[8, 8, 0, 0], [8, 8, 8, 8]],
        [tenant(0, tier=1, quota=0, halls=(1,)), tenant(1, tier=2, quota=56)],
        [wjob(1, 1, 32, 100.0)],
        [rjob(9, 1, 16, tier=2, on=((0, 2, 8), (0, 3, 8)))],
        pressure=[0.0, 0.25],
    )
    assert NarvikPolicy().decide(v).starts == [
        (1, False, ((1, 0, 8), (1, 1, 8), (1, 2, 8), (1, 3, 8)))
    ]


def test_too_fragmented_guaranteed_job_waits() -> None:
    # 32 free, 4 per domain: 16 GPUs need 2 whole domains, none is whole -> no placement,
    # no start, no notice. The job waits for whole domains holding nothing (GPUs in pieces
    # serve others): the 4-GPU job after it takes the best fit, hall 0 domain 0 (equal
    # pressure, equal counts, lower index). Waiting for a placement is not waiting for a
    # reclaim: no earmark is kept for the tenant.
    v = make_view(
        [[4, 4, 4, 4], [4, 4, 4, 4]],
        [tenant(0, quota=32), tenant(1, quota=32)],
        [wjob(1, 0, 16, 100.0), wjob(2, 0, 4, 100.0, submit=1.0)],
        [rjob(9, 1, 32, halls=((0, 16), (1, 16)))],
    )
    d = NarvikPolicy().decide(v)
    assert d.starts == [(2, False, ((0, 0, 4),))]
    assert d.preempt == [] and d.fitting == [1, 2] and d.waiting_tenants == set()


def test_tenants_go_in_tier_then_fair_share_order() -> None:
    # 8 free; tenants 0 and 1 (same tier) both fit 8 in their quota: the lower fair-share
    # key (tenant 1) goes first and starts; tenant 0 fits but has no GPUs left.
    v = make_view(
        [[8, 0, 0, 0], EMPTY],
        [tenant(0, quota=8, fair=0.3), tenant(1, quota=8, fair=0.1), tenant(2, quota=56)],
        [wjob(1, 0, 8, 100.0), wjob(2, 1, 8, 100.0, submit=1.0)],
        [rjob(9, 2, 24, halls=((0, 24),)), rjob(10, 2, 32, halls=((1, 32),))],
    )
    d = NarvikPolicy().decide(v)
    assert d.starts == [(2, False, ((0, 0, 8),))]
    assert d.fitting == [2, 1]


# --- surplus -------------------------------------------------------------------------------


def _lend_view(pressure: list[float]) -> PoolView:
    # tenant 0 has no quota, may borrow 16 and already borrows 8 (hall 0 domain 0)
    return make_view(
        [[0, 8, 8, 8], FULL],
        [tenant(0, quota=0, max_borrow=16), tenant(1, quota=64)],
        [wjob(1, 0, 8, 100.0), wjob(2, 0, 4, 100.0, submit=1.0)],
        [rjob(9, 0, 8, borrowed=True, halls=((0, 8),))],
        pressure=pressure,
    )


def test_surplus_lends_within_max_borrow() -> None:
    # room = 16 - 8 = 8: job 1 (8) is lent; job 2 (4) exceeds the room left (0).
    # Lent work goes to high-pressure halls first, then the tightest: equal pressure ->
    # hall 0 (24 free < 32), domain 1.
    d = NarvikPolicy().decide(_lend_view([0.0, 0.0]))
    assert d.starts == [(1, True, ((0, 1, 8),))] and d.fitting == []
    # hall 1 under pressure: the lent job goes there
    d = NarvikPolicy().decide(_lend_view([0.0, 0.5]))
    assert d.starts == [(1, True, ((1, 0, 8),))]


def _unlent_view(lends: bool) -> PoolView:
    # 32 free (hall 0); tenant 1 has 24 unused quota; tenant 2 runs 32 until 500.
    return make_view(
        [FULL, EMPTY],
        [
            tenant(0, quota=0, max_borrow=64),
            tenant(1, quota=24, lends=lends),
            tenant(2, quota=32),
        ],
        [wjob(1, 0, 8, 100.0), wjob(2, 0, 8, 100.0, submit=1.0), wjob(3, 0, 4, 10.0, submit=2.0)],
        [rjob(9, 2, 32, end=500.0, halls=((1, 32),))],
    )


def test_surplus_never_lends_the_unused_quota_of_a_non_lender() -> None:
    # avail = 32 - 24 (tenant 1's unused quota) = 8: job 1 starts; job 2 does not fit and
    # becomes the head (shadow 500); with nothing left to lend job 3 cannot start.
    d = NarvikPolicy().decide(_unlent_view(lends=False))
    assert d.starts == [(1, True, ((0, 0, 8),))]
    # tenant 1 lends: all three are lent (8 on domain 0, 8 on domain 1, 4 on domain 2)
    d = NarvikPolicy().decide(_unlent_view(lends=True))
    assert d.starts == [
        (1, True, ((0, 0, 8),)),
        (2, True, ((0, 1, 8),)),
        (3, True, ((0, 2, 4),)),
    ]


def test_surplus_easy_backfill_behind_the_first_job_that_does_not_fit() -> None:
    # 16 free (hall 0 domains 0, 1). Running: 16 until 100, 32 until 200.
    # Head H (28) does not fit: shadow = 100 (16 + 16 = 32 >= 28), extra = 32 - 28 = 4.
    # A (8, ends 100 <= 100): starts, extra stays 4.      -> domain 0
    # B (8, ends 150 > 100, 8 > extra 4): no.
    # C (4, ends 300 > 100, 4 <= extra 4): starts, extra 0. -> domain 1
    # D (4, ends 50 <= 100): starts.                       -> domain 1 (4 left)
    v = make_view(
        [[8, 8, 0, 0], EMPTY],
        [tenant(0, quota=0, max_borrow=64), tenant(1, quota=48)],
        [
            wjob(1, 0, 28, 50.0, submit=0.0),  # H
            wjob(2, 0, 8, 100.0, submit=1.0),  # A
            wjob(3, 0, 8, 150.0, submit=2.0),  # B
            wjob(4, 0, 4, 300.0, submit=3.0),  # C
            wjob(5, 0, 4, 50.0, submit=4.0),  # D
        ],
        [
            rjob(8, 1, 16, end=100.0, halls=((0, 16),)),
            rjob(9, 1, 32, end=200.0, halls=((1, 32),)),
        ],
    )
    w = PassWork.of(v)
    power_step(v, w)
    order = sorted(v.tenants, key=lambda t: (t.tier_priority, t.fair_share_key, t.index))
    guarantee_step(v, w, order)
    assert w.d.starts == []
    surplus_step(v, w, order)
    assert w.d.starts == [
        (2, True, ((0, 0, 8),)),
        (4, True, ((0, 1, 4),)),
        (5, True, ((0, 1, 4),)),
    ]


# --- advance reservations ------------------------------------------------------------------


def _booking_view(max_borrow: int = 0) -> PoolView:
    # Booking of 48 GPUs from 100. Running: R (8, ends 500, hall 0 domain 0).
    # GPUs left at 100 for work still running then: 64 - 48 - 8 = 8.
    return make_view(
        [[0, 8, 8, 8], FULL],
        [tenant(0, quota=16, max_borrow=max_borrow), tenant(1, quota=8)],
        [
            wjob(1, 0, 8, 200.0),  # ends 200 > 100: takes the 8
            wjob(2, 0, 4, 200.0, submit=1.0),  # ends 200 > 100: 4 > 0 left
            wjob(3, 0, 4, 50.0, submit=2.0),  # ends 50 <= 100: free of the booking
        ],
        [rjob(9, 1, 8, end=500.0, halls=((0, 8),))],
        upcoming=[(100.0, 48)],
    )


def test_upcoming_rooms_hand_calc() -> None:
    up = Upcoming(_booking_view())
    assert up.fits(8, 200.0) and not up.fits(12, 200.0)
    assert up.fits(12, 100.0)  # ends exactly at the booking's start
    up.take(8, 200.0)
    assert not up.fits(4, 200.0) and up.fits(4, 90.0)
    up.take(4, 90.0)  # ends before: takes nothing at 100
    assert up.fits(4, 100.0) and not up.fits(1, 100.5)


def test_booking_keeps_gpus_from_jobs_running_into_it() -> None:
    # Guaranteed: job 1 starts (hall 0 is the tighter fit: domain 1), job 2 would still run
    # at 100 with no room left -> skipped (not even fitting), job 3 ends first -> starts
    # (hall 0 domain 2).
    d = NarvikPolicy().decide(_booking_view())
    assert d.starts == [(1, False, ((0, 1, 8),)), (3, False, ((0, 2, 4),))]
    assert d.fitting == [1, 3]


def test_booking_also_bounds_lent_work() -> None:
    # Tenant 0 with no quota but 64 to borrow: the same three jobs in the surplus step.
    # Job 1 lent (hall 0, domain 1); job 2 cannot (booking) and becomes the head:
    # shadow = easy_shadow(avail 56 - 8 = 48, 4) = the first estimated end, 500, extra
    # 48 + 8 - 4 = 52; job 3 ends (50) by then and before the booking: starts (hall 0
    # domain 2).
    v = make_view(
        [[0, 8, 8, 8], FULL],
        [tenant(0, quota=0, max_borrow=64), tenant(1, quota=8)],
        [wjob(1, 0, 8, 200.0), wjob(2, 0, 4, 200.0, submit=1.0), wjob(3, 0, 4, 50.0, submit=2.0)],
        [rjob(9, 1, 8, end=500.0, halls=((0, 8),))],
        upcoming=[(100.0, 48)],
    )
    d = NarvikPolicy().decide(v)
    assert d.starts == [(1, True, ((0, 1, 8),)), (3, True, ((0, 2, 4),))]


# --- purity --------------------------------------------------------------------------------


def test_decide_never_mutates_the_view() -> None:
    views = [
        _reclaim_view((0,), fit_since=900.0),
        _power_floor_view(30_000.0, preempting=[3]),
        _earmark_view(8, 8),
        _booking_view(max_borrow=64),
        _lend_view([0.0, 0.5]),
        _two_small_jobs([0.5, 0.0]),
    ]
    for v in views:
        before = snapshot(v)
        d = NarvikPolicy().decide(v)
        assert d.starts or d.preempt or d.fitting
        assert same(before, snapshot(v))
