"""The ``kueue`` emulation on tiny simulated pools (the engine in virtual time).

Two halls (flavors) of 4 NVLink domains of 8 GPUs. The anchor holds a nominal quota and
lends it; ``reg`` only borrows. Hand-checked runs (reclaim with the grace period, jobs no
flavor can hold, no power awareness) and a property test of Kueue's quota invariants
checked on every decision of random runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import narvik.sim.tenancy_sim as tenancy_sim
from narvik.engine import HallSpec
from narvik.sched.kueue_policy import KueuePolicy
from narvik.sched.kueue_quota import Queues
from narvik.sched.placement import Topology
from narvik.sched.view import Decision, PoolView
from narvik.sim.flat import COMPLETED, PENDING, REJECTED
from narvik.sim.tenancy_setup import build_setup, tenant_indices
from narvik.sim.tenancy_sim import HourlyPower, simulate_tenancy
from narvik.workload.job import JobTable
from narvik.workload.tenancy import Curtailment, Tenancy

GRACE_S = 100.0
T0 = dt.datetime(2027, 1, 1)
HOURS = 400


def _tenancy(quota: int, reg_borrow: int | None = None, confine: bool = False) -> Tenancy:
    return Tenancy.model_validate(
        {
            "grace_period_s": GRACE_S,
            "checkpoint_interval_s": 50.0,
            "tiers": [
                {"name": "national", "priority": 0},
                {"name": "anchor", "priority": 1},
                {"name": "regional", "priority": 2, "may_hold_quota": False},
            ],
            "tenants": [
                {
                    "name": "anchor",
                    "tier": "anchor",
                    "jurisdiction": "US",
                    "quota": [{"start": "2027-01-01", "gpus": quota}],
                },
                {
                    "name": "nat",
                    "tier": "national",
                    "jurisdiction": "NO",
                    "allowed_halls": ["B"] if confine else [],
                    "lends": False,
                    "quota": [{"start": "2027-01-01", "gpus": 8}],
                },
                {
                    "name": "reg",
                    "tier": "regional",
                    "jurisdiction": "GB",
                    "max_borrow_gpus": reg_borrow,
                },
            ],
        }
    )


def _run(jobs_spec, tenancy, policy="kueue", curtail=False):
    """jobs_spec: (tenant name, submit s, runtime s, GPUs), any order."""
    jobs_spec = sorted(jobs_spec, key=lambda j: j[1])
    jobs = JobTable.from_arrays(
        gpus=[j[3] for j in jobs_spec],
        submit_s=[float(j[1]) for j in jobs_spec],
        runtime_s=[float(j[2]) for j in jobs_spec],
        requested_s=[float(j[2]) for j in jobs_spec],
        tenant=[j[0] for j in jobs_spec],
        tier=["x" for _ in jobs_spec],
    )
    index, other = tenant_indices(jobs, tenancy)
    halls = tuple(HallSpec(n, Topology.uniform(4, 8, 4)) for n in ("A", "B"))
    events = ()
    if curtail:
        events = (
            Curtailment(
                start=T0 + dt.timedelta(seconds=1000),
                shed_mw=1.0,
                end=T0 + dt.timedelta(seconds=3000),
                deadline_s=60,
            ),
        )
    setup = build_setup(
        tenancy=tenancy,
        halls=halls,
        start_date=T0.date(),
        hours=HOURS,
        events=events,
        with_other=other,
    )
    if curtail:
        # 1 kW idle fleet + 1 kW per busy GPU; curtailed: room for 24 busy GPUs at full cap.
        curtailed = {c.shed_mw * 1e6: np.full(HOURS, 1_000.0 + 24 * 1_000.0) for c in events}
        power = HourlyPower(
            np.full(HOURS, 1_000.0), np.full(HOURS, 1_000.0), np.full(HOURS, 1e9), curtailed
        )
        setup = replace(setup, power=power)
    return jobs, simulate_tenancy(jobs, index, setup, until_s=None, policy=policy)


def test_reclaim_within_cohort_end_to_end():
    # Per hall: the anchor's nominal 16 (lent), nat's 4 (not lent), the cohort's own 12:
    # reg may borrow 28 per hall, three 8-GPU jobs (24); 6 of its 8 jobs start at t=0. At
    # t=100 the anchor's job (under its nominal quota on hall A): available = min(28 - 24,
    # ...) = 4 < 8. It reclaims: reg's latest job on hall A gets notice, stops at 100 +
    # grace, and the anchor's job starts then; the evicted job runs again later.
    spec = [("reg", 0, 10_000, 8)] * 8 + [("anchor", 100, 500, 8)]
    jobs, res = _run(spec, _tenancy(32))
    anchor = int(np.flatnonzero(np.asarray(jobs.tenant) == "anchor")[0])
    assert res.start_s[anchor] == pytest.approx(100 + GRACE_S)
    assert int(res.preemptions.sum()) == 1
    assert np.all(res.state == COMPLETED)
    reg_first = sorted(res.start_s[np.asarray(jobs.tenant) == "reg"])
    assert reg_first[:6] == [0.0] * 6 and reg_first[6] > 0.0


def test_jobs_no_flavor_can_hold_stay_pending_and_the_run_ends():
    # 40 GPUs fit the tenant's reach (64, so the engine queues it) but no hall (32): Kueue
    # leaves it inadmissible; the others run; the run ends (no pass loop on it).
    spec = [("reg", 0, 100, 40), ("reg", 1, 100, 8), ("anchor", 2, 100, 16)]
    jobs, res = _run(spec, _tenancy(32))
    assert list(res.state) == [PENDING, COMPLETED, COMPLETED]
    assert len(res.t_s) < 20  # a handful of passes


def test_no_power_awareness_during_a_curtailment():
    # 32 busy GPUs across the curtailment (room for 24 at full cap): narvik caps GPU power
    # (0.75 holds them); kueue neither caps nor preempts, and the curtailment is not met.
    spec = [("anchor", 0, 5_000, 8)] * 4
    _, kq = _run(spec, _tenancy(32), "kueue", curtail=True)
    _, nv = _run(spec, _tenancy(32), "narvik", curtail=True)
    assert np.all(kq.cap_fraction == 1.0)
    assert int(kq.preemptions.sum()) == 0
    assert not kq.curtailments[0]["met"]
    assert kq.curtailments[0]["preempted_jobs"] == 0
    assert nv.cap_fraction.min() < 1.0
    assert nv.curtailments[0]["met"]


class CheckingKueue(KueuePolicy):
    """The kueue policy, checking Kueue's quota invariants on every decision."""

    checked = 0
    last: Queues | None = None

    def decide(self, v: PoolView) -> Decision:
        d = super().decide(v)
        q = self.queues(v)
        n_c, n_h = len(q.cqs), len(q.hall_gpus)
        used = [[0] * n_h for _ in range(n_c)]
        guaranteed = [[0] * n_h for _ in range(n_c)]
        for r in v.running.values():
            for h, c in r.halls:
                used[r.tenant][h] += c
                guaranteed[r.tenant][h] += 0 if r.borrowed else c
        for job, borrowed, placement in d.starts:
            t = v.queued[job].tenant
            assert len({h for h, _, _ in placement}) == 1  # one flavor
            for h, _, c in placement:
                assert h in q.cqs[t].flavors
                used[t][h] += c
                guaranteed[t][h] += 0 if borrowed else c
        for c in range(n_c):
            for h in range(n_h):
                nominal = q.nominal[c][h]
                assert guaranteed[c][h] <= nominal  # non-borrowed usage within nominal
                b = q.borrow_limit[c][h]
                if b is not None:
                    assert used[c][h] <= nominal + b
        for h in range(n_h):
            cohort = sum(max(0, used[c][h] - q.guaranteed[c][h]) for c in range(n_c))
            assert cohort <= q.cohort_quota[h]
            assert sum(used[c][h] for c in range(n_c)) <= q.hall_gpus[h]
        assert d.cap_fraction == 1.0
        CheckingKueue.checked += 1
        CheckingKueue.last = q
        return d


job_st = st.tuples(
    st.sampled_from(["anchor", "nat", "reg", "someone-else"]),
    st.integers(0, 3000),  # submit
    st.integers(1, 2000),  # runtime
    st.integers(1, 40),  # GPUs
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    jobs_spec=st.lists(job_st, min_size=1, max_size=40),
    quota=st.integers(0, 40),
    reg_borrow=st.one_of(st.none(), st.integers(0, 40)),
    confine=st.booleans(),
)
def test_quota_invariants_on_every_decision(monkeypatch, jobs_spec, quota, reg_borrow, confine):
    monkeypatch.setattr(tenancy_sim, "get_pool_policy", lambda name: CheckingKueue())
    before = CheckingKueue.checked
    jobs, res = _run(jobs_spec, _tenancy(quota, reg_borrow, confine))
    assert CheckingKueue.checked > before
    # Every job ran to completion, except those no flavor of its CQ could ever hold (Kueue
    # leaves them inadmissible: pending) and those beyond its halls (the engine rejects).
    q = CheckingKueue.last
    assert q is not None
    tenant = np.asarray(tenant_indices(jobs, _tenancy(quota, reg_borrow, confine))[0])
    never = np.asarray(jobs.gpus) > np.asarray(q.max_gpus)[tenant]
    assert np.all(res.state[~never] == COMPLETED)
    assert np.all((res.state[never] == PENDING) | (res.state[never] == REJECTED))
