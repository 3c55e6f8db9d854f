"""A district-heating market the size of Narvik, and the data-centre heat pump that feeds it.

Pure, vectorised functions (one value per hour) for the town's network:

* how much heat the town buys in a year and the peak that implies under the
  degree-hour model of :func:`narvik.physics.heat_demand.heat_demand_w`;
* the outdoor-temperature-compensated supply temperature of the network and its
  (constant) return temperature;
* the heating COP of a heat pump with temperature glides on both sides (Lorenz);
* the hour-by-hour share of the network's demand the heat pump takes from the
  existing wood-chip plant, limited by the pump's rating, by the share the plant
  keeps and by the heat the data centre offers;
* the annual figures and the energy reuse factor (ISO/IEC 30134-6) they give.

Why this module: a review found the site file's district-heating offtaker sized
for about 115 GWh a year. Narvik has about 22,000 inhabitants, Norway delivers
about 1.15 MWh of district heat per inhabitant a year (Statistics Norway, below)
and the town's network is a small wood-chip grid (Statkraft Varme and Nordkraft,
licence of November 2011: a heating centre burning wood chips and about 9 km of
pipes serving central Narvik's businesses, public buildings and blocks of
flats). The market is therefore about 25 GWh a year, a few MW at peak.

Units are SI inside (W, J, C, K); annual energies are MWh, as the site file's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.physics.heat_demand import heat_demand_w
from narvik.units import J_PER_MWH, SECONDS_PER_HOUR, ZERO_C_IN_K

# --- 1. Annual demand and the peak it implies ------------------------------------------------


def annual_demand_mwh(inhabitants: ArrayLike, mwh_per_inhabitant: ArrayLike) -> NDArray[np.float64]:
    """District heat a town buys in a year, MWh: inhabitants times heat per inhabitant.

    Norway delivered 6,300 GWh of district heat to consumers in 2022 (7,045 GWh in
    2023) for about 5.46 (5.50) million inhabitants, i.e. about 1.15 (1.28) MWh per
    inhabitant (Statistics Norway, "District heating and district cooling",
    table "Balance of district heating", ssb.no/en/energi-og-industri/energi/
    statistikk/fjernvarme-og-fjernkjoling). The figure is *delivered to consumers*:
    distribution losses (about 10 % of net production in the same table) come on
    top at the plant.
    """
    people = np.asarray(inhabitants, dtype=float)
    per_head_mwh = np.asarray(mwh_per_inhabitant, dtype=float)
    if np.any(people < 0) or np.any(per_head_mwh < 0):
        raise ValueError("annual_demand_mwh: inhabitants and MWh per inhabitant must be >= 0")
    return np.asarray(people * per_head_mwh, dtype=float)


def demand_shape(
    ambient_c: ArrayLike,
    *,
    base_demand_fraction: float,
    balance_temp_c: float,
    design_temp_c: float,
) -> NDArray[np.float64]:
    """Hourly demand as a fraction of the peak (dimensionless, between base and 1).

    :func:`narvik.physics.heat_demand.heat_demand_w` with a peak of 1 W: the
    degree-hour method of CIBSE TM41 (2006), section 2.
    """
    return heat_demand_w(
        ambient_c,
        peak_demand_w=1.0,
        base_demand_fraction=base_demand_fraction,
        balance_temp_c=balance_temp_c,
        design_temp_c=design_temp_c,
    )


def peak_for_annual_demand_w(
    annual_mwh: float,
    ambient_c: ArrayLike,
    *,
    base_demand_fraction: float,
    balance_temp_c: float,
    design_temp_c: float,
    step_s: float = SECONDS_PER_HOUR,
) -> float:
    """Peak demand, W, that makes the degree-hour model sum to ``annual_mwh`` over ``ambient_c``.

    The model of :func:`narvik.physics.heat_demand.heat_demand_w` is linear in its
    peak, ``Q(t) = P * s(t)`` with ``s`` from :func:`demand_shape`, so the energy
    over the series is ``P * sum(s) * step`` and, in closed form,

        P = annual_mwh * 3.6e9 J/MWh / (step_s * sum(s)).

    ``ambient_c`` is one value per step of ``step_s`` seconds (hourly by default);
    "annual" is the total over the series, a year for 8760 hours. The peak is the
    demand at the design temperature (EN 12831-1:2017); a mild year that never
    reaches it never reaches the peak either.
    """
    if annual_mwh < 0:
        raise ValueError("peak_for_annual_demand_w: annual_mwh must be >= 0")
    shape = demand_shape(
        ambient_c,
        base_demand_fraction=base_demand_fraction,
        balance_temp_c=balance_temp_c,
        design_temp_c=design_temp_c,
    )
    shape_sum_s = float(np.sum(shape)) * step_s
    if shape_sum_s <= 0:
        raise ValueError("peak_for_annual_demand_w: the series has no heating demand at all")
    return annual_mwh * J_PER_MWH / shape_sum_s


# --- 2. Network temperatures -------------------------------------------------------------------


def supply_temp_c(
    ambient_c: ArrayLike,
    *,
    supply_at_design_c: float,
    supply_at_mild_c: float,
    design_temp_c: float,
    mild_temp_c: float,
) -> NDArray[np.float64]:
    """Supply temperature of a district-heating network, C, compensated for the outdoor air.

    Linear between ``(design_temp_c, supply_at_design_c)`` and ``(mild_temp_c,
    supply_at_mild_c)`` and flat outside that range: the usual control curve of
    Nordic networks, which raise the supply temperature as the weather gets colder
    and keep a floor the rest of the year so domestic hot water can still be made
    (Frederiksen and Werner, *District Heating and Cooling*, Studentlitteratur 2013,
    on network temperatures; the book itself was not checked page by page here).
    Third-generation networks supply about 80-110 C and return 40-60 C,
    fourth-generation ones supply 50-70 C (generations after Lund et al., "4th
    Generation District Heating (4GDH)", Energy 68, 2014; the ranges as tabulated
    in the VICUS guide "Network temperatures in district heating networks"; the
    Swedish regulator Ei quotes 70-120 C for Swedish networks). The default Narvik
    curve (:data:`NARVIK_DISTRICT_HEATING`) is 80 C at -15 C to 70 C above +5 C,
    an assumption at the low end of the third-generation range.
    """
    if mild_temp_c <= design_temp_c:
        raise ValueError("supply_temp_c: mild_temp_c must be above design_temp_c")
    t = np.asarray(ambient_c, dtype=float)
    warmth = np.clip((t - design_temp_c) / (mild_temp_c - design_temp_c), 0.0, 1.0)
    return np.asarray(supply_at_design_c + (supply_at_mild_c - supply_at_design_c) * warmth)


def return_temp_c(ambient_c: ArrayLike, *, return_c: float) -> NDArray[np.float64]:
    """Return temperature of the network, C: a constant, one value per hour of ``ambient_c``.

    Held constant here (assumption): the return temperature is set by the
    consumers' substations and varies less than the supply; 40-60 C is the range of
    third-generation networks (Frederiksen and Werner 2013; see
    :func:`supply_temp_c`). The heat pump's sink glide is then supply minus return.
    """
    return np.full(np.shape(np.asarray(ambient_c, dtype=float)), float(return_c))


# --- 3. Heat-pump COP with temperature glides (Lorenz) -----------------------------------------


def log_mean_temp_k(temp_in_k: ArrayLike, temp_out_k: ArrayLike) -> NDArray[np.float64]:
    """Logarithmic-mean (entropic-mean) temperature, K: ``(T_out - T_in) / ln(T_out / T_in)``.

    The temperature at which a stream changing from ``T_in`` to ``T_out`` at constant
    heat capacity exchanges its heat reversibly (entropy change ``Q / T_lm``). Tends
    to ``T_in`` as the glide vanishes; computed with ``log1p`` so small glides keep
    their precision.
    """
    t_in = np.asarray(temp_in_k, dtype=float)
    t_out = np.asarray(temp_out_k, dtype=float)
    if np.any(t_in <= 0) or np.any(t_out <= 0):
        raise ValueError("log_mean_temp_k: temperatures must be above absolute zero")
    glide = t_out - t_in
    tiny = np.abs(glide) <= 1e-12 * t_in
    with np.errstate(divide="ignore", invalid="ignore"):
        lm = glide / np.log1p(glide / t_in)
    return np.asarray(np.where(tiny, 0.5 * (t_in + t_out), lm), dtype=float)


def lorenz_cop(
    source_in_c: ArrayLike,
    source_out_c: ArrayLike,
    sink_in_c: ArrayLike,
    sink_out_c: ArrayLike,
    *,
    lorenz_efficiency: float,
    approach_k: float,
) -> NDArray[np.float64]:
    """Heating COP of a heat pump between two gliding streams (heat delivered / electricity).

    The Lorenz cycle is the reversible cycle between a source cooled from
    ``source_in`` to ``source_out`` and a sink heated from ``sink_in`` to
    ``sink_out``; its heating COP uses the logarithmic-mean temperatures of the two
    streams (:func:`log_mean_temp_k`) in place of Carnot's fixed ones:

        COP = eta_L * T_lm,sink / (T_lm,sink - T_lm,source)

    (Reinholdt et al., "Heat pump COP, part 1: Generalized method for screening of
    system integration potentials", and Jensen et al., "Heat pump COP, part 2:
    Generalized COP estimation of heat pump processes", 13th IIR Gustav Lorentzen
    Conference, Valencia 2018, doi:10.18462/iir.gl.2018.1380 and .1386). As in
    :func:`narvik.physics.heat_pump.heat_pump_cop`, ``approach_k`` is added to both
    sink temperatures and taken from both source temperatures (the refrigerant is
    that much hotter in the condenser and colder in the evaporator), and the
    efficiency ``eta_L`` carries the remaining losses. Typical Lorenz efficiencies
    of real large heat pumps are quoted as about 0.45-0.6 (a range attributed to
    these papers; the papers' own tables were not checked here, so the Narvik value
    0.5 is calibrated instead against the Danish Energy Agency COPs quoted in
    :mod:`narvik.physics.heat_pump`). With no glide on either side this is exactly
    the Carnot form of ``heat_pump_cop``.

    Vectorised: every argument broadcasts (``sink_out_c`` typically follows the
    supply curve hour by hour). Raises ValueError when the sink's mean temperature
    is not above the source's.
    """
    if not 0.0 < lorenz_efficiency <= 1.0:
        raise ValueError("lorenz_cop: lorenz_efficiency must be in (0, 1]")
    if approach_k < 0:
        raise ValueError("lorenz_cop: approach_k must be >= 0")
    t_sink_k = log_mean_temp_k(
        np.asarray(sink_in_c, dtype=float) + approach_k + ZERO_C_IN_K,
        np.asarray(sink_out_c, dtype=float) + approach_k + ZERO_C_IN_K,
    )
    t_source_k = log_mean_temp_k(
        np.asarray(source_in_c, dtype=float) - approach_k + ZERO_C_IN_K,
        np.asarray(source_out_c, dtype=float) - approach_k + ZERO_C_IN_K,
    )
    lift_k = t_sink_k - t_source_k
    if np.any(lift_k <= 0):
        raise ValueError("lorenz_cop: the sink's mean temperature must be above the source's")
    return np.asarray(lorenz_efficiency * t_sink_k / lift_k, dtype=float)


# --- 4. Hourly dispatch between the heat pump and the existing plant ----------------------------


@dataclass(frozen=True)
class HeatDispatch:
    """Hourly split of a network's demand; every array has the shape of the demand, W.

    Balances, every hour: ``delivered = source + heat_pump_power`` and
    ``delivered + existing_plant = demand``.
    """

    delivered_w: NDArray[np.float64]
    """Heat the data-centre heat pump delivers into the network, W."""
    source_w: NDArray[np.float64]
    """Heat the heat pump draws from the data-centre loop, W."""
    heat_pump_power_w: NDArray[np.float64]
    """Electricity of the heat pump, W."""
    existing_plant_w: NDArray[np.float64]
    """Demand left to the existing (wood-chip) plant, W."""


def dispatch_heat_w(
    demand_w: ArrayLike,
    available_source_w: ArrayLike,
    cop: ArrayLike,
    *,
    heat_pump_capacity_w: float,
    existing_plant_min_share: float,
) -> HeatDispatch:
    """How much of each hour's demand the data-centre heat pump delivers.

    The heat pump delivers, each hour, the least of

    * ``(1 - existing_plant_min_share) * demand``: the existing plant keeps at
      least that share of every hour's demand (contract, hot standby);
    * ``heat_pump_capacity_w``: the pump's rated heat output;
    * ``available_source_w / (1 - 1/COP)``: a heat pump delivering ``Q_d`` draws
      ``Q_d (1 - 1/COP)`` from its source and ``Q_d / COP`` of electricity (first
      law; :func:`narvik.physics.heat_pump.source_heat_w`).

    ``cop`` may be ``inf`` for a direct heat exchanger (no electricity). The
    existing plant covers the rest. Arguments broadcast against ``demand_w``.
    """
    demand = np.asarray(demand_w, dtype=float)
    available = np.broadcast_to(np.asarray(available_source_w, dtype=float), demand.shape)
    cops = np.broadcast_to(np.asarray(cop, dtype=float), demand.shape)
    if np.any(demand < 0) or np.any(np.isnan(demand)):
        raise ValueError("dispatch_heat_w: demand must be >= 0")
    if np.any(available < 0) or np.any(np.isnan(available)):
        raise ValueError("dispatch_heat_w: available source heat must be >= 0")
    if np.any(~(cops > 1.0)):
        raise ValueError("dispatch_heat_w: a heating COP must be above 1")
    if not heat_pump_capacity_w >= 0:
        raise ValueError("dispatch_heat_w: heat_pump_capacity_w must be >= 0")
    if not 0.0 <= existing_plant_min_share <= 1.0:
        raise ValueError("dispatch_heat_w: existing_plant_min_share must be in [0, 1]")
    source_share = 1.0 - 1.0 / cops
    source_limited_w = available / source_share
    delivered = np.minimum(
        np.minimum((1.0 - existing_plant_min_share) * demand, heat_pump_capacity_w),
        source_limited_w,
    )
    heat_pump_power = delivered / cops
    source = delivered - heat_pump_power
    return HeatDispatch(
        delivered_w=delivered,
        source_w=source,
        heat_pump_power_w=heat_pump_power,
        existing_plant_w=demand - delivered,
    )


# --- 5. Narvik's network ------------------------------------------------------------------------


def heat_pump_capacity_for_w(peak_demand_w: float, existing_plant_min_share: float) -> float:
    """Rated heat output, W, that covers the peak above the share the existing plant keeps.

    Sizing rule (assumption, the simplest that never strands capacity): ``(1 -
    min_share) * peak``. With it the rating never binds; a smaller pump would leave
    the coldest hours to the wood-chip plant.
    """
    return (1.0 - existing_plant_min_share) * peak_demand_w


@dataclass(frozen=True)
class DistrictHeatingParams:
    """Parameters of a town's district-heating network and of the heat pump feeding it."""

    inhabitants: float
    mwh_per_inhabitant: float
    base_demand_fraction: float
    balance_temp_c: float
    design_temp_c: float
    supply_at_design_c: float
    supply_at_mild_c: float
    mild_temp_c: float
    return_c: float
    source_in_c: float
    source_out_c: float
    approach_k: float
    lorenz_efficiency: float
    existing_plant_min_share: float
    heat_pump_capacity_w: float

    @property
    def annual_demand_mwh(self) -> float:
        return float(annual_demand_mwh(self.inhabitants, self.mwh_per_inhabitant))


NARVIK_DISTRICT_HEATING = DistrictHeatingParams(
    # Narvik municipality, about 22,000 inhabitants (the review's figure; not re-checked
    # against Statistics Norway's population tables here).
    inhabitants=22_000,
    # Norway 2022: 6,300 GWh delivered to consumers / ~5.46 M inhabitants (Statistics
    # Norway, district heating statistics). National average applied to Narvik: an
    # assumption; the town's own deliveries are not published per network here.
    mwh_per_inhabitant=1.15,
    # Year-round share of the peak (domestic hot water, weather-independent loads):
    # assumption, same value as the site file's offtaker.
    base_demand_fraction=0.15,
    # No space heating above a daily mean of 17 C: the base of the Norwegian degree-
    # day numbers (Enova, as used by Statistics Norway for temperature correction).
    balance_temp_c=17.0,
    # Design outdoor temperature (EN 12831-1:2017, lowest 3-day mean): -15 C, as in the
    # site file. Assumption: the Narvik value of SINTEF Byggforsk 451.021 was not
    # checked; coastal Nordland values are of this order.
    design_temp_c=-15.0,
    # 3rd-generation supply curve (Frederiksen and Werner 2013): 80 C at the design
    # temperature down to a 70 C floor (domestic hot water) above +5 C. The lower end of
    # the 80-110 C range because the network is small and recent (licensed in 2011):
    # assumption.
    supply_at_design_c=80.0,
    supply_at_mild_c=70.0,
    mild_temp_c=5.0,
    # Constant return, within the 40-60 C of 3rd-generation networks: assumption.
    return_c=45.0,
    # Source: the facility water, 45 C return cooled back to its 25 C supply
    # (docs/MISSION.md, secondary loops ~25 C in and ~45 C out).
    source_in_c=45.0,
    source_out_c=25.0,
    # Same approach as narvik.physics.heat_pump; with eta_L = 0.5 it reproduces the
    # Danish Energy Agency COPs from 45 C water within 5 % for a 20 K network spread
    # (tests/physics/test_district_heating.py). 0.5 sits in the typical 0.45-0.6.
    approach_k=8.0,
    lorenz_efficiency=0.5,
    # The wood-chip plant keeps at least a fifth of every hour (hot standby of its
    # boiler, security of supply, the owner's contract): assumption.
    existing_plant_min_share=0.2,
    # heat_pump_capacity_for_w: 0.8 x the 5.75 MW peak that 25.3 GWh gives on the
    # built-in Narvik year (narvik.physics.weather.builtin_weather("narvik", 0)),
    # rounded to 4.6 MW.
    heat_pump_capacity_w=4.6e6,
)


# --- 6. The year and the energy reuse factor ----------------------------------------------------


@dataclass(frozen=True)
class DistrictHeatingYear:
    """Annual figures of a network fed by the data-centre heat pump."""

    demand_mwh: float
    delivered_mwh: float
    source_mwh: float
    heat_pump_electricity_mwh: float
    existing_plant_mwh: float
    peak_demand_w: float
    mean_cop: float
    """Seasonal COP: delivered heat / heat-pump electricity over the year."""
    energy_reuse_factor: float
    hours: HeatDispatch
    cop: NDArray[np.float64]
    supply_temp_c: NDArray[np.float64]


def district_heating_year(
    ambient_c: ArrayLike,
    facility_energy_mwh: float,
    params: DistrictHeatingParams = NARVIK_DISTRICT_HEATING,
    *,
    available_source_w: ArrayLike = math.inf,
    heat_pump_inside_boundary: bool = True,
) -> DistrictHeatingYear:
    """Heat delivered to the town over an hourly year and the energy reuse factor it gives.

    Demand: the annual demand of ``params`` spread over ``ambient_c`` with
    :func:`peak_for_annual_demand_w` and the degree-hour model. COP: Lorenz,
    hour by hour, lifting the facility water to the supply curve. Dispatch:
    :func:`dispatch_heat_w` (``available_source_w`` defaults to unlimited; a 230 MW
    site offers two orders of magnitude more heat than the town needs).

    ERF = E_reused / E_DC (ISO/IEC 30134-6:2021). ``facility_energy_mwh`` is the
    facility's annual energy *without* the heat pump. When the heat pump belongs to
    the data centre (``heat_pump_inside_boundary``, the default) its electricity is
    added to E_DC and the reused energy is the heat delivered to the network:
    ``ERF = delivered / (facility + heat-pump electricity)``. Otherwise the reused
    energy is the heat that leaves the facility: ``ERF = source / facility``.
    """
    if facility_energy_mwh <= 0:
        raise ValueError("district_heating_year: facility_energy_mwh must be > 0")
    t = np.asarray(ambient_c, dtype=float)
    annual_mwh = params.annual_demand_mwh
    peak_w = peak_for_annual_demand_w(
        annual_mwh,
        t,
        base_demand_fraction=params.base_demand_fraction,
        balance_temp_c=params.balance_temp_c,
        design_temp_c=params.design_temp_c,
    )
    demand = heat_demand_w(
        t,
        peak_demand_w=peak_w,
        base_demand_fraction=params.base_demand_fraction,
        balance_temp_c=params.balance_temp_c,
        design_temp_c=params.design_temp_c,
    )
    supply = supply_temp_c(
        t,
        supply_at_design_c=params.supply_at_design_c,
        supply_at_mild_c=params.supply_at_mild_c,
        design_temp_c=params.design_temp_c,
        mild_temp_c=params.mild_temp_c,
    )
    cop = lorenz_cop(
        params.source_in_c,
        params.source_out_c,
        return_temp_c(t, return_c=params.return_c),
        supply,
        lorenz_efficiency=params.lorenz_efficiency,
        approach_k=params.approach_k,
    )
    hours = dispatch_heat_w(
        demand,
        available_source_w,
        cop,
        heat_pump_capacity_w=params.heat_pump_capacity_w,
        existing_plant_min_share=params.existing_plant_min_share,
    )
    step_mwh_per_w = SECONDS_PER_HOUR / J_PER_MWH
    delivered_mwh = float(np.sum(hours.delivered_w)) * step_mwh_per_w
    source_mwh = float(np.sum(hours.source_w)) * step_mwh_per_w
    electricity_mwh = float(np.sum(hours.heat_pump_power_w)) * step_mwh_per_w
    if heat_pump_inside_boundary:
        erf = delivered_mwh / (facility_energy_mwh + electricity_mwh)
    else:
        erf = source_mwh / facility_energy_mwh
    return DistrictHeatingYear(
        demand_mwh=float(np.sum(demand)) * step_mwh_per_w,
        delivered_mwh=delivered_mwh,
        source_mwh=source_mwh,
        heat_pump_electricity_mwh=electricity_mwh,
        existing_plant_mwh=float(np.sum(hours.existing_plant_w)) * step_mwh_per_w,
        peak_demand_w=peak_w,
        mean_cop=delivered_mwh / electricity_mwh if electricity_mwh > 0 else math.inf,
        energy_reuse_factor=erf,
        hours=hours,
        cop=cop,
        supply_temp_c=supply,
    )
