"""SWF reader/writer (Chapin et al. 1999; Parallel Workloads Archive format)."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from narvik.workload.job import Job, JobTable, TraceError
from narvik.workload.swf import read_swf, write_swf
from narvik.workload.synthetic_swf import synthetic_jobs, write_synthetic_swf

HEADER = "; Version: 2.2\n; MaxProcs: 64\n;\n"


def rec(
    job: int,
    submit: int,
    run: int,
    alloc: int,
    req_procs: int = -1,
    req_time: int = -1,
    user: int = 3,
) -> str:
    f = [
        job,
        submit,
        5,
        run,
        alloc,
        -1,
        -1,
        req_procs,
        req_time,
        -1,
        1,
        user,
        -1,
        -1,
        -1,
        -1,
        -1,
        -1,
    ]
    return "  ".join(str(x) for x in f) + "\n"


def write(tmp_path: Path, text: str, name: str = "t.swf") -> Path:
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def test_fields_and_fallbacks(tmp_path: Path) -> None:
    text = (
        HEADER
        + rec(1, 0, 100, 4, req_time=200)
        + rec(2, 10, 50, -1, req_procs=8)
        + "; a comment in the middle\n\n"
        + rec(3, 20, 7, 2, user=-1)
    )
    tr = read_swf(write(tmp_path, text))
    j = tr.jobs
    assert j.job_id.tolist() == ["1", "2", "3"]
    assert j.gpus.tolist() == [4, 8, 2]
    assert j.submit_s.tolist() == [0, 10, 20] and j.runtime_s.tolist() == [100, 50, 7]
    assert j.requested_s[0] == 200 and math.isnan(j.requested_s[1])
    assert j.tenant.tolist() == ["user-3", "user-3", "user-unknown"]
    assert tr.skipped == 0 and tr.max_procs == 64 and tr.header["Version"] == "2.2"


def test_skipped_records_counted_by_reason(tmp_path: Path) -> None:
    text = (
        HEADER
        + rec(1, 0, 0, 4)
        + rec(2, 0, -1, 4)
        + rec(3, 0, 10, -1)
        + rec(4, 0, 10, 0)
        + rec(5, 0, 10, 1)
    )
    tr = read_swf(write(tmp_path, text))
    assert tr.jobs.job_id.tolist() == ["5"]
    assert tr.skipped == 4
    assert tr.skipped_by_reason == {"runtime_not_positive": 2, "processors_not_positive": 2}


def test_gzip(tmp_path: Path) -> None:
    text = HEADER + rec(1, 0, 100, 4) + rec(2, 5, 10, 1)
    plain = read_swf(write(tmp_path, text))
    gz = read_swf(write(tmp_path, text, "t.swf.gz"))
    assert gz.jobs.job_id.tolist() == plain.jobs.job_id.tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ("1 2 3\n", "expected 18 fields, found 3"),
        (rec(9, 0, 10, 1).replace(" 10 ", " ten "), "non-numeric field 'ten'"),
        (rec(9, 0, 10, 1).replace(" 10 ", " 1.5.2 "), "non-numeric field"),
    ],
)
def test_malformed_record_names_file_and_line(tmp_path: Path, bad: str, what: str) -> None:
    p = write(tmp_path, HEADER + rec(1, 0, 10, 1) + bad + rec(3, 0, 10, 1))
    with pytest.raises(TraceError, match=rf"t\.swf: line 5: {what}"):
        read_swf(p)
    tr = read_swf(p, skip_bad=True)
    assert tr.jobs.job_id.tolist() == ["1", "3"]
    assert tr.skipped_by_reason == {"malformed": 1}


def test_float_fields(tmp_path: Path) -> None:
    text = HEADER + rec(1, 0, 10, 1).replace(" 10 ", " 10.5 ") + rec(2, 0, 3, 2)
    tr = read_swf(write(tmp_path, text))
    assert tr.jobs.runtime_s.tolist() == [10.5, 3.0]


def test_missing_file_is_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="nope.swf"):
        read_swf(tmp_path / "nope.swf")


def test_write_read_round_trip(tmp_path: Path) -> None:
    jobs = JobTable.from_jobs(
        [
            Job("7", "user-2", 4, 0.0, 100.0, 150.0),
            Job("8", "alice", 1, 12.0, 3.5, None),
        ]
    )
    for name in ("rt.swf", "rt.swf.gz"):
        write_swf(jobs, tmp_path / name)
        back = read_swf(tmp_path / name).jobs
        assert back.job_id.tolist() == ["7", "8"]
        assert back.tenant.tolist() == ["user-2", "user-3"]  # names not user-<id> get numbers
        np.testing.assert_array_equal(back.runtime_s, jobs.runtime_s)
        np.testing.assert_array_equal(back.requested_s, jobs.requested_s)
    assert not list(tmp_path.glob(".*tmp"))


def test_synthetic_is_seeded_and_loaded(tmp_path: Path) -> None:
    a = write_synthetic_swf(tmp_path / "a.swf", 2000, 256, load=0.9, seed=3)
    write_synthetic_swf(tmp_path / "b.swf", 2000, 256, load=0.9, seed=3)
    assert (tmp_path / "a.swf").read_bytes() == (tmp_path / "b.swf").read_bytes()
    tr = read_swf(tmp_path / "a.swf")
    assert tr.max_procs == 256 and len(tr.jobs) == 2000
    np.testing.assert_array_equal(tr.jobs.gpus, a.gpus)
    offered = float(np.sum(a.gpus * a.runtime_s)) / (256 * (a.submit_s[-1] - a.submit_s[0]))
    assert 0.7 < offered < 1.1
    assert (a.requested_s >= a.runtime_s).all()
    c = synthetic_jobs(2000, 256, load=0.9, seed=4)
    assert not np.array_equal(c.runtime_s, a.runtime_s)


def test_job_validation() -> None:
    with pytest.raises(TraceError, match="gpus"):
        Job("1", "t", 0, 0.0, 1.0)
    with pytest.raises(TraceError, match="runtime_s"):
        JobTable.from_arrays(gpus=[1], submit_s=[0], runtime_s=[0])
    assert Job("1", "t", 1, 0.0, 5.0, -1.0).estimate_s == 5.0
    assert Job("1", "t", 1, 0.0, 5.0, 9.0).estimate_s == 9.0
