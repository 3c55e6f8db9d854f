"""The EU data-centre report (Delegated Regulation (EU) 2024/1364): every Annex item
present, values consistent with the run's totals, unknown items marked as such."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from narvik.kpi.eu_report import NOT_APPLICABLE, NOT_MODELLED, eu_report, is_reported
from narvik.kpi.facility_year import run_facility_year
from narvik.physics.weather import builtin_weather
from narvik.site import load_site

# The items of Annexes I to III, section by section, as the report names them.
ANNEX_ITEMS: dict[str, tuple[str, ...]] = {
    # Annex I point 1: information about the reporting data centre.
    "data_centre": (
        "name_of_the_data_centre",
        "owner_and_operator",
        "owner_and_operator_contact_details",
        "location_local_administrative_unit_code",
        "type_of_data_centre",
        "year_and_month_of_entering_into_operation",
    ),
    # Annex I point 2: information about the operation of the reporting data centre.
    "operation": (
        "redundancy_level_of_the_electrical_infrastructure",
        "redundancy_level_of_the_cooling_infrastructure",
    ),
    # Annex II: key performance indicators.
    "capacity": (
        "installed_information_technology_power_demand_kw",
        "total_floor_area_m2",
        "computer_room_floor_area_m2",
    ),
    "energy": (
        "total_energy_consumption_kwh",
        "total_energy_consumption_of_information_technology_equipment_kwh",
        "total_renewable_energy_consumption_kwh",
        "renewable_guarantees_of_origin_kwh",
        "renewable_ppa_kwh",
        "renewable_onsite_kwh",
    ),
    "water": ("total_water_input_m3", "potable_water_input_m3"),
    "waste_heat": ("waste_heat_reused_kwh", "average_waste_heat_temperature_c"),
    "cooling": (
        "average_it_equipment_intake_air_temperature_set_point_c",
        "type_of_refrigerants",
        "cooling_degree_days",
    ),
    "ict_capacity": ("ict_capacity_for_servers", "ict_capacity_for_storage_equipment"),
    "data_traffic": (
        "incoming_traffic_bandwidth",
        "outgoing_traffic_bandwidth",
        "incoming_data_traffic",
        "outgoing_data_traffic",
    ),
    # Annex III: data centre sustainability indicators.
    "indicators": ("pue", "wue_l_per_kwh", "erf", "ref"),
}

# What narvik cannot know from the site file and the run.
NOT_MODELLED_ITEMS = {
    ("data_centre", "owner_and_operator_contact_details"),
    ("data_centre", "location_local_administrative_unit_code"),
    ("data_centre", "type_of_data_centre"),
    ("operation", "redundancy_level_of_the_cooling_infrastructure"),
    ("water", "potable_water_input_m3"),
    ("ict_capacity", "ict_capacity_for_servers"),
    ("ict_capacity", "ict_capacity_for_storage_equipment"),
    ("data_traffic", "incoming_traffic_bandwidth"),
    ("data_traffic", "outgoing_traffic_bandwidth"),
    ("data_traffic", "incoming_data_traffic"),
    ("data_traffic", "outgoing_data_traffic"),
}


@pytest.fixture(scope="module")
def site():
    return load_site("stargate-norway")


@pytest.fixture(scope="module")
def narvik_weather():
    return builtin_weather("narvik", 0)


@pytest.fixture(scope="module")
def year(site, narvik_weather):
    return run_facility_year(site, narvik_weather, 0.9)


@pytest.fixture(scope="module")
def doc(year):
    return eu_report(year, 2027)


def _section(doc, name):
    section = doc[name]
    assert isinstance(section, dict)
    return section


def test_every_annex_item_is_present(doc):
    for section, items in ANNEX_ITEMS.items():
        missing = set(items) - set(_section(doc, section))
        assert not missing, f"{section}: {sorted(missing)}"
    assert doc["in_scope"] is True
    assert doc["reporting_year"] == 2027


def test_not_modelled_items_carry_the_status_and_a_reason(doc):
    for section, items in ANNEX_ITEMS.items():
        for item in items:
            field = _section(doc, section)[item]
            if (section, item) in NOT_MODELLED_ITEMS:
                assert field["status"] == NOT_MODELLED, (section, item)
                assert field["value"] is None
                assert field["why"]
                assert not is_reported(field)
            else:
                assert is_reported(field), (section, item)
                assert field is not None


def test_energy_in_kwh_matches_the_totals(doc, year):
    t = year.totals()
    energy = _section(doc, "energy")
    assert energy["total_energy_consumption_kwh"] == pytest.approx(t["facility_energy_mwh"] * 1e3)
    assert energy[
        "total_energy_consumption_of_information_technology_equipment_kwh"
    ] == pytest.approx(t["it_energy_mwh"] * 1e3)
    assert energy["total_renewable_energy_consumption_kwh"] == pytest.approx(
        t["renewable_energy_mwh"] * 1e3
    )
    heat = _section(doc, "waste_heat")
    assert heat["waste_heat_reused_kwh"] == pytest.approx(t["heat_reused_mwh"] * 1e3)
    assert _section(doc, "water")["total_water_input_m3"] == pytest.approx(t["water_m3"])


def test_renewable_energy_by_origin_adds_up_to_the_total(doc, site):
    energy = _section(doc, "energy")
    parts = (
        "renewable_guarantees_of_origin_kwh",
        "renewable_ppa_kwh",
        "renewable_onsite_kwh",
        "renewable_other_kwh",
    )
    assert sum(energy[p] for p in parts) == pytest.approx(
        energy["total_renewable_energy_consumption_kwh"], rel=1e-12
    )
    # The default site: 80 % hydropower PPA, 20 % grid with guarantees of origin.
    total = energy["total_energy_consumption_kwh"]
    assert energy["renewable_ppa_kwh"] == pytest.approx(0.8 * total)
    assert energy["renewable_guarantees_of_origin_kwh"] == pytest.approx(0.2 * total)
    assert energy["renewable_onsite_kwh"] == 0.0


def test_indicators_are_the_annex_iii_ratios(doc, year):
    t = year.totals()
    ind = _section(doc, "indicators")
    energy = _section(doc, "energy")
    e_dc = energy["total_energy_consumption_kwh"]
    e_it = energy["total_energy_consumption_of_information_technology_equipment_kwh"]
    assert ind["pue"] == pytest.approx(e_dc / e_it) == pytest.approx(t["pue"])
    assert ind["erf"] == pytest.approx(_section(doc, "waste_heat")["waste_heat_reused_kwh"] / e_dc)
    assert ind["ref"] == pytest.approx(energy["total_renewable_energy_consumption_kwh"] / e_dc)
    water_l = _section(doc, "water")["total_water_input_m3"] * 1e3
    assert ind["wue_l_per_kwh"] == pytest.approx(water_l / e_it)


@pytest.mark.parametrize("phase", ["phase-1", "phase-2"])
def test_floor_areas_are_the_halls_online_plus_support(site, narvik_weather, phase):
    doc = eu_report(run_facility_year(site, narvik_weather, 0.9, phase), 2029)
    capacity = _section(doc, "capacity")
    halls = site.halls_online(phase)
    white_m2 = sum(h.floor_area_m2 for h in halls)
    assert len(halls) == (4 if phase == "phase-1" else 10)
    assert capacity["computer_room_floor_area_m2"] == pytest.approx(white_m2)
    assert capacity["total_floor_area_m2"] == pytest.approx(white_m2 + site.support_floor_area_m2)
    assert capacity["installed_information_technology_power_demand_kw"] > 500


def test_floor_areas_not_modelled_without_the_site_figures(site, narvik_weather):
    bare = site.model_copy(update={"support_floor_area_m2": None})
    capacity = _section(eu_report(run_facility_year(bare, narvik_weather, 0.9), 2027), "capacity")
    assert capacity["total_floor_area_m2"]["status"] == NOT_MODELLED
    assert capacity["computer_room_floor_area_m2"] == pytest.approx(4 * 1050.0)


def test_site_facts(doc, site):
    dc = _section(doc, "data_centre")
    assert dc["name_of_the_data_centre"] == site.name
    assert dc["owner_and_operator"] == site.operator
    assert dc["year_and_month_of_entering_into_operation"] == "2026-06"
    op = _section(doc, "operation")
    assert op["redundancy_level_of_the_electrical_infrastructure"] == "N+1"
    cooling = _section(doc, "cooling")
    assert cooling["average_it_equipment_intake_air_temperature_set_point_c"] == 27.0
    assert cooling["type_of_refrigerants"] == ["R-1234ze(E)"]
    assert _section(doc, "waste_heat")["average_waste_heat_temperature_c"] == (
        site.cooling.return_temp_c
    )


def _eurostat_cdd(hourly_c):
    tm = np.asarray(hourly_c).reshape(-1, 24).mean(axis=1)
    return float(np.sum(np.where(tm >= 24.0, tm - 21.0, 0.0)))


def test_cooling_degree_days_recomputed(doc, year, narvik_weather):
    assert _section(doc, "cooling")["cooling_degree_days"] == pytest.approx(
        _eurostat_cdd(narvik_weather.dry_bulb_c)
    )
    # A warmer year has cooling degree days; the report takes them from the run's weather.
    warm = dataclasses.replace(narvik_weather, dry_bulb_c=narvik_weather.dry_bulb_c + 12.0)
    warm_doc = eu_report(dataclasses.replace(year, weather=warm), 2027)
    cdd = _section(warm_doc, "cooling")["cooling_degree_days"]
    assert cdd > 0
    assert cdd == pytest.approx(_eurostat_cdd(warm.dry_bulb_c))


def test_no_heat_reused_makes_the_temperature_not_applicable(year):
    hours = dataclasses.replace(year.hours, heat_reused_w=np.zeros_like(year.hours.heat_reused_w))
    doc = eu_report(dataclasses.replace(year, hours=hours), 2027)
    heat = _section(doc, "waste_heat")
    assert heat["waste_heat_reused_kwh"] == 0.0
    assert heat["average_waste_heat_temperature_c"]["status"] == NOT_APPLICABLE
    assert not is_reported(heat["average_waste_heat_temperature_c"])


def test_json_serialisable_without_nan(doc):
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc
