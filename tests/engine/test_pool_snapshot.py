"""Engine invariants after every pass of a small pool driven with `Pool.step`.

Two halls of NVL8 domains (the second comes online later), three tenants (an anchor
with a quota, a national tenant confined to the second hall that does not lend, a
regional borrower), a booking, a curtailment on a small hand-made power model. After
every pass the pool's books must balance, and a deep copy of the pool stepped at the
same instant must do exactly what the original does.
"""

from __future__ import annotations

import copy
import math
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narvik.engine import (
    CurtailmentSpec,
    HallSpec,
    PassOutcome,
    Pool,
    ReservationSpec,
    Rules,
    TenantSpec,
)
from narvik.sched.narvik_policy import NarvikPolicy
from narvik.sched.placement import Topology, hall_gpus
from narvik.sched.registry import get_pool_policy
from narvik.sched.view import WaitingJob
from narvik.sim.tenancy_sim import HourlyPower

DOMAIN = 8
HALL_B_ONLINE_S = 1000.0
IDLE_W, BUSY_W = 1000.0, 100.0
SHED_W = 2000.0
CURTAILMENT = CurtailmentSpec(start_s=1500.0, end_s=3500.0, shed_w=SHED_W, deadline_s=200.0)
BOOKING = ReservationSpec(tenant=0, gpus=16, start_s=2500.0, end_s=4500.0)
HORIZON_S = 30_000.0


def make_pool(reservations=(BOOKING,), curtailments=(CURTAILMENT,), budget_gpus: int = 64) -> Pool:
    halls = (
        HallSpec("A", Topology.uniform(4, DOMAIN, 2)),
        HallSpec("B", Topology.uniform(4, DOMAIN, 2), online_from_s=HALL_B_ONLINE_S),
    )
    tenants = (
        TenantSpec("anchor", 1, ((0.0, 16), (2000.0, 24)), None, True, 2.0, ()),
        TenantSpec("nat", 0, ((0.0, 12),), None, False, 1.0, (1,)),
        TenantSpec("reg", 2, (), 48, True, 1.0, ()),
    )
    rules = Rules(
        grace_period_s=100.0,
        checkpoint_interval_s=50.0,
        fair_share_half_life_s=3600.0,
        backfill_depth=8,
        min_cap_fraction=0.6,
    )
    hours = 4
    idle = np.full(hours, IDLE_W)
    busy = np.full(hours, BUSY_W)
    # The budget holds `budget_gpus` busy GPUs at full cap; the curtailment 24 GPUs
    # (40 at the floor cap 0.6).
    budget = np.full(hours, IDLE_W + budget_gpus * BUSY_W)
    curtailed = {SHED_W: np.full(hours, IDLE_W + 24 * BUSY_W)}
    power = HourlyPower(idle, busy, budget, curtailed)
    return Pool(halls, tenants, rules, power, reservations, curtailments)


def due_at(job) -> float:
    at = job.finish_s()
    for t in (job.preempt_at_s, job.cancel_at_s):
        if t is not None and t < at:
            at = t
    return max(at, job.stint_start_s)


def outcome_key(out: PassOutcome) -> tuple:
    return (
        [(s.job.key, s.at_s, s.outcome, s.kept_s, s.lost_gpu_s) for s in out.stops],
        [(j.key, j.placement, j.borrowed, j.stint_start_s, j.rate) for j in out.starts],
        list(out.notices),
        list(out.fitting),
        list(out.fit_on_arrival),
        list(out.rejected),
        out.retimed,
        out.cap_fraction,
        out.it_power_w,
        out.it_budget_w,
        out.shed_w,
        out.busy_gpus,
        list(out.opened_short),
        dict(out.booking_available),
    )


def state_key(pool: Pool) -> tuple:
    return (
        [f.tolist() for f in pool.free],
        list(pool.free_by_hall),
        sorted(pool.queued),
        sorted((k, j.placement, j.preempt_at_s, j.cancel_at_s) for k, j in pool.running.items()),
        [(t.view.used_guaranteed, t.view.used_borrowed, list(t.view.queue)) for t in pool.tenants],
        [(t.view.earmarked_gpus, t.view.reclaiming_gpus, t.usage_gpu_s) for t in pool.tenants],
        pool.cap_fraction,
        pool.next_due_s(),
    )


def check_invariants(pool: Pool, now: float, ledger: Ledger) -> None:
    running = pool.running
    # Free GPUs per domain: within [0, domain size], and exactly what placements leave.
    taken: Counter[tuple[int, int]] = Counter()
    for job in running.values():
        for h, d, c in job.placement:
            taken[(h, d)] += c
    for h, (free, topo) in enumerate(zip(pool.free, pool.topologies, strict=True)):
        assert free.shape == (topo.domains,)
        assert (free >= 0).all() and (free <= topo.domain_gpus).all(), (h, free)
        if pool.online[h]:
            want = [topo.domain_gpus - taken[(h, d)] for d in range(topo.domains)]
            assert free.tolist() == want, (h, free.tolist(), want)
        else:
            assert not free.any() and not any(k[0] == h for k in taken)
        assert pool.free_by_hall[h] == int(free.sum())
    assert pool.online[1] == (now >= HALL_B_ONLINE_S)
    online = zip(pool.topologies, pool.online, strict=True)
    assert sum(pool.capacity) == sum(t.gpus for t, on in online if on)

    # Busy GPUs, per-tenant use, placements and views of running jobs.
    assert pool.busy == sum(j.gpus for j in running.values())
    assert set(pool.views) == set(running)
    for key, job in running.items():
        assert job.key == key and pool.views[key] is job.view
        assert sum(c for _, _, c in job.placement) == job.gpus
        assert len({(h, d) for h, d, _ in job.placement}) == len(job.placement)
        assert job.view.halls == hall_gpus(job.placement)
        assert job.view.gpus == job.gpus and job.view.borrowed == job.borrowed
        assert job.view.tenant == job.tenant
        allowed = pool.tenants[job.tenant].halls
        assert all(h in allowed and pool.online[h] for h, _, _ in job.placement)
        assert job.view.being_preempted == (job.preempt_at_s is not None)
        assert math.ceil(job.gpus / DOMAIN) == len(job.placement)  # the fewest domains
    for i, t in enumerate(pool.tenants):
        mine = [j for j in running.values() if j.tenant == i]
        assert t.view.used_guaranteed == sum(j.gpus for j in mine if not j.borrowed)
        assert t.view.used_borrowed == sum(j.gpus for j in mine if j.borrowed)
        assert t.running_jobs == len(mine)
        reclaimed = [j for j in running.values() if j.preempt_at_s is not None]
        assert t.view.reclaiming_gpus == sum(j.gpus for j in reclaimed if j.preempt_for == i)
        # Queue and promises: the tenant's queued jobs in (submit, key) order.
        queued = [q for q in pool.queued.values() if q.tenant == i]
        assert t.view.queue == [q.key for q in sorted(queued, key=lambda q: (q.submit_s, q.key))]
        assert t.queued_gpus == sum(q.gpus for q in queued)
        promised = sorted((q.fit_since_s, q.key) for q in queued if q.fit_since_s == q.fit_since_s)
        assert t.view.promised == [k for _, k in promised]
        assert t.fit_pending <= {q.key for q in queued}
        assert t.pending_fit == sum(pool.queued[k].gpus for k in t.fit_pending)

    # Queued, running and finished jobs partition the accepted ones.
    queued, run = set(pool.queued), set(running)
    assert not queued & run
    assert not (queued | run) & ledger.finished
    assert queued | run | ledger.finished == ledger.accepted
    assert not ledger.accepted & ledger.rejected

    # The estimated-end index.
    ends: Counter[float] = Counter()
    for job in running.values():
        assert job.view.est_end_s == job.est_end_s()
        ends[job.view.est_end_s] += job.gpus
    assert pool.ends.keys == sorted(ends)
    assert dict(pool.ends.gpus) == dict(ends)
    v = pool.view(now)
    for start, _gpus, committed in v.upcoming:
        assert committed == sum(g for e, g in ends.items() if e > start)

    # Guaranteed GPUs per hall (what protects confined tenants' guarantees).
    guaranteed = [0] * len(pool.halls)
    for job in running.values():
        if not job.borrowed:
            for h, _, c in job.placement:
                guaranteed[h] += c
    assert pool.guaranteed_on == guaranteed

    # Notices.
    noticed = {k for k, j in running.items() if j.preempt_at_s is not None}
    assert pool.noticed == noticed
    for job in running.values():
        want_leaves = math.inf if job.preempt_at_s is None else job.preempt_at_s
        assert job.view.leaves_at_s == want_leaves
    assert pool.noticed_gpus == sum(running[k].gpus for k in noticed)

    # The next stop.
    want_due = min((due_at(j) for j in running.values()), default=math.inf)
    assert pool.next_due_s() == want_due

    # Power: the cap stays within [floor, 1].
    assert pool.rules.min_cap_fraction - 1e-9 <= pool.cap_fraction <= 1.0


class Ledger:
    def __init__(self) -> None:
        self.accepted: set[int] = set()
        self.rejected: set[int] = set()
        self.finished: set[int] = set()
        self.outcomes: Counter[str] = Counter()
        self.notices = {"power": 0, "reclaim": 0}
        self.max_cap_drop = 0.0
        self.passes = 0


def drive(
    pool: Pool,
    jobs: list[tuple[int, float, float, int, float]],
    cancels: list[tuple[int, float]],
    instants: list[float],
    policy: str = "narvik",
    twin: bool = True,
) -> Ledger:
    """Passes at every submit, cancel, extra and pool instant and job stop; checks after each.

    ``jobs``: (tenant, submit, runtime, gpus, estimate); ``cancels``: (job index, at)."""
    ledger = Ledger()
    order = sorted(range(len(jobs)), key=lambda k: (jobs[k][1], k))
    cancel_at = sorted((at, k) for k, at in cancels if k < len(jobs))
    events = sorted(
        {jobs[k][1] for k in order}
        | {at for at, _ in cancel_at}
        | set(instants)
        | {s for s in pool.instants() if s >= 0}
    )
    i = e = c = 0
    now = 0.0
    while ledger.passes < 5000:
        nxt = min(events[e] if e < len(events) else math.inf, pool.next_due_s())
        if nxt > HORIZON_S:
            break
        now = max(now, nxt)
        while e < len(events) and events[e] <= now:
            e += 1
        while c < len(cancel_at) and cancel_at[c][0] <= now:
            key = cancel_at[c][1]
            was_queued = key in pool.queued
            if pool.cancel(key, now) and was_queued:
                ledger.finished.add(key)
                ledger.outcomes["cancelled queued"] += 1
            c += 1
        arrivals = []
        while i < len(order) and jobs[order[i]][1] <= now:
            k = order[i]
            t, sub, rt, g, est = jobs[k]
            arrivals.append(WaitingJob(k, t, g, rt, est, sub))
            i += 1
        if twin:
            other = copy.deepcopy(pool)
            other_arrivals = copy.deepcopy(arrivals)
        cap_before = pool.cap_fraction
        out = pool.step(now, get_pool_policy(policy), arrivals)
        ledger.passes += 1
        if twin:
            out2 = other.step(now, get_pool_policy(policy), other_arrivals)
            assert outcome_key(out) == outcome_key(out2)
            assert state_key(pool) == state_key(other)
        for q in arrivals:
            if q.key in pool.queued or q.key in pool.running:
                ledger.accepted.add(q.key)
            else:
                assert q.gpus > pool.tenants[q.tenant].reach_gpus
                ledger.rejected.add(q.key)
        assert set(out.rejected) == {q.key for q in arrivals} & ledger.rejected
        for s in out.stops:
            ledger.outcomes[s.outcome] += 1
            if s.outcome != "preempted":
                assert s.job.key not in ledger.finished
                ledger.finished.add(s.job.key)
            assert s.at_s <= now
        for _, at, owner in out.notices:
            ledger.notices["power" if owner < 0 else "reclaim"] += 1
            assert at >= now
        ledger.max_cap_drop = max(ledger.max_cap_drop, cap_before - out.cap_fraction)
        check_invariants(pool, now, ledger)
    return ledger


def _hand_jobs() -> tuple[list, list, list]:
    """A run that reaches every path: hall B late, borrowing and reclaims, the curtailment
    (cap lowered and power notices), the booking, cancels of queued and running jobs."""
    rng = np.random.default_rng(7)
    jobs = []
    for _ in range(90):
        tenant = int(rng.choice(3, p=[0.3, 0.2, 0.5]))
        sub = float(np.round(rng.uniform(0, 4000)))
        rt = float(np.round(rng.uniform(60, 2500)))
        g = int(rng.choice([1, 2, 4, 8, 12, 16, 24, 40]))
        jobs.append((tenant, sub, rt, g, rt * float(rng.uniform(0.8, 2.0))))
    # Borrowers fill the fleet before the guarantees and the curtailment arrive.
    jobs += [(2, 1100.0, 5000.0, 8, 5000.0)] * 4
    cancels = [(k, float(np.round(rng.uniform(0, 5000)))) for k in range(0, 90, 9)]
    instants = [1550.0, 1600.0, 2510.0, 3600.0]
    return jobs, cancels, instants


def test_invariants_hold_on_a_hand_made_run() -> None:
    jobs, cancels, instants = _hand_jobs()
    ledger = drive(make_pool(), jobs, cancels, instants)
    assert ledger.passes > 50
    assert ledger.rejected  # 40-GPU jobs of the national tenant (32 GPUs in hall B)
    assert ledger.outcomes["completed"] > 20
    assert ledger.outcomes["cancelled"] + ledger.outcomes["cancelled queued"] > 0
    assert ledger.outcomes["preempted"] > 0
    assert ledger.notices["power"] > 0 and ledger.notices["reclaim"] > 0
    assert ledger.max_cap_drop > 0  # the curtailment lowered the GPU cap


def test_invariants_hold_under_easy_too() -> None:
    jobs, cancels, instants = _hand_jobs()
    ledger = drive(make_pool(), jobs, cancels, instants, policy="easy")
    assert ledger.outcomes["completed"] > 20


job_st = st.tuples(
    st.integers(0, 2),  # tenant
    st.integers(0, 4000).map(float),  # submit
    st.integers(1, 3000).map(float),  # runtime
    st.sampled_from([1, 2, 3, 4, 7, 8, 9, 12, 16, 24, 33]),  # gpus
    st.floats(0.5, 3.0),  # estimate factor
).map(lambda j: (j[0], j[1], j[2], j[3], math.ceil(j[2] * j[4])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    jobs=st.lists(job_st, min_size=10, max_size=40),
    cancels=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 6000).map(float)), max_size=6),
    instants=st.lists(st.integers(0, 6000).map(float), max_size=6),
    booking=st.booleans(),
    curtail=st.booleans(),
    budget_gpus=st.sampled_from([40, 64, 200]),
)
def test_invariants_hold_on_random_runs(
    jobs, cancels, instants, booking, curtail, budget_gpus
) -> None:
    pool = make_pool(
        reservations=(BOOKING,) if booking else (),
        curtailments=(CURTAILMENT,) if curtail else (),
        budget_gpus=budget_gpus,
    )
    ledger = drive(pool, jobs, cancels, instants)
    assert ledger.accepted | ledger.rejected == set(range(len(jobs)))


def test_a_deep_copy_of_a_busy_pool_steps_alike() -> None:
    """Snapshot mid-curtailment with a booking open and jobs under notice: copies agree."""
    jobs, _, _ = _hand_jobs()
    pool = make_pool()
    policy = NarvikPolicy()
    arrivals = sorted(
        (WaitingJob(k, t, g, rt, est, sub) for k, (t, sub, rt, g, est) in enumerate(jobs)),
        key=lambda q: (q.submit_s, q.key),
    )
    a = 0
    now = 0.0
    while now < 2600.0:
        nxt = min(arrivals[a].submit_s if a < len(arrivals) else math.inf, pool.next_due_s())
        nxt = min(nxt, 2600.0)
        now = max(now, nxt)
        b = a
        while b < len(arrivals) and arrivals[b].submit_s <= now:
            b += 1
        pool.step(now, policy, arrivals[a:b])
        a = b
    assert pool.reservations and pool.shed_w(now) == SHED_W
    copies = [copy.deepcopy(pool) for _ in range(2)]
    outs = [p.step(now + 30.0, NarvikPolicy(), []) for p in copies]
    assert outcome_key(outs[0]) == outcome_key(outs[1])
    assert state_key(copies[0]) == state_key(copies[1])
    out = pool.step(now + 30.0, NarvikPolicy(), [])
    assert outcome_key(out) == outcome_key(outs[0])
