"""End to end: `narvik simulate --policy kueue` on the default scenario (Stargate Norway,
~100,000 GPUs, ~1M jobs a year), two days of it."""

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from narvik.cli.defaults import POLICIES
from narvik.cli.main import _register, app

_register()
runner = CliRunner()


def test_kueue_policy_listed():
    assert "kueue" in POLICIES
    assert list(POLICIES) == sorted(POLICIES)


def test_simulate_default_scenario_two_days_with_kueue(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["simulate", "--policy", "kueue", "--days", "2", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(result.stdout)
    assert summary["policy"] == "kueue"
    assert summary["jobs"]["completed"] > 1000
    assert summary["utilization"] > 0.0
    assert "tenancy" in summary
    ts = pq.read_table(out / "timeseries.parquet")
    assert ts.num_rows == 48
    jobs = pq.read_table(out / "jobs.parquet")
    assert jobs.num_rows == sum(summary["jobs"].values())
