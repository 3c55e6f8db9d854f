"""Phase 2 at full load through a two-week 30 C heat wave, from an EPW file: the hours
over the 520 MW grid connection and the hours the installed dry coolers and trim
chillers cannot hold the supply temperature are reported. (Even the built-in year's
warmest afternoons take phase 2 at full load over 520 MW for a few hours, with the
complete power chain: the heat wave adds to them.)"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app
from narvik.physics.weather import builtin_weather, write_epw

_register()
runner = CliRunner()
WAVE_DAYS = range(190, 204)  # 9-22 July


@pytest.fixture(scope="module")
def hot_epw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in Narvik year with 14 days whose temperature swings between 21 C at
    05:00 and 30 C at 15:00 (half-cosines, as the built-in year's diurnal shape)."""
    w = builtin_weather("narvik", 0)
    dry = w.dry_bulb_c.copy()
    h = np.arange(24, dtype=float)
    rising = (h >= 5) & (h <= 15)
    shape = np.where(rising, -np.cos(np.pi * (h - 5) / 10), np.cos(np.pi * ((h - 15) % 24) / 14))
    for day in WAVE_DAYS:
        dry[day * 24 : (day + 1) * 24] = 25.5 + 4.5 * shape
    hot = dataclasses.replace(w, dry_bulb_c=dry, dew_point_c=np.minimum(w.dew_point_c, dry))
    path = tmp_path_factory.mktemp("wx") / "heat-wave.epw"
    write_epw(path, hot)
    return path


def test_phase_2_at_full_load_reports_hours_over_the_cap_and_short_of_cooling(
    hot_epw: Path, tmp_path: Path
):
    out = tmp_path / "hot"
    args = ["facility", "year", "--phase", "phase-2", "--load", "1.0", "--weather", str(hot_epw)]
    result = runner.invoke(app, [*args, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    t = json.loads(result.stdout)["totals"]
    assert t["power_cap_mw"] == 520.0
    assert t["hours_over_cap"] > 0
    assert t["cooling_shortfall_hours"] > 0
    assert t["cooling_shortfall_mwh"] > 0
    hourly = pq.read_table(out / "facility_hourly.parquet")
    power = hourly.column("facility_power_w").to_numpy()
    short = hourly.column("cooling_shortfall_w").to_numpy() > 1.0
    over = power > 520e6
    wave = np.zeros(power.size, dtype=bool)
    for day in WAVE_DAYS:
        wave[day * 24 : (day + 1) * 24] = True
    # Cooling falls short only in the heat wave; the cap is passed mostly in it.
    assert np.all(wave[short])
    assert over[wave].sum() > over[~wave].sum()
    assert t["hours_over_cap"] == over.sum() and t["cooling_shortfall_hours"] == short.sum()
    normal = runner.invoke(app, [*args[:-2], "--json"])
    assert normal.exit_code == 0, normal.output
    assert t["hours_over_cap"] > json.loads(normal.stdout)["totals"]["hours_over_cap"]
    # The table says so too.
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "Hours short of cooling" in table.stdout


def test_the_same_year_without_the_heat_wave_is_never_short_of_cooling(tmp_path: Path):
    args = ["facility", "year", "--phase", "phase-2", "--load", "1.0", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    t = json.loads(result.stdout)["totals"]
    assert t["cooling_shortfall_hours"] == 0
    assert t["hours_over_cap"] < 100  # a few warm afternoons at most


def test_a_weather_offset_warms_the_year(tmp_path: Path):
    base = runner.invoke(app, ["facility", "year", "--json"])
    warm = runner.invoke(app, ["facility", "year", "--json", "--weather-offset-k", "8"])
    assert base.exit_code == 0 and warm.exit_code == 0, warm.output
    b, w = json.loads(base.stdout), json.loads(warm.stdout)
    assert w["weather"].endswith("shifted +8 K")
    assert w["totals"]["pue"] > b["totals"]["pue"]
    assert w["totals"]["free_cooling_hours"] < b["totals"]["free_cooling_hours"]
