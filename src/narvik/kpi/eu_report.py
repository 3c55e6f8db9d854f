"""The yearly data-centre report of the EU reporting scheme, as a JSON-ready document.

Commission Delegated Regulation (EU) 2024/1364 of 14 March 2024 on the first
phase of the establishment of a common Union rating scheme for data centres,
Annex I (information to be reported) and Annex II (sustainability indicators:
PUE, WUE, ERF, REF). Applies to data centres of 500 kW installed IT power and
more. Field names follow the Annex I items, with units in the names.
"""

from __future__ import annotations

from narvik.kpi.facility_year import FacilityYear
from narvik.site.model import EnergyKind

SCHEME = "Commission Delegated Regulation (EU) 2024/1364, Annexes I and II"
THRESHOLD_IT_POWER_KW = 500.0


def eu_report(year: FacilityYear, reporting_year: int) -> dict[str, object]:
    """Annex I / II figures for one year of the facility."""
    t = year.totals()
    h = year.hours
    model = year.model
    facility_kwh = h.facility_power_w / 1e3
    by_kind = {kind.value: 0.0 for kind in EnergyKind}
    for contract in year.site.energy:
        if contract.renewable:
            by_kind[contract.kind.value] += float(facility_kwh.sum()) * contract.share
    reused_w = h.heat_reused_w
    avg_temp_c = model.return_temp_c if reused_w.sum() > 0 else None
    installed_kw = model.it_nameplate_power_w / 1e3
    return {
        "scheme": SCHEME,
        "reporting_year": reporting_year,
        "in_scope": installed_kw >= THRESHOLD_IT_POWER_KW,
        "data_centre": {
            "name": year.site.name,
            "location": year.site.location.name,
            "latitude_deg": year.site.location.latitude_deg,
            "longitude_deg": year.site.location.longitude_deg,
            "phase": model.phase,
            "installed_it_power_kw": installed_kw,
            "grid_connection_kw": model.grid_capacity_w / 1e3,
            "gpus": model.gpus,
        },
        "energy": {
            "total_energy_consumption_kwh": t["facility_energy_mwh"] * 1e3,
            "it_energy_consumption_kwh": t["it_energy_mwh"] * 1e3,
            "renewable_energy_kwh": t["renewable_energy_mwh"] * 1e3,
            "renewable_guarantees_of_origin_kwh": by_kind[EnergyKind.guarantee_of_origin.value],
            "renewable_ppa_kwh": by_kind[EnergyKind.ppa.value],
            "renewable_onsite_kwh": by_kind[EnergyKind.onsite.value],
        },
        "water": {
            "total_water_input_m3": t["water_m3"],
            "potable_water_input_m3": t["water_m3"],
        },
        "waste_heat": {
            "waste_heat_reused_kwh": t["heat_reused_mwh"] * 1e3,
            "average_waste_heat_temperature_c": avg_temp_c,
        },
        "indicators": {
            "pue": t["pue"],
            "wue_l_per_kwh": t["wue_l_per_kwh"],
            "erf": t["erf"],
            "ref": t["ref"],
            "cue_kg_per_kwh": t["cue_kg_per_kwh"],
        },
        "weather": year.weather.source,
    }
