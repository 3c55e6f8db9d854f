from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narvik.scenario import ScenarioError, load_scenario, run_scenario, scenario_names
from narvik.sim.site_run import busy_gpu_seconds
from narvik.workload.job import JobTable

SMALL_SITE = Path(__file__).resolve().parent / "data" / "small-site.toml"


def test_shipped_default_scenario():
    assert "stargate-norway" in scenario_names()
    spec = load_scenario()
    assert spec.site == "stargate-norway" and spec.span_s == 365 * 86400
    assert spec.policy == "narvik" and spec.tenancy is not None
    assert spec.workload.kind == "synthetic"


def test_overrides_and_trace_replays_whole():
    spec = load_scenario().with_overrides(policy="fcfs", seed=7, trace="x.swf")
    assert spec.policy == "fcfs" and spec.seed == 7
    assert spec.workload.kind == "trace" and spec.span_s is None
    assert load_scenario().with_overrides(trace="x.swf", days=2).span_s == 2 * 86400


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "x"\npolicy = "lottery"\n', "policy: unknown policy 'lottery'"),
        ('name = "x"\ndays = -1\n', "days"),
        ('name = "x"\n[workload]\nkind = "trace"\n', "trace: a trace workload needs"),
        ('name = "x"\nsed = 3\n', "sed: Extra inputs"),
        ('name = "x"\nseed = "abc"\n', "seed"),
    ],
)
def test_bad_scenario_names_file_and_field(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_bad_override():
    with pytest.raises(ScenarioError, match="options: policy"):
        load_scenario().with_overrides(policy="nope")


def test_busy_gpu_seconds_hand_calculation():
    # Job A: 2 GPUs from 0 to 90 s; job B: 4 GPUs from 30 s, still running. Steps of 60 s.
    start = np.array([0.0, 30.0])
    end = np.array([90.0, np.nan])
    gpus = np.array([2, 4])
    got = busy_gpu_seconds(start, end, gpus, np.array([0.0, 60.0, 120.0]))
    # [0,60): 2*60 + 4*30 = 240; [60,120): 2*30 + 4*60 = 300.
    np.testing.assert_allclose(got, [240.0, 300.0])


def _small_trace(tmp_path, jobs):
    lines = [";MaxProcs: 64"]
    for i, (submit, run, procs, req) in enumerate(jobs, start=1):
        lines.append(
            f"{i} {submit} 0 {run} {procs} -1 -1 {procs} {req} -1 1 {i % 3} 1 1 1 -1 -1 -1"
        )
    path = tmp_path / "t.swf"
    path.write_text("\n".join(lines) + "\n")
    return path


job_lists = st.lists(
    st.tuples(
        st.integers(0, 20_000), st.integers(1, 20_000), st.integers(1, 70), st.integers(-1, 30_000)
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(jobs=job_lists, policy=st.sampled_from(["fcfs", "easy"]), days=st.sampled_from([None, 0.2]))
def test_site_run_invariants(tmp_path, jobs, policy, days):
    jobs = sorted(jobs, key=lambda j: j[0])
    trace = _small_trace(tmp_path, jobs)
    spec = load_scenario().with_overrides(
        site=str(SMALL_SITE), trace=str(trace), policy=policy, days=days
    )
    r = run_scenario(spec)
    s, j, steps = r.schedule, r.jobs, r.steps
    assert steps is not None and steps.gpus_total == 64
    started = ~np.isnan(s.start_s)
    # Nothing starts before it is submitted; a job runs exactly its runtime.
    assert np.all(s.start_s[started] >= j.submit_s[started])
    ended = ~np.isnan(s.end_s)
    np.testing.assert_allclose(s.end_s[ended] - s.start_s[ended], j.runtime_s[ended])
    # One final state each; oversize jobs (> 64 GPUs) rejected.
    names = s.state_names()
    assert set(names) <= {"completed", "running", "pending", "rejected"}
    assert np.all((names == "rejected") == (j.gpus > 64))
    # Never more GPUs busy than exist, in any step and at any event instant.
    assert np.all(steps.gpus_busy <= 64 + 1e-9) and np.all(s.gpus_busy <= 64)
    # GPU-hours in the job table equal the integral of busy GPUs over the steps.
    end_capped = np.where(np.isnan(s.end_s), r.span_s, s.end_s)
    gpu_s = np.sum(np.where(started, j.gpus * (np.minimum(end_capped, r.span_s) - s.start_s), 0))
    widths = np.diff(np.append(steps.t_s, r.span_s))
    assert np.sum(steps.gpus_busy * widths) == pytest.approx(gpu_s, rel=1e-9, abs=1e-6)
    # Every started job was placed on at least the minimum number of 8-GPU domains.
    doms = np.asarray(r.nvlink_domains)
    assert np.all(doms[started] >= -(-j.gpus[started] // 8))
    assert np.all(doms[~started] == 0)
    # Physics: facility power above IT power, IT power rises with busy GPUs.
    f = steps.facility
    assert np.all(f.facility_power_w > f.it_power_w)
    order = np.argsort(steps.gpus_busy)
    assert np.all(np.diff(f.it_power_w[order]) >= -1e-6)


def test_site_run_uses_the_synthetic_workload_by_default():
    spec = load_scenario().with_overrides(site=str(SMALL_SITE), days=1, policy="easy")
    spec = spec.model_copy(
        update={"workload": spec.workload.model_copy(update={"research_jobs_per_year": 20_000})}
    )
    r = run_scenario(spec)
    assert isinstance(r.jobs, JobTable) and len(r.jobs) > 10
    assert r.steps is not None and r.steps.t_s.shape == (24,)
    assert set(r.steps.gpus_busy_by_tier) == set(r.jobs.tier.tolist())


def test_quotas_above_the_fleet_are_refused():
    spec = load_scenario().with_overrides(site=str(SMALL_SITE), days=1)
    with pytest.raises(ScenarioError, match="tenancy.tenants: quotas from 2027-01-01 add up to"):
        run_scenario(spec)


def test_unknown_reservation_tenant(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "x"\npolicy = "easy"\n[[reservations]]\ntenant = "ghost"\ngpus = 2\n'
        "start = 2027-01-02T00:00:00\nend = 2027-01-03T00:00:00\n"
    )
    with pytest.raises(ScenarioError, match="reservations.0.tenant: unknown tenant 'ghost'"):
        load_scenario(path)


SHIPPED = Path(__file__).resolve().parents[1] / "src/narvik/scenarios/stargate-norway.toml"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('jurisdiction = "GB"', 'jurisdiction = "XX"', "jurisdiction: unknown jurisdiction 'XX'"),
        (
            "{ start = 2027-04-01, gpus = 55000 }",
            "{ start = 2026-04-01, gpus = 55000 }",
            "tenancy.tenants.0.quota.1.start: the ramp goes back in time",
        ),
        (
            'tier = "regional"\njurisdiction = "GB"',
            'tier = "regional"\njurisdiction = "GB"\nquota = [{ start = 2027-01-01, gpus = 8 }]',
            "quota: tier 'regional' may only borrow surplus",
        ),
        ('tier = "anchor"', 'tier = "platinum"', "tenancy.tenants.0.tier: unknown tier 'platinum'"),
    ],
)
def test_bad_tenancy_files_name_file_and_field(tmp_path, old, new, field):
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "bad-tenancy.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert field in str(info.value)


def test_quota_above_the_fleet_from_a_file_names_the_field(tmp_path):
    text = SHIPPED.read_text().replace("gpus = 65000", "gpus = 95000")
    path = tmp_path / "too-big.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match="tenancy.tenants: quotas from 2027-10-01 add up to"):
        run_scenario(load_scenario(path).with_overrides(days=1))
