"""`narvik power-quality` on the default scenario: three and a half days in (the anchor's
first big gangs are running), an hour at 0.1 s swings by tens of MW raw; with the
scenario's smoothing the ramp stays under 2 MW/s, at a reported energy cost."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
WINDOW = ["--start", "2027-01-04T12:00:00", "--span-s", "3600", "--resolution-s", "0.1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pq") / "run"
    result = runner.invoke(app, ["simulate", "--days", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_an_hour_of_the_default_site_raw_and_smoothed(run_dir: Path, tmp_path: Path):
    series = tmp_path / "pq.parquet"
    result = runner.invoke(
        app, ["power-quality", str(run_dir), *WINDOW, "--json", "--out", str(series)]
    )
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["window"]["start"] == "2027-01-04T12:00:00Z"
    assert s["busy_gpus_by_kind"]["training"] > 10_000
    assert s["raw"]["max_swing_mw"] >= 10.0  # tens of MW within seconds
    assert s["raw"]["swing_break_events"] > 0  # over the grid code's 20 MW
    assert s["smoothed"]["max_ramp_mw_per_s"] <= 2.0
    assert s["smoothed"]["ramp_break_events"] == 0 and s["smoothed"]["swing_break_events"] == 0
    assert s["smoothing_energy_mwh"] > 0
    table = pq.read_table(series)
    assert table.num_rows == 36_000
    raw = table.column("grid_power_w").to_numpy()
    assert (raw.max() - raw.min()) / 1e6 >= s["raw"]["max_swing_mw"] - 1e-9
    smoothed = table.column("grid_power_smoothed_w").to_numpy()
    assert np.max(np.abs(np.diff(smoothed))) <= 2.0e6 * 0.1 + 1e-3
    floored = table.column("grid_power_floored_w").to_numpy()
    energy_mwh = float(np.sum(floored - raw) * 0.1) / 3.6e9
    assert energy_mwh == pytest.approx(s["smoothing_energy_mwh"], rel=1e-9)


def test_the_terminal_summary(run_dir: Path):
    result = runner.invoke(app, ["power-quality", str(run_dir), *WINDOW[:2], "--span-s", "600"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "window 2027-01-04T12:00:00Z, 600 s at 0.1 s" in text
    assert "smoothing cost" in text and "MWh" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2027-03-01T00:00:00"], "--start/--span-s: the window must lie within"),
        (["--resolution-s", "0.01"], "--resolution-s: at least 0.1 s"),
        (["--span-s", "0"], "--span-s and --resolution-s"),
    ],
)
def test_bad_windows_exit_2(run_dir: Path, args: list[str], message: str):
    result = runner.invoke(app, ["power-quality", str(run_dir), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_flat_pool_has_no_power_to_rebuild(tmp_path: Path):
    out = tmp_path / "flat"
    made = runner.invoke(app, ["simulate", "--site", "flat:32", "--policy", "easy"]
                         + ["--days", "1", "--out", str(out)])  # fmt: skip
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["power-quality", str(out)])
    assert result.exit_code == 2
    assert "is a flat pool: it has no power to rebuild" in result.output
