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

from narvik.physics import (
    cooling,
    cooling_plant,
    district_heating,
    heat_demand,
    heat_pump,
    heat_reuse,
    it_power,
)
from narvik.physics.electrical import (
    ChainLosses,
    ElectricalTopology,
    TransformerStage,
    ups_units_installed,
)
from narvik.physics.energy_mix import ContractTerms, EnergyMixHours, energy_mix
from narvik.physics.fluids import density_kg_per_m3, freeze_point_c, specific_heat_j_per_kg_k
from narvik.physics.heat_reuse import HeatReuseHours
from narvik.site.fleet import fleet_summary
from narvik.site.model import EnergyKind, Offtaker, Site


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
    """Every power and heat flow of the facility for each step of a series (W unless named).

    Power balance: ``facility_power_w`` is the sum of the ``*_power_w`` and ``*_loss_w``
    fields (see :data:`POWER_COMPONENTS`). Heat balance:
    ``heat_to_loop_w = heat_rejected_w + heat_reused_w`` and
    ``heat_rejected_w = dry_cooler_heat_w + chiller_heat_w + cooling_shortfall_w``.
    """

    gpu_utilization: NDArray[np.float64]
    ambient_c: NDArray[np.float64]
    it_power_w: NDArray[np.float64]
    distribution_loss_w: NDArray[np.float64]
    ups_loss_w: NDArray[np.float64]
    mv_lv_transformer_loss_w: NDArray[np.float64]
    hv_mv_transformer_loss_w: NDArray[np.float64]
    ancillary_power_w: NDArray[np.float64]
    tcs_pump_power_w: NDArray[np.float64]
    """Rack-loop (CDU secondary) pumps."""
    facility_pump_power_w: NDArray[np.float64]
    """Facility-water pumps."""
    dry_cooler_fan_power_w: NDArray[np.float64]
    chiller_power_w: NDArray[np.float64]
    air_fan_power_w: NDArray[np.float64]
    """Fans of the halls' air coils (CRAH units, rear doors)."""
    electrical_room_fan_power_w: NDArray[np.float64]
    """Fans of the coolers that remove the UPS and MV/LV transformer losses."""
    facility_power_w: NDArray[np.float64]
    heat_to_loop_w: NDArray[np.float64]
    """Everything the facility water carries: the cold plates' heat, the air-side heat
    (IT air heat, distribution losses, fan heat, electrical rooms) and pump work."""
    pump_heat_w: NDArray[np.float64]
    """The pumps' hydraulic work, dissipated in the water they move (part of the above)."""
    heat_rejected_w: NDArray[np.float64]
    """Heat the plant must reject to the outdoors: ``heat_to_loop_w - heat_reused_w``."""
    dry_cooler_heat_w: NDArray[np.float64]
    chiller_heat_w: NDArray[np.float64]
    cooling_shortfall_w: NDArray[np.float64]
    """Heat the installed dry coolers and chillers cannot reject at the supply set point."""
    heat_reused_w: NDArray[np.float64]
    """Heat leaving the facility loop to offtakers (the E_reuse of ISO/IEC 30134-6)."""
    rack_supply_temp_c: NDArray[np.float64]
    """Rack-loop supply: facility supply plus the CDU approach, C."""
    facility_return_temp_c: NDArray[np.float64]
    """Facility water returning from CDUs and air coils, mixed, C."""
    dry_cooler_inlet_temp_c: NDArray[np.float64]
    """Facility water reaching the dry coolers, after heat recovery, C."""
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
        return self.chiller_heat_w <= 0.0

    @property
    def cooling_shortfall(self) -> NDArray[np.bool_]:
        """Steps when the installed equipment cannot hold the supply temperature."""
        return self.cooling_shortfall_w > SHORTFALL_TOLERANCE_W

    @property
    def transformer_loss_w(self) -> NDArray[np.float64]:
        return self.mv_lv_transformer_loss_w + self.hv_mv_transformer_loss_w

    @property
    def pump_power_w(self) -> NDArray[np.float64]:
        return self.tcs_pump_power_w + self.facility_pump_power_w

    @property
    def cooling_power_w(self) -> NDArray[np.float64]:
        """Pumps, fans and chillers, W."""
        return (
            self.pump_power_w
            + self.dry_cooler_fan_power_w
            + self.chiller_power_w
            + self.air_fan_power_w
            + self.electrical_room_fan_power_w
        )


POWER_COMPONENTS = (
    "it_power_w",
    "distribution_loss_w",
    "ups_loss_w",
    "mv_lv_transformer_loss_w",
    "hv_mv_transformer_loss_w",
    "tcs_pump_power_w",
    "facility_pump_power_w",
    "dry_cooler_fan_power_w",
    "chiller_power_w",
    "air_fan_power_w",
    "electrical_room_fan_power_w",
    "ancillary_power_w",
)
"""The fields of :class:`FacilityHours` that add up to ``facility_power_w``."""

SHORTFALL_TOLERANCE_W = 1.0
CHAIN_ITERATIONS = 4
"""Fixed-point passes between the chain's losses and the plant that cools them: each pass
shrinks the error by the product of the two sensitivities (about 1e-3), so four leave it
far below a watt."""


@dataclass(frozen=True)
class _Plant:
    """The cooling plant's flows of a series, before the electrical chain is closed."""

    tcs_pump_w: NDArray[np.float64]
    facility_pump_w: NDArray[np.float64]
    air_fans_w: NDArray[np.float64]
    room_fans_w: NDArray[np.float64]
    heat_to_loop_w: NDArray[np.float64]
    cdu_heat_w: NDArray[np.float64]
    flow_kg_s: NDArray[np.float64]

    def mechanical_w(self) -> NDArray[np.float64]:
        return self.tcs_pump_w + self.facility_pump_w + self.air_fans_w + self.room_fans_w


@dataclass(frozen=True)
class FacilityModel:
    """Constants of one site in one phase, and the hourly model over them."""

    site_name: str
    phase: str
    grid_capacity_w: float
    rack_groups: tuple[RackGroup, ...]
    it_nameplate_power_w: float
    gpus: int
    electrical: ElectricalTopology
    ancillary_power_w: float
    liquid_heat_fraction: float
    supply_temp_c: float
    return_temp_c: float
    air_side_return_temp_c: float
    coolant: str
    coolant_cp_j_per_kg_k: float
    coolant_density_kg_per_m3: float
    facility_pump_head_pa: float
    tcs_pump_head_pa: float
    pump_efficiency: float
    cdu_approach_k: float
    dry_cooler_approach_k: float
    dry_cooler_rated_heat_w: float
    dry_cooler_fan_power_fraction: float
    dry_cooler_min_fan_speed_fraction: float
    chiller_capacity_w: float
    chiller_cop: float
    air_fan_power_fraction: float
    electrical_room_fan_power_fraction: float
    makeup_water_l_per_mwh_heat: float
    freeze_design_temp_c: float | None
    offtakers: tuple[Offtaker, ...]
    contracts: tuple[ContractTerms, ...]
    location_carbon_g_per_kwh: float | None = None
    residual_mix_g_per_kwh: float | None = None

    @classmethod
    def from_site(cls, site: Site, phase: str | None = None) -> FacilityModel:
        fleet = fleet_summary(site, phase)
        pc, cool = site.power_chain, site.cooling
        mean_c = 0.5 * (cool.supply_temp_c + cool.return_temp_c)
        nameplate_w = fleet.it_nameplate_power_w
        chillers = cool.chiller_capacity_fraction
        room_fans = cool.electrical_room_fan_power_fraction
        return cls(
            site_name=site.name,
            phase=fleet.phase,
            grid_capacity_w=fleet.grid_capacity_w,
            rack_groups=_rack_groups(site, fleet.phase),
            it_nameplate_power_w=nameplate_w,
            gpus=fleet.gpus,
            electrical=electrical_topology(site, nameplate_w, fleet.grid_capacity_w),
            ancillary_power_w=pc.ancillary_power_w,
            liquid_heat_fraction=cool.liquid_heat_fraction,
            supply_temp_c=cool.supply_temp_c,
            return_temp_c=cool.return_temp_c,
            air_side_return_temp_c=cool.supply_temp_c
            + (cool.air_side_delta_t_k or cool.return_temp_c - cool.supply_temp_c),
            coolant=cool.coolant,
            coolant_cp_j_per_kg_k=specific_heat_j_per_kg_k(
                cool.coolant, mean_c, cool.loop_pressure_pa
            ),
            coolant_density_kg_per_m3=density_kg_per_m3(
                cool.coolant, mean_c, cool.loop_pressure_pa
            ),
            facility_pump_head_pa=cool.pump_head_pa,
            tcs_pump_head_pa=cool.cdu_pump_head_pa,
            pump_efficiency=cool.pump_efficiency,
            cdu_approach_k=cool.cdu_approach_k,
            dry_cooler_approach_k=cool.dry_cooler_approach_c,
            dry_cooler_rated_heat_w=nameplate_w * cool.dry_cooler_capacity_fraction,
            dry_cooler_fan_power_fraction=cool.dry_cooler_fan_power_fraction,
            dry_cooler_min_fan_speed_fraction=cool.dry_cooler_min_fan_speed_fraction,
            chiller_capacity_w=np.inf if chillers is None else nameplate_w * chillers,
            chiller_cop=cool.chiller_cop,
            air_fan_power_fraction=cool.air_fan_power_fraction,
            electrical_room_fan_power_fraction=(
                cool.air_fan_power_fraction if room_fans is None else room_fans
            ),
            makeup_water_l_per_mwh_heat=cool.makeup_water_l_per_mwh_heat,
            freeze_design_temp_c=cool.freeze_design_temp_c,
            offtakers=site.active_offtakers,
            contracts=_contracts(site),
            location_carbon_g_per_kwh=None
            if site.electricity is None
            else site.electricity.location_carbon_g_per_kwh,
            residual_mix_g_per_kwh=None
            if site.electricity is None
            else site.electricity.residual_mix_g_per_kwh,
        )

    @property
    def distribution_loss_fraction(self) -> float:
        return self.electrical.distribution_loss_fraction

    @property
    def freeze_point_c(self) -> float | None:
        """Freezing point of the facility loop's fluid, C (CoolProp)."""
        return freeze_point_c(self.coolant)

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
        """Distribution, UPS and transformer (both stages) losses, W, when the racks draw
        ``it_w`` and the cooling and ancillary loads ``auxiliary_w`` (they sit behind the
        transformers but not behind the UPS): :mod:`narvik.physics.electrical`."""
        chain = self.electrical.losses(it_w, auxiliary_w)
        return chain.distribution_loss_w, chain.ups_loss_w, chain.transformer_loss_w

    def grid_power_w(
        self, it_w: NDArray[np.float64], auxiliary_w: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Power drawn at the grid connection, W: IT, auxiliaries and the chain's losses."""
        dist_w, ups_w, trafo_w = self.chain_losses_w(it_w, auxiliary_w)
        return it_w + dist_w + ups_w + auxiliary_w + trafo_w

    def auxiliary_w(self, hours: FacilityHours) -> NDArray[np.float64]:
        """Cooling and ancillary power of steps already run (slow: held within a step), W."""
        return hours.cooling_power_w + hours.ancillary_power_w

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

    def offtaker_cops(self, ambient_c: ArrayLike) -> NDArray[np.float64]:
        """COP per offtaker (rows) and step (columns); inf for a direct heat exchanger.

        A heat pump with a ``lorenz_efficiency`` cools facility water from the CDUs'
        return to the supply and heats the offtaker's water from its return to its
        supply, which may follow the outdoor temperature: the Lorenz COP of those glides
        (:func:`narvik.physics.district_heating.lorenz_cop`). Without one, the Carnot
        model of :mod:`narvik.physics.heat_pump` from the return to the supply.
        """
        amb = np.atleast_1d(np.asarray(ambient_c, dtype=float))
        rows = []
        for o in self.offtakers:
            if not o.heat_pump:
                rows.append(np.full(amb.shape, np.inf))
            elif o.lorenz_efficiency is None or o.network_return_temp_c is None:
                cop = float(heat_pump.heat_pump_cop(self.return_temp_c, o.supply_temp_c))
                rows.append(np.full(amb.shape, cop))
            else:
                rows.append(
                    district_heating.lorenz_cop(
                        self.return_temp_c,
                        self.supply_temp_c,
                        o.network_return_temp_c,
                        offtaker_supply_temp_c(o, amb),
                        lorenz_efficiency=o.lorenz_efficiency,
                        approach_k=heat_pump.DEFAULT_APPROACH_K,
                    )
                )
        return np.stack(rows) if rows else np.zeros((0, amb.shape[0]))

    def reuse(
        self, available_w: NDArray[np.float64], ambient_c: NDArray[np.float64]
    ) -> HeatReuseHours:
        """Heat the offtakers take from ``available_w`` at each ambient, in priority order."""
        return heat_reuse.allocate_heat(
            available_w,
            self.offtaker_demand_w(ambient_c),
            self.offtaker_cops(ambient_c),
            heat_pump_capacity_w=[o.heat_pump_capacity_w or np.inf for o in self.offtakers],
            existing_plant_min_share=[o.existing_plant_min_share for o in self.offtakers],
        )

    def _mass_flow_kg_s(self, heat_w: NDArray[np.float64], delta_t_k: float) -> NDArray[np.float64]:
        return cooling.coolant_mass_flow_kg_s(heat_w, self.coolant_cp_j_per_kg_k, delta_t_k)

    def _pump_w(self, mass_flow_kg_s: NDArray[np.float64], head_pa: float) -> NDArray[np.float64]:
        flow_m3_s = mass_flow_kg_s / self.coolant_density_kg_per_m3
        return cooling.pump_power_w(flow_m3_s, head_pa, self.pump_efficiency)

    def _plant(self, it_w: NDArray[np.float64], chain: ChainLosses) -> _Plant:
        """Heat into the loops and the power of pumps and air-side fans, W.

        The cold plates' heat and the rack-loop pumps' work reach the CDUs; the IT air
        heat, the distribution losses (in the halls) and the hall fans' heat reach the
        air coils, and so do the electrical rooms' losses and their fans' heat. Pump
        work heats the water it moves (its hydraulic share, ``eta * P``); the motors'
        own losses heat the plant rooms, ventilated outdoors.
        """
        liquid_w = cooling.liquid_heat_w(it_w, self.liquid_heat_fraction)
        rise_k = self.return_temp_c - self.supply_temp_c
        tcs_pump_w = self._pump_w(self._mass_flow_kg_s(liquid_w, rise_k), self.tcs_pump_head_pa)
        cdu_w = liquid_w + self.pump_efficiency * tcs_pump_w
        hall_air_w = cooling.air_heat_w(it_w, self.liquid_heat_fraction) + chain.distribution_loss_w
        air_fans_w = cooling.air_fan_power_w(hall_air_w, self.air_fan_power_fraction)
        room_w = chain.electrical_room_heat_w
        room_fans_w = room_w * self.electrical_room_fan_power_fraction
        air_side_w = hall_air_w + air_fans_w + room_w + room_fans_w
        flow_kg_s = self._mass_flow_kg_s(cdu_w, rise_k) + self._mass_flow_kg_s(
            air_side_w, self.air_side_return_temp_c - self.supply_temp_c
        )
        facility_pump_w = self._pump_w(flow_kg_s, self.facility_pump_head_pa)
        return _Plant(
            tcs_pump_w=tcs_pump_w,
            facility_pump_w=facility_pump_w,
            air_fans_w=air_fans_w,
            room_fans_w=room_fans_w,
            heat_to_loop_w=cdu_w + air_side_w + self.pump_efficiency * facility_pump_w,
            cdu_heat_w=cdu_w,
            flow_kg_s=flow_kg_s,
        )

    def _rejection(
        self,
        rejected_w: NDArray[np.float64],
        flow_kg_s: NDArray[np.float64],
        t_amb: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], cooling_plant.RejectionHours]:
        """Dry-cooler inlet temperature and the split of the heat to reject."""
        inlet_c = cooling_plant.mixed_temp_c(
            self.supply_temp_c, rejected_w, flow_kg_s, self.coolant_cp_j_per_kg_k
        )
        rated_itd_k = self.return_temp_c - (self.supply_temp_c - self.dry_cooler_approach_k)
        return inlet_c, cooling_plant.reject_heat(
            rejected_w,
            inlet_c,
            t_amb,
            rated_heat_w=self.dry_cooler_rated_heat_w,
            rated_itd_k=rated_itd_k,
            fan_power_fraction=self.dry_cooler_fan_power_fraction,
            min_fan_speed_fraction=self.dry_cooler_min_fan_speed_fraction,
            chiller_capacity_w=self.chiller_capacity_w,
        )

    def run(
        self, gpu_utilization: ArrayLike, ambient_c: ArrayLike, month: ArrayLike
    ) -> FacilityHours:
        """Power and heat flows for each step given fleet GPU utilisation, ambient (C) and
        month (1..12)."""
        u = np.asarray(gpu_utilization, dtype=float)
        t_amb = np.asarray(np.broadcast_to(np.asarray(ambient_c, dtype=float), u.shape), float)
        it_w = self.it_power_w(u)
        ancillary_w = np.full_like(it_w, self.ancillary_power_w)
        loads_w = ancillary_w  # behind the transformers, not the UPS; the plant's added below
        for _ in range(CHAIN_ITERATIONS):
            # The chain's losses with the plant's last loads; then the plant that cools them.
            chain = self.electrical.losses(it_w, loads_w)
            plant = self._plant(it_w, chain)
            reuse = self.reuse(plant.cdu_heat_w, t_amb)
            reused_w = reuse.source_w.sum(axis=0)
            rejected_w = plant.heat_to_loop_w - reused_w
            inlet_c, rej = self._rejection(rejected_w, plant.flow_kg_s, t_amb)
            chiller_w = cooling.chiller_power_w(rej.chiller_heat_w, self.chiller_cop)
            plant_w = plant.mechanical_w()
            outdoor_w = rej.dry_cooler_fan_power_w + chiller_w
            loads_w = plant_w + outdoor_w + ancillary_w
        cdu_approach_k = cooling_plant.cdu_approach_k(
            plant.cdu_heat_w,
            self.it_nameplate_power_w * self.liquid_heat_fraction,
            self.cdu_approach_k,
            self.return_temp_c - self.supply_temp_c,
        )
        power_w = (
            it_w
            + chain.distribution_loss_w
            + chain.ups_loss_w
            + chain.mv_lv_transformer_loss_w
            + chain.hv_mv_transformer_loss_w
            + plant_w
            + outdoor_w
            + ancillary_w
        )
        return FacilityHours(
            gpu_utilization=u,
            ambient_c=t_amb,
            it_power_w=it_w,
            distribution_loss_w=chain.distribution_loss_w,
            ups_loss_w=chain.ups_loss_w,
            mv_lv_transformer_loss_w=chain.mv_lv_transformer_loss_w,
            hv_mv_transformer_loss_w=chain.hv_mv_transformer_loss_w,
            ancillary_power_w=ancillary_w,
            tcs_pump_power_w=plant.tcs_pump_w,
            facility_pump_power_w=plant.facility_pump_w,
            dry_cooler_fan_power_w=rej.dry_cooler_fan_power_w,
            chiller_power_w=chiller_w,
            air_fan_power_w=plant.air_fans_w,
            electrical_room_fan_power_w=plant.room_fans_w,
            facility_power_w=power_w,
            heat_to_loop_w=plant.heat_to_loop_w,
            pump_heat_w=self.pump_efficiency * (plant.tcs_pump_w + plant.facility_pump_w),
            heat_rejected_w=rejected_w,
            dry_cooler_heat_w=rej.dry_cooler_heat_w,
            chiller_heat_w=rej.chiller_heat_w,
            cooling_shortfall_w=rej.shortfall_w,
            heat_reused_w=reused_w,
            rack_supply_temp_c=self.supply_temp_c + cdu_approach_k,
            facility_return_temp_c=cooling_plant.mixed_temp_c(
                self.supply_temp_c,
                plant.heat_to_loop_w,
                plant.flow_kg_s,
                self.coolant_cp_j_per_kg_k,
            ),
            dry_cooler_inlet_temp_c=inlet_c,
            offtaker_demand_w=self.offtaker_demand_w(t_amb),
            offtaker_delivered_w=reuse.delivered_w,
            heat_pump_power_w=reuse.heat_pump_power_w,
            water_l_per_h=self.makeup_water_l_per_mwh_heat * rejected_w / 1e6,
            grid_capacity_w=self.grid_capacity_w,
            mix=energy_mix(
                list(self.contracts),
                month,
                location_g_per_kwh=self.location_carbon_g_per_kwh,
                residual_mix_g_per_kwh=self.residual_mix_g_per_kwh,
            ),
        )


def offtaker_supply_temp_c(offtaker: Offtaker, ambient_c: ArrayLike) -> NDArray[np.float64]:
    """The temperature an offtaker needs at each ambient, C: its outdoor-compensated curve
    (:func:`narvik.physics.district_heating.supply_temp_c`) or its constant supply."""
    amb = np.asarray(ambient_c, dtype=float)
    if offtaker.supply_temp_at_mild_c is None or offtaker.mild_temp_c is None:
        return np.full(amb.shape, offtaker.supply_temp_c)
    return district_heating.supply_temp_c(
        amb,
        supply_at_design_c=offtaker.supply_temp_c,
        supply_at_mild_c=offtaker.supply_temp_at_mild_c,
        design_temp_c=offtaker.design_temp_c,
        mild_temp_c=offtaker.mild_temp_c,
    )


def electrical_topology(site: Site, it_nameplate_w: float, grid_w: float) -> ElectricalTopology:
    """The chain of a phase: UPS units for the IT design load (nameplate plus distribution
    losses) at the site's redundancy; MV/LV transformers at their capacity per W of IT;
    HV/MV transformers rated at the grid connection."""
    pc = site.power_chain
    design_w = it_nameplate_w * (1 + pc.distribution_loss_fraction)
    unit_w = pc.ups_unit_rating_w or design_w
    return ElectricalTopology(
        distribution_loss_fraction=pc.distribution_loss_fraction,
        ups_unit_rating_w=unit_w,
        ups_units=ups_units_installed(design_w, unit_w, pc.ups_redundancy),
        ups_curve_load_fraction=tuple(p.load_fraction for p in pc.ups_efficiency_curve),
        ups_curve_efficiency=tuple(p.efficiency for p in pc.ups_efficiency_curve),
        mv_lv=TransformerStage(
            rated_w=it_nameplate_w * pc.mv_lv_transformer_capacity_fraction,
            no_load_loss_fraction=pc.mv_lv_transformer_no_load_loss_fraction,
            load_loss_fraction=pc.mv_lv_transformer_load_loss_fraction,
        ),
        hv_mv=TransformerStage(
            rated_w=grid_w,
            no_load_loss_fraction=pc.transformer_no_load_loss_fraction,
            load_loss_fraction=pc.transformer_load_loss_fraction,
        ),
    )


def _rack_groups(site: Site, phase: str) -> tuple[RackGroup, ...]:
    groups = []
    for hall in site.halls_online(phase):
        rack = site.rack_type(hall.rack_type)
        gpu = site.gpu_model(rack.gpu_model)
        groups.append(
            RackGroup(
                racks=hall.racks,
                gpus_per_rack=rack.gpus_per_rack,
                gpu_idle_power_w=gpu.idle_power_w,
                gpu_max_power_w=gpu.max_power_w,
                non_gpu_max_power_w=rack.cpu_power_w + rack.switch_power_w + rack.overhead_power_w,
                idle_fraction_of_non_gpu=rack.idle_fraction_of_non_gpu,
            )
        )
    return tuple(groups)


def _contracts(site: Site) -> tuple[ContractTerms, ...]:
    return tuple(
        ContractTerms(
            share=c.share,
            renewable=c.renewable,
            carbon_intensity_g_per_kwh=c.carbon_intensity_g_per_kwh,
            price_eur_per_mwh=c.price_eur_per_mwh,
            monthly_price_factor=c.monthly_price_factor,
            covered=c.kind is not EnergyKind.grid,
        )
        for c in site.energy
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
