"""A new user's first hour with `narvik simulate`: a trace gets a tenancy that fits it,
bad output places and empty traces fail at once with one line, user text prints as
written, runs land in named folders that are never overwritten by accident."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app
from narvik.kpi.tenancy_plots import BILLS_DIV_ID

_register()
runner = CliRunner()
DATA = Path(__file__).parents[1] / "data"
SMALL = str(DATA / "small-scenario.toml")


def _swf(path: Path, users: list[int]) -> Path:
    """A small SWF trace: one 2-GPU, 1-hour job every 10 minutes for each user in turn."""
    lines = [
        f"{i + 1} {600 * i} 0 3600 2 -1 -1 2 7200 -1 1 {u} 1 1 1 -1 -1 -1"
        for i, u in enumerate(users)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args: list[str]) -> tuple[int, str, str]:
    """`narvik ARGS` in a fresh process, as a user's shell runs it (no terminal)."""
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "narvik", *args], capture_output=True, text=True, env=env
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_a_trace_of_other_users_runs_as_one_tenant_without_the_scenarios_promises(
    tmp_path: Path,
):
    trace = _swf(tmp_path / "lab-week.swf", [1, 2, 1, 3] * 5)
    out = tmp_path / "r"
    args = ["simulate", "--trace", str(trace), "--site", "flat:16", "--policy", "narvik"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "notice: the trace's 3 tenant(s) (user-1, user-2, user-3) are not tenants" in text
    assert "replayed as one tenant 'trace'" in text
    assert "3 grid curtailment(s) of the scenario left out: flat:16 is a flat pool" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "lab-week"
    assert len(summary["notices"]) == 2
    tenancy = summary["tenancy"]
    assert tenancy["guarantee_hours"] == {}
    assert tenancy["reservations"] == [] and tenancy["curtailments"] == []
    assert set(pq.read_table(out / "jobs.parquet").column("tenant").to_pylist()) == {"trace"}
    report = (out / "report.html").read_text()
    assert "<dt>Scenario</dt><dd>lab-week</dd>" in report  # the header names the trace
    assert "<dd>stargate-norway</dd>" not in report
    assert "No tenant has a GPU quota in this run." in report
    # A pool without a power model answered no grid operator, and nobody was billed.
    assert 'id="tenancy-curtailments"' not in report
    assert f'id="{BILLS_DIV_ID}"' not in report


def test_a_tenant_map_puts_the_traces_users_under_the_scenarios_tenants(tmp_path: Path):
    trace = _swf(tmp_path / "t.swf", [1, 2, 1, 3] * 5)
    mapping = tmp_path / "map.toml"
    mapping.write_text('"user-1" = "openai"\n"*" = "sigma2"\n')
    out = tmp_path / "r"
    args = ["simulate", "--scenario", SMALL, "--trace", str(trace), "--site", "flat:64"]
    args += ["--days", "1"]  # the span holds uk-public's booking (12:00-18:00)
    result = runner.invoke(app, [*args, "--tenant-map", str(mapping), "--out", str(out)])
    assert result.exit_code == 0, result.output
    jobs = pq.read_table(out / "jobs.parquet").to_pydict()
    assert jobs["tenant"][:4] == ["openai", "sigma2", "openai", "sigma2"]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["tenancy"]["guarantee_hours"]) >= {"openai", "sigma2"}
    assert summary["tenancy"]["curtailments"] == []  # flat pool: no power model
    assert len(summary["tenancy"]["reservations"]) == 1  # uk-public's booking still applies


def test_a_tenant_map_naming_an_unknown_tenant_exits_2(tmp_path: Path):
    trace = _swf(tmp_path / "t.swf", [1, 2])
    mapping = tmp_path / "map.toml"
    mapping.write_text('"user-1" = "nobody"\n')
    args = ["simulate", "--scenario", SMALL, "--trace", str(trace), "--site", "flat:64"]
    result = runner.invoke(app, [*args, "--tenant-map", str(mapping)])
    assert result.exit_code == 2
    assert "workload.tenant_map.\"user-1\": unknown tenant 'nobody'" in result.output


def test_quotas_that_cannot_fit_the_pool_are_refused_not_reported_as_met(tmp_path: Path):
    trace = _swf(tmp_path / "t.swf", [1, 2])
    mapping = tmp_path / "map.toml"
    mapping.write_text('"*" = "openai"\n')
    args = ["simulate", "--trace", str(trace), "--site", "flat:256", "--policy", "narvik"]
    result = runner.invoke(app, [*args, "--tenant-map", str(mapping)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "tenancy.tenants: quotas from 2027-01-01 add up to" in text
    assert "above the 256 GPU slots of flat:256" in text


def test_an_empty_trace_exits_2_and_says_so(tmp_path: Path):
    empty = tmp_path / "empty.swf"
    empty.write_text("; a header and no jobs\n")
    out = tmp_path / "r"
    result = runner.invoke(app, ["simulate", "--trace", str(empty), "--out", str(out)])
    assert result.exit_code == 2
    assert "the trace has no jobs to replay" in result.output
    assert not out.exists()


def test_out_on_a_file_fails_before_simulating_and_names_it(tmp_path: Path):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    code, stdout, stderr = _run(["simulate", "--days", "365", "--out", str(afile)])
    assert code == 2
    assert stderr.strip() == f"error: {afile}: is a file, not a folder (--out takes a folder)"
    assert afile.read_text() == "keep me"
    assert not list(tmp_path.glob(".*partial"))
    below = afile / "run"
    code, _, stderr = _run(["simulate", "--days", "1", "--out", str(below)])
    assert code == 2 and f"error: {below}: cannot be created, {afile} is a file" in stderr


def test_out_where_nothing_can_be_written_names_the_folder_given(tmp_path: Path):
    code, _, stderr = _run(["simulate", "--days", "1", "--out", "/proc/narvik-run"])
    assert code == 2
    assert stderr.startswith("error: /proc/narvik-run: cannot write there")
    assert "partial" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "flat:abc"], "error: flat:abc: flat:N needs a positive whole number"),
        (["--site", "[bold]hall[/bold]:x:"], "error: [bold]hall[/bold]:x:"),
        (["--scenario", "no/[red]such[/red].toml"], "error: no/[red]such[/red].toml: cannot read"),
    ],
)
def test_errors_print_user_text_as_written_in_one_line(args: list[str], message: str):
    code, stdout, stderr = _run(["simulate", "--days", "1", *args])
    assert code == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr  # no leftover progress line before the error
    assert lines[0].startswith(message)
    assert "🔤" not in stderr


def test_runs_go_to_named_folders_and_are_never_overwritten_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    args = ["simulate", "--site", "flat:32", "--policy", "easy", "--days", "1", "--seed", "4"]
    monkeypatch.chdir(tmp_path)
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    folder = Path("runs/stargate-norway-easy-1d-seed4")
    assert (folder / "summary.json").is_file()
    before = (folder / "summary.json").stat().st_mtime_ns
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "holds a run already (summary.json); pass --force" in " ".join(again.output.split())
    assert (folder / "summary.json").stat().st_mtime_ns == before
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert (folder / "summary.json").stat().st_mtime_ns != before
    assert sorted(p.name for p in Path("runs").iterdir()) == [folder.name]


def test_the_summary_line_gives_the_waits_in_hours(tmp_path: Path):
    trace = _swf(tmp_path / "t.swf", [1] * 12)
    out = tmp_path / "r"
    args = ["simulate", "--trace", str(trace), "--site", "flat:4", "--policy", "fcfs"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    wait = json.loads((out / "summary.json").read_text())["wait_s"]
    # 12 two-GPU hour-long jobs 10 minutes apart on 4 slots: they queue.
    assert wait["p95"] > 3600
    expected = (
        f"queue wait: mean {wait['mean'] / 3600:,.2f} h, p50 {wait['p50'] / 3600:,.2f} h, "
        f"p95 {wait['p95'] / 3600:,.2f} h"
    )
    assert expected in result.stdout


def test_a_span_before_the_traces_first_job_exits_2(tmp_path: Path):
    trace = tmp_path / "late.swf"
    trace.write_text("1 864000 0 3600 2 -1 -1 2 7200 -1 1 1 1 1 1 -1 -1 -1\n")
    args = ["simulate", "--trace", str(trace), "--site", "flat:4", "--days", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "no job is submitted within the span of 2 days" in text
    assert "first job arrives at day 10.00" in text
