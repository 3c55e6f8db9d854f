"""The HTML report of a run and its figures, on small synthetic run folders."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from plotly.offline import get_plotlyjs

from narvik.kpi import plots
from narvik.kpi.report import (
    JOBS_FILE,
    REPORT_FILE,
    SUMMARY_FILE,
    TIMESERIES_FILE,
    facility_sections,
    load_run,
    render_report,
    scheduling_sections,
)

HOUR = 3600.0
TIERS = ["anchor", "research"]
OFFTAKERS = [("district-heating", "district_heating", 75.0), ("fish-farm", "aquaculture", 30.0)]
UNIT = re.compile(r"\([^)]+\)|\[[^\]]+\]")


def _jobs_table(n: int, span_s: float, seed: int, physical: bool) -> pa.Table:
    rng = np.random.default_rng(seed)
    submit = np.sort(rng.uniform(0, span_s * 0.8, n))
    wait = rng.exponential(2 * HOUR, n) * (rng.random(n) < 0.7)
    runtime = rng.uniform(0.5 * HOUR, 6 * HOUR, n)
    start = submit + wait
    end = start + runtime
    state = np.where(end <= span_s, "completed", "running")
    pending = rng.random(n) < 0.1
    start[pending] = np.nan
    end[pending] = np.nan
    state[pending] = "pending"
    end[state == "running"] = np.nan
    cols: dict[str, pa.Array] = {
        "job_id": pa.array([str(i + 1) for i in range(n)], pa.string()),
        "tenant": pa.array([f"tenant-{i % 3}" for i in range(n)], pa.string()),
        "tier": pa.array([TIERS[i % 2] for i in range(n)], pa.string()),
        "gpus": pa.array(rng.choice([8, 16, 72, 144], n), pa.int64()),
        "submit_s": pa.array(submit, pa.float64()),
        "start_s": pa.array(start, pa.float64(), mask=np.isnan(start)),
        "end_s": pa.array(end, pa.float64(), mask=np.isnan(end)),
        "runtime_s": pa.array(runtime, pa.float64()),
        "requested_s": pa.array(runtime * 1.5, pa.float64()),
        "state": pa.array(state.tolist(), pa.string()),
        "preemptions": pa.array(np.zeros(n, np.int64), pa.int64()),
    }
    if physical:
        cols["nvlink_domains"] = pa.array(np.ones(n, np.int64), pa.int64())
        cols["network_blocks"] = pa.array(np.ones(n, np.int64), pa.int64())
    return pa.table(cols)


def _summary(site: str, n_gpus: int, span_s: float, start_date: str | None) -> dict[str, Any]:
    stats = {"mean": 3600.0, "p50": 600.0, "p95": 14400.0}
    return {
        "site": site,
        "policy": "easy",
        "n_gpus": n_gpus,
        "seed": 7,
        "span_s": span_s,
        "start_date": start_date,
        "jobs": {"completed": 100, "running": 10, "pending": 5, "cancelled": 0, "rejected": 1},
        "gpu_hours": 123456.0,
        "utilization": 0.8123,
        "wait_s": {**stats, "by_tier": {"anchor": stats, "research": {**stats, "p95": None}}},
        "bounded_slowdown_mean": 2.5,
        "tiers": TIERS,
    }


def make_physical_run(run_dir: Path, steps: int = 48, n_gpus: int = 4608) -> Path:
    """A physical site run: 2 tiers, 2 offtakers, ``steps`` hourly steps from 1 July 2027."""
    run_dir.mkdir(parents=True, exist_ok=True)
    span_s = steps * HOUR
    t = np.arange(steps) * HOUR
    hour = np.arange(steps) % 24
    ambient = 12.0 + 8.0 * np.sin((hour - 9) / 24 * 2 * np.pi)
    busy_a = 2500 + 800 * np.sin(t / 40000.0) ** 2
    busy_r = 900 + 300 * np.cos(t / 30000.0) ** 2
    busy = busy_a + busy_r
    it_w = 50e6 + busy * 1200.0
    pue = 1.08 + 0.004 * np.clip(ambient - 10, 0, None)
    facility_w = it_w * pue
    cols: dict[str, Any] = {
        "t_s": t,
        "gpus_busy": busy,
        "gpus_busy[anchor]": busy_a,
        "gpus_busy[research]": busy_r,
        "gpus_total": np.full(steps, n_gpus, np.int64),
        "queued_jobs": (hour * 3).astype(np.int64),
        "it_power_w": it_w,
        "facility_power_w": facility_w,
        "power_cap_w": np.full(steps, 230e6),
        "ambient_c": ambient,
        "pue": pue,
        "chiller_power_w": np.clip(ambient - 18, 0, None) * 1e5,
        "heat_reused_w": np.zeros(steps),
    }
    total_reused = np.zeros(steps)
    for i, (name, _kind, _temp) in enumerate(OFFTAKERS):
        demand = (20e6 - 8e6 * i) * (1.2 - 0.4 * np.sin(hour / 24 * 2 * np.pi))
        delivered = np.minimum(demand, 18e6 - 8e6 * i)
        cols[f"heat_demand_w[{name}]"] = demand
        cols[f"heat_delivered_w[{name}]"] = delivered
        total_reused += delivered
    cols["heat_reused_w"] = total_reused
    pq.write_table(pa.table(cols), run_dir / TIMESERIES_FILE)
    pq.write_table(_jobs_table(300, span_s, 1, physical=True), run_dir / JOBS_FILE)
    summary = _summary("stargate-norway", n_gpus, span_s, "2027-07-01")
    summary.update(
        {
            "it_energy_mwh": 5000.0,
            "facility_energy_mwh": 5600.0,
            "pue": 1.12,
            "ref": 1.0,
            "erf": 0.21,
            "cue_kg_per_kwh": 0.011,
            "wue_l_per_kwh": 0.02,
            "heat_reused_mwh": 1100.0,
            "peak_facility_power_mw": 60.2,
            "power_cap_mw": 230.0,
            "free_cooling_hours": 40,
            "offtakers": [
                {
                    "name": n,
                    "kind": k,
                    "supply_temp_c": temp,
                    "demand_mwh": 900.0,
                    "delivered_mwh": 700.0,
                }
                for n, k, temp in OFFTAKERS
            ],
        }
    )
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return run_dir


def make_flat_run(run_dir: Path, n_gpus: int = 512) -> Path:
    """A flat pool run: one time-series row per event instant, no physics."""
    run_dir.mkdir(parents=True, exist_ok=True)
    span_s = 3 * 24 * HOUR
    jobs = _jobs_table(200, span_s, 2, physical=False)
    start = jobs.column("start_s").to_numpy(zero_copy_only=False)
    end = jobs.column("end_s").to_numpy(zero_copy_only=False)
    busy = plots.busy_gpus_series(start, end, jobs.column("gpus").to_numpy())
    n = busy.t_s.size
    ts = pa.table(
        {
            "t_s": pa.array(busy.t_s, pa.float64()),
            "gpus_busy": pa.array(busy.value.astype(np.int64), pa.int64()),
            "it_power_w": pa.array(np.zeros(n)),
            "facility_power_w": pa.array(np.zeros(n)),
            "ambient_c": pa.array(np.full(n, np.nan)),
            "heat_reused_w": pa.array(np.zeros(n)),
        }
    )
    pq.write_table(ts, run_dir / TIMESERIES_FILE)
    pq.write_table(jobs, run_dir / JOBS_FILE)
    summary = _summary(f"flat:{n_gpus}", n_gpus, span_s, None)
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return run_dir


@pytest.fixture
def physical_run(tmp_path: Path) -> Path:
    return make_physical_run(tmp_path / "physical")


@pytest.fixture
def flat_run(tmp_path: Path) -> Path:
    return make_flat_run(tmp_path / "flat")


def _all_figures(physical_run: Path, flat_run: Path) -> dict[str, go.Figure]:
    phys = load_run(physical_run)
    flat = load_run(flat_run)
    figs = {f"physical/{s.div_id}": s.figure for s in scheduling_sections(phys)}
    figs.update({f"physical/{s.div_id}": s.figure for s in facility_sections(phys)})
    figs.update({f"flat/{s.div_id}": s.figure for s in scheduling_sections(flat)})
    figs["kpi-table"] = plots.kpi_table_figure(phys.summary)
    return figs


def _axis_titles(fig: go.Figure) -> list[str | None]:
    """The titles of the cartesian axes the figure's traces use."""
    titles = []
    for axis in ("x", "y"):
        refs = {getattr(tr, f"{axis}axis", None) or axis for tr in fig.data if tr.type != "table"}
        for ref in sorted(refs):
            layout_axis = fig.layout[ref.replace(axis, f"{axis}axis", 1)]
            titles.append(layout_axis.title.text)
    return titles


# --------------------------------------------------------------------------- figures


def test_every_figure_has_title_axis_units_legend_and_named_traces(physical_run, flat_run):
    figs = _all_figures(physical_run, flat_run)
    assert len(figs) == 8
    for key, fig in figs.items():
        assert fig.layout.title.text, key
        assert fig.layout.showlegend is True, key
        assert fig.data, key
        for trace in fig.data:
            assert trace.name, (key, trace.type)
        for title in _axis_titles(fig):
            assert title and UNIT.search(title), (key, title)


def test_physical_figures_show_tiers_offtakers_cap_and_seasons(physical_run):
    run = load_run(physical_run)
    util, waits = (s.figure for s in scheduling_sections(run))
    power, pue, heat = (s.figure for s in facility_sections(run))
    assert [tr.name for tr in util.data] == ["anchor", "research", "All tiers"]
    # 48 hourly steps stay hourly; the stack equals the recorded total
    assert len(util.data[0].y) == 48
    np.testing.assert_allclose(util.data[0].y + util.data[1].y, util.data[2].y)
    assert [tr.name.split(" ")[0] for tr in waits.data] == TIERS
    assert any(tr.name == "Grid cap" for tr in power.data)
    cap = next(tr for tr in power.data if tr.name == "Grid cap")
    np.testing.assert_allclose(cap.y, 230.0)
    assert pue.data[0].name.startswith("Summer")  # July
    names = [tr.name for tr in heat.data]
    assert names == [f"{n}: {k}" for n, *_ in OFFTAKERS for k in ("demand", "delivered")]
    assert list(heat.data[0].x) == ["2027-07-01", "2027-07-02"]
    for demand, delivered in zip(heat.data[0::2], heat.data[1::2], strict=True):
        assert np.all(np.asarray(delivered.y) <= np.asarray(demand.y) + 1e-9)


def test_flat_utilisation_from_jobs_matches_the_recorded_total(flat_run):
    util = scheduling_sections(load_run(flat_run))[0].figure
    *tiers, total = util.data
    assert [tr.name for tr in tiers] == TIERS and total.name == "All tiers"
    np.testing.assert_allclose(sum(np.asarray(tr.y) for tr in tiers), total.y, atol=1e-9)
    assert util.layout.xaxis.title.text == "Time since start (days)"


def test_bin_mean_is_exact_for_step_series():
    s = plots.StepSeries.of([0.0, 10.0, 30.0], [1.0, 3.0, 0.0])
    np.testing.assert_allclose(plots.bin_mean(s, np.array([0.0, 20.0, 40.0])), [2.0, 1.5])
    np.testing.assert_allclose(plots.bin_max(s, np.array([0.0, 20.0, 40.0])), [3.0, 3.0])


def test_power_of_a_long_run_is_binned_with_its_peaks():
    t = np.arange(3 * 8760) * HOUR
    power = 100e6 + 50e6 * (np.arange(t.size) % 24 == 12)
    fig = plots.power_figure(
        plots.StepSeries.of(t, power), plots.StepSeries.of(t, np.full(t.size, 230e6)), t.size * HOUR
    )
    mean, peak = (next(tr for tr in fig.data if word in tr.name) for word in ("mean", "peak"))
    assert len(peak.y) <= plots.MAX_POWER_POINTS
    assert np.max(mean.y) < 150.0  # averaged away in the mean ...
    assert np.sum(np.isclose(peak.y, 150.0)) == 3 * 365  # ... but not in the peak line


def test_wait_figure_stays_small_for_many_jobs():
    waits = np.random.default_rng(0).exponential(3600.0, 500_000)
    fig = plots.wait_figure({"anchor": waits})
    assert len(fig.data[0].x) <= plots.MAX_ECDF_POINTS
    assert fig.data[0].y[-1] == pytest.approx(100.0)
    assert fig.layout.xaxis.type == "log"


def test_kpi_rows_have_units_and_dash_for_missing():
    rows = plots.kpi_rows({"site": "flat:8", "n_gpus": 8, "jobs": {}, "utilization": 0.5})
    assert all(r.unit for r in rows)
    util = next(r for r in rows if r.label == "Utilisation")
    assert (util.value, util.unit) == ("50.0", "% of fleet")
    assert next(r for r in rows if r.label == "GPU hours").value == "–"


# --------------------------------------------------------------------------- report


def _outside_scripts(text: str) -> str:
    return re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)


def test_physical_report_is_self_contained_with_every_figure(physical_run):
    path = render_report(physical_run)
    assert path == physical_run / REPORT_FILE
    text = path.read_text(encoding="utf-8")
    assert "<script src=" not in text and "<link" not in text
    # plotly.js carries CDN URLs as string constants (map tiles, topojson) it never fetches
    # for these figures; outside the inlined library there is none.
    assert "https://cdn" not in _outside_scripts(text)
    assert "http" not in _outside_scripts(text)
    # its jobs are all steady (no training gang): the power-quality figure shows the first
    # ten minutes of the run
    assert text.count("Plotly.newPlot(") == 7
    assert len(re.findall(r"<script[^>]*>", text)) == 2 + 7  # config, plotly.js, figures
    for title in (
        "GPU utilisation by tenant tier",
        "Queue wait distribution by tier",
        "Facility power against the grid cap",
        "PUE against ambient temperature",
        "Heat delivered against demand per offtaker",
        "Key performance indicators",
        "Power quality",
        "This run had no training gangs",
    ):
        assert title in text
    for header in ("stargate-norway", "easy", "2027-07-01", "2.00 days", "How to read this"):
        assert header in text
    assert not list(physical_run.glob(".report.html.*"))  # no temporary left behind


def test_flat_report_leaves_out_physics_with_a_note(flat_run):
    text = render_report(flat_run).read_text(encoding="utf-8")
    assert "GPU utilisation by tenant tier" in text
    assert "Queue wait distribution by tier" in text
    assert "Facility power against the grid cap" not in text
    assert "without physics" in text
    assert text.count("Plotly.newPlot(") == 2


def test_report_is_deterministic(tmp_path):
    a = render_report(make_physical_run(tmp_path / "a")).read_bytes()
    b = render_report(make_physical_run(tmp_path / "b")).read_bytes()
    again = render_report(tmp_path / "a").read_bytes()
    assert a == b == again


def test_report_of_a_year_stays_small(tmp_path):
    run = make_physical_run(tmp_path / "year", steps=8760)
    size = render_report(run).stat().st_size
    util = scheduling_sections(load_run(run))[0].figure
    assert len(util.data[0].y) == 365  # daily means
    assert size < len(get_plotlyjs()) + 1_000_000  # the data of a year: under 1 MB


@pytest.mark.parametrize("name", [JOBS_FILE, TIMESERIES_FILE, SUMMARY_FILE])
def test_missing_file_is_named(physical_run, name):
    (physical_run / name).unlink()
    with pytest.raises(ValueError, match=re.escape(name)):
        render_report(physical_run)
    assert not (physical_run / REPORT_FILE).exists()


@pytest.mark.parametrize("name", [JOBS_FILE, TIMESERIES_FILE, SUMMARY_FILE])
def test_unreadable_file_is_named(physical_run, name):
    (physical_run / name).write_bytes(b"not a parquet or json file")
    with pytest.raises(ValueError, match=re.escape(name)):
        render_report(physical_run)


def test_missing_column_and_key_are_named(physical_run, flat_run):
    ts = pq.read_table(physical_run / TIMESERIES_FILE).drop_columns(["power_cap_w"])
    pq.write_table(ts, physical_run / TIMESERIES_FILE)
    with pytest.raises(ValueError, match=r"timeseries\.parquet.*power_cap_w"):
        render_report(physical_run)
    summary = json.loads((flat_run / SUMMARY_FILE).read_text())
    del summary["n_gpus"]
    (flat_run / SUMMARY_FILE).write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"summary\.json.*n_gpus"):
        render_report(flat_run)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="nowhere"):
        render_report(tmp_path / "nowhere")


def test_start_date_drives_the_date_axis(physical_run):
    run = load_run(physical_run)
    assert run.start_date == dt.date(2027, 7, 1)
    util = scheduling_sections(run)[0].figure
    assert util.layout.xaxis.title.text == "Date (UTC)"
    assert util.data[0].x0 == "2027-07-01 00:30:00"
