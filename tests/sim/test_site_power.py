"""What a run records is what the engine decided: power caps, curtailments and build-out."""

import datetime as dt
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from narvik.kpi.run_outputs import write_run
from narvik.scenario import load_scenario, run_scenario
from narvik.workload.tenancy import Curtailment


@pytest.fixture(scope="module")
def summer_run(tmp_path_factory):
    """Three July weeks of the default scenario with a 100 MW curtailment on day 20."""
    start = dt.datetime(2027, 7, 20, 12)
    spec = load_scenario().with_overrides(days=21)
    spec = spec.model_copy(
        update={
            "start_date": dt.date(2027, 7, 1),
            "reservations": (),
            "events": (Curtailment(start=start, end=start + dt.timedelta(hours=8), shed_mw=100),),
        }
    )
    out = tmp_path_factory.mktemp("summer") / "run"
    results = run_scenario(spec)
    write_run(results, out)
    return results, out


def test_timeseries_stays_under_the_curtailed_cap(summer_run):
    results, out = summer_run
    table = pq.read_table(out / "timeseries.parquet")
    ts = type("Cols", (), {c: table.column(c).to_numpy() for c in table.column_names})
    summary = json.loads((out / "summary.json").read_text())
    curt = summary["tenancy"]["curtailments"][0]
    t0 = 19 * 86400 + 12 * 3600.0
    deadline = t0 + 900.0
    end = t0 + 8 * 3600.0
    inside = (ts.t_s >= deadline) & (ts.t_s + 3600.0 <= end)
    assert inside.sum() == 7  # whole hours after the 15-minute deadline
    # The cap column shows the lowered cap: 230 MW less 100 MW.
    np.testing.assert_allclose(ts.power_cap_w[inside], 130e6)
    assert np.all(ts.power_cap_w[ts.t_s + 3600 <= t0] == 230e6)
    # The curtailment binds: the site drew more than 130 MW before it was called ...
    before = (ts.t_s >= t0 - 6 * 3600) & (ts.t_s + 3600 <= t0)
    assert ts.facility_power_w[before].max() > 130e6
    # ... and every step inside the window after the deadline stays under it.
    assert np.all(ts.facility_power_w[inside] <= ts.power_cap_w[inside] * (1 + 1e-9))
    # GPUs were power-capped (or work preempted) to get there, and the series shows it.
    assert ts.gpu_power_cap_fraction[inside].min() < 1.0 or curt["preempted_jobs"] > 0
    # The verdict is computed from the same series.
    assert curt["met"] is True and curt["steps_judged"] == 7
    assert curt["max_excess_mw"] == 0.0


def test_it_power_in_the_series_is_the_engine_power_at_the_cap(summer_run):
    results, _ = summer_run
    s, steps = results.schedule, results.steps
    # Hand check of one step: IT power = idle + mean(busy * cap) * busy_w (the linear model).
    h = int(np.argmin(steps.gpu_cap_fraction))
    in_step = (s.t_s >= steps.t_s[h]) & (s.t_s < steps.t_s[h] + steps.step_s)
    assert in_step.any()
    # Within a step every pass keeps IT power within that hour's budget.
    assert np.all(s.it_power_w[in_step] <= s.it_budget_w[in_step] + 1e-6)


def test_phase_two_comes_online_during_a_long_run(tmp_path):
    """From 2026-06-01 over three years: phase 2 arrives on 2028-06-01. A trace of a few
    jobs; two ask for more GPUs than phase 1 has: they wait for phase 2 and start the
    instant its halls come online (quota, power cap and idle power follow)."""
    arrival = (dt.date(2028, 6, 1) - dt.date(2026, 6, 1)).days * 86400.0
    day = 86400.0
    trace = tmp_path / "jobs.csv"
    rows = [
        ("a", "openai", 4096, 10 * day, 30 * day),
        ("b", "sigma2", 72, 20 * day, 2 * day),
        ("c", "openai", 120_000, 100 * day, 10 * day),  # > 100,224: waits for phase 2
        ("d", "(other)", 100_000, arrival + day, 5 * day),  # beside c: starts at once
        ("e", "(other)", 8, arrival - 5 * day, 1 * day),
    ]
    lines = ["job_id,tenant,gpus,submit_s,runtime_s"]
    lines += [f"{j},{t},{g},{s},{r}" for j, t, g, s, r in sorted(rows, key=lambda x: x[3])]
    trace.write_text("\n".join(lines) + "\n")
    spec = load_scenario().with_overrides(days=3 * 365, trace=str(trace))
    spec = spec.model_copy(
        update={"start_date": dt.date(2026, 6, 1), "reservations": (), "events": ()}
    )
    r = run_scenario(spec)
    steps, s = r.steps, r.schedule
    before, after = steps.t_s < arrival, steps.t_s >= arrival
    assert np.all(steps.gpus_online[before] == 100_224)
    assert np.all(steps.gpus_online[after] == 251_424)
    # The grid cap follows the phase: 230 MW, then 520 MW.
    assert np.all(steps.power_cap_w[before] == 230e6) and np.all(steps.power_cap_w[after] == 520e6)
    ids = list(r.jobs.job_id)
    start = dict(zip(ids, s.start_s, strict=True))
    assert start["c"] == arrival  # waited for the new halls, started as they came online
    assert start["d"] == arrival + day
    assert start["a"] == 10 * day and start["e"] == arrival - 5 * day
    new_halls = [i for i, h in enumerate(r.site.halls) if h.phase == "phase-2"]
    on_new = np.isin(s.seg_hall, new_halls)
    assert on_new.any() and np.all(s.seg_start_s[on_new] >= arrival)
    # Idle power of the new halls is drawn from the day they come online.
    it = steps.facility.it_power_w
    idle_after = it[after & (steps.gpus_busy == 0)]
    idle_before = it[before & (steps.gpus_busy == 0)]
    assert idle_after.min() > 2 * idle_before.max()


def test_gangs_start_on_the_fewest_nvlink_domains(summer_run):
    """Placement is part of the decision: a job of up to 72 GPUs on one NVL72 domain,
    a larger gang on ceil(gpus / 72) domains, or it waits."""
    results, out = summer_run
    jobs = pq.read_table(out / "jobs.parquet")
    gpus = jobs.column("gpus").to_numpy()
    doms = jobs.column("nvlink_domains").to_numpy(zero_copy_only=False)
    started = ~np.isnan(jobs.column("start_s").to_numpy(zero_copy_only=False))
    small, big = started & (gpus <= 72), started & (gpus > 72)
    assert small.sum() > 10_000 and big.sum() > 100
    assert np.all(doms[small] == 1)
    assert np.all(doms[big] == np.ceil(gpus[big] / 72))
    p = json.loads((out / "summary.json").read_text())["placement"]
    assert p["share_small_jobs_on_one_domain"] == 1.0
    assert p["share_gangs_on_fewest_domains"] == 1.0
    assert 0.0 <= p["fragmentation_mean"] <= p["fragmentation_p95"] <= 1.0
