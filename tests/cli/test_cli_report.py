"""End-to-end tests of `narvik report DIR`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()


def _helpers():
    """The synthetic run folders of tests/kpi/test_report.py (imported by path)."""
    path = Path(__file__).resolve().parents[1] / "kpi" / "test_report.py"
    spec = importlib.util.spec_from_file_location("_report_fixtures", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_renders_and_prints_the_path(tmp_path):
    run = _helpers().make_physical_run(tmp_path / "run")
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert str(run / "report.html") in result.output
    assert (run / "report.html").stat().st_size > 0


def test_report_of_a_flat_run(tmp_path):
    run = _helpers().make_flat_run(tmp_path / "flat")
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "without physics" in (run / "report.html").read_text(encoding="utf-8")


def test_folder_without_summary_exits_2_naming_the_file(tmp_path):
    run = _helpers().make_flat_run(tmp_path / "run")
    (run / "summary.json").unlink()
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 2
    assert "summary.json" in result.output
    assert "Traceback" not in result.output
    assert not (run / "report.html").exists()


def test_missing_folder_exits_2(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_report_help_names_the_files():
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0
    assert "summary.json" in result.output
