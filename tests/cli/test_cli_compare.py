"""End-to-end tests of `narvik compare RUN_DIR RUN_DIR...` on two short real runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from narvik.cli.compare_cmd import compare
from narvik.kpi.run_outputs import write_run
from narvik.scenario import load_scenario, run_scenario

app = typer.Typer()
app.command()(compare)
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two-day runs of the shipped scenario: run-narvik (the baseline) and run-easy."""
    base = tmp_path_factory.mktemp("cli-compare")
    dirs = []
    for policy in ("narvik", "easy"):
        spec = load_scenario().with_overrides(days=2, policy=policy)
        write_run(run_scenario(spec), base / f"run-{policy}")
        dirs.append(base / f"run-{policy}")
    return dirs


def _summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def test_prints_the_headline_table_and_writes_the_page_beside_the_baseline(run_dirs):
    page = run_dirs[0] / "compare.html"
    page.unlink(missing_ok=True)
    result = runner.invoke(app, [str(d) for d in run_dirs])
    assert result.exit_code == 0, result.output
    assert "Headline KPIs" in result.stdout
    for text in ("run-narvik (baseline)", "run-easy", "utilization", "pue"):
        assert text in result.stdout
    assert "placement.fragmentation_mean" not in result.stdout  # only with --all
    assert f"wrote {page}" in result.stdout
    assert page.is_file()


def test_json_table_equals_the_summaries(run_dirs, tmp_path):
    out = tmp_path / "page.html"
    result = runner.invoke(app, [*map(str, run_dirs), "--json", "--html", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["baseline"] == "run-narvik"
    kpis = {k["key"]: k for k in data["kpis"]}
    assert next(iter(kpis)) == "utilization"
    a, b = (_summary(d) for d in run_dirs)
    assert kpis["pue"]["values"] == {"run-narvik": a["pue"], "run-easy": b["pue"]}
    assert kpis["co2_t"]["diff"] == {"run-easy": b["co2_t"] - a["co2_t"]}
    p95 = kpis["wait_s.by_tier.anchor.p95"]["values"]
    assert p95["run-easy"] == b["wait_s"]["by_tier"]["anchor"]["p95"]
    assert "placement.fragmentation_mean" not in kpis
    assert out.is_file()
    assert str(out) in result.stderr


def test_all_lists_every_numeric_kpi(run_dirs, tmp_path):
    args = [*map(str, run_dirs), "--all", "--json", "--html", str(tmp_path / "c.html")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    kpis = {k["key"]: k for k in json.loads(result.stdout)["kpis"]}
    a, b = (_summary(d) for d in run_dirs)
    frag = kpis["placement.fragmentation_mean"]
    assert frag["values"]["run-narvik"] == a["placement"]["fragmentation_mean"]
    diff = b["placement"]["fragmentation_mean"] - a["placement"]["fragmentation_mean"]
    assert frag["diff"]["run-easy"] == diff
    assert "jobs.completed" in kpis


def test_the_page_is_byte_identical_when_rendered_twice(run_dirs, tmp_path):
    pages = [tmp_path / "one.html", tmp_path / "two.html"]
    for page in pages:
        result = runner.invoke(app, [*map(str, run_dirs), "--html", str(page)])
        assert result.exit_code == 0, result.output
    text = pages[0].read_text(encoding="utf-8")
    for label in ("run-narvik", "run-easy"):
        assert f'"name":"{label}"' in text
    assert pages[0].read_bytes() == pages[1].read_bytes()


def test_user_text_is_not_read_as_markup(run_dirs, tmp_path):
    odd = tmp_path / "[b]x"
    shutil.copytree(run_dirs[1], odd)
    result = runner.invoke(app, [str(run_dirs[0]), str(odd), "--html", str(tmp_path / "c.html")])
    assert result.exit_code == 0, result.output
    assert "Δ [b]x" in result.stdout


def test_missing_run_folder_exits_2_naming_it(run_dirs, tmp_path):
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, [str(run_dirs[0]), str(missing)])
    assert result.exit_code == 2
    assert str(missing) in result.output
    assert "Traceback" not in result.output


def test_folder_without_summary_exits_2_naming_it(run_dirs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run_dirs[1], broken)
    (broken / "summary.json").unlink()
    page = tmp_path / "c.html"
    result = runner.invoke(app, [str(run_dirs[0]), str(broken), "--html", str(page)])
    assert result.exit_code == 2
    assert str(broken / "summary.json") in result.output
    assert not page.exists()


def test_one_run_folder_is_not_enough(run_dirs):
    result = runner.invoke(app, [str(run_dirs[0])])
    assert result.exit_code == 2
    assert "at least two run folders" in result.output


def test_help_names_the_default_page():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "RUN_DIR" in result.output
    assert "compare.html" in result.output
