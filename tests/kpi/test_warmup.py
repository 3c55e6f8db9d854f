"""The warm-up (``warmup_days``): every KPI of summary.json leaves it out, the Parquet files
keep every row and flag it (``in_warmup``), and the report marks it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from narvik.kpi.report import load_run, render_html, scheduling_sections
from narvik.kpi.run_outputs import run_summary, write_run
from narvik.kpi.warmup import kpi_view
from narvik.scenario import ScenarioError, load_scenario, run_scenario
from narvik.units import J_PER_MWH, SECONDS_PER_DAY, SECONDS_PER_HOUR

DAYS = 4
WARMUP_S = 1 * SECONDS_PER_DAY


def _run(folder: Path, **overrides: object) -> dict:
    spec = load_scenario().with_overrides(days=DAYS, **overrides)
    write_run(run_scenario(spec), folder)
    return {
        "dir": folder,
        "summary": json.loads((folder / "summary.json").read_text()),
        "jobs": pq.read_table(folder / "jobs.parquet").to_pydict(),
        "ts": pq.read_table(folder / "timeseries.parquet").to_pydict(),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The default scenario over 4 days with a warm-up of 1 day and without; the flat pool
    (flat:64, easy) likewise."""
    base = tmp_path_factory.mktemp("warmup")
    return {
        "warm": _run(base / "warm", warmup_days=1),
        "cold": _run(base / "cold", warmup_days=0),
        "flat_warm": _run(base / "flat-warm", warmup_days=1, site="flat:64", policy="easy"),
        "flat_cold": _run(base / "flat-cold", warmup_days=0, site="flat:64", policy="easy"),
    }


def _arrays(table: dict) -> dict[str, np.ndarray]:
    """Columns as arrays, nulls as NaN."""
    return {k: np.array([np.nan if x is None else x for x in v]) for k, v in table.items()}


def test_summary_names_the_warmup(runs):
    assert runs["warm"]["summary"]["warmup_days"] == 1
    assert runs["warm"]["summary"]["warmup_s"] == WARMUP_S
    assert runs["cold"]["summary"]["warmup_days"] == 0
    assert runs["cold"]["summary"]["warmup_s"] == 0


def test_kpis_differ_where_they_should(runs):
    warm, cold = runs["warm"]["summary"], runs["cold"]["summary"]
    # the same simulation ...
    assert runs["warm"]["ts"]["gpus_busy"] == runs["cold"]["ts"]["gpus_busy"]
    assert runs["warm"]["jobs"]["start_s"] == runs["cold"]["jobs"]["start_s"]
    # ... counted over less: jobs, time, energy
    assert sum(warm["jobs"].values()) < sum(cold["jobs"].values())
    assert warm["hours"] == cold["hours"] - 24 == (DAYS - 1) * 24
    for key in ("gpu_hours", "it_energy_mwh", "facility_energy_mwh", "co2_t", "energy_cost_eur"):
        assert warm[key] < cold[key], key
    for key in ("utilization", "pue", "erf", "wue_l_per_kwh"):
        assert warm[key] != pytest.approx(cold[key], rel=1e-9), key
    # the fleet fills up in the warm-up: the rest of the run is busier
    assert warm["utilization"] > cold["utilization"]
    assert warm["makespan_s"] == cold["makespan_s"] - WARMUP_S
    assert warm["power_cap_mw"] == cold["power_cap_mw"]
    assert warm["placement"]["jobs_placed"] < cold["placement"]["jobs_placed"]
    t_warm, t_cold = warm["tenancy"], cold["tenancy"]
    assert t_warm["power"]["passes"] < t_cold["power"]["passes"]
    for tenant, row in t_warm["guarantee_hours"].items():
        assert row["hours"] == t_cold["guarantee_hours"][tenant]["hours"] - 24
    ledger_warm = sum(r["gpu_hours"] for r in t_warm["ledger"])
    assert ledger_warm == pytest.approx(warm["gpu_hours"], rel=1e-9)
    energy_warm = sum(r["energy_mwh"] for r in t_warm["ledger"])
    assert energy_warm == pytest.approx(warm["facility_energy_mwh"], rel=1e-9)


def test_utilisation_and_energy_by_hand_from_the_time_series(runs):
    ts, summary = _arrays(runs["warm"]["ts"]), runs["warm"]["summary"]
    width = np.diff(np.append(ts["t_s"], summary["span_s"]))
    after = ~ts["in_warmup"]
    busy_h = float(np.sum(ts["gpus_busy"][after] * width[after])) / SECONDS_PER_HOUR
    online_h = float(np.sum(ts["gpus_total"][after] * width[after])) / SECONDS_PER_HOUR
    assert summary["gpu_hours"] == pytest.approx(busy_h, rel=1e-9)
    assert summary["utilization"] == pytest.approx(busy_h / online_h, rel=1e-9)
    it_mwh = float(np.sum(ts["it_power_w"][after] * width[after])) / J_PER_MWH
    facility_mwh = float(np.sum(ts["facility_power_w"][after] * width[after])) / J_PER_MWH
    assert summary["it_energy_mwh"] == pytest.approx(it_mwh, rel=1e-9)
    assert summary["pue"] == pytest.approx(facility_mwh / it_mwh, rel=1e-9)
    peak = float(ts["facility_power_w"][after].max()) / 1e6
    assert summary["peak_facility_power_mw"] == pytest.approx(peak, rel=1e-12)
    over = ts["facility_power_w"][after] > ts["power_cap_w"][after]
    assert summary["hours_over_cap"] == float(over.sum())


def test_job_kpis_count_the_jobs_submitted_after_the_warmup(runs):
    jobs, summary = _arrays(runs["warm"]["jobs"]), runs["warm"]["summary"]
    after = jobs["submit_s"] >= WARMUP_S
    assert sum(summary["jobs"].values()) == int(after.sum())
    for state, n in summary["jobs"].items():
        assert n == int(np.sum(after & (jobs["state"] == state))), state
    started = after & ~np.isnan(jobs["start_s"])
    wait = jobs["start_s"][started] - jobs["submit_s"][started]
    assert summary["wait_s"]["mean"] == pytest.approx(float(wait.mean()), abs=5e-4)  # ms
    by_tier = summary["tenancy"]["wait_slo_by_tier"]
    assert sum(row["jobs"] for row in by_tier.values()) == int(after.sum())
    assert summary["preemptions_total"] == int(jobs["preemptions"][after].sum())
    placed = after & ~np.isnan(jobs["nvlink_domains"])
    assert summary["placement"]["jobs_placed"] == int(placed.sum())


def test_in_warmup_columns_flag_rows_and_keep_them_all(runs):
    warm, cold = runs["warm"], runs["cold"]
    jobs, ts = _arrays(warm["jobs"]), _arrays(warm["ts"])
    np.testing.assert_array_equal(jobs["in_warmup"], jobs["submit_s"] < WARMUP_S)
    np.testing.assert_array_equal(ts["in_warmup"], ts["t_s"] < WARMUP_S)
    assert int(ts["in_warmup"].sum()) == 24
    assert 0 < int(jobs["in_warmup"].sum()) < len(jobs["submit_s"])
    assert len(warm["jobs"]["job_id"]) == len(cold["jobs"]["job_id"])
    assert len(warm["ts"]["t_s"]) == len(cold["ts"]["t_s"]) == DAYS * 24
    assert not any(cold["jobs"]["in_warmup"]) and not any(cold["ts"]["in_warmup"])


def test_warmup_not_shorter_than_the_span_is_an_error():
    spec = load_scenario()
    for bad in (DAYS, DAYS + 1):
        with pytest.raises(ScenarioError, match="warmup_days"):
            spec.with_overrides(days=DAYS, warmup_days=bad)
    with pytest.raises(ScenarioError, match="warmup_days"):
        spec.with_overrides(days=DAYS, warmup_days=-1)
    # the default span of generated work is a year
    with pytest.raises(ScenarioError, match="warmup_days"):
        spec.with_overrides(warmup_days=365)
    assert spec.with_overrides(warmup_days=364).warmup_days == 364


def test_flat_pool_honours_the_warmup(runs):
    warm, cold = runs["flat_warm"], runs["flat_cold"]
    summary, jobs, ts = warm["summary"], _arrays(warm["jobs"]), _arrays(warm["ts"])
    assert summary["site"] == "flat:64" and summary["warmup_s"] == WARMUP_S
    after = jobs["submit_s"] >= WARMUP_S
    assert sum(summary["jobs"].values()) == int(after.sum())
    assert sum(summary["jobs"].values()) < sum(cold["summary"]["jobs"].values())
    started = after & ~np.isnan(jobs["start_s"])
    wait = jobs["start_s"][started] - jobs["submit_s"][started]
    assert summary["wait_s"]["mean"] == pytest.approx(float(wait.mean()), abs=5e-4)  # ms
    # GPU-hours of every job from the warm-up's end on, over the fleet from then to the end
    ran = ~np.isnan(jobs["start_s"])
    end = np.where(np.isnan(jobs["end_s"]), summary["span_s"], jobs["end_s"])
    busy_s = np.clip(end[ran] - np.maximum(jobs["start_s"][ran], WARMUP_S), 0.0, None)
    gpu_hours = float(np.sum(busy_s * jobs["gpus"][ran])) / SECONDS_PER_HOUR
    assert summary["gpu_hours"] == pytest.approx(gpu_hours, rel=1e-9)
    assert summary["makespan_s"] == pytest.approx(float(end[ran].max()) - WARMUP_S)
    util = gpu_hours / (64 * summary["makespan_s"] / SECONDS_PER_HOUR)
    assert summary["utilization"] == pytest.approx(util, rel=1e-9)
    assert summary["utilization"] != pytest.approx(cold["summary"]["utilization"], rel=1e-6)
    np.testing.assert_array_equal(ts["in_warmup"], ts["t_s"] < WARMUP_S)
    np.testing.assert_array_equal(jobs["in_warmup"], ~after)


def test_a_whole_replay_shorter_than_its_warmup_is_an_error(tmp_path):
    # A trace replayed whole has no span to check beforehand: the KPIs refuse it.
    trace = tmp_path / "t.swf"
    trace.write_text("1 0 0 3600 2 -1 -1 2 3600 -1 1 7 1 1 1 -1 -1 -1\n")
    spec = load_scenario().with_overrides(
        site="flat:4", policy="easy", trace=str(trace), warmup_days=1
    )
    results = run_scenario(spec)
    for kpis in (kpi_view, run_summary):
        with pytest.raises(ValueError, match="warmup_days"):
            kpis(results)


def test_report_marks_the_warmup(runs):
    warm, cold = load_run(runs["warm"]["dir"]), load_run(runs["cold"]["dir"])
    util = scheduling_sections(warm)[0].figure
    (band,) = util.layout.shapes
    assert (band.x0, band.x1) == ("2027-01-01 00:00:00", "2027-01-02 00:00:00")
    assert not scheduling_sections(cold)[0].figure.layout.shapes
    html_warm, html_cold = render_html(warm), render_html(cold)
    assert "1.00 days, excluded from the KPIs" in html_warm
    assert "after its warm-up" in html_warm
    assert "excluded from the KPIs" not in html_cold
    flat = load_run(runs["flat_warm"]["dir"])
    (band,) = scheduling_sections(flat)[0].figure.layout.shapes
    assert (band.x0, band.x1) == (0.0, 1.0)
