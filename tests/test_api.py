"""The Python API: narvik.simulate and narvik.studies, as a notebook calls them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

import narvik


def test_simulate_returns_the_summary_and_both_tables(tmp_path: Path) -> None:
    run = narvik.simulate(site="flat:64", policy="easy", days=1, seed=3, out=tmp_path / "r")
    assert run.spec.seed == 3 and run.spec.policy == "easy"
    n = sum(run.summary["jobs"].values())
    assert run.jobs.num_rows == n > 0
    assert run.timeseries.num_rows > 0 and "t_s" in run.timeseries.column_names
    # What it returns is what it wrote.
    assert json.loads((tmp_path / "r" / "summary.json").read_text()) == json.loads(
        json.dumps(run.summary)
    )
    assert pq.read_table(tmp_path / "r" / "jobs.parquet").equals(run.jobs)


def test_simulate_without_out_writes_nothing(tmp_path: Path, monkeypatch: object) -> None:
    run = narvik.simulate(site="flat:32", policy="fcfs", days=0.5)
    assert run.out_dir is None and run.summary["utilization"] >= 0


def test_study_from_a_dict_returns_its_table(tmp_path: Path) -> None:
    table = narvik.study(
        {"name": "api", "site": "flat:64", "policy": "easy", "days": 1, "seeds": [1, 2]},
        out=tmp_path,
        workers=0,
    )
    assert table.num_rows == 2 and table.column("status").to_pylist() == ["ok", "ok"]
    assert pq.read_table(tmp_path / "study.parquet").num_rows == 2
