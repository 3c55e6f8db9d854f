"""Energy, carbon, water and cost totals of a facility series, with the ISO/IEC 30134 KPIs."""

from __future__ import annotations

import numpy as np

from narvik.kpi import indicators
from narvik.physics.facility import FacilityHours
from narvik.units import J_PER_KWH, J_PER_MWH, SECONDS_PER_HOUR


def energy_totals(h: FacilityHours, step_s: float = SECONDS_PER_HOUR) -> dict[str, float]:
    """Totals over a series of steps of ``step_s`` (mean powers in W per step)."""

    def mwh(power_w: np.ndarray) -> float:
        return float(np.sum(power_w)) * step_s / J_PER_MWH

    def kwh(power_w: np.ndarray) -> float:
        return float(np.sum(power_w)) * step_s / J_PER_KWH

    hours_per_step = step_s / SECONDS_PER_HOUR
    e_it_kwh = kwh(h.it_power_w)
    e_dc_kwh = kwh(h.facility_power_w)
    e_ren_kwh = kwh(h.facility_power_w * h.mix.renewable_fraction)
    co2_kg = kwh(h.facility_power_w * h.mix.location_carbon_g_per_kwh) / 1000.0
    co2_market_kg = kwh(h.facility_power_w * h.mix.market_carbon_g_per_kwh) / 1000.0
    e_reuse_kwh = kwh(h.heat_reused_w)
    water_l = float(np.sum(h.water_l_per_h)) * hours_per_step
    return {
        "hours": float(h.it_power_w.shape[0]) * hours_per_step,
        "it_energy_mwh": mwh(h.it_power_w),
        "facility_energy_mwh": mwh(h.facility_power_w),
        "cooling_energy_mwh": mwh(h.cooling_power_w),
        "chiller_energy_mwh": mwh(h.chiller_power_w),
        "power_chain_loss_mwh": mwh(h.distribution_loss_w + h.ups_loss_w + h.transformer_loss_w),
        "ancillary_energy_mwh": mwh(h.ancillary_power_w),
        "heat_to_loop_mwh": mwh(h.heat_to_loop_w),
        "heat_rejected_mwh": mwh(h.heat_rejected_w),
        "cooling_shortfall_mwh": mwh(h.cooling_shortfall_w),
        "cooling_shortfall_hours": float(np.sum(h.cooling_shortfall)) * hours_per_step,
        "max_rack_supply_temp_c": float(h.rack_supply_temp_c.max()),
        "heat_reused_mwh": mwh(h.heat_reused_w),
        "heat_delivered_mwh": mwh(h.offtaker_delivered_w.sum(axis=0)),
        "heat_pump_energy_mwh": mwh(h.heat_pump_power_w.sum(axis=0)),
        "renewable_energy_mwh": e_ren_kwh / 1000.0,
        "co2_t": co2_kg / 1000.0,
        "co2_market_t": co2_market_kg / 1000.0,
        "water_m3": water_l / 1000.0,
        "energy_cost_eur": mwh(h.facility_power_w * h.mix.price_eur_per_mwh),
        "peak_it_power_mw": float(h.it_power_w.max()) / 1e6,
        "peak_facility_power_mw": float(h.facility_power_w.max()) / 1e6,
        "power_cap_mw": h.grid_capacity_w / 1e6,
        "hours_over_cap": float(np.sum(h.facility_power_w > h.grid_capacity_w)) * hours_per_step,
        "free_cooling_hours": float(np.sum(h.free_cooling)) * hours_per_step,
        "pue": indicators.pue(e_dc_kwh, e_it_kwh),
        "ref": indicators.ref(e_ren_kwh, e_dc_kwh),
        "erf": indicators.erf(e_reuse_kwh, e_dc_kwh),
        "cue_kg_per_kwh": indicators.cue_kg_per_kwh(co2_kg, e_it_kwh),
        "cue_location_kg_per_kwh": indicators.cue_kg_per_kwh(co2_kg, e_it_kwh),
        "cue_market_kg_per_kwh": indicators.cue_kg_per_kwh(co2_market_kg, e_it_kwh),
        "wue_l_per_kwh": indicators.wue_l_per_kwh(water_l, e_it_kwh),
    }


def offtaker_totals(
    h: FacilityHours, offtakers: tuple, step_s: float = SECONDS_PER_HOUR
) -> list[dict[str, object]]:
    """Heat demanded and delivered per offtaker over the series."""
    scale = step_s / J_PER_MWH

    def ratio(num: np.ndarray, den: np.ndarray) -> float:
        d = float(np.sum(den))
        return float(np.sum(num)) / d if d > 0 else 1.0

    return [
        {
            "name": o.name,
            "kind": o.kind.value,
            "supply_temp_c": o.supply_temp_c,
            "heat_pump": o.heat_pump,
            "demand_mwh": float(np.sum(h.offtaker_demand_w[i])) * scale,
            "delivered_mwh": float(np.sum(h.offtaker_delivered_w[i])) * scale,
            "heat_pump_energy_mwh": float(np.sum(h.heat_pump_power_w[i])) * scale,
            "demand_met": ratio(h.offtaker_delivered_w[i], h.offtaker_demand_w[i]),
        }
        for i, o in enumerate(offtakers)
    ]
