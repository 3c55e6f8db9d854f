"""The site description: validated pydantic models of a GPU data centre.

Every field carries its unit in its name and a one-line description. Models
forbid unknown fields, so a typo in a site file is an error, not a silent
default. Cross-references (a hall's rack type, a rack type's GPU model, a
hall's phase) are checked when the whole site is validated.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveW = Annotated[float, Field(gt=0)]
NonNegW = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class GpuModel(_Model):
    """A GPU generation and its board power envelope."""

    name: str = Field(description="catalogue name, e.g. GB300")
    idle_power_w: NonNegW = Field(description="board power at 0 % utilisation, W")
    max_power_w: PositiveW = Field(description="board power at 100 % utilisation (TDP), W")
    memory_gb: float = Field(gt=0, description="HBM capacity, GB")
    source: str = Field(default="", description="where the numbers come from")

    @model_validator(mode="after")
    def _idle_below_max(self) -> GpuModel:
        if self.idle_power_w > self.max_power_w:
            raise ValueError("idle_power_w must not exceed max_power_w")
        return self


class RackType(_Model):
    """A rack design: its GPUs and the non-GPU power that comes with them."""

    name: str = Field(description="catalogue name, e.g. GB300-NVL72")
    gpu_model: str = Field(description="name of a GpuModel of this site")
    gpus_per_rack: int = Field(gt=0, description="GPUs in one rack")
    nvlink_domain_gpus: int = Field(gt=0, description="GPUs sharing one NVLink domain")
    cpu_power_w: NonNegW = Field(description="host CPUs and memory at full load, per rack, W")
    switch_power_w: NonNegW = Field(description="NVLink and network switches, per rack, W")
    overhead_power_w: NonNegW = Field(description="fans, NICs, BMC and other, per rack, W")
    idle_fraction_of_non_gpu: Fraction = Field(
        default=0.5, description="share of CPU/switch/overhead power drawn when GPUs are idle"
    )
    source: str = Field(default="", description="where the numbers come from")

    @model_validator(mode="after")
    def _domains_divide_rack(self) -> RackType:
        if self.gpus_per_rack % self.nvlink_domain_gpus and (
            self.nvlink_domain_gpus % self.gpus_per_rack
        ):
            raise ValueError("nvlink_domain_gpus and gpus_per_rack must divide one another")
        return self


class Hall(_Model):
    """A data hall: a number of identical racks in network blocks."""

    name: str = Field(description="hall name")
    rack_type: str = Field(description="name of a RackType of this site")
    racks: int = Field(gt=0, description="racks in the hall")
    racks_per_network_block: int = Field(gt=0, description="racks under one leaf/spine block")
    phase: str = Field(description="build-out phase in which the hall comes online")
    floor_area_m2: PositiveW | None = Field(
        default=None, description="computer-room (white space) floor area of the hall, m2"
    )


class CurvePoint(_Model):
    load_fraction: Fraction = Field(description="load as a fraction of rated power")
    efficiency: Annotated[float, Field(gt=0, le=1)] = Field(description="output / input")


class PowerChain(_Model):
    """Grid to rack: transformer, UPS and distribution losses.

    Transformers are rated at the grid connection of the phase in force and the
    UPS at the IT nameplate of the halls online, so losses scale with build-out.
    """

    transformer_no_load_loss_fraction: Fraction = Field(
        description="no-load (iron) loss as a fraction of rating"
    )
    transformer_load_loss_fraction: Fraction = Field(
        description="load (copper) loss at rated load as a fraction of rating"
    )
    ups_efficiency_curve: tuple[CurvePoint, ...] = Field(
        min_length=2, description="UPS efficiency against load fraction"
    )
    distribution_loss_fraction: Fraction = Field(
        description="busway/PDU/cable losses as a fraction of IT power"
    )
    ancillary_power_w: NonNegW = Field(
        default=0.0, description="lighting, offices, security and BMS, constant, W"
    )
    ups_redundancy: Literal["N", "N+1", "2N"] = Field(
        default="N",
        description="UPS units installed for the n the design load needs: n, n + 1 or 2 n",
    )
    ups_unit_rating_w: PositiveW | None = Field(
        default=None,
        description="rating of one UPS unit, W (default: one unit sized to the design load)",
    )
    mv_lv_transformer_no_load_loss_fraction: Fraction = Field(
        default=0.0, description="MV/LV (hall) transformers: no-load loss / rating"
    )
    mv_lv_transformer_load_loss_fraction: Fraction = Field(
        default=0.0, description="MV/LV (hall) transformers: load loss at rated load / rating"
    )
    mv_lv_transformer_capacity_fraction: float = Field(
        default=1.25,
        gt=0,
        description="MV/LV transformer rating installed per W of IT nameplate online",
    )

    @model_validator(mode="after")
    def _curve_sorted(self) -> PowerChain:
        loads = [p.load_fraction for p in self.ups_efficiency_curve]
        if loads != sorted(loads) or len(set(loads)) != len(loads):
            raise ValueError("ups_efficiency_curve load_fraction must be strictly increasing")
        return self


class Cooling(_Model):
    """Closed-loop direct liquid cooling with dry coolers and trim chillers."""

    liquid_heat_fraction: Fraction = Field(description="share of IT heat taken by the liquid")
    coolant: str = Field(description="CoolProp fluid of the facility loop, e.g. INCOMP::MPG-30%")
    supply_temp_c: float = Field(ge=5, le=60, description="facility water to the racks, C")
    return_temp_c: float = Field(ge=10, le=75, description="facility water from the racks, C")
    loop_pressure_pa: PositiveW = Field(description="static pressure of the loop, Pa")
    pump_head_pa: PositiveW = Field(description="pressure rise of the facility-loop pumps, Pa")
    cdu_pump_head_pa: NonNegW = Field(
        default=0.0, description="pressure rise of the CDU (rack-side loop) pumps, Pa"
    )
    pump_efficiency: Annotated[float, Field(gt=0, le=1)] = Field(
        description="wire-to-water efficiency of pump and motor"
    )
    dry_cooler_approach_c: float = Field(
        gt=0,
        description="supply minus ambient at which the dry coolers, fans at full speed, "
        "just reject the nameplate heat (their rating point), K",
    )
    dry_cooler_fan_power_fraction: Fraction = Field(
        description="fan power / heat rejected at the design point"
    )
    dry_cooler_min_fan_speed_fraction: Fraction = Field(
        default=0.1, description="lowest fan speed as a fraction of design"
    )
    chiller_cop: Annotated[float, Field(gt=1)] = Field(
        description="trim-chiller coefficient of performance (heat removed / electricity)"
    )
    air_fan_power_fraction: Fraction = Field(
        description="CRAH/rear-door fan power per W of air-side heat"
    )
    makeup_water_l_per_mwh_heat: NonNegW = Field(
        default=0.0, description="water added to the closed loops per MWh of heat rejected, L"
    )
    loop_volume_m3_per_mw: float | None = Field(
        default=None,
        gt=0,
        description="fluid inventory of the loop (pipework, CDUs, dry-cooler coils, tanks) "
        "per MW of IT nameplate online, m3/MW; the thermal mass of `facility transient`",
    )
    loop_steel_kg_per_mw: NonNegW = Field(
        default=0.0,
        description="steel of pipes and equipment counted as thermal mass, per MW of IT "
        "nameplate online, kg/MW (0: left out)",
    )
    supply_temp_max_c: float | None = Field(
        default=None,
        ge=5,
        le=75,
        description="highest facility water supply temperature the IT equipment accepts "
        "(the upper bound of its ASHRAE W class), C",
    )
    heat_rejection_response_s: float = Field(
        default=60.0,
        gt=0,
        description="time constant with which the dry coolers' and chillers' heat follows "
        "its control target, s",
    )
    cdu_approach_k: NonNegW = Field(
        default=0.0,
        description="CDU approach at full load: rack-loop (TCS) supply minus facility supply, K",
    )
    air_side_delta_t_k: float | None = Field(
        default=None,
        gt=0,
        le=60,
        description="rise of the facility water through the air coils (CRAH, rear doors, "
        "electrical rooms), K: they return it at supply + this (default: the CDUs' rise)",
    )
    dry_cooler_capacity_fraction: float = Field(
        default=1.0,
        gt=0,
        description="dry-cooler heat rejection installed, at full fan speed at the rating "
        "point, per W of IT nameplate online",
    )
    chiller_capacity_fraction: NonNegW | None = Field(
        default=None,
        description="trim-chiller cooling capacity installed per W of IT nameplate online "
        "(default: unlimited)",
    )
    electrical_room_fan_power_fraction: Fraction | None = Field(
        default=None,
        description="fan power of the electrical rooms' coolers per W of heat they remove "
        "(default: air_fan_power_fraction)",
    )
    it_inlet_air_setpoint_c: float | None = Field(
        default=None,
        ge=10,
        le=45,
        description="set point of the IT equipment's intake air, C (EU 2024/1364 Annex I)",
    )
    chiller_refrigerant: str = Field(
        default="", description="refrigerant of the trim chillers, e.g. R-1234ze(E)"
    )
    freeze_design_temp_c: float | None = Field(
        default=None,
        ge=-60,
        le=20,
        description="lowest outdoor temperature the loop fluid in the dry coolers must "
        "survive, C (default: not checked)",
    )

    @model_validator(mode="after")
    def _return_above_supply(self) -> Cooling:
        if self.return_temp_c <= self.supply_temp_c:
            raise ValueError("return_temp_c must be above supply_temp_c")
        return self


class OfftakerKind(StrEnum):
    district_heating = "district_heating"
    aquaculture = "aquaculture"
    greenhouse = "greenhouse"
    industry = "industry"


class Offtaker(_Model):
    """A buyer of waste heat, with a demand that follows the weather."""

    name: str = Field(description="offtaker name")
    kind: OfftakerKind = Field(description="what the heat is used for")
    supply_temp_c: float = Field(ge=5, le=150, description="temperature the offtaker needs, C")
    peak_demand_w: PositiveW = Field(description="heat demand at the design ambient, W")
    base_demand_fraction: Fraction = Field(
        description="share of peak demand needed whatever the weather"
    )
    balance_temp_c: float = Field(description="ambient above which only the base demand remains")
    design_temp_c: float = Field(description="ambient at which the demand reaches its peak")
    heat_pump: bool = Field(description="whether a heat pump lifts the facility water")
    heat_exchanger_approach_c: float = Field(
        default=3.0, gt=0, description="temperature lost across the heat exchanger, K"
    )
    price_eur_per_mwh: NonNegW = Field(default=0.0, description="price paid for heat, EUR/MWh")
    enabled: bool = Field(
        default=True,
        description="whether it takes heat; optional offtakers stay off until a scenario "
        "sets offtakers.<name>.enabled = true",
    )
    supply_temp_at_mild_c: float | None = Field(
        default=None,
        ge=5,
        le=150,
        description="supply temperature at mild_temp_c and above, C: supply_temp_c then "
        "applies at design_temp_c, linear between (an outdoor-compensated supply curve; "
        "default: constant supply_temp_c)",
    )
    mild_temp_c: float | None = Field(
        default=None, description="ambient from which the supply is supply_temp_at_mild_c, C"
    )
    network_return_temp_c: float | None = Field(
        default=None,
        ge=5,
        le=150,
        description="water returning from the offtaker, C; with lorenz_efficiency, the "
        "heat pump's sink glides from it to the supply",
    )
    lorenz_efficiency: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="heat pump's COP as a share of the Lorenz COP of its glides (default: "
        "the Carnot model of physics.heat_pump, without glide)",
    )
    heat_pump_capacity_w: PositiveW | None = Field(
        default=None, description="heat the heat pump can deliver, W (default: unlimited)"
    )
    existing_plant_min_share: Fraction = Field(
        default=0.0,
        description="share of every hour's demand the offtaker's existing plant keeps",
    )

    @model_validator(mode="after")
    def _design_below_balance(self) -> Offtaker:
        if self.design_temp_c >= self.balance_temp_c:
            raise ValueError("design_temp_c must be below balance_temp_c")
        if (self.supply_temp_at_mild_c is None) != (self.mild_temp_c is None):
            raise ValueError("supply_temp_at_mild_c and mild_temp_c go together")
        if self.mild_temp_c is not None and self.mild_temp_c <= self.design_temp_c:
            raise ValueError("mild_temp_c must be above design_temp_c")
        if self.lorenz_efficiency is not None and self.network_return_temp_c is None:
            raise ValueError("lorenz_efficiency needs network_return_temp_c")
        return self


class EnergyKind(StrEnum):
    ppa = "ppa"
    guarantee_of_origin = "guarantee_of_origin"
    onsite = "onsite"
    grid = "grid"


class EnergyContract(_Model):
    """A slice of the site's electricity supply."""

    name: str = Field(description="contract name")
    kind: EnergyKind = Field(description="how the energy is bought")
    share: Fraction = Field(description="share of the facility's energy it covers")
    renewable: bool = Field(description="whether the energy counts as renewable for REF")
    carbon_intensity_g_per_kwh: NonNegW = Field(description="emission factor, g CO2e/kWh")
    price_eur_per_mwh: NonNegW = Field(description="mean energy price, EUR/MWh")
    monthly_price_factor: tuple[float, ...] = Field(
        default=(1.0,) * 12, description="price multiplier for each month Jan..Dec"
    )

    @model_validator(mode="after")
    def _twelve_months(self) -> EnergyContract:
        if len(self.monthly_price_factor) != 12 or min(self.monthly_price_factor) < 0:
            raise ValueError("monthly_price_factor needs 12 non-negative values")
        return self


class ElectricityAccounts(_Model):
    """How auditors count the site's electricity: carbon both ways, and its cost in lines."""

    location_carbon_g_per_kwh: NonNegW = Field(
        description="physical grid mix of the country, g CO2e/kWh (location-based CUE)"
    )
    location_carbon_source: str = Field(default="", description="where and which year")
    residual_mix_g_per_kwh: NonNegW = Field(
        description="residual mix for energy no instrument covers, g CO2/kWh (market-based)"
    )
    residual_mix_source: str = Field(default="", description="where and which year")
    tariff_energy_eur_per_mwh: float = Field(description="grid tariff energy term, EUR/MWh")
    tariff_capacity_eur_per_kw_month: NonNegW = Field(
        description="grid tariff capacity term on each month's peak hourly draw, EUR/kW/month"
    )
    electricity_tax_eur_per_mwh: NonNegW = Field(description="electricity tax, EUR/MWh")
    tariff_source: str = Field(default="", description="where the tariff and tax come from")


class Phase(_Model):
    """A build-out phase: from its date on, the grid connection it brings."""

    name: str = Field(description="phase name")
    start_date: dt.date = Field(description="first day the phase is in force")
    grid_capacity_mw: float = Field(gt=0, description="grid connection, MW")


class Location(_Model):
    name: str = Field(description="place name")
    latitude_deg: float = Field(ge=-90, le=90, description="latitude, degrees north")
    longitude_deg: float = Field(ge=-180, le=180, description="longitude, degrees east")
    price_zone: str = Field(default="", description="electricity bidding zone, e.g. NO4")
    climate: str = Field(description="built-in climate name used when no EPW file is given")


class Site(_Model):
    """A whole site. Cross-references are checked here."""

    name: str = Field(description="site name")
    description: str = Field(default="", description="one paragraph about the site")
    location: Location
    gpu_models: tuple[GpuModel, ...] = Field(min_length=1)
    rack_types: tuple[RackType, ...] = Field(min_length=1)
    halls: tuple[Hall, ...] = Field(min_length=1)
    phases: tuple[Phase, ...] = Field(min_length=1)
    power_chain: PowerChain
    cooling: Cooling
    offtakers: tuple[Offtaker, ...] = ()
    energy: tuple[EnergyContract, ...] = Field(min_length=1)
    electricity: ElectricityAccounts | None = Field(
        default=None, description="carbon factors, price series, tariffs and tax"
    )
    sources: tuple[str, ...] = Field(default=(), description="references for the numbers")
    operator: str = Field(default="", description="owner and operator of the data centre")
    support_floor_area_m2: NonNegW | None = Field(
        default=None,
        description="floor area besides the computer rooms (electrical and plant rooms, "
        "offices), m2",
    )

    @model_validator(mode="after")
    def _check_references(self) -> Site:
        gpus = _unique(self.gpu_models, "gpu_models")
        racks = _unique(self.rack_types, "rack_types")
        phases = _unique(self.phases, "phases")
        _unique(self.halls, "halls")
        _unique(self.offtakers, "offtakers")
        for i, rack in enumerate(self.rack_types):
            if rack.gpu_model not in gpus:
                raise ValueError(
                    f"rack_types.{i}.gpu_model: unknown GPU model {rack.gpu_model!r} "
                    f"(known: {', '.join(sorted(gpus))})"
                )
        for i, hall in enumerate(self.halls):
            if hall.rack_type not in racks:
                raise ValueError(
                    f"halls.{i}.rack_type: unknown rack type {hall.rack_type!r} "
                    f"(known: {', '.join(sorted(racks))})"
                )
            if hall.phase not in phases:
                raise ValueError(
                    f"halls.{i}.phase: unknown phase {hall.phase!r} "
                    f"(known: {', '.join(sorted(phases))})"
                )
        dates = [p.start_date for p in self.phases]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("phases: start_date must strictly increase")
        reach_c = self.cooling.return_temp_c
        for i, off in enumerate(self.offtakers):
            if not off.heat_pump and off.supply_temp_c > reach_c - off.heat_exchanger_approach_c:
                raise ValueError(
                    f"offtakers.{i}.heat_pump: {off.supply_temp_c:g} C is above the facility "
                    f"return of {reach_c:g} C less the heat-exchanger approach; "
                    "it needs a heat pump"
                )
        total = sum(c.share for c in self.energy)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"energy: contract shares must add up to 1 (they add up to {total:g})")
        return self

    # --- derived views (no stored state) ---------------------------------------
    @property
    def active_offtakers(self) -> tuple[Offtaker, ...]:
        """The offtakers that take heat (``enabled``), in priority order."""
        return tuple(o for o in self.offtakers if o.enabled)

    def gpu_model(self, name: str) -> GpuModel:
        return next(g for g in self.gpu_models if g.name == name)

    def rack_type(self, name: str) -> RackType:
        return next(r for r in self.rack_types if r.name == name)

    def phase(self, name: str) -> Phase:
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(f"unknown phase {name!r} (known: {', '.join(p.name for p in self.phases)})")

    def phase_at(self, day: dt.date) -> Phase:
        """The phase in force on a day (the first phase before the first date)."""
        current = self.phases[0]
        for p in self.phases:
            if p.start_date <= day:
                current = p
        return current

    def halls_online(self, phase: str) -> tuple[Hall, ...]:
        """Halls whose phase has started by the start of the named phase."""
        start = self.phase(phase).start_date
        return tuple(h for h in self.halls if self.phase(h.phase).start_date <= start)


def _unique(items: tuple[BaseModel, ...], field: str) -> set[str]:
    names = [getattr(i, "name") for i in items]  # noqa: B009 - all items carry a name
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{field}: duplicate names {', '.join(dupes)}")
    return set(names)
