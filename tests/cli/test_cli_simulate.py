"""End-to-end tests of `narvik simulate` and `narvik report`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
SMALL_SITE = Path(__file__).resolve().parents[1] / "data" / "small-site.toml"
SMALL_SCENARIO = Path(__file__).resolve().parents[1] / "data" / "small-scenario.toml"
RUN_FILES = ("summary.json", "jobs.parquet", "timeseries.parquet", "report.html")


def _swf(path: Path, rows: list[tuple[int, int, int, int]]) -> Path:
    """rows: (submit, runtime, procs, requested)."""
    text = ";MaxProcs: 4\n" + "".join(
        f"{i} {s} 0 {r} {p} -1 -1 {p} {q} -1 1 7 1 1 1 -1 -1 -1\n"
        for i, (s, r, p, q) in enumerate(rows, start=1)
    )
    path.write_text(text)
    return path


def test_flat_trace_easy_backfills_by_hand(tmp_path):
    # 4 slots. Job 1: 2 GPUs 0..100. Job 2: 4 GPUs waits for job 1 (shadow time 100).
    # Job 3: 2 GPUs, estimate 50, fits now and ends by the shadow time: EASY backfills it at 1.
    # Job 4: 2 GPUs, estimate 500: would delay job 2, so it waits until job 2 ends (100 + 10).
    trace = _swf(
        tmp_path / "t.swf", [(0, 100, 2, 100), (1, 10, 4, 10), (1, 50, 2, 50), (1, 5, 2, 500)]
    )
    expected = {"easy": [0, 100, 1, 110], "fcfs": [0, 100, 110, 110]}
    for policy, starts in expected.items():
        out = tmp_path / policy
        result = runner.invoke(
            app,
            [
                "simulate",
                "--site",
                "flat:4",
                "--trace",
                str(trace),
                "--policy",
                policy,
                "--out",
                str(out),
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["jobs"]["completed"] == 4
        jobs = pq.read_table(out / "jobs.parquet").to_pydict()
        assert jobs["job_id"] == ["1", "2", "3", "4"]
        assert jobs["start_s"] == starts, policy
        assert jobs["tenant"] == ["user-7"] * 4
        for name in RUN_FILES:
            assert (out / name).is_file()


def test_oversize_job_rejected_on_flat(tmp_path):
    trace = _swf(tmp_path / "t.swf", [(0, 10, 8, 10), (0, 10, 2, 10)])
    result = runner.invoke(
        app,
        [
            "simulate",
            "--site",
            "flat:4",
            "--trace",
            str(trace),
            "--out",
            str(tmp_path / "o"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["jobs"]["rejected"] == 1


def test_bad_trace_line_is_a_clear_error_and_nothing_written(tmp_path):
    trace = tmp_path / "bad.swf"
    trace.write_text("1 0 0 10 2 -1 -1 2 10 -1 1 1 1 1 1 -1 -1 -1\n2 zero 0 10\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["simulate", "--site", "flat:4", "--trace", str(trace), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "bad.swf: line 2" in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".out.*"))


def test_unknown_policy_exit_2(tmp_path):
    result = runner.invoke(app, ["simulate", "--policy", "lottery", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "unknown policy 'lottery'" in result.output


def _run_small(out: Path, seed: int = 3) -> dict:
    args = [
        "simulate",
        "--scenario",
        str(SMALL_SCENARIO),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_physical_site_outputs(tmp_path):
    summary = _run_small(tmp_path / "run")
    for key in (
        "it_energy_mwh",
        "facility_energy_mwh",
        "pue",
        "ref",
        "erf",
        "cue_kg_per_kwh",
        "wue_l_per_kwh",
        "heat_reused_mwh",
        "peak_facility_power_mw",
        "power_cap_mw",
        "gpu_hours",
        "utilization",
        "bounded_slowdown_mean",
    ):
        assert key in summary, key
    for key in ("mean", "p50", "p95", "by_tier"):
        assert key in summary["wait_s"]
    assert set(summary["jobs"]) == {"completed", "running", "pending", "cancelled", "rejected"}
    ts = pq.read_table(tmp_path / "run" / "timeseries.parquet")
    for col in (
        "t_s",
        "gpus_busy",
        "it_power_w",
        "facility_power_w",
        "ambient_c",
        "heat_reused_w",
        "power_cap_w",
        "queued_jobs",
    ):
        assert col in ts.column_names, col
    assert ts.num_rows == 48
    jobs = pq.read_table(tmp_path / "run" / "jobs.parquet")
    assert {"nvlink_domains", "network_blocks"} <= set(jobs.column_names)
    # GPU-hours of the job table equal the integral of busy GPUs in the time series.
    busy = np.asarray(ts["gpus_busy"])
    assert float(busy.sum()) == pytest.approx(summary["gpu_hours"], rel=1e-9)
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<html" in html.lower()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    _run_small(tmp_path / "a")
    _run_small(tmp_path / "b")
    _run_small(tmp_path / "c", seed=4)
    for name in RUN_FILES:
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "jobs.parquet").read_bytes() != (
        tmp_path / "c" / "jobs.parquet"
    ).read_bytes()


def test_report_rerenders_from_files(tmp_path):
    _run_small(tmp_path / "run")
    report = tmp_path / "run" / "report.html"
    before = report.read_bytes()
    report.unlink()
    result = runner.invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert report.read_bytes() == before


def test_default_simulate_writes_a_named_folder_and_refuses_to_overwrite_it(tmp_path):
    env = {**os.environ, "COLUMNS": "120"}
    exe = Path(sys.executable).parent / "narvik"
    args = [str(exe), "simulate", "--site", str(SMALL_SITE), "--days", "1", "--policy", "easy"]
    first = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert second.returncode == 2
    assert "holds a run already" in second.stderr
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["stargate-norway-easy-1d-seed0"]
    assert "wrote runs/stargate-norway-easy-1d-seed0" in first.stdout


def test_skip_bad_counts_malformed_records(tmp_path):
    trace = tmp_path / "bad.swf"
    trace.write_text(
        "1 0 0 10 2 -1 -1 2 10 -1 1 1 1 1 1 -1 -1 -1\n"
        "2 zero 0 10\n"
        "3 5 0 -1 2 -1 -1 2 10 -1 1 1 1 1 1 -1 -1 -1\n"
    )
    result = runner.invoke(
        app,
        [
            "simulate",
            "--site",
            "flat:4",
            "--trace",
            str(trace),
            "--skip-bad",
            "--out",
            str(tmp_path / "o"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["jobs"]["completed"] == 1
    assert sum(summary["trace_skipped"].values()) == 2


def test_finer_physics_step(tmp_path):
    args = [
        "simulate",
        "--site",
        str(SMALL_SITE),
        "--days",
        "1",
        "--step-s",
        "900",
        "--policy",
        "easy",
        "--out",
        str(tmp_path / "o"),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert pq.read_table(tmp_path / "o" / "timeseries.parquet").num_rows == 96


SHARED_TRACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "traces"


@pytest.mark.parametrize(
    ("name", "slots"), [("KTH-SP2-1996-2.1-cln.swf.gz", 100), ("lublin_256.swf.gz", 256)]
)
@pytest.mark.parametrize("policy", ["fcfs", "easy"])
def test_cli_replays_shared_traces_job_for_job(tmp_path, name, slots, policy):
    """The CLI's jobs.parquet equals the canonical replay (itself checked against a reference)."""
    path = SHARED_TRACES / name
    if not path.is_file():
        pytest.skip("../shared absent")
    from narvik.sim.flat import simulate_flat
    from narvik.workload.swf import read_swf

    out = tmp_path / "o"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--site",
            f"flat:{slots}",
            "--trace",
            str(path),
            "--policy",
            policy,
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    trace = read_swf(path)
    expected = simulate_flat(trace.jobs, slots, policy)
    got = pq.read_table(out / "jobs.parquet").to_pydict()
    assert got["job_id"] == trace.jobs.job_id.tolist()
    np.testing.assert_array_equal(np.array(got["start_s"], dtype=float), expected.start_s)
    summary = json.loads(result.stdout)
    assert sum(summary["trace_skipped"].values()) == trace.skipped


def test_narvik_policy_on_a_small_site_reports_tenancy(tmp_path):
    summary = _run_small(tmp_path / "run")
    assert summary["policy"] == "narvik"
    t = summary["tenancy"]
    assert set(t["wait_slo_by_tier"]) >= {"national", "anchor", "regional"}
    assert t["curtailments_met"]["total"] == 1
    assert t["curtailments_met"]["met"] == 1
    assert all(r["honoured"] for r in t["reservations"])
    assert t["power"]["passes_over_budget_outside_deadlines"] == 0
    for g in t["guarantee_hours"].values():
        assert g["hours_met"] == g["hours"]
    months = {row["month"] for row in t["ledger"]}
    assert months == {"2027-01"}
    billed = sum(row["bill_eur"] for row in t["ledger"])
    owners = t["owners"][0]["owners"]
    assert owners["Nscale"]["revenue_eur"] == pytest.approx(billed / 2)
    assert owners["Aker"]["revenue_eur"] == pytest.approx(billed / 2)
    assert set(t["fairness_jain_by_tier"]) >= {"national"}
    assert "preemptions_total" in summary and "gpu_hours_lost_to_preemption" in summary
