"""The shipped heat market: Narvik's district heating sized to the town (about 25 GWh a
year), with its outdoor-compensated supply, Lorenz COP and the wood-chip plant's share;
the smolt farm, greenhouses and dryer are optional and off by default."""

from __future__ import annotations

import pytest

from narvik.kpi.facility_year import run_facility_year
from narvik.physics.weather import builtin_weather
from narvik.site import load_site
from narvik.site.loader import override_site

INHABITANTS = 22_000
MWH_PER_INHABITANT = 1.15  # Statistics Norway, district heat delivered per inhabitant


@pytest.fixture(scope="module")
def site():
    return load_site("stargate-norway")


@pytest.fixture(scope="module")
def year(site):
    return run_facility_year(site, builtin_weather("narvik", 0), 0.9)


def test_district_heating_is_the_size_of_the_town(year):
    (dh,) = year.offtakers()  # the optional offtakers are off
    assert dh["kind"] == "district_heating"
    assert dh["demand_mwh"] == pytest.approx(INHABITANTS * MWH_PER_INHABITANT, rel=0.05)
    # The wood-chip plant keeps at least a fifth of every hour.
    assert dh["demand_met"] == pytest.approx(0.8, abs=0.005)


def test_the_heat_pump_cop_follows_the_supply_curve(year):
    cops = year.model.offtaker_cops(year.weather.dry_bulb_c)[0]
    amb = year.weather.dry_bulb_c
    # Colder days need hotter supply (80 C at -15 C, 70 C from +5 C): a lower COP.
    assert cops[amb.argmin()] < cops[amb.argmax()]
    assert 3.8 < cops.min() < cops.max() < 4.6
    dh = year.offtakers()[0]
    mean_cop = dh["delivered_mwh"] / dh["heat_pump_energy_mwh"]
    assert 3.8 < mean_cop < 4.6


def test_erf_is_about_one_per_cent_with_the_town_alone(year):
    assert 0.005 < year.totals()["erf"] < 0.03


def test_switching_the_optional_offtakers_on_takes_erf_towards_a_tenth(site):
    names = [
        "Land-based salmon smolt farm",
        "Ofoten greenhouses",
        "Industrial drying (fish feed, timber)",
    ]
    more = override_site(site, {f"offtakers.{n}.enabled": True for n in names}, "site_overrides")
    year = run_facility_year(more, builtin_weather("narvik", 0), 0.9)
    assert len(year.offtakers()) == 4
    assert 0.05 < year.totals()["erf"] < 0.15
