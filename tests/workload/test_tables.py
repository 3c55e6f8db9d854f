"""CSV/Parquet job tables: round trips, error messages, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from narvik.workload.job import TraceError
from narvik.workload.swf import write_swf
from narvik.workload.synthetic_swf import synthetic_jobs
from narvik.workload.tables import read_jobs, read_trace, write_jobs

GOOD = (
    "job_id,tenant,tier,gpus,submit_s,runtime_s,requested_s\na,t1,gold,2,0,10,20\nb,t2,std,1,5,3,\n"
)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    jobs = synthetic_jobs(500, 64, seed=1)
    jobs.requested_s[::7] = np.nan
    write_jobs(jobs, tmp_path / f"j.{fmt}")
    back = read_jobs(tmp_path / f"j.{fmt}")
    for col in ("job_id", "tenant", "tier", "gpus", "submit_s", "runtime_s", "requested_s"):
        np.testing.assert_array_equal(getattr(back, col), getattr(jobs, col), err_msg=col)


def test_csv_reads_and_optional_columns(tmp_path: Path) -> None:
    p = tmp_path / "j.csv"
    p.write_text(GOOD)
    j = read_jobs(p)
    assert j.tier.tolist() == ["gold", "std"] and np.isnan(j.requested_s[1])
    p.write_text("job_id,tenant,gpus,submit_s,runtime_s\nx,t,1,0,1\n")
    j = read_jobs(p, "csv")
    assert j.tier.tolist() == ["default"] and np.isnan(j.requested_s[0])


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("a,t1,gold,two,0,10,20\n", "line 2, column gpus"),
        ("a,t1,gold,2,0,10,20\nb,t2,std,0,5,3,\n", "line 3, column gpus"),
        ("a,t1,gold,2,0,-1,20\n", "line 2, column runtime_s"),
        ("a,t1,gold,2,,10,20\n", "line 2, column submit_s"),
    ],
)
def test_csv_errors_name_line_and_column(tmp_path: Path, body: str, where: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("job_id,tenant,tier,gpus,submit_s,runtime_s,requested_s\n" + body)
    with pytest.raises(TraceError, match=rf"bad\.csv: {where}"):
        read_jobs(p)


def test_missing_column(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("job_id,tenant,gpus,submit_s\nx,t,1,0\n")
    with pytest.raises(TraceError, match="missing column.*runtime_s"):
        read_jobs(p)


def test_parquet_deterministic(tmp_path: Path) -> None:
    jobs = synthetic_jobs(300, 32, seed=5)
    write_jobs(jobs, tmp_path / "a.parquet")
    write_jobs(synthetic_jobs(300, 32, seed=5), tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_read_trace_dispatch(tmp_path: Path) -> None:
    jobs = synthetic_jobs(50, 16, seed=2)
    write_swf(jobs, tmp_path / "t.swf.gz", header={"MaxProcs": 16})
    got, skipped, slots = read_trace(tmp_path / "t.swf.gz")
    assert len(got) == 50 and skipped == {} and slots == 16
    with pytest.raises(TraceError, match="format"):
        read_trace(tmp_path / "t.txt")
