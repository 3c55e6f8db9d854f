"""The site as the control plane sees it: halls online, the IT power budget and power now.

Built once from the site description and the tenancy policy of a scenario.
Power figures come from the same physics as the twin
(:class:`narvik.physics.facility.FacilityModel` at the weather of the current
hour of the site's climate year, and :func:`narvik.physics.facility.it_power_budget_w`
for the largest IT power the grid cap allows); ``flat:N`` has no power limit.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from narvik.engine import HallSpec
from narvik.physics.facility import FacilityModel, it_power_budget_w
from narvik.physics.weather import Weather, builtin_weather
from narvik.sim.tenancy_setup import flat_halls, site_halls
from narvik.site.loader import FlatPool, load_site
from narvik.site.model import Site
from narvik.workload.tenancy import Tenancy

EPOCH = dt.date(1970, 1, 1)
"""Day zero of the service time line (service seconds are Unix seconds, UTC)."""


@dataclass(frozen=True)
class PowerNow:
    ambient_c: float
    it_power_w: float
    facility_power_w: float
    grid_capacity_w: float
    """The grid connection of the phase in force, W."""
    grid_cap_w: float
    """The cap in force: the connection less the power shed by active curtailments, W."""
    heat_reused_w: float
    pue: float
    offtaker_delivered_w: dict[str, float]


def utc(t_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC)


class Plant:
    """Halls, capacities and power of one site for the live scheduler.

    It is the engine's :class:`narvik.engine.PowerModel` of the control plane
    (:meth:`gpu_power_w`, :meth:`it_budget_w`)."""

    def __init__(self, site: Site | FlatPool, tenancy: Tenancy, *, busy_gpu_utilization: float):
        self.site = site
        self.tenancy = tenancy
        self.busy_gpu_utilization = busy_gpu_utilization
        self.weather: Weather | None = None
        self.halls: tuple[HallSpec, ...]
        """The engine's halls: topology, and the instant (service time) each comes online."""
        if isinstance(site, FlatPool):
            self.halls = flat_halls(site.n_gpus)
        else:
            self.halls = site_halls(site, EPOCH)
            self.weather = builtin_weather(site.location.climate, 0)
        self.hall_names = [h.name for h in self.halls]
        self.hall_gpus = [h.gpus for h in self.halls]
        self.tiers = {t.name: t for t in tenancy.tiers}

    @classmethod
    def load(cls, site: str, tenancy: Tenancy, busy_gpu_utilization: float = 0.85) -> Plant:
        return cls(load_site(site), tenancy, busy_gpu_utilization=busy_gpu_utilization)

    def capacity_by_hall(self, t_s: float) -> list[int]:
        """GPUs of each hall at ``t_s`` (0 before its phase is in force)."""
        return [h.gpus if h.online_from_s <= t_s else 0 for h in self.halls]

    def hall_index(self, name: str) -> int:
        return self.hall_names.index(name)

    def hall_indices(self, allowed: list[str] | tuple[str, ...]) -> list[int]:
        """Indices of the named halls this site has ([] for a tenant not confined)."""
        return [self.hall_index(h) for h in allowed if h in self.hall_names]

    def reach_gpus(self, allowed: list[str] | tuple[str, ...]) -> int:
        """GPUs of the halls a tenant may use (the whole fleet when it is not confined)."""
        halls = self.hall_indices(allowed)
        return sum(self.hall_gpus[h] for h in halls) if halls else sum(self.hall_gpus)

    def phase_at(self, t_s: float) -> str | None:
        if isinstance(self.site, FlatPool):
            return None
        return self.site.phase_at(utc(t_s).date()).name

    def model(self, t_s: float) -> FacilityModel | None:
        phase = self.phase_at(t_s)
        return None if phase is None else _model(self.site, phase)  # type: ignore[arg-type]

    def _ambient(self, t_s: float) -> tuple[float, int]:
        when = utc(t_s)
        assert self.weather is not None
        hour = ((when.timetuple().tm_yday - 1) * 24 + when.hour) % self.weather.hours
        return float(self.weather.dry_bulb_c[hour]), when.month

    def gpu_power_w(self, t_s: float) -> tuple[float, float]:
        """(IT power of the idle fleet, added IT power of one busy GPU at full cap), W."""
        model = self.model(t_s)
        if model is None:
            return 0.0, 0.0
        idle = float(model.it_power_w(0.0))
        busy = (float(model.it_power_w(1.0)) - idle) / model.gpus * self.busy_gpu_utilization
        return idle, busy

    def it_budget_w(self, t_s: float, shed_w: float = 0.0) -> float:
        """Largest IT power within the grid cap (less ``shed_w``) at this hour's weather, W."""
        model = self.model(t_s)
        if model is None:
            return math.inf
        ambient, month = self._ambient(t_s)
        return _budget(model, model.grid_capacity_w - shed_w, round(ambient, 1), month)

    def power_now(
        self, t_s: float, busy_gpus: int, cap_fraction: float, shed_w: float = 0.0
    ) -> PowerNow | None:
        """Power at ``t_s`` with ``busy_gpus`` at the GPU power cap ``cap_fraction``, under
        active curtailments that shed ``shed_w`` below the grid connection."""
        model = self.model(t_s)
        if model is None:
            return None
        ambient, month = self._ambient(t_s)
        u = busy_gpus * self.busy_gpu_utilization * cap_fraction / max(model.gpus, 1)
        hours = model.run(np.array([min(u, 1.0)]), np.array([ambient]), np.array([month]))
        it_w = float(hours.it_power_w[0])
        fac_w = float(hours.facility_power_w[0])
        return PowerNow(
            ambient_c=ambient,
            it_power_w=it_w,
            facility_power_w=fac_w,
            grid_capacity_w=model.grid_capacity_w,
            grid_cap_w=max(model.grid_capacity_w - shed_w, 0.0),
            heat_reused_w=float(hours.heat_reused_w[0]),
            pue=fac_w / it_w if it_w > 0 else math.nan,
            offtaker_delivered_w={
                o.name: float(hours.offtaker_delivered_w[i, 0])
                for i, o in enumerate(model.offtakers)
            },
        )


@lru_cache(maxsize=8)
def _model(site: Site, phase: str) -> FacilityModel:
    return FacilityModel.from_site(site, phase)


@lru_cache(maxsize=4096)
def _budget(model: FacilityModel, cap_w: float, ambient_c: float, month: int) -> float:
    return float(
        it_power_budget_w(model, np.array([cap_w]), np.array([ambient_c]), np.array([month]))[0]
    )
