"""`narvik simulate --warmup-days`: passed to the scenario, reported, and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
FLAT = ["simulate", "--site", "flat:64", "--policy", "easy", "--days", "2"]
NO_WARMUP = "no warm-up: KPIs include the fill-up from an empty fleet; see --warmup-days"


def test_warmup_days_reaches_the_summary_and_the_files(tmp_path: Path):
    out = tmp_path / "o"
    result = runner.invoke(app, [*FLAT, "--warmup-days", "0.5", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["warmup_days"] == 0.5 and summary["warmup_s"] == 43_200
    jobs = pq.read_table(out / "jobs.parquet").to_pydict()
    after = [s >= 43_200 for s in jobs["submit_s"]]
    assert jobs["in_warmup"] == [not a for a in after]
    assert sum(summary["jobs"].values()) == sum(after)
    assert json.loads((out / "summary.json").read_text())["warmup_s"] == 43_200


def test_terminal_says_when_generated_work_has_no_warmup(tmp_path: Path):
    cold = runner.invoke(app, [*FLAT, "--out", str(tmp_path / "cold")])
    assert cold.exit_code == 0, cold.output
    assert NO_WARMUP in " ".join(cold.stdout.split())
    warm = runner.invoke(app, [*FLAT, "--warmup-days", "1", "--out", str(tmp_path / "warm")])
    assert warm.exit_code == 0, warm.output
    assert "no warm-up" not in warm.stdout
    assert "KPIs exclude the warm-up (warmup_days = 1)" in " ".join(warm.stdout.split())


def test_warmup_not_shorter_than_the_span_exits_2(tmp_path: Path):
    out = tmp_path / "o"
    for bad in ("2", "3", "-1"):
        result = runner.invoke(app, [*FLAT, "--warmup-days", bad, "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert "warmup_days" in result.output
        assert not out.exists()


def test_whole_trace_shorter_than_the_warmup_exits_2(tmp_path: Path):
    trace = tmp_path / "t.swf"
    trace.write_text("1 0 0 3600 2 -1 -1 2 3600 -1 1 7 1 1 1 -1 -1 -1\n")
    out = tmp_path / "o"
    result = runner.invoke(
        app,
        ["simulate", "--site", "flat:4", "--trace", str(trace), "--warmup-days", "1"]
        + ["--out", str(out)],
    )
    assert result.exit_code == 2, result.output
    assert "warmup_days" in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".o.*"))
