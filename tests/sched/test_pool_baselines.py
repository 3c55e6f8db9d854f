"""The ``fcfs`` and ``easy`` baselines on hand-made pool views, and against the flat reference.

Every view is built by :func:`make_view`: by default 2 halls of 4 NVLink domains of 8
GPUs (one network block per hall), 64 GPUs in all. Each test states its hand
calculation and asserts the exact decision.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import pytest
from tests.sched.pool_views import make_view, rjob, same, snapshot, tenant, wjob

from narvik.sched import easy as flat_easy
from narvik.sched import fcfs as flat_fcfs
from narvik.sched.baselines import EasyPolicy, FcfsPolicy
from narvik.sched.placement import Topology
from narvik.sched.protocol import QueuedJob, RunningJob, Snapshot
from narvik.sched.view import PoolView


def started(policy: FcfsPolicy, v: PoolView) -> list[tuple[int, bool, tuple]]:
    return policy.decide(v).starts


FULL = [8, 8, 8, 8]
EMPTY = [0, 0, 0, 0]


def _queue_view() -> PoolView:
    """16 free (hall 0 domains 0 and 1). Tenant 2 runs 16 until 100 (hall 0) and 32 until
    200 (hall 1) on its quota. Queue order (submit): j1 T0 8, j2 T1 22, j3 T0 4 (300 s),
    j4 T1 2 (300 s), j5 T0 4 (50 s), j6 T1 2 (300 s)."""
    return make_view(
        [[8, 8, 0, 0], EMPTY],
        [tenant(0, quota=8), tenant(1, quota=0), tenant(2, quota=48)],
        [
            wjob(1, 0, 8, 100.0, submit=0.0),
            wjob(2, 1, 22, 10.0, submit=1.0),
            wjob(3, 0, 4, 300.0, submit=2.0),
            wjob(4, 1, 2, 300.0, submit=3.0),
            wjob(5, 0, 4, 50.0, submit=4.0),
            wjob(6, 1, 2, 300.0, submit=5.0),
        ],
        [
            rjob(8, 2, 16, end=100.0, halls=((0, 16),)),
            rjob(9, 2, 32, end=200.0, halls=((1, 32),)),
        ],
    )


def test_fcfs_stops_at_the_first_job_that_does_not_fit() -> None:
    # j1 (8) starts on domain 0 of hall 0 (within T0's quota of 8: not borrowed);
    # j2 (22) > 8 free: stop, although j3..j6 would fit.
    assert started(FcfsPolicy(), _queue_view()) == [(1, False, ((0, 0, 8),))]


def test_easy_backfills_behind_the_head_with_the_shadow_rule() -> None:
    # j1 starts (8 left) and ends by estimate at 100. Head j2 (22): at 100 the running 16
    # and j1's 8 are free too: 8 + 16 + 8 = 32 >= 22, shadow 100, extra 10.
    # j3 (4, ends 300, 4 <= 10): starts -> (0, 1, 4), extra 6.  j4 (2 <= 6): starts ->
    # (0, 1, 2), extra 4.  j5 (4, ends 50): no domain has 4 free any more: waits.
    # j6 (2 <= 4): starts -> (0, 1, 2). Borrowed: j3 (T0: 8 + 4 > 8), j4, j6 (T1: none).
    assert started(EasyPolicy(), _queue_view()) == [
        (1, False, ((0, 0, 8),)),
        (3, True, ((0, 1, 4),)),
        (4, True, ((0, 1, 2),)),
        (6, True, ((0, 1, 2),)),
    ]


def _confined_view(hall1: list[int]) -> PoolView:
    busy1 = 32 - sum(hall1)
    return make_view(
        [FULL, hall1],
        [tenant(0, quota=16), tenant(1, quota=16, halls=(1,)), tenant(2, quota=32)],
        [wjob(1, 1, 4, 100.0, submit=0.0), wjob(2, 0, 4, 100.0, submit=1.0)],
        [rjob(9, 2, busy1, end=200.0, halls=((1, busy1),))],
        pressure=[0.0, 0.5],
    )


def test_baselines_respect_allowed_halls() -> None:
    # j1's tenant may only use hall 1, which is full: fcfs stops there.
    assert started(FcfsPolicy(), _confined_view(EMPTY)) == []
    # easy: j1 is the head (shadow 200, the first estimated end); j2 (ends 100) backfills
    # in hall 0, domain 0.
    assert started(EasyPolicy(), _confined_view(EMPTY)) == [(2, False, ((0, 0, 4),))]
    # hall 1 domain 2 free: j1 goes there although hall 0 has the lower pressure; then j2
    # goes to hall 0 (lower pressure), domain 0.
    expected = [(1, False, ((1, 2, 4),)), (2, False, ((0, 0, 4),))]
    assert started(FcfsPolicy(), _confined_view([0, 0, 8, 0])) == expected
    assert started(EasyPolicy(), _confined_view([0, 0, 8, 0])) == expected


def _fragmented_view() -> PoolView:
    # 32 free, 4 on every domain: 16 GPUs need 2 whole domains, there are none.
    return make_view(
        [[4, 4, 4, 4], [4, 4, 4, 4]],
        [tenant(0, quota=32), tenant(1, quota=32)],
        [wjob(1, 0, 16, 100.0, submit=0.0), wjob(2, 0, 4, 500.0, submit=1.0)],
        [rjob(9, 1, 32, end=100.0, halls=((0, 16), (1, 16)))],
    )


def test_baselines_need_a_placement() -> None:
    # fcfs: j1 cannot be placed: stop (j2 would fit).
    assert started(FcfsPolicy(), _fragmented_view()) == []
    # easy: head j1, shadow = easy_shadow(32, 16) = 100 (the first estimated end), extra
    # 32 + 32 - 16 = 48; j2 (4 <= 48) starts: both halls hold 32, hall 0 first, domain 0.
    assert started(EasyPolicy(), _fragmented_view()) == [(2, False, ((0, 0, 4),))]


def _power_view() -> PoolView:
    # limit(1.0) = (28000 - 10000) / 1000 = 18 busy GPUs; 8 busy: room for 10 more.
    return make_view(
        [[0, 8, 8, 8], FULL],
        [tenant(0, quota=64), tenant(1, quota=8)],
        [
            wjob(1, 0, 8, 100.0, submit=0.0),
            wjob(2, 0, 8, 100.0, submit=1.0),
            wjob(3, 0, 2, 500.0, submit=2.0),
        ],
        [rjob(9, 1, 8, end=100.0, halls=((0, 8),))],
        idle_w=10_000.0,
        busy_w=1_000.0,
        budget=28_000.0,
    )


def test_baselines_respect_the_power_limit() -> None:
    # fcfs: j1 (8) starts (hall 0, 24 free, the tighter fit: domain 1); j2 (8) > 2 of power
    # room left: stop.
    assert started(FcfsPolicy(), _power_view()) == [(1, False, ((0, 1, 8),))]
    # easy: head j2: shadow 100 (first end), extra 48 + 8 - 8 = 48; j3 (2 <= 2 of power
    # room) starts on the tightest domain holding 2 (hall 0: domain 2).
    d = EasyPolicy().decide(_power_view())
    assert d.starts == [(1, False, ((0, 1, 8),)), (3, False, ((0, 2, 2),))]
    assert d.cap_fraction == 1.0 and d.preempt == []


def test_baselines_preempt_for_power_at_the_floor() -> None:
    # 62 busy; floor 0.5: limit = 20000 / 500 = 40: shed 22 -> borrowed C (4), B (8), D (8)
    # = 20, then guaranteed E (10).
    running = [
        rjob(1, 0, 32, tier=1, start=0.0, halls=((0, 32),)),
        rjob(2, 1, 8, tier=2, borrowed=True, start=10.0, halls=((1, 8),)),
        rjob(3, 1, 4, tier=2, borrowed=True, start=20.0, halls=((1, 4),)),
        rjob(4, 0, 8, tier=1, borrowed=True, start=30.0, halls=((1, 8),)),
        rjob(5, 1, 10, tier=2, start=40.0, halls=((1, 10),)),
    ]
    v = make_view(
        [EMPTY, [0, 0, 0, 2]],
        [tenant(0, tier=1, quota=40), tenant(1, tier=2, quota=24)],
        [wjob(7, 0, 2, 10.0)],
        running,
        idle_w=10_000.0,
        busy_w=1_000.0,
        budget=30_000.0,
    )
    for policy in (FcfsPolicy(), EasyPolicy()):
        d = policy.decide(v)
        assert math.isclose(d.cap_fraction, 0.5)
        assert d.preempt == [(3, -1), (2, -1), (4, -1), (5, -1)]
        assert d.starts == []  # no power room for the 2-GPU job


# --- against the flat reference ------------------------------------------------------------

ONE = Topology.uniform(domains=1, domain_gpus=16, domains_per_block=1)

Job = tuple[int, int, float]
"""(key, GPUs, estimate or estimated end)."""


def _flat_and_pool(
    now: float, free: int, queue: list[Job], running: list[Job]
) -> tuple[Snapshot, PoolView]:
    snap = Snapshot(
        now,
        free,
        tuple(QueuedJob(k, g, e) for k, g, e in queue),
        tuple(RunningJob(k, g, e) for k, g, e in running),
    )
    view = make_view(
        [[free]],
        [tenant(0, quota=16, halls=(0,))],
        [wjob(k, 0, g, e, submit=float(i)) for i, (k, g, e) in enumerate(queue)],
        [rjob(k, 0, g, end=e, start=now - 1.0) for k, g, e in running],
        now=now,
        topo=ONE,
    )
    return snap, view


FLAT_CASES = [
    # 6 free; running 6 until 100, 4 until 200. Head b (8): shadow 100, extra 6 + 6 - 8 = 4;
    # c (2, long) uses extra (2 left); d (1, ends 50) by the shadow; e (2, long) extra 0.
    # fcfs: b does not fit -> nothing.
    (
        0.0,
        6,
        [(1, 8, 10.0), (2, 2, 500.0), (3, 1, 50.0), (4, 2, 300.0)],
        [(8, 6, 100.0), (9, 4, 200.0)],
        (),
        (2, 3, 4),
    ),
    # the prefix a (4), c (2) fills the 6 free: both start, b (8) waits.
    (0.0, 6, [(1, 4, 10.0), (2, 2, 500.0), (3, 8, 10.0)], [(8, 10, 100.0)], (1, 2), (1, 2)),
    # everything fits
    (5.0, 16, [(1, 5, 1.0), (2, 5, 1.0), (3, 6, 1.0)], [], (1, 2, 3), (1, 2, 3)),
    # two running jobs end together at 100: 4 + 4 + 2 = 10 >= 9, extra 1; x (1, long)
    # takes the extra, y (1, long) cannot, z (2, ends exactly at 100) can.
    (
        0.0,
        4,
        [(1, 9, 10.0), (2, 1, 1000.0), (3, 1, 1000.0), (4, 2, 100.0)],
        [(7, 4, 100.0), (8, 2, 100.0), (9, 6, 300.0)],
        (),
        (2, 4),
    ),
]


@pytest.mark.parametrize(("now", "free", "queue", "running", "fcfs", "easy"), FLAT_CASES)
def test_same_starts_as_the_flat_reference_on_one_domain(
    now: float,
    free: int,
    queue: list[Job],
    running: list[Job],
    fcfs: tuple[Hashable, ...],
    easy: tuple[Hashable, ...],
) -> None:
    snap, view = _flat_and_pool(now, free, queue, running)
    assert flat_fcfs.FcfsPolicy().decide(snap).start == fcfs
    assert flat_easy.EasyPolicy().decide(snap).start == easy
    assert tuple(s[0] for s in FcfsPolicy().decide(view).starts) == fcfs
    assert tuple(s[0] for s in EasyPolicy().decide(view).starts) == easy
    # one domain: every start is on it
    for _, _, placement in EasyPolicy().decide(view).starts:
        assert len(placement) == 1 and placement[0][:2] == (0, 0)


# --- purity --------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [FcfsPolicy(), EasyPolicy()], ids=["fcfs", "easy"])
def test_decide_never_mutates_the_view(policy: FcfsPolicy) -> None:
    for make in (_queue_view, _power_view, _fragmented_view, lambda: _confined_view(EMPTY)):
        v = make()
        before = snapshot(v)
        policy.decide(v)
        assert same(before, snapshot(v))


def test_easy_shadow_counts_jobs_started_earlier_in_the_pass():
    # 16 GPUs, 8 free, a job on 8 ending at 100. Queue a (4, est 10), b (8, est 10),
    # c (4, est 50). a starts; head b: free 4 now + a's 4 at 10 -> shadow 10, extra 0;
    # c would end at 50 > 10 and there is no extra: it waits (the flat reference: (a,)).
    v = make_view(
        [[8]],
        [tenant(0, max_borrow=16, halls=(0,))],
        [wjob(1, 0, 4, 10.0), wjob(2, 0, 8, 10.0, submit=1e-3), wjob(3, 0, 4, 50.0, 2e-3)],
        [rjob(9, 0, 8, end=100.0)],
        topo=ONE,
    )
    assert [s[0] for s in EasyPolicy().decide(v).starts] == [1]


def test_easy_extra_counts_every_overdue_job():
    # now 100, 2 free; running: 6 GPUs est. end 50, 2 GPUs est. end 80 (both overdue: they
    # count as ending now), 6 GPUs end 200. Head 8 GPUs: shadow 100 (now) with 2 + 6 + 2 =
    # 10 free, extra 2; x (2 GPUs, est 500) fits the extra and starts.
    v = make_view(
        [[2]],
        [tenant(0, max_borrow=16, halls=(0,))],
        [wjob(1, 0, 8, 10.0), wjob(2, 0, 2, 500.0, submit=1e-3)],
        [rjob(7, 0, 6, end=50.0), rjob(8, 0, 2, end=80.0), rjob(9, 0, 6, end=200.0)],
        now=100.0,
        topo=ONE,
    )
    assert [s[0] for s in EasyPolicy().decide(v).starts] == [2]
