"""End-to-end tests of `narvik report DIR`."""

from __future__ import annotations

from tests.kpi.test_report import make_flat_run, make_physical_run
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()


def test_report_renders_and_prints_the_path(tmp_path):
    run = make_physical_run(tmp_path / "run")
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert str(run / "report.html") in result.output
    assert (run / "report.html").stat().st_size > 0


def test_report_of_a_flat_run(tmp_path):
    run = make_flat_run(tmp_path / "flat")
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "without physics" in (run / "report.html").read_text(encoding="utf-8")


def test_folder_without_summary_exits_2_naming_the_file(tmp_path):
    run = make_flat_run(tmp_path / "run")
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
