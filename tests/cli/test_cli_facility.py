"""End-to-end tests of the `narvik` command for sites and the facility year."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
CATALOGUE_TOML = (
    Path(__file__).resolve().parents[2] / "src/narvik/site/catalogue/stargate-norway.toml"
)


def _narvik_exe() -> list[str]:
    exe = shutil.which("narvik", path=str(Path(sys.executable).parent)) or shutil.which("narvik")
    assert exe, "the narvik console script is not installed"
    return [exe]


def test_version_from_the_installed_console_script():
    out = subprocess.run([*_narvik_exe(), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("narvik ")


def test_facility_year_json_default_site():
    out = subprocess.run(
        [*_narvik_exe(), "facility", "year", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    doc = json.loads(out.stdout)
    t = doc["totals"]
    assert doc["load"] == pytest.approx(0.9)
    assert 1.05 <= t["pue"] <= 1.20
    assert t["ref"] == pytest.approx(1.0)
    assert t["erf"] > 0
    kinds = {o["kind"] for o in doc["offtakers"] if o["delivered_mwh"] > 0}
    assert kinds == {"district_heating"}  # the other offtakers are optional, off by default
    for key in ("peak_facility_power_mw", "power_cap_mw", "cue_kg_per_kwh", "wue_l_per_kwh"):
        assert key in t
    assert doc["eu_report"]["indicators"]["ref"] == pytest.approx(1.0)


def test_facility_year_tables_and_out_folder(tmp_path):
    result = runner.invoke(app, ["facility", "year", "--load", "0.5", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "PUE" in result.output and "Free-cooling hours" in result.output
    doc = json.loads((tmp_path / "facility_year.json").read_text())
    table = pq.read_table(tmp_path / "facility_hourly.parquet")
    assert table.num_rows == 8760
    assert sum(table["it_power_w"].to_pylist()) / 1e6 == pytest.approx(
        doc["totals"]["it_energy_mwh"]
    )
    assert not list(tmp_path.glob(".*.tmp"))


def test_facility_year_with_epw_weather(tmp_path):
    from narvik.physics.weather import builtin_weather, write_epw

    epw = tmp_path / "narvik.epw"
    write_epw(epw, builtin_weather("narvik", seed=3))
    result = runner.invoke(app, ["facility", "year", "--weather", str(epw), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["weather"].endswith("narvik.epw")


def test_site_show_tables_and_json():
    result = runner.invoke(app, ["site", "show"])
    assert result.exit_code == 0, result.output
    for text in ("phase-1", "GB300", "Heat offtakers", "district_heating", "100,224"):
        assert text in result.output
    data = json.loads(runner.invoke(app, ["site", "show", "--json"]).stdout)
    assert data["fleet_by_phase"][0]["gpus"] == 100_224
    flat = json.loads(runner.invoke(app, ["site", "show", "--site", "flat:64", "--json"]).stdout)
    assert flat == {"name": "flat:64", "kind": "flat", "gpus": 64}


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("racks = 348", 'racks = "many"', "halls.0.racks"),
        ("racks_per_network_block = 16\n", "", "halls.0.racks_per_network_block"),
        ("max_power_w = 1400.0", "max_power_w = -1400.0", "gpu_models.3.max_power_w"),
        ('gpu_model = "GB300"', 'gpu_model = "GX9000"', "rack_types.0.gpu_model"),
    ],
)
@pytest.mark.parametrize("command", [["site", "show"], ["facility", "year"]])
def test_bad_site_file_clear_error_nothing_written(tmp_path, old, new, field, command):
    bad = tmp_path / "bad.toml"
    bad.write_text(CATALOGUE_TOML.read_text().replace(old, new, 1))
    out = tmp_path / "out"
    args = [*_narvik_exe(), *command, "--site", str(bad)]
    if command[0] == "facility":
        args += ["--out", str(out)]
    proc = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and field in proc.stderr
    assert proc.stdout == ""
    assert not out.exists()


def test_bad_epw_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.epw"
    bad.write_text("LOCATION,nowhere\n")
    result = runner.invoke(app, ["facility", "year", "--weather", str(bad)])
    assert result.exit_code == 2
    assert "bad.epw" in result.output


def test_flat_site_has_no_facility():
    result = runner.invoke(app, ["facility", "year", "--site", "flat:10"])
    assert result.exit_code == 2
    assert "flat pool has no facility" in result.output
