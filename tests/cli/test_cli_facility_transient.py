"""End-to-end tests of `narvik facility transient`: loss of heat rejection and a load step."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
SMALL_SITE = Path(__file__).parents[1] / "data" / "small-site.toml"
PHASE_1_NAMEPLATE_MW = 185.5536  # 1,392 GB300 NVL72 racks at full load


def _json(*args: str) -> dict:
    result = runner.invoke(app, ["facility", "transient", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_loss_of_rejection_time_to_limit_matches_the_hand_calculation():
    doc = _json()
    assert doc["event"] == "loss-of-rejection"
    assert doc["load_fraction"] == pytest.approx(0.9)
    assert doc["ambient_c"] == pytest.approx(25.0)
    # 8 m3 per MW of the phase-1 nameplate; C = rho V cp of the glycol at 35 C.
    assert doc["loop_volume_m3"] == pytest.approx(8.0 * PHASE_1_NAMEPLATE_MW, rel=1e-6)
    c = doc["coolant_density_kg_per_m3"] * doc["loop_volume_m3"] * doc["coolant_cp_j_per_kg_k"]
    assert doc["heat_capacity_j_per_k"] == pytest.approx(c)
    assert doc["supply_limit_c"] == pytest.approx(27.0)  # ASHRAE W27, from the site file
    assert doc["margin_k"] == pytest.approx(2.0)
    net = doc["heat_in_w"] - doc["heat_reused_w"]
    assert doc["net_heat_w"] == pytest.approx(net)
    hand = c * 2.0 / net
    assert doc["time_to_limit_hand_s"] == pytest.approx(hand)
    assert doc["time_to_limit_s"] == pytest.approx(hand, rel=1e-6)
    assert 60 < hand < 90  # about 75 s at 90 % load on a 25 C day
    # All IT heat plus the pumps' hydraulic work enters the loop; offtakers keep drawing.
    assert doc["loop_heat_share"] == 1.0 and doc["reuse_continues"] is True
    assert doc["it_power_w"] < doc["heat_in_w"] < 1.01 * doc["it_power_w"]
    assert doc["heat_reused_w"] > 0
    assert all(r["heat_rejected_w"] == 0.0 for r in doc["instants"])
    assert doc["final_return_c"] - doc["final_supply_c"] == pytest.approx(20.0)


def test_stopping_reuse_or_counting_only_the_liquid_heat_moves_the_time():
    base = _json()
    no_reuse = _json("--no-reuse")
    assert no_reuse["heat_reused_w"] == 0.0
    assert no_reuse["time_to_limit_s"] < base["time_to_limit_s"]
    liquid = _json("--liquid-only")
    assert liquid["loop_heat_share"] == pytest.approx(0.85)
    assert liquid["time_to_limit_s"] > base["time_to_limit_s"]
    wider = _json("--limit-c", "32")  # a W32 rack: 7 K of margin, 3.5 times as long
    assert wider["time_to_limit_s"] == pytest.approx(3.5 * base["time_to_limit_s"], rel=1e-6)


def test_limit_not_reached_within_the_duration_is_null():
    doc = _json("--limit-c", "45", "--duration-s", "300")
    assert doc["time_to_limit_s"] is None
    assert doc["time_to_limit_hand_s"] > 300


def test_load_step_peak_matches_the_critically_damped_hand_value(tmp_path):
    out = tmp_path / "step.parquet"
    doc = _json("--event", "load-step", "--out", str(out))
    assert doc["it_step_w"] == pytest.approx(100e6)
    assert doc["it_power_w"] - doc["it_power_before_w"] == pytest.approx(100e6)
    assert doc["rejection_response_s"] == pytest.approx(60.0)
    # Peak 2 dQ tau / (e C) at 2 tau = 120 s, then back to the set point.
    assert doc["peak_rise_k"] == pytest.approx(doc["peak_rise_hand_k"], rel=0.02)
    assert 0.5 < doc["peak_rise_k"] < 1.0
    assert doc["peak_supply_t_s"] == pytest.approx(120.0, abs=2.0)
    assert doc["peak_return_c"] == pytest.approx(doc["peak_supply_c"] + 20.0)
    assert doc["time_to_limit_s"] is None
    assert doc["final_supply_c"] == pytest.approx(25.0, abs=0.01)
    # In the end the dry coolers and the trim chillers reject the net heat together.
    final = doc["final_dry_cooler_heat_w"] + doc["final_chiller_heat_w"]
    assert final == pytest.approx(doc["heat_in_w"] - doc["heat_reused_w"], rel=1e-3)
    # At 25 C the dry coolers installed (1.15 W per W of IT nameplate at 19 C) fall short.
    assert doc["final_chiller_heat_w"] > 0
    times = [r["t_s"] for r in doc["instants"]]
    assert times[0] == 0.0 and times[-1] == 1800.0 and 120.0 in times
    table = pq.read_table(out)
    assert table.num_rows == 1801
    assert {"t_s", "supply_c", "return_c", "heat_rejected_w", "chiller_heat_w"} <= set(
        table.column_names
    )
    assert max(table["supply_c"].to_pylist()) == pytest.approx(doc["peak_supply_c"])


def test_text_output_names_the_answers():
    result = runner.invoke(app, ["facility", "transient"])
    assert result.exit_code == 0, result.output
    assert "supply limit 27 C" in result.output and "by hand, C dT / Q" in result.output
    step = runner.invoke(app, ["facility", "transient", "--event", "load-step", "--dt-s", "2"])
    assert step.exit_code == 0, step.output
    assert "peak supply" in step.output and "70.6 MW -> 170.6 MW IT" in step.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--event", "meltdown"], "--event"),
        (["--load", "1.5"], "--load"),
        (["--event", "load-step", "--step-mw", "500"], "--step-mw"),
        (["--event", "load-step", "--step-mw", "0"], "--step-mw"),
        (["--dt-s", "0"], "--dt-s"),
        (["--event", "load-step", "--dt-s", "30"], "--dt-s"),
        (["--duration-s", "-5"], "--duration-s"),
        (["--limit-c", "20"], "--limit-c"),
        (["--ambient-c", "99"], "--ambient-c"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(tmp_path, args, option):
    out = tmp_path / "series.parquet"
    result = runner.invoke(app, ["facility", "transient", *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {option}:")
    assert result.stdout == ""
    assert not out.exists()


def test_site_without_a_loop_volume_is_a_clear_error():
    result = runner.invoke(app, ["facility", "transient", "--site", str(SMALL_SITE)])
    assert result.exit_code == 2
    assert "cooling.loop_volume_m3_per_mw" in result.stderr


def test_flat_site_has_no_loop():
    result = runner.invoke(app, ["facility", "transient", "--site", "flat:10"])
    assert result.exit_code == 2
    assert "flat pool has no facility" in result.stderr
