"""jobs.parquet, timeseries.parquet and summary.json of a flat replay."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from narvik.sim.flat import simulate_flat
from narvik.sim.recorders import summarize, write_flat_outputs
from narvik.workload.job import JobTable
from narvik.workload.swf import read_swf
from narvik.workload.synthetic_swf import synthetic_jobs, write_synthetic_swf


def small() -> JobTable:
    # N=4: A(0,2,10) B(0,4,5, req 8) C(1,1,1) X(2, 5 GPUs) -> rejected. fcfs: A0 B10 C15.
    return JobTable.from_arrays(
        gpus=[2, 4, 1, 5],
        submit_s=[0, 0, 1, 2],
        runtime_s=[10, 5, 1, 3],
        requested_s=[math.nan, 8, 4, 1],
        tier=["gold", "std", "std", "std"],
    )


def test_summary_by_hand() -> None:
    res = simulate_flat(small(), 4, "fcfs")
    s = summarize(res)
    assert s["jobs"] == {"completed": 3, "running": 0, "pending": 0, "cancelled": 0, "rejected": 1}
    assert s["gpu_hours"] == pytest.approx((2 * 10 + 4 * 5 + 1) / 3600)
    assert s["makespan_s"] == 16  # first submit 0, last end 16
    assert s["utilization"] == pytest.approx(41 / (4 * 16))
    # waits: A 0, B 10, C 14
    assert s["wait_s"]["mean"] == pytest.approx(8)
    assert s["wait_s"]["p50"] == pytest.approx(10)
    assert s["wait_s"]["by_tier"]["gold"]["mean"] == 0
    assert s["wait_s"]["by_tier"]["std"]["mean"] == pytest.approx(12)
    # bounded slowdown: A max(1, 10/10)=1, B (10+5)/10=1.5, C (14+1)/10=1.5
    assert s["bounded_slowdown_mean"] == pytest.approx(4 / 3)


def test_files_and_columns(tmp_path: Path) -> None:
    res = simulate_flat(small(), 4, "easy")
    paths = write_flat_outputs(res, tmp_path / "out")
    jobs = pq.read_table(paths["jobs"])
    assert jobs.column_names == [
        "job_id",
        "tenant",
        "tier",
        "gpus",
        "submit_s",
        "start_s",
        "end_s",
        "runtime_s",
        "requested_s",
        "state",
        "preemptions",
    ]
    assert jobs.column("state").to_pylist() == ["completed"] * 3 + ["rejected"]
    assert jobs.column("end_s").to_pylist()[3] is None
    assert jobs.column("requested_s").to_pylist()[0] is None
    assert str(jobs.schema.field("job_id").type) == "string"
    ts = pq.read_table(paths["timeseries"])
    assert ts.column_names == [
        "t_s",
        "gpus_busy",
        "it_power_w",
        "facility_power_w",
        "ambient_c",
        "heat_reused_w",
    ]
    summary = json.loads(paths["summary"].read_text())
    assert summary["jobs"]["rejected"] == 1 and summary["policy"] == "easy"
    assert not list((tmp_path / "out").glob(".*"))


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_synthetic_swf(tmp_path / f"{name}.swf", 3000, 128, load=0.95, seed=11)
        res = simulate_flat(read_swf(tmp_path / f"{name}.swf").jobs, 128, "easy")
        write_flat_outputs(res, tmp_path / name)
    for f in ("jobs.parquet", "timeseries.parquet", "summary.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_gpu_hours_equal_series_integral() -> None:
    res = simulate_flat(synthetic_jobs(5000, 256, load=1.2, seed=2), 256, "easy")
    integral_h = float(np.sum(res.gpus_busy[:-1] * np.diff(res.t_s))) / 3600
    assert summarize(res)["gpu_hours"] == pytest.approx(integral_h, rel=1e-12)
    assert res.gpus_busy.max() <= 256
