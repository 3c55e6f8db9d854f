"""`narvik export kueue`: files for one date or a timeline, a summary table, and one clear
error line with exit status 2 on bad input; its --help imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
FILES = (
    "namespaces.yaml",
    "topology.yaml",
    "resourceflavors.yaml",
    "cohorts.yaml",
    "workloadpriorityclasses.yaml",
    "clusterqueues.yaml",
    "localqueues.yaml",
)


def test_export_writes_one_file_per_kind_and_a_summary(tmp_path: Path):
    out = tmp_path / "kueue"
    result = runner.invoke(app, ["export", "kueue", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert not list(out.glob(".*.tmp"))
    cqs = list(yaml.safe_load_all((out / "clusterqueues.yaml").read_text(encoding="utf-8")))
    assert {d["kind"] for d in cqs} == {"ClusterQueue"}
    assert "openai" in result.stdout and "50,000" in result.stdout


def test_export_at_a_date_takes_that_dates_quotas(tmp_path: Path):
    result = runner.invoke(app, ["export", "kueue", "--at", "2027-10-01", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "65,000" in result.stdout
    cqs = yaml.safe_load_all((tmp_path / "clusterqueues.yaml").read_text(encoding="utf-8"))
    (openai,) = [d for d in cqs if d["metadata"]["name"] == "openai"]
    flavors = openai["spec"]["resourceGroups"][0]["flavors"]
    assert sum(f["resources"][0]["nominalQuota"] for f in flavors) == 65_000


def test_export_timeline_writes_dated_sets_and_an_index(tmp_path: Path):
    result = runner.invoke(app, ["export", "kueue", "--timeline", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert index["dates"][0] == "2027-01-01" and "2028-06-01" in index["dates"]
    for day in index["dates"]:
        assert sorted(p.name for p in (tmp_path / day).iterdir()) == sorted(FILES)
    assert "dated sets" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--at", "2027-13-01"], "--at"),
        (["--at", "soon"], "--at"),
        (["--at", "2027-01-01", "--timeline"], "--timeline"),
        (["--scenario", "no-such-scenario"], "no-such-scenario"),
        (["--site", "no-such-site"], "no-such-site"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path: Path, args: list[str], needle: str):
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", "kueue", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert needle in result.output
    assert not out.exists()


def test_export_kueue_help_imports_nothing_heavy():
    heavy = ("numpy", "pyarrow", "pandas", "yaml", "narvik.scenario", "narvik.sched")
    code = textwrap.dedent(
        f"""
        import json, sys
        from typer.testing import CliRunner
        from narvik.cli.main import _register, app
        _register()
        result = CliRunner().invoke(app, ["export", "kueue", "--help"])
        assert result.exit_code == 0, result.output
        print(json.dumps(sorted(
            m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in {heavy!r})
        )))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
