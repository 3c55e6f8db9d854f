"""Phase 2 at full load through a two-week 30 C heat wave, from an EPW file: the hours
over the 520 MW grid connection and the hours the installed dry coolers and trim
chillers cannot hold the supply temperature are reported. (The built-in year, whose
tails follow the measured Tromsø series, already takes phase 2 at full load over 520 MW
and short of cooling on a few of its hottest afternoons: the heat wave adds many.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app
from narvik.physics.design_conditions import heat_wave
from narvik.physics.weather import builtin_weather, write_epw

_register()
runner = CliRunner()
WAVE_START_DAY = 191  # 10 July (day 1 = 1 January)
WAVE_DAYS = 14
PHASE_2_FULL = ["facility", "year", "--phase", "phase-2", "--load", "1.0"]


def _year(tmp_path: Path, name: str, *extra: str) -> tuple[dict, dict[str, np.ndarray]]:
    out = tmp_path / name
    result = runner.invoke(app, [*PHASE_2_FULL, *extra, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "facility_hourly.parquet")
    cols = {c: table.column(c).to_numpy() for c in table.column_names}
    return json.loads(result.stdout)["totals"], cols


@pytest.fixture(scope="module")
def hot_epw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hot = heat_wave(builtin_weather("narvik", 0), WAVE_START_DAY, WAVE_DAYS, 30.0)
    path = tmp_path_factory.mktemp("wx") / "heat-wave.epw"
    write_epw(path, hot)
    return path


def test_phase_2_at_full_load_reports_hours_over_the_cap_and_short_of_cooling(
    hot_epw: Path, tmp_path: Path
):
    t, hot = _year(tmp_path, "hot", "--weather", str(hot_epw))
    base, normal = _year(tmp_path, "normal")
    assert t["power_cap_mw"] == 520.0
    wave = np.zeros(hot["facility_power_w"].size, dtype=bool)
    first = (WAVE_START_DAY - 1) * 24
    wave[first : first + WAVE_DAYS * 24] = True
    assert hot["ambient_c"][wave].max() == pytest.approx(30.0)
    over = hot["facility_power_w"] > 520e6
    short = hot["cooling_shortfall_w"] > 1.0
    # The totals count the hourly file's hours.
    assert t["hours_over_cap"] == over.sum() and t["cooling_shortfall_hours"] == short.sum()
    # Outside the wave the year is the built-in one, hour for hour.
    np.testing.assert_array_equal(short[~wave], normal["cooling_shortfall_w"][~wave] > 1.0)
    # In the wave: tens of hours over the cap and short of cooling, against a handful.
    assert over[wave].sum() >= 20 and short[wave].sum() >= 20
    assert over[wave].sum() > 3 * (normal["facility_power_w"][wave] > 520e6).sum()
    assert t["hours_over_cap"] > base["hours_over_cap"]
    assert t["cooling_shortfall_hours"] > base["cooling_shortfall_hours"]
    assert t["cooling_shortfall_mwh"] > base["cooling_shortfall_mwh"]
    # The table says so too.
    table = runner.invoke(app, [*PHASE_2_FULL, "--weather", str(hot_epw)])
    assert table.exit_code == 0, table.output
    assert "Hours short of cooling" in table.stdout


def test_the_built_in_year_is_short_of_cooling_only_in_its_hottest_hours(tmp_path: Path):
    t, cols = _year(tmp_path, "normal")
    short = cols["cooling_shortfall_w"] > 1.0
    assert t["cooling_shortfall_hours"] < 50
    if short.any():  # only above the 1 % cooling design temperature of the year
        assert cols["ambient_c"][short].min() > np.quantile(cols["ambient_c"], 0.99)


def test_a_weather_offset_warms_the_year():
    base = runner.invoke(app, ["facility", "year", "--json"])
    warm = runner.invoke(app, ["facility", "year", "--json", "--weather-offset-k", "8"])
    assert base.exit_code == 0 and warm.exit_code == 0, warm.output
    b, w = json.loads(base.stdout), json.loads(warm.stdout)
    assert w["weather"].endswith("shifted +8 K")
    assert w["totals"]["pue"] > b["totals"]["pue"]
    assert w["totals"]["free_cooling_hours"] < b["totals"]["free_cooling_hours"]
