"""The shipped narvik-vs-kueue-vs-slurm study runs the three policies on the same workload
and prints its side-by-side table (shortened to two days here; the full year's figures are
in the README)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from narvik.cli.main import _register, app

STUDY = Path(__file__).resolve().parents[2] / "studies" / "narvik-vs-kueue-vs-slurm.toml"
HEADLINE = (
    "wait_s.by_tier.national.p95",
    "tenancy.guarantee_hours.openai.share_met",
    "utilization",
    "tenancy.curtailments_met.met",
    "tenancy.preemptions.(total).gpu_hours_lost",
)


def _short_study(tmp_path: Path) -> Path:
    """The shipped study over its first two days (a scenario override, as a user would)."""
    text = STUDY.read_text().replace("seeds = [0]\n", "seeds = [0]\ndays = 2\n", 1)
    assert "days = 2" in text
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_the_shipped_study_prints_the_three_policies_side_by_side(tmp_path: Path) -> None:
    _register()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["study", "run", str(_short_study(tmp_path)), "--workers", "0", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for policy in ("narvik", "kueue", "slurm"):
        assert policy in result.output
    for kpi in HEADLINE:
        assert kpi in result.output
    table = pq.read_table(out / "study.parquet").to_pylist()
    assert sorted(r["policy"] for r in table) == ["kueue", "narvik", "slurm"]
    assert all(r["status"] == "ok" for r in table), table
    for row in table:
        summary = json.loads((out / "runs" / row["run_id"] / "summary.json").read_text())
        assert summary["jobs"]["completed"] > 0
        assert "guarantee_hours" in summary["tenancy"]
    jobs = {
        r["policy"]: pq.read_table(out / "runs" / r["run_id"] / "jobs.parquet").num_rows
        for r in table
    }
    assert len(set(jobs.values())) == 1, f"the three saw different workloads: {jobs}"
