"""A year of the facility, hour by hour: energy totals, KPIs and heat by offtaker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from narvik.kpi.energy import energy_totals, offtaker_totals
from narvik.physics.facility import FacilityHours, FacilityModel
from narvik.physics.weather import Weather
from narvik.site.model import Site


@dataclass(frozen=True)
class FacilityYear:
    site: Site
    model: FacilityModel
    weather: Weather
    hours: FacilityHours

    def totals(self) -> dict[str, float]:
        """Energy totals in MWh, peaks in MW, and the ISO/IEC 30134 KPIs."""
        return energy_totals(self.hours)

    def equipment(self) -> dict[str, object]:
        """What is installed and whether it holds: capacities, the UPS system, and the
        loop fluid's freeze margin against the design minimum and the year's weather."""
        m = self.model
        freeze_c = m.freeze_point_c
        design_c = m.freeze_design_temp_c
        coldest_c = float(self.weather.dry_bulb_c.min())
        below = None if freeze_c is None else int(np.sum(self.weather.dry_bulb_c < freeze_c))
        return {
            "it_nameplate_mw": m.it_nameplate_power_w / 1e6,
            "ups_redundancy": self.site.power_chain.ups_redundancy,
            "ups_units": m.electrical.ups_units,
            "ups_unit_rating_mw": m.electrical.ups_unit_rating_w / 1e6,
            "mv_lv_transformer_rating_mw": m.electrical.mv_lv.rated_w / 1e6,
            "hv_mv_transformer_rating_mw": m.electrical.hv_mv.rated_w / 1e6,
            "dry_cooler_rated_heat_mw": m.dry_cooler_rated_heat_w / 1e6,
            "chiller_capacity_mw": None
            if not np.isfinite(m.chiller_capacity_w)
            else m.chiller_capacity_w / 1e6,
            "coolant": m.coolant,
            "freeze_point_c": freeze_c,
            "freeze_design_temp_c": design_c,
            "freeze_margin_k": None
            if freeze_c is None or design_c is None
            else design_c - freeze_c,
            "coldest_hour_c": coldest_c,
            "hours_below_freeze_point": below,
        }

    def offtakers(self) -> list[dict[str, object]]:
        """Heat demanded and delivered per offtaker over the year."""
        return offtaker_totals(self.hours, self.site.active_offtakers)


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
