"""End-to-end tests of `narvik import sacct|kueue-workloads` followed by `narvik simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from tests.bridges.sacct_fixtures import write_sacct
from tests.bridges.test_kueue_workloads_import import fixture_items, write
from tests.cli.test_cli_startup import _heavy_loaded
from typer.testing import CliRunner

from narvik.cli.main import _register, app
from narvik.workload.job import JobTable
from narvik.workload.swf import write_swf

_register()
runner = CliRunner()


def random_jobs(n: int = 300, slots: int = 16, seed: int = 7) -> JobTable:
    """A busy trace on ``slots`` GPUs: whole seconds, estimates unknown, short and long."""
    rng = np.random.default_rng(seed)
    runtime = rng.integers(30, 4000, n).astype(float)
    requested = np.where(rng.random(n) < 0.2, np.nan, runtime * rng.choice([0.5, 1, 3], n))
    return JobTable.from_arrays(
        gpus=rng.integers(1, slots + 1, n),
        submit_s=np.cumsum(np.r_[0, rng.integers(0, 300, n - 1)]).astype(float),
        runtime_s=runtime,
        requested_s=np.floor(requested),
        job_id=[str(1000 + i) for i in range(n)],
        tenant=[f"user-{i % 5}" for i in range(n)],
    )


def _simulate(trace: Path, out: Path, slots: int) -> dict[str, float]:
    args = ["simulate", "--site", f"flat:{slots}", "--policy", "easy", "--trace", str(trace)]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    t = pq.read_table(out / "jobs.parquet").to_pydict()
    return {j: s - sub for j, s, sub in zip(t["job_id"], t["start_s"], t["submit_s"], strict=True)}


def test_import_sacct_then_simulate_waits_as_the_swf(tmp_path):
    jobs = random_jobs()
    write_swf(jobs, tmp_path / "t.swf")
    skips = write_sacct(jobs, tmp_path / "t.sacct")
    trace = tmp_path / "t.parquet"
    result = runner.invoke(
        app, ["import", "sacct", str(tmp_path / "t.sacct"), "--out", str(trace), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["jobs"] == len(jobs)
    assert summary["skipped"] == dict(sorted(skips.items()))
    assert summary["epoch_utc"] == "2024-03-01T00:00:00Z"
    waits = _simulate(trace, tmp_path / "run-sacct", 16)
    assert list(waits) == jobs.job_id.tolist()
    assert waits == _simulate(tmp_path / "t.swf", tmp_path / "run-swf", 16)
    assert sum(w > 0 for w in waits.values()) > 10


def test_import_sacct_prints_the_skips_by_reason(tmp_path):
    write_sacct(random_jobs(40), tmp_path / "t.sacct")
    out = tmp_path / "t.parquet"
    args = ["import", "sacct", str(tmp_path / "t.sacct"), "--out", str(out), "--tz", "Europe/Oslo"]
    result = runner.invoke(app, [*args, "--tier-map", "high=anchor", "--tenant-map", "*=acme"])
    assert result.exit_code == 0, result.output
    assert "40 jobs" in result.stdout
    assert "job_step 120" in result.stdout
    assert "pending 2" in result.stdout
    assert "t = 0 at 2024-02-29T23:00:00Z" in result.stdout  # midnight in Oslo (CET)
    table = pq.read_table(out).to_pydict()
    assert set(table["tenant"]) == {"acme"}
    assert set(table["tier"]) == {"anchor", "default"}


def test_a_bad_line_exits_2_naming_file_and_line_and_writes_nothing(tmp_path):
    src = tmp_path / "t.sacct"
    write_sacct(random_jobs(5), src, steps=False, noise=False)
    lines = src.read_text().splitlines()
    lines[2] = lines[2].replace("COMPLETED", "COMPLETED|oops")
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "t.parquet"
    result = runner.invoke(app, ["import", "sacct", str(src), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{src}: line 3: expected 13 fields" in " ".join(result.output.split())
    assert not out.exists()


def test_bad_options_exit_2(tmp_path):
    src = tmp_path / "t.sacct"
    write_sacct(random_jobs(5), src)
    base = ["import", "sacct", str(src), "--out", str(tmp_path / "o.parquet")]
    for extra, message in (
        (["--tz", "Nowhere/Land"], "unknown time zone"),
        (["--tier-map", "high"], "--tier-map: expected NAME=VALUE"),
    ):
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 2, result.output
        assert message in result.output
    missing = runner.invoke(app, ["import", "sacct", str(tmp_path / "nope"), "--out", "x.parquet"])
    assert missing.exit_code == 2


def test_import_kueue_workloads_then_simulate(tmp_path):
    src = write(tmp_path, fixture_items())
    trace = tmp_path / "k.parquet"
    result = runner.invoke(
        app,
        ["import", "kueue-workloads", str(src), "--out", str(trace), "--tier-map", "high=anchor"],
    )
    assert result.exit_code == 0, result.output
    assert "4 jobs" in result.stdout
    assert "never_admitted 1, no_gpus 1, not_finished 1" in result.stdout
    waits = _simulate(trace, tmp_path / "run", 64)
    assert set(waits) == {"team-a/a1", "team-b/b1", "team-a/a2", "team-a/resumed"}


def test_import_help_imports_nothing_heavy():
    for args in (["import", "--help"], ["import", "sacct", "--help"]):
        code = f"""
            from typer.testing import CliRunner
            from narvik.cli.main import _register, app
            _register()
            result = CliRunner().invoke(app, {args!r})
            assert result.exit_code == 0, (result.exit_code, result.output)
            """
        assert _heavy_loaded(code) == []
