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

    def offtakers(self) -> list[dict[str, object]]:
        """Heat demanded and delivered per offtaker over the year."""
        return offtaker_totals(self.hours, self.site.offtakers)


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
