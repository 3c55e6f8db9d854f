"""The ``slurm`` emulation driven by the engine: fair-share decay, requeue after
preemption, and property tests of its limits on small simulated pools."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narvik.engine import HallSpec, NoPowerLimit, Pool, Rules, TenantSpec
from narvik.sched.placement import Topology
from narvik.sched.slurm_config import SlurmParams
from narvik.sched.slurm_policy import SlurmPolicy
from narvik.sched.slurm_priority import SlurmTerms, fair_share_factors
from narvik.sched.view import WaitingJob
from narvik.sim.tenancy_setup import build_setup, tenant_indices
from narvik.sim.tenancy_sim import simulate_tenancy
from narvik.workload.job import JobTable
from narvik.workload.tenancy import Tenancy

HALF_LIFE_S = 1000.0
HALLS = ("A", "B")
HALL_GPUS = (32, 32)


def _pool() -> Pool:
    halls = [HallSpec(n, Topology.uniform(4, 8, 4)) for n in HALLS]
    tenants = [
        TenantSpec("a", 2, ((0.0, 16),), None, True, 1.0, ()),
        TenantSpec("b", 2, ((0.0, 16),), None, True, 1.0, ()),
    ]
    return Pool(halls, tenants, Rules(fair_share_half_life_s=HALF_LIFE_S), NoPowerLimit())


def test_fair_share_decays_with_the_half_life() -> None:
    # Tenant a runs 8 GPUs over [0, 1000); tenant b over [1000, 2000). At 2000 s a's usage
    # has decayed one half-life: 8000 * 1/2 = 4000 GPU-s (accrued over the first pass
    # interval, then halved); b's 8000 is fresh. Shares equal (S = 1/2 each):
    # U_a = 4000 / 12000 = 1/3 -> F_a = 2^(-2/3); U_b = 2/3 -> F_b = 2^(-4/3).
    pool = _pool()
    pol = SlurmPolicy()
    pool.step(0.0, pol, [WaitingJob(1, 0, 8, 1000.0, 1000.0, 0.0)])
    pool.step(1000.0, pol, [WaitingJob(2, 1, 8, 1000.0, 1000.0, 1000.0)])
    pool.step(2000.0, pol, [])
    v = pool.view(2000.0)
    usage = [t.fair_share_key for t in v.tenants]
    assert usage == pytest.approx([4000.0, 8000.0])
    f = fair_share_factors(v.tenants, SlurmTerms(v.tenants, [1.0, 1.0]))
    assert f == pytest.approx([2 ** (-2 / 3), 2 ** (-4 / 3)])
    # Older usage counts less: a now goes before b.
    assert f[0] > f[1]


def _tenancy(quota_a: int, quota_n: int, reg_cap: int) -> Tenancy:
    return Tenancy.model_validate(
        {
            "grace_period_s": 100.0,
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
                    "quota": [{"start": "2027-01-01", "gpus": quota_a}],
                },
                {
                    "name": "nat",
                    "tier": "national",
                    "jurisdiction": "NO",
                    "quota": [{"start": "2027-01-01", "gpus": quota_n}],
                },
                {
                    "name": "reg",
                    "tier": "regional",
                    "jurisdiction": "GB",
                    "max_borrow_gpus": reg_cap,
                },
            ],
        }
    )


NAMES = ("anchor", "nat", "reg")
TIERS = ("anchor", "national", "regional")


def _simulate(spec: list[tuple[int, int, int, int]], quota_a: int, quota_n: int, reg_cap: int):
    """``spec``: (tenant 0 anchor / 1 nat / 2 reg, submit_s, runtime_s, gpus)."""
    spec = sorted(spec, key=lambda j: j[1])
    jobs = JobTable.from_arrays(
        gpus=[j[3] for j in spec],
        submit_s=[float(j[1]) for j in spec],
        runtime_s=[float(j[2]) for j in spec],
        requested_s=[float(j[2]) for j in spec],
        tenant=[NAMES[j[0]] for j in spec],
        tier=[TIERS[j[0]] for j in spec],
    )
    tenancy = _tenancy(quota_a, quota_n, reg_cap)
    index, other = tenant_indices(jobs, tenancy)
    halls = tuple(
        HallSpec(n, Topology.uniform(g // 8, 8, g // 8))
        for n, g in zip(HALLS, HALL_GPUS, strict=True)
    )
    setup = build_setup(
        tenancy=tenancy,
        halls=halls,
        start_date=dt.date(2027, 1, 1),
        hours=200,
        with_other=other,
    )
    return jobs, simulate_tenancy(jobs, index, setup, until_s=None, policy="slurm")


def test_national_job_preempts_regional_work_which_runs_again_later() -> None:
    # Regional fills the pool (64 GPUs, 2000 s); a national job of 8 GPUs arrives at 500 s.
    spec = [(2, 0, 2000, 32), (2, 0, 2000, 32), (1, 500, 300, 8)]
    jobs, res = _simulate(spec, quota_a=8, quota_n=16, reg_cap=64)
    nat = int(np.flatnonzero(np.asarray(jobs.tenant) == "nat")[0])
    # It starts once the grace period (100 s) is over.
    assert res.start_s[nat] == pytest.approx(600.0)
    assert res.preemptions.sum() == 1
    victim = int(np.flatnonzero(res.preemptions)[0])
    # The requeued job runs again later and completes, its checkpointed work kept.
    assert jobs.tenant[victim] == "reg"
    assert math.isfinite(res.end_s[victim]) and res.end_s[victim] > 2000.0
    assert (res.seg_job == victim).sum() == 2


def test_anchor_is_never_preempted_by_regional_work() -> None:
    spec = [(0, 0, 2000, 32), (2, 0, 2000, 32), (2, 10, 100, 8)]
    jobs, res = _simulate(spec, quota_a=64, quota_n=16, reg_cap=64)
    assert res.preemptions.sum() == 0


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

job_st = st.tuples(
    st.integers(0, 2), st.integers(0, 3000), st.integers(1, 2000), st.integers(1, 40)
)


@SETTINGS
@given(
    spec=st.lists(job_st, min_size=1, max_size=40),
    quota_a=st.integers(0, 40),
    quota_n=st.integers(0, 24),
    reg_cap=st.integers(1, 64),
)
def test_limits_and_hall_capacity_hold(
    spec: list[tuple[int, int, int, int]], quota_a: int, quota_n: int, reg_cap: int
) -> None:
    jobs, res = _simulate(spec, quota_a, quota_n, reg_cap)
    limits = {
        "anchor": quota_a if quota_a > 0 else None,
        "nat": quota_n if quota_n > 0 else None,
        "reg": reg_cap,  # the regional QOS has no limit; its account has its borrow cap
    }
    tenant = np.asarray(jobs.tenant)[res.seg_job]
    starts = np.unique(res.seg_start_s)
    for t in starts:
        on = (res.seg_start_s <= t) & (res.seg_end_s > t)
        for name, lim in limits.items():
            if lim is not None:
                assert res.seg_gpus[on & (tenant == name)].sum() <= lim
        for h, cap in enumerate(HALL_GPUS):
            assert res.seg_gpus[on & (res.seg_hall == h)].sum() <= cap
    # Every job that fits its limits ends (nothing starves in a small run).
    assert np.isfinite(
        res.end_s[np.asarray(jobs.gpus) <= np.array([limits[n] or 64 for n in jobs.tenant])]
    ).all()


def test_emulation_is_deterministic() -> None:
    spec = [(i % 3, 37 * i % 900, 50 + 13 * i % 700, 1 + 7 * i % 33) for i in range(40)]
    _, a = _simulate(spec, 24, 16, 48)
    _, b = _simulate(spec, 24, 16, 48)
    assert np.array_equal(a.start_s, b.start_s, equal_nan=True)
    assert np.array_equal(a.preemptions, b.preemptions)


def test_params_reach_the_policy() -> None:
    pol = SlurmPolicy(SlurmParams(bf_max_job_test=3), weights=[2.0])
    assert pol.params.bf_max_job_test == 3
    assert pol.weights == (2.0,)
