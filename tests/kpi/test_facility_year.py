"""The facility through a Narvik year: KPIs in range and moving the right way."""

import dataclasses

import numpy as np
import pytest

from narvik.kpi.eu_report import eu_report
from narvik.kpi.facility_year import run_facility_year
from narvik.physics.facility import POWER_COMPONENTS
from narvik.physics.weather import builtin_weather
from narvik.site import load_site


@pytest.fixture(scope="module")
def site():
    return load_site("stargate-norway")


@pytest.fixture(scope="module")
def narvik_weather():
    return builtin_weather("narvik", seed=0)


@pytest.fixture(scope="module")
def base(site, narvik_weather):
    return run_facility_year(site, narvik_weather, 0.9).totals()


def test_default_site_at_90_percent_load(base, site, narvik_weather):
    assert base["hours"] == 8760
    # The complete chain (two transformer stages, N+1 UPS units, both loops' pumps, the
    # electrical rooms' cooling): about 1.07.
    assert 1.06 <= base["pue"] <= 1.08
    assert base["ref"] == pytest.approx(1.0)
    assert 0.005 < base["erf"] < 0.03  # the town's district heating alone
    assert base["peak_facility_power_mw"] < base["power_cap_mw"] == 230.0
    year = run_facility_year(site, narvik_weather, 0.9)
    assert [o["kind"] for o in year.offtakers() if o["delivered_mwh"] > 0] == ["district_heating"]


def test_energy_balance_of_every_hour(site, narvik_weather):
    h = run_facility_year(site, narvik_weather, 0.7).hours
    parts = sum(getattr(h, name) for name in POWER_COMPONENTS)
    np.testing.assert_allclose(parts, h.facility_power_w, rtol=1e-12)
    # Heat: the loops carry the IT heat and more (pump work, fan heat, the electrical
    # rooms' losses); what is reused plus what is rejected is all of it.
    np.testing.assert_allclose(h.heat_reused_w + h.heat_rejected_w, h.heat_to_loop_w, rtol=1e-12)
    assert np.all(h.heat_to_loop_w > h.it_power_w * 1.014)


def test_more_load_more_energy_lower_pue(site, narvik_weather, base):
    low = run_facility_year(site, narvik_weather, 0.3).totals()
    assert low["it_energy_mwh"] < base["it_energy_mwh"]
    assert low["facility_energy_mwh"] < base["facility_energy_mwh"]
    assert low["peak_facility_power_mw"] < base["peak_facility_power_mw"]
    # Fixed overheads (transformer iron losses, building loads) weigh more at low load.
    assert low["pue"] > base["pue"]


def test_warmer_weather_raises_pue_and_cuts_free_cooling(site, narvik_weather, base):
    warm = dataclasses.replace(narvik_weather, dry_bulb_c=narvik_weather.dry_bulb_c + 10.0)
    hot = run_facility_year(site, warm, 0.9).totals()
    assert hot["pue"] > base["pue"]
    assert hot["free_cooling_hours"] < base["free_cooling_hours"]
    assert hot["chiller_energy_mwh"] > base["chiller_energy_mwh"]
    # District heating and greenhouses need less heat in a warmer year.
    assert hot["heat_reused_mwh"] < base["heat_reused_mwh"]


def test_warmer_supply_water_gives_more_free_cooling(site, narvik_weather, base):
    # ASHRAE W32 instead of W27: supply and return 7 K warmer.
    cooling = site.cooling.model_copy(update={"supply_temp_c": 32.0, "return_temp_c": 52.0})
    warm_loop = site.model_copy(update={"cooling": cooling})
    warm = dataclasses.replace(narvik_weather, dry_bulb_c=narvik_weather.dry_bulb_c + 8.0)
    cold_loop_hot_year = run_facility_year(site, warm, 0.9).totals()
    warm_loop_hot_year = run_facility_year(warm_loop, warm, 0.9).totals()
    assert warm_loop_hot_year["free_cooling_hours"] > cold_loop_hot_year["free_cooling_hours"]
    assert warm_loop_hot_year["pue"] < cold_loop_hot_year["pue"]
    # Warmer return water also lifts heat-pump COPs: less heat-pump electricity per MWh.
    assert warm_loop_hot_year["heat_pump_energy_mwh"] < cold_loop_hot_year["heat_pump_energy_mwh"]


def test_eu_report_fields(site, narvik_weather, base):
    doc = eu_report(run_facility_year(site, narvik_weather, 0.9), 2027)
    assert doc["in_scope"] is True
    energy = doc["energy"]
    assert energy["total_energy_consumption_kwh"] == pytest.approx(
        base["facility_energy_mwh"] * 1e3
    )
    assert energy["renewable_ppa_kwh"] + energy["renewable_guarantees_of_origin_kwh"] == (
        pytest.approx(energy["total_energy_consumption_kwh"])
    )
    assert doc["indicators"]["pue"] == pytest.approx(base["pue"])
    assert doc["waste_heat"]["average_waste_heat_temperature_c"] == 45.0
    assert doc["capacity"]["installed_information_technology_power_demand_kw"] > 500


def test_load_out_of_range(site, narvik_weather):
    with pytest.raises(ValueError, match="load"):
        run_facility_year(site, narvik_weather, 1.5)
