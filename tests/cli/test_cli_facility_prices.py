"""`narvik facility year --prices FILE`: the bill's lines from an hourly price series, and a
bad price file named by file and line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()


def _price_file(path: Path, price: float, hours: int = 8760, year: int = 2027) -> Path:
    start = np.datetime64(f"{year}-01-01T00:00", "h") - np.timedelta64(1, "h")  # UTC+1
    rows = [f"{start + np.timedelta64(i, 'h')}:00Z,{price}" for i in range(hours)]
    path.write_text("time,price_eur_per_mwh\n" + "\n".join(rows) + "\n")
    return path


def test_a_flat_price_bills_every_mwh_at_it(tmp_path: Path):
    prices = _price_file(tmp_path / "flat.csv", 50.0)
    result = runner.invoke(app, ["facility", "year", "--prices", str(prices), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    cost, t = doc["cost"], doc["totals"]
    assert cost["energy_mwh"] == pytest.approx(t["facility_energy_mwh"], rel=1e-9)
    assert cost["energy_eur"] == pytest.approx(50.0 * t["facility_energy_mwh"], rel=1e-9)
    # Tariff energy term and tax per MWh, as the site file sets them.
    assert cost["tariff_energy_eur"] == pytest.approx(0.9 * t["facility_energy_mwh"], rel=1e-9)
    assert cost["electricity_tax_eur"] == pytest.approx(0.499 * t["facility_energy_mwh"], rel=1e-9)
    lines = ("energy_eur", "tariff_energy_eur", "tariff_capacity_eur", "electricity_tax_eur")
    assert cost["total_eur"] == pytest.approx(sum(cost[k] for k in lines), rel=1e-12)
    # Capacity: each month's peak hourly draw at 1.935 EUR/kW.
    assert 12 * 150e3 * 1.935 < cost["tariff_capacity_eur"] < 12 * 200e3 * 1.935


def test_the_default_prices_are_the_shipped_no4_profile():
    result = runner.invoke(app, ["facility", "year", "--json"])
    assert result.exit_code == 0, result.output
    cost = json.loads(result.stdout)["cost"]
    assert "NO4" in cost["prices"]
    assert 25.0 < cost["mean_price_eur_per_mwh"] < 35.0  # 2023's mean: 29.9 EUR/MWh


def test_a_bad_price_line_names_file_and_line(tmp_path: Path):
    prices = _price_file(tmp_path / "bad.csv", 50.0)
    lines = prices.read_text().splitlines()
    lines[4] = lines[4].split(",")[0] + ",cheap"
    prices.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["facility", "year", "--prices", str(prices)])
    assert result.exit_code == 2
    assert "bad.csv:5" in result.output
    assert "Traceback" not in result.output
