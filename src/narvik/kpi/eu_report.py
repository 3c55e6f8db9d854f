"""The yearly data-centre report of the EU reporting scheme, as a JSON-ready document.

Commission Delegated Regulation (EU) 2024/1364 of 14 March 2024 on the first
phase of the establishment of a common Union rating scheme for data centres
(under Article 12 and Annex VII of the Energy Efficiency Directive (EU) 2023/1791).
It applies to data centres of 500 kW installed information technology power
demand and more. Its annexes:

- Annex I, the information to communicate: 1. about the reporting data centre
  (name; owner and operator; location as the Eurostat local administrative unit
  (LAU) code; type: enterprise, colocation or co-hosting; year and month of entering
  into operation) and 2. about its operation (redundancy level of the electrical
  and of the cooling infrastructure): sections ``data_centre`` and ``operation``.
- Annex II, the key performance indicators to monitor and communicate, with their
  measurement methodology: installed information technology power demand, total
  and computer room floor area (``capacity``); total energy consumption, that of
  the information technology equipment, and renewable energy consumption by
  origin: guarantees of origin, power purchase agreements, on-site (``energy``);
  total and potable water input (``water``); waste heat reused and its average
  temperature (``waste_heat``); average information technology equipment intake
  air temperature set point, type of refrigerants, cooling degree days
  (``cooling``); information and communication technology capacity of servers and
  of storage equipment (``ict_capacity``); incoming and outgoing traffic bandwidth
  and data traffic (``data_traffic``).
- Annex III, the data centre sustainability indicators: power usage effectiveness
  (PUE = total / IT energy), water usage effectiveness (WUE = water input / IT
  energy, L/kWh), energy reuse factor (ERF = waste heat reused / total energy),
  renewable energy factor (REF = renewable / total energy): ``indicators``.
- Annex IV, what the European database publishes in aggregate (not a report item).

Shape of a field. Every item of Annexes I to III has a key in its section, named
after the item with its unit. An item narvik knows is its bare JSON value (a
number, a string, a list of strings). An item it does not know is a status
object, never a bare null::

    {"value": null, "status": "not modelled", "why": "..."}

and an item that does not apply to this year (the average waste heat temperature
when no heat was reused) is the same object with ``"status": "not applicable"``.
``is_reported`` tells the two apart. ``basis`` says, per field path, how a value
was derived where the site file or the model holds only part of the item;
``context`` carries what is not an Annex item but helps to read the report
(coordinates, phase, GPUs, grid connection, weather). ``other_indicators`` holds
ISO/IEC 30134 indicators that the Regulation does not ask for (CUE).

The year is one modelled year of the phase the run is for, from 1 January to
31 December, with the phase in operation throughout: Annex II's time weighting
of a data centre that enters operation or grows during the reporting year is not
applied. Norway, where the default site stands, is in the EEA, not the EU; the
report shows the scheme's figures whatever the scheme's reach there.
"""

from __future__ import annotations

from narvik.kpi.facility_year import FacilityYear
from narvik.physics.degree_days import degree_days
from narvik.site.model import EnergyKind, Site

SCHEME = "Commission Delegated Regulation (EU) 2024/1364, Annexes I to III"
THRESHOLD_IT_POWER_KW = 500.0
NOT_MODELLED = "not modelled"
NOT_APPLICABLE = "not applicable"
KWH_PER_MWH = 1000.0
W_PER_KW = 1000.0


def not_modelled(why: str) -> dict[str, object]:
    """An Annex item narvik cannot know from the site file and the run."""
    return {"value": None, "status": NOT_MODELLED, "why": why}


def not_applicable(why: str) -> dict[str, object]:
    """An Annex item that does not apply to this year."""
    return {"value": None, "status": NOT_APPLICABLE, "why": why}


def is_reported(field: object) -> bool:
    """Whether a field carries a value (not a status object)."""
    return not (isinstance(field, dict) and field.get("status") in (NOT_MODELLED, NOT_APPLICABLE))


def eu_report(year: FacilityYear, reporting_year: int) -> dict[str, object]:
    """Annex I to III figures for one year of the facility (see the module docstring)."""
    t = year.totals()
    installed_kw = year.model.it_nameplate_power_w / W_PER_KW
    return {
        "scheme": SCHEME,
        "reporting_year": reporting_year,
        "in_scope": installed_kw >= THRESHOLD_IT_POWER_KW,
        "threshold_it_power_kw": THRESHOLD_IT_POWER_KW,
        "data_centre": _data_centre(year.site),
        "operation": _operation(year.site),
        "capacity": _capacity(year),
        "energy": _energy(year.site, t),
        "water": _water(t),
        "waste_heat": _waste_heat(year, t),
        "cooling": _cooling(year),
        "ict_capacity": _ict_capacity(),
        "data_traffic": _data_traffic(),
        "indicators": _indicators(t),
        "other_indicators": _other_indicators(t),
        "basis": _basis(year),
        "context": _context(year),
    }


def _data_centre(site: Site) -> dict[str, object]:
    """Annex I point 1: information about the reporting data centre."""
    first = site.phases[0].start_date
    return {
        "name_of_the_data_centre": site.name,
        "owner_and_operator": site.operator
        or not_modelled("the site file names no owner or operator"),
        "owner_and_operator_contact_details": not_modelled(
            "the site file holds no contact details"
        ),
        "location_local_administrative_unit_code": not_modelled(
            "the site file gives a place name and coordinates (see context), not Eurostat's "
            "LAU code"
        ),
        "type_of_data_centre": not_modelled(
            "the site file does not say whether the data centre is an enterprise, colocation "
            "or co-hosting data centre"
        ),
        "year_and_month_of_entering_into_operation": f"{first.year:04d}-{first.month:02d}",
    }


def _operation(site: Site) -> dict[str, object]:
    """Annex I point 2: information about the operation of the reporting data centre."""
    return {
        "redundancy_level_of_the_electrical_infrastructure": site.power_chain.ups_redundancy,
        "redundancy_level_of_the_cooling_infrastructure": not_modelled(
            "the site file sizes dry coolers and chillers per W of IT nameplate but states no "
            "redundancy level for them"
        ),
    }


def _capacity(year: FacilityYear) -> dict[str, object]:
    """Annex II: installed information technology power demand and the floor areas."""
    computer_room_m2 = _computer_room_floor_area_m2(year)
    support_m2 = year.site.support_floor_area_m2
    total: object
    if computer_room_m2 is None or support_m2 is None:
        total = not_modelled("the site file lacks a hall's floor area or the support floor area")
    else:
        total = computer_room_m2 + support_m2
    return {
        "installed_information_technology_power_demand_kw": year.model.it_nameplate_power_w
        / W_PER_KW,
        "total_floor_area_m2": total,
        "computer_room_floor_area_m2": not_modelled(
            "the site file lacks the floor area of a hall online in this phase"
        )
        if computer_room_m2 is None
        else computer_room_m2,
    }


def _computer_room_floor_area_m2(year: FacilityYear) -> float | None:
    """White space of the halls online in the run's phase, m2 (None if a hall lacks it)."""
    areas = [h.floor_area_m2 for h in year.site.halls_online(year.model.phase)]
    if any(a is None for a in areas):
        return None
    return float(sum(a for a in areas if a is not None))


def _energy(site: Site, t: dict[str, float]) -> dict[str, object]:
    """Annex II: total and IT energy consumption, renewable energy consumption by origin."""
    total_kwh = t["facility_energy_mwh"] * KWH_PER_MWH
    by_kind = renewable_kwh_by_kind(site, total_kwh)
    return {
        "total_energy_consumption_kwh": total_kwh,
        "total_energy_consumption_of_information_technology_equipment_kwh": t["it_energy_mwh"]
        * KWH_PER_MWH,
        "total_renewable_energy_consumption_kwh": t["renewable_energy_mwh"] * KWH_PER_MWH,
        "renewable_guarantees_of_origin_kwh": by_kind[EnergyKind.guarantee_of_origin],
        "renewable_ppa_kwh": by_kind[EnergyKind.ppa],
        "renewable_onsite_kwh": by_kind[EnergyKind.onsite],
        "renewable_other_kwh": by_kind[EnergyKind.grid],
    }


def renewable_kwh_by_kind(site: Site, total_kwh: float) -> dict[EnergyKind, float]:
    """Renewable energy of each kind of contract: its share of the year's total energy.

    Each contract covers a fixed share of every hour (:mod:`narvik.physics.energy_mix`),
    so over the year it covers that share of the total; non-renewable contracts count 0.
    """
    by_kind = dict.fromkeys(EnergyKind, 0.0)
    for contract in site.energy:
        if contract.renewable:
            by_kind[contract.kind] += total_kwh * contract.share
    return by_kind


def _water(t: dict[str, float]) -> dict[str, object]:
    """Annex II: total and potable water input."""
    return {
        "total_water_input_m3": t["water_m3"],
        "potable_water_input_m3": not_modelled(
            "the site file does not say where the closed loops' make-up water comes from; "
            "it is at most the total water input"
        ),
    }


def _waste_heat(year: FacilityYear, t: dict[str, float]) -> dict[str, object]:
    """Annex II: waste heat reused and the average temperature at which it leaves the loop."""
    reused_kwh = t["heat_reused_mwh"] * KWH_PER_MWH
    temp: object = (
        year.model.return_temp_c
        if reused_kwh > 0
        else not_applicable("no waste heat was reused in the year")
    )
    return {"waste_heat_reused_kwh": reused_kwh, "average_waste_heat_temperature_c": temp}


def _cooling(year: FacilityYear) -> dict[str, object]:
    """Annex II: intake air set point, refrigerants and cooling degree days."""
    cooling = year.site.cooling
    setpoint = cooling.it_inlet_air_setpoint_c
    return {
        "average_it_equipment_intake_air_temperature_set_point_c": not_modelled(
            "the site file gives no IT intake air set point"
        )
        if setpoint is None
        else setpoint,
        "type_of_refrigerants": [cooling.chiller_refrigerant]
        if cooling.chiller_refrigerant
        else not_modelled("the site file names no chiller refrigerant"),
        "cooling_degree_days": degree_days(year.weather.dry_bulb_c).cooling_k_d,
    }


def _ict_capacity() -> dict[str, object]:
    """Annex II: information and communication technology capacity of servers and storage."""
    return {
        "ict_capacity_for_servers": not_modelled(
            "narvik models the GPUs' power draw, not a rated work capacity of the servers"
        ),
        "ict_capacity_for_storage_equipment": not_modelled(
            "the site model has no storage equipment"
        ),
    }


def _data_traffic() -> dict[str, object]:
    """Annex II: traffic bandwidth and data traffic in and out of the data centre."""
    why = "narvik models power and heat, not network traffic"
    return {
        "incoming_traffic_bandwidth": not_modelled(why),
        "outgoing_traffic_bandwidth": not_modelled(why),
        "incoming_data_traffic": not_modelled(why),
        "outgoing_data_traffic": not_modelled(why),
    }


def _indicators(t: dict[str, float]) -> dict[str, object]:
    """Annex III: PUE, WUE, ERF and REF."""
    return {
        "pue": t["pue"],
        "wue_l_per_kwh": t["wue_l_per_kwh"],
        "erf": t["erf"],
        "ref": t["ref"],
    }


def _other_indicators(t: dict[str, float]) -> dict[str, object]:
    """ISO/IEC 30134-8 carbon usage effectiveness, both ways; not asked by the Regulation."""
    return {
        "cue_location_kg_per_kwh": t["cue_location_kg_per_kwh"],
        "cue_market_kg_per_kwh": t["cue_market_kg_per_kwh"],
    }


def _basis(year: FacilityYear) -> dict[str, str]:
    """How the values that stand for only part of an item were derived."""
    return {
        "operation.redundancy_level_of_the_electrical_infrastructure": (
            "the UPS units per system of the site's power chain; no level is given for the "
            "grid connection, the transformers or the distribution"
        ),
        "capacity.installed_information_technology_power_demand_kw": (
            "nameplate: every rack online in the phase at full load"
        ),
        "capacity.computer_room_floor_area_m2": (
            f"white space of the halls online in {year.model.phase}"
        ),
        "capacity.total_floor_area_m2": (
            "computer room floor area plus the site's support floor area (electrical and "
            "plant rooms, offices)"
        ),
        "energy.renewable_other_kwh": (
            "renewable contracts of kind grid: no guarantee of origin, PPA or on-site plant "
            "backs them; with the three origins it adds up to the renewable total"
        ),
        "waste_heat.average_waste_heat_temperature_c": (
            "the facility water return temperature, at which heat leaves the loop to the "
            "offtakers (heat pumps lift it beyond the boundary)"
        ),
        "cooling.type_of_refrigerants": "the trim chillers' refrigerant",
        "cooling.cooling_degree_days": (
            "Eurostat method from the daily means of the run's hourly dry bulb "
            "(narvik.physics.degree_days)"
        ),
    }


def _context(year: FacilityYear) -> dict[str, object]:
    """What is not an Annex item but helps to read the report."""
    loc = year.site.location
    return {
        "location": loc.name,
        "latitude_deg": loc.latitude_deg,
        "longitude_deg": loc.longitude_deg,
        "price_zone": loc.price_zone,
        "phase": year.model.phase,
        "gpus": year.model.gpus,
        "grid_connection_kw": year.model.grid_capacity_w / W_PER_KW,
        "heat_offtakers": [o.name for o in year.site.active_offtakers],
        "weather": year.weather.source,
    }
