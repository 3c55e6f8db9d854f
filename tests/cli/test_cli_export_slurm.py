"""`narvik export slurm`: files written, exit codes."""

from __future__ import annotations

from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()

runner = CliRunner()


def test_writes_the_four_files(tmp_path):
    res = runner.invoke(app, ["export", "slurm", "--out", str(tmp_path), "--at", "2027-02-01"])
    assert res.exit_code == 0, res.output
    for name in ("slurm.conf", "gres.conf", "topology.conf", "sacctmgr.sh"):
        assert (tmp_path / name).stat().st_size > 0
    assert "100,224 GPUs" in res.output
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_date_exits_2(tmp_path):
    res = runner.invoke(app, ["export", "slurm", "--out", str(tmp_path), "--at", "2027-13-01"])
    assert res.exit_code == 2
    assert "--at" in res.output
    assert not list(tmp_path.iterdir())


def test_unknown_scenario_exits_2(tmp_path):
    res = runner.invoke(app, ["export", "slurm", "--out", str(tmp_path), "--scenario", "nope"])
    assert res.exit_code == 2
    assert "nope" in res.output


def test_flat_site_exits_2(tmp_path):
    res = runner.invoke(app, ["export", "slurm", "--out", str(tmp_path), "--site", "flat:8"])
    assert res.exit_code == 2
    assert "flat pool" in res.output


def test_out_is_required():
    res = runner.invoke(app, ["export", "slurm"])
    assert res.exit_code == 2
