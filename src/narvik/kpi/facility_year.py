"""A year of the facility, hour by hour: energy totals, KPIs and heat by offtaker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from narvik.kpi import indicators
from narvik.physics.facility import FacilityHours, FacilityModel
from narvik.physics.weather import Weather
from narvik.site.model import Site
from narvik.units import W_PER_KW


@dataclass(frozen=True)
class FacilityYear:
    site: Site
    model: FacilityModel
    weather: Weather
    hours: FacilityHours

    def totals(self) -> dict[str, float]:
        """Energy totals in MWh (one-hour steps), peaks in MW, and the ISO/IEC 30134 KPIs."""
        h = self.hours
        mwh = _mwh
        e_it_kwh = float(h.it_power_w.sum()) / W_PER_KW
        e_dc_kwh = float(h.facility_power_w.sum()) / W_PER_KW
        e_ren_kwh = float(np.sum(h.facility_power_w * h.mix.renewable_fraction)) / W_PER_KW
        co2_kg = float(np.sum(h.facility_power_w / W_PER_KW * h.mix.carbon_intensity_g_per_kwh))
        co2_kg /= 1000.0
        e_reuse_kwh = float(h.heat_reused_w.sum()) / W_PER_KW
        water_l = float(h.water_l_per_h.sum())
        cost_eur = float(np.sum(h.facility_power_w / 1e6 * h.mix.price_eur_per_mwh))
        return {
            "hours": float(h.it_power_w.shape[0]),
            "it_energy_mwh": mwh(h.it_power_w),
            "facility_energy_mwh": mwh(h.facility_power_w),
            "cooling_energy_mwh": mwh(
                h.pump_power_w + h.dry_cooler_fan_power_w + h.chiller_power_w + h.air_fan_power_w
            ),
            "chiller_energy_mwh": mwh(h.chiller_power_w),
            "power_chain_loss_mwh": mwh(
                h.distribution_loss_w + h.ups_loss_w + h.transformer_loss_w
            ),
            "heat_reused_mwh": mwh(h.heat_reused_w),
            "heat_delivered_mwh": mwh(h.offtaker_delivered_w.sum(axis=0)),
            "heat_pump_energy_mwh": mwh(h.heat_pump_power_w.sum(axis=0)),
            "renewable_energy_mwh": e_ren_kwh / 1000.0,
            "co2_t": co2_kg / 1000.0,
            "water_m3": water_l / 1000.0,
            "energy_cost_eur": cost_eur,
            "peak_it_power_mw": float(h.it_power_w.max()) / 1e6,
            "peak_facility_power_mw": float(h.facility_power_w.max()) / 1e6,
            "power_cap_mw": h.grid_capacity_w / 1e6,
            "hours_over_cap": float(np.sum(h.facility_power_w > h.grid_capacity_w)),
            "free_cooling_hours": float(np.sum(h.free_cooling)),
            "pue": indicators.pue(e_dc_kwh, e_it_kwh),
            "ref": indicators.ref(e_ren_kwh, e_dc_kwh),
            "erf": indicators.erf(e_reuse_kwh, e_dc_kwh),
            "cue_kg_per_kwh": indicators.cue_kg_per_kwh(co2_kg, e_it_kwh),
            "wue_l_per_kwh": indicators.wue_l_per_kwh(water_l, e_it_kwh),
        }

    def offtakers(self) -> list[dict[str, object]]:
        """Heat demanded and delivered per offtaker over the year."""
        h = self.hours
        return [
            {
                "name": o.name,
                "kind": o.kind.value,
                "supply_temp_c": o.supply_temp_c,
                "heat_pump": o.heat_pump,
                "demand_mwh": _mwh(h.offtaker_demand_w[i]),
                "delivered_mwh": _mwh(h.offtaker_delivered_w[i]),
                "heat_pump_energy_mwh": _mwh(h.heat_pump_power_w[i]),
                "demand_met": _ratio(h.offtaker_delivered_w[i], h.offtaker_demand_w[i]),
            }
            for i, o in enumerate(self.site.offtakers)
        ]


def run_facility_year(
    site: Site, weather: Weather, load: float | ArrayLike = 0.9, phase: str | None = None
) -> FacilityYear:
    """Run the facility through every hour of ``weather`` at a GPU load (fraction or series)."""
    model = FacilityModel.from_site(site, phase or site.phases[0].name)
    n = weather.hours
    u = np.broadcast_to(np.asarray(load, dtype=float), (n,))
    if np.any((u < 0) | (u > 1)):
        raise ValueError("load: GPU load must be a fraction between 0 and 1")
    hours = model.run(u, weather.dry_bulb_c, weather.month)
    return FacilityYear(site=site, model=model, weather=weather, hours=hours)


def _mwh(power_w: np.ndarray) -> float:
    return float(np.sum(power_w)) / 1e6


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    d = float(np.sum(den))
    return float(np.sum(num)) / d if d > 0 else 1.0
