"""End to end: `narvik simulate --policy slurm` on the default scenario."""

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from narvik.cli.defaults import POLICIES
from narvik.cli.main import _register, app
from narvik.sched.registry import policy_names

_register()
runner = CliRunner()
RUN_FILES = ("summary.json", "jobs.parquet", "timeseries.parquet", "report.html")


def test_slurm_is_a_policy_of_the_command_line() -> None:
    assert "slurm" in POLICIES
    assert tuple(policy_names()) == POLICIES


def test_simulate_slurm_two_days_of_the_default_scenario(tmp_path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["simulate", "--policy", "slurm", "--days", "2", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    summary = json.loads(result.stdout)
    assert summary["jobs"]["completed"] > 0
    assert 0.0 < summary["utilization"] <= 1.0
    jobs = pq.read_table(out / "jobs.parquet").to_pydict()
    assert set(jobs["tier"]) >= {"national", "anchor", "regional"}
    # No power awareness: the emulation never caps GPU power.
    caps = pq.read_table(out / "timeseries.parquet").column("gpu_power_cap_fraction")
    assert set(caps.to_pylist()) == {1.0}
    assert summary["tenancy"]["power"]["min_gpu_cap_fraction"] == 1.0
