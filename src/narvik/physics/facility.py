"""The facility model: a thin orchestration of the physics functions over a site.

``FacilityModel.from_site(site, phase)`` reads the constants of a site once
(nameplates, coolant properties, curves); ``run`` turns a series of fleet GPU
utilisations and ambient temperatures into every power flow of the facility,
vectorised over the series. It holds no state between calls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.physics import cooling, heat_demand, heat_pump, heat_reuse, it_power, power_chain
from narvik.physics.energy_mix import ContractTerms, EnergyMixHours, energy_mix
from narvik.physics.fluids import density_kg_per_m3, specific_heat_j_per_kg_k
from narvik.site.fleet import fleet_summary
from narvik.site.model import Offtaker, Site


@dataclass(frozen=True)
class RackGroup:
    """Racks of one type online in the phase, with their power parameters."""

    racks: int
    gpus_per_rack: int
    gpu_idle_power_w: float
    gpu_max_power_w: float
    non_gpu_max_power_w: float
    idle_fraction_of_non_gpu: float


@dataclass(frozen=True)
class FacilityHours:
    """Every power flow of the facility for each step of a series (W unless named)."""

    gpu_utilization: NDArray[np.float64]
    ambient_c: NDArray[np.float64]
    it_power_w: NDArray[np.float64]
    distribution_loss_w: NDArray[np.float64]
    ups_loss_w: NDArray[np.float64]
    transformer_loss_w: NDArray[np.float64]
    ancillary_power_w: NDArray[np.float64]
    pump_power_w: NDArray[np.float64]
    dry_cooler_fan_power_w: NDArray[np.float64]
    chiller_power_w: NDArray[np.float64]
    air_fan_power_w: NDArray[np.float64]
    facility_power_w: NDArray[np.float64]
    heat_rejected_w: NDArray[np.float64]
    heat_reused_w: NDArray[np.float64]
    """Heat leaving the facility loop to offtakers (the E_reuse of ISO/IEC 30134-6)."""
    offtaker_demand_w: NDArray[np.float64]
    """Shape (offtakers, steps)."""
    offtaker_delivered_w: NDArray[np.float64]
    """Shape (offtakers, steps), heat at each offtaker's own temperature."""
    heat_pump_power_w: NDArray[np.float64]
    """Shape (offtakers, steps); outside the facility boundary (the offtaker's plant)."""
    water_l_per_h: NDArray[np.float64]
    grid_capacity_w: float
    mix: EnergyMixHours

    @property
    def free_cooling(self) -> NDArray[np.bool_]:
        """Steps when the trim chillers are off."""
        return self.chiller_power_w <= 0.0


@dataclass(frozen=True)
class FacilityModel:
    """Constants of one site in one phase, and the hourly model over them."""

    site_name: str
    phase: str
    grid_capacity_w: float
    rack_groups: tuple[RackGroup, ...]
    it_nameplate_power_w: float
    gpus: int
    transformer_no_load_loss_fraction: float
    transformer_load_loss_fraction: float
    ups_curve_load_fraction: tuple[float, ...]
    ups_curve_efficiency: tuple[float, ...]
    distribution_loss_fraction: float
    ancillary_power_w: float
    liquid_heat_fraction: float
    supply_temp_c: float
    return_temp_c: float
    coolant_cp_j_per_kg_k: float
    coolant_density_kg_per_m3: float
    pump_head_pa: float
    """Facility-loop plus CDU pump head (one flow passes both), Pa."""
    pump_efficiency: float
    dry_cooler_approach_k: float
    dry_cooler_fan_power_fraction: float
    dry_cooler_min_fan_speed_fraction: float
    chiller_cop: float
    air_fan_power_fraction: float
    makeup_water_l_per_mwh_heat: float
    offtakers: tuple[Offtaker, ...]
    contracts: tuple[ContractTerms, ...]

    @classmethod
    def from_site(cls, site: Site, phase: str | None = None) -> FacilityModel:
        fleet = fleet_summary(site, phase)
        groups = []
        for hall in site.halls_online(fleet.phase):
            rack = site.rack_type(hall.rack_type)
            gpu = site.gpu_model(rack.gpu_model)
            groups.append(
                RackGroup(
                    racks=hall.racks,
                    gpus_per_rack=rack.gpus_per_rack,
                    gpu_idle_power_w=gpu.idle_power_w,
                    gpu_max_power_w=gpu.max_power_w,
                    non_gpu_max_power_w=rack.cpu_power_w
                    + rack.switch_power_w
                    + rack.overhead_power_w,
                    idle_fraction_of_non_gpu=rack.idle_fraction_of_non_gpu,
                )
            )
        pc, cool = site.power_chain, site.cooling
        mean_c = 0.5 * (cool.supply_temp_c + cool.return_temp_c)
        return cls(
            site_name=site.name,
            phase=fleet.phase,
            grid_capacity_w=fleet.grid_capacity_w,
            rack_groups=tuple(groups),
            it_nameplate_power_w=fleet.it_nameplate_power_w,
            gpus=fleet.gpus,
            transformer_no_load_loss_fraction=pc.transformer_no_load_loss_fraction,
            transformer_load_loss_fraction=pc.transformer_load_loss_fraction,
            ups_curve_load_fraction=tuple(p.load_fraction for p in pc.ups_efficiency_curve),
            ups_curve_efficiency=tuple(p.efficiency for p in pc.ups_efficiency_curve),
            distribution_loss_fraction=pc.distribution_loss_fraction,
            ancillary_power_w=pc.ancillary_power_w,
            liquid_heat_fraction=cool.liquid_heat_fraction,
            supply_temp_c=cool.supply_temp_c,
            return_temp_c=cool.return_temp_c,
            coolant_cp_j_per_kg_k=specific_heat_j_per_kg_k(
                cool.coolant, mean_c, cool.loop_pressure_pa
            ),
            coolant_density_kg_per_m3=density_kg_per_m3(
                cool.coolant, mean_c, cool.loop_pressure_pa
            ),
            pump_head_pa=cool.pump_head_pa + cool.cdu_pump_head_pa,
            pump_efficiency=cool.pump_efficiency,
            dry_cooler_approach_k=cool.dry_cooler_approach_c,
            dry_cooler_fan_power_fraction=cool.dry_cooler_fan_power_fraction,
            dry_cooler_min_fan_speed_fraction=cool.dry_cooler_min_fan_speed_fraction,
            chiller_cop=cool.chiller_cop,
            air_fan_power_fraction=cool.air_fan_power_fraction,
            makeup_water_l_per_mwh_heat=cool.makeup_water_l_per_mwh_heat,
            offtakers=site.offtakers,
            contracts=tuple(
                ContractTerms(
                    share=c.share,
                    renewable=c.renewable,
                    carbon_intensity_g_per_kwh=c.carbon_intensity_g_per_kwh,
                    price_eur_per_mwh=c.price_eur_per_mwh,
                    monthly_price_factor=c.monthly_price_factor,
                )
                for c in site.energy
            ),
        )

    def it_power_w(self, gpu_utilization: ArrayLike) -> NDArray[np.float64]:
        """IT power of all racks online at a fleet-mean GPU utilisation, W."""
        u = np.asarray(gpu_utilization, dtype=float)
        total = np.zeros_like(u)
        for g in self.rack_groups:
            total += g.racks * it_power.rack_power_w(
                u,
                gpus_per_rack=g.gpus_per_rack,
                gpu_idle_power_w=g.gpu_idle_power_w,
                gpu_max_power_w=g.gpu_max_power_w,
                non_gpu_max_power_w=g.non_gpu_max_power_w,
                idle_fraction_of_non_gpu=g.idle_fraction_of_non_gpu,
            )
        return total

    def chain_losses_w(
        self, it_w: NDArray[np.float64], auxiliary_w: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Distribution, UPS and transformer losses, W, when the racks draw ``it_w`` and the
        cooling and ancillary loads ``auxiliary_w`` (they sit behind the transformers but
        not behind the UPS): the power chain of :mod:`narvik.physics.power_chain`."""
        dist_w = it_w * self.distribution_loss_fraction
        ups_w = power_chain.ups_loss_w(
            it_w + dist_w,
            self.it_nameplate_power_w * (1 + self.distribution_loss_fraction),
            self.ups_curve_load_fraction,
            self.ups_curve_efficiency,
        )
        trafo_w = power_chain.transformer_loss_w(
            it_w + dist_w + ups_w + auxiliary_w,
            self.grid_capacity_w,
            self.transformer_no_load_loss_fraction,
            self.transformer_load_loss_fraction,
        )
        return dist_w, ups_w, trafo_w

    def grid_power_w(
        self, it_w: NDArray[np.float64], auxiliary_w: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Power drawn at the grid connection, W: IT, auxiliaries and the chain's losses."""
        dist_w, ups_w, trafo_w = self.chain_losses_w(it_w, auxiliary_w)
        return it_w + dist_w + ups_w + auxiliary_w + trafo_w

    def auxiliary_w(self, hours: FacilityHours) -> NDArray[np.float64]:
        """Cooling and ancillary power of steps already run (slow: held within a step), W."""
        return (
            hours.pump_power_w
            + hours.dry_cooler_fan_power_w
            + hours.chiller_power_w
            + hours.air_fan_power_w
            + hours.ancillary_power_w
        )

    def offtaker_demand_w(self, ambient_c: NDArray[np.float64]) -> NDArray[np.float64]:
        """Heat demand of each offtaker (rows) at each ambient temperature (columns), W."""
        if not self.offtakers:
            return np.zeros((0, ambient_c.shape[0]))
        return np.stack(
            [
                heat_demand.heat_demand_w(
                    ambient_c,
                    peak_demand_w=o.peak_demand_w,
                    base_demand_fraction=o.base_demand_fraction,
                    balance_temp_c=o.balance_temp_c,
                    design_temp_c=o.design_temp_c,
                )
                for o in self.offtakers
            ]
        )

    def offtaker_cops(self) -> NDArray[np.float64]:
        """COP per offtaker (inf for a direct heat exchanger)."""
        return np.array(
            [
                float(heat_pump.heat_pump_cop(self.return_temp_c, o.supply_temp_c))
                if o.heat_pump
                else np.inf
                for o in self.offtakers
            ]
        )

    def run(
        self, gpu_utilization: ArrayLike, ambient_c: ArrayLike, month: ArrayLike
    ) -> FacilityHours:
        """Power flows for each step given fleet GPU utilisation, ambient (C) and month (1..12)."""
        u = np.asarray(gpu_utilization, dtype=float)
        t_amb = np.broadcast_to(np.asarray(ambient_c, dtype=float), u.shape)
        it_w = self.it_power_w(u)

        # Heat recovery comes first: what offtakers take, the dry coolers need not reject.
        liquid_w = cooling.liquid_heat_w(it_w, self.liquid_heat_fraction)
        demand = self.offtaker_demand_w(t_amb)
        reuse = heat_reuse.allocate_heat(liquid_w, demand, self.offtaker_cops())
        reused_w = reuse.source_w.sum(axis=0)

        rejected_w = it_w - reused_w
        rated_heat_w = self.it_nameplate_power_w
        dc = cooling.dry_cooler(
            rejected_w,
            t_amb,
            return_temp_c=self.return_temp_c,
            supply_temp_c=self.supply_temp_c,
            approach_k=self.dry_cooler_approach_k,
            rated_heat_w=rated_heat_w,
            fan_power_fraction=self.dry_cooler_fan_power_fraction,
            min_fan_speed_fraction=self.dry_cooler_min_fan_speed_fraction,
        )
        chiller_w = cooling.chiller_power_w(dc.chiller_heat_w, self.chiller_cop)
        delta_t_k = self.return_temp_c - self.supply_temp_c
        flow_m3_s = (
            cooling.coolant_mass_flow_kg_s(it_w, self.coolant_cp_j_per_kg_k, delta_t_k)
            / self.coolant_density_kg_per_m3
        )
        pump_w = cooling.pump_power_w(flow_m3_s, self.pump_head_pa, self.pump_efficiency)
        air_fans_w = cooling.air_fan_power_w(
            cooling.air_heat_w(it_w, self.liquid_heat_fraction), self.air_fan_power_fraction
        )

        ancillary_w = np.full_like(it_w, self.ancillary_power_w)
        dist_w, ups_w, trafo_w = self.chain_losses_w(
            it_w, pump_w + dc.fan_power_w + chiller_w + air_fans_w + ancillary_w
        )
        downstream_w = (
            it_w + dist_w + ups_w + pump_w + dc.fan_power_w + chiller_w + air_fans_w + ancillary_w
        )
        water_l_per_h = self.makeup_water_l_per_mwh_heat * rejected_w / 1e6
        return FacilityHours(
            gpu_utilization=u,
            ambient_c=np.asarray(t_amb, dtype=float),
            it_power_w=it_w,
            distribution_loss_w=dist_w,
            ups_loss_w=ups_w,
            transformer_loss_w=trafo_w,
            ancillary_power_w=ancillary_w,
            pump_power_w=pump_w,
            dry_cooler_fan_power_w=dc.fan_power_w,
            chiller_power_w=chiller_w,
            air_fan_power_w=air_fans_w,
            facility_power_w=downstream_w + trafo_w,
            heat_rejected_w=rejected_w,
            heat_reused_w=reused_w,
            offtaker_demand_w=demand,
            offtaker_delivered_w=reuse.delivered_w,
            heat_pump_power_w=reuse.heat_pump_power_w,
            water_l_per_h=water_l_per_h,
            grid_capacity_w=self.grid_capacity_w,
            mix=energy_mix(list(self.contracts), month),
        )


def it_power_budget_w(
    model: FacilityModel,
    cap_w: ArrayLike,
    ambient_c: ArrayLike,
    month: ArrayLike,
    iterations: int = 40,
) -> NDArray[np.float64]:
    """Largest IT power whose facility power stays within ``cap_w``, per step, W.

    Facility power rises monotonically with GPU load (IT power, power-chain
    losses, pumps, fans and chillers all do), so the budget is found by
    bisection on the fleet utilisation in [0, 1], vectorised over the steps.
    Where even the idle fleet exceeds the cap the budget is the idle IT power;
    where the full fleet fits it is the full-load IT power.
    """
    cap = np.asarray(cap_w, dtype=float)
    amb = np.broadcast_to(np.asarray(ambient_c, dtype=float), cap.shape)
    mon = np.broadcast_to(np.asarray(month), cap.shape)
    lo = np.zeros(cap.shape)
    hi = np.ones(cap.shape)
    full_fits = model.run(hi, amb, mon).facility_power_w <= cap
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        fits = model.run(mid, amb, mon).facility_power_w <= cap
        lo = np.where(fits, mid, lo)
        hi = np.where(fits, hi, mid)
    u = np.where(full_fits, 1.0, lo)
    return model.it_power_w(u)


def concat_hours(parts: list[FacilityHours]) -> FacilityHours:
    """Series of consecutive spans (for instance the phases of a build-out) as one.

    Arrays are joined along their last (step) axis; ``grid_capacity_w`` is the first
    span's (the per-step cap is the caller's to keep)."""
    if len(parts) == 1:
        return parts[0]
    return _concat(parts)  # type: ignore[no-any-return]


def _concat(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(parts, axis=-1)
    if dataclasses.is_dataclass(first):
        cls: Any = type(first)
        return cls(
            **{
                f.name: _concat([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(first)
            }
        )
    return first
