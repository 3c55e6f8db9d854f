"""Thermal transients of the facility loop: `narvik facility transient`.

Two events, on the lumped loop of :mod:`narvik.physics.loop_transient`:

- ``loss-of-rejection``: at ``t = 0`` every dry cooler and trim chiller stops while
  the racks run on at the given load and the pumps keep circulating (they sit on
  the UPS); the offtakers keep drawing their heat (their heat exchangers and heat
  pumps are separate plant) unless ``reuse=False``. The answer is the time until the
  supply temperature passes its limit, simulated and by hand, ``C dT / Q``.
- ``load-step``: the IT power steps up by ``step_mw`` at ``t = 0`` to the power of
  the given load; the heat rejection follows with the site's response time
  (critically damped controller) and the answer is the supply and return
  temperatures over the next ``duration_s`` and their peak.

Heat into the loop: all of the IT heat by default, since the facility model rejects
all of it through the dry coolers (the air-side share reaches the loop through the
water-cooled rear doors and CRAH coils); ``liquid_only`` counts only the cold plates'
share (``liquid_heat_fraction``). The pumps' hydraulic work ``V_dot dp`` is added
(friction turns it into heat in the water; motor losses go to the plant room). The
pumps hold the design rise across the racks, so the flow follows the heat, as in the
steady-state model. Offtakers draw heat as in :meth:`FacilityModel.run` (served
from the cold plates' heat, demand set by the ambient). The loop's volume and steel
scale with the IT nameplate online in the phase (``loop_volume_m3_per_mw``).

The default ambient, :data:`DESIGN_SUMMER_AMBIENT_C`, is 25 C: a design summer
afternoon for Narvik, above the hottest hour of the built-in typical year (about
23 C) and 6 K above the dry coolers' rating point, so the trim chillers carry part
of a full load (an assumption, not an ASHRAE climatic design value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from narvik.physics import loop_transient as lt
from narvik.physics.facility import FacilityModel
from narvik.site.model import Site

DESIGN_SUMMER_AMBIENT_C = 25.0
"""Default ambient of the transients, C (see the module docstring)."""

EVENTS = ("loss-of-rejection", "load-step")
REPORT_INSTANTS_S = (0.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0)
MAX_STEPS = 200_000


@dataclass(frozen=True)
class LoopSetup:
    """The loop's constants for one site and phase."""

    model: FacilityModel
    coolant: str
    volume_m3: float
    steel_kg: float
    cp_j_per_kg_k: float
    density_kg_per_m3: float
    heat_capacity_j_per_k: float
    setpoint_c: float
    rise_k: float
    limit_c: float
    response_s: float
    dry_cooler_w_per_k: float
    pump_head_pa: float
    loop_heat_share: float

    @classmethod
    def from_site(
        cls,
        site: Site,
        phase: str | None = None,
        limit_c: float | None = None,
        liquid_only: bool = False,
    ) -> LoopSetup:
        cool = site.cooling
        if cool.loop_volume_m3_per_mw is None:
            raise ValueError(
                f"{site.name}: cooling.loop_volume_m3_per_mw is not given: the transient "
                "needs the loop's fluid inventory"
            )
        if limit_c is None:
            if cool.supply_temp_max_c is None:
                raise ValueError(
                    f"{site.name}: cooling.supply_temp_max_c is not given: pass --limit-c"
                )
            limit_c = cool.supply_temp_max_c
        if not math.isfinite(limit_c) or limit_c <= cool.supply_temp_c:
            raise ValueError(
                f"--limit-c: the supply limit must be above the supply set point of "
                f"{cool.supply_temp_c:g} C, got {limit_c:g} C"
            )
        model = FacilityModel.from_site(site, phase or site.phases[0].name)
        mw = model.it_nameplate_power_w / 1e6
        volume_m3 = cool.loop_volume_m3_per_mw * mw
        steel_kg = cool.loop_steel_kg_per_mw * mw
        mean_c = 0.5 * (cool.supply_temp_c + cool.return_temp_c)
        itd_rated_k = cool.return_temp_c - (cool.supply_temp_c - cool.dry_cooler_approach_c)
        return cls(
            model=model,
            coolant=cool.coolant,
            volume_m3=volume_m3,
            steel_kg=steel_kg,
            cp_j_per_kg_k=model.coolant_cp_j_per_kg_k,
            density_kg_per_m3=model.coolant_density_kg_per_m3,
            heat_capacity_j_per_k=lt.loop_heat_capacity_j_per_k(
                volume_m3, cool.coolant, mean_c, cool.loop_pressure_pa, steel_kg
            ),
            setpoint_c=cool.supply_temp_c,
            rise_k=cool.return_temp_c - cool.supply_temp_c,
            limit_c=float(limit_c),
            response_s=cool.heat_rejection_response_s,
            dry_cooler_w_per_k=model.dry_cooler_rated_heat_w / itd_rated_k,
            pump_head_pa=model.facility_pump_head_pa + model.tcs_pump_head_pa,
            loop_heat_share=cool.liquid_heat_fraction if liquid_only else 1.0,
        )

    def flow_m3_s(self, it_w: ArrayLike) -> NDArray[np.float64]:
        """Loop flow holding the design rise for the IT heat that enters the loop, m3/s."""
        heat_w = np.asarray(it_w, dtype=float) * self.loop_heat_share
        return heat_w / (self.density_kg_per_m3 * self.cp_j_per_kg_k * self.rise_k)

    def heat_in_w(self, it_w: ArrayLike) -> NDArray[np.float64]:
        """IT heat entering the loop plus the pumps' hydraulic work, W."""
        it = np.asarray(it_w, dtype=float)
        return it * self.loop_heat_share + self.flow_m3_s(it) * self.pump_head_pa

    def reused_w(self, it_w: ArrayLike, ambient_c: float) -> NDArray[np.float64]:
        """Heat the offtakers draw from the loop at an ambient, W (as the facility model)."""
        it = np.atleast_1d(np.asarray(it_w, dtype=float))
        m = self.model
        if not m.offtakers:
            return np.zeros_like(it)
        liquid_w = it * m.liquid_heat_fraction
        return m.reuse(liquid_w, np.full_like(it, ambient_c)).source_w.sum(axis=0)


@dataclass(frozen=True)
class FacilityTransient:
    setup: LoopSetup
    event: str
    it_power_w: NDArray[np.float64]
    series: lt.LoopSeries
    summary: dict[str, object]


def run_facility_transient(
    site: Site,
    *,
    event: str = "loss-of-rejection",
    load: float = 0.9,
    ambient_c: float = DESIGN_SUMMER_AMBIENT_C,
    step_mw: float = 100.0,
    duration_s: float = 1800.0,
    dt_s: float = 1.0,
    limit_c: float | None = None,
    reuse: bool = True,
    liquid_only: bool = False,
    phase: str | None = None,
) -> FacilityTransient:
    """Run one event on the loop of ``site``; bad arguments raise ValueError naming
    the command-line option."""
    if event not in EVENTS:
        raise ValueError(f"--event: expected one of {', '.join(EVENTS)}, got {event!r}")
    if not 0.0 <= load <= 1.0:
        raise ValueError(f"--load: a fleet GPU utilisation between 0 and 1, got {load:g}")
    if not -60.0 <= ambient_c <= 60.0:
        raise ValueError(f"--ambient-c: between -60 and 60 C, got {ambient_c:g}")
    if not 0.0 < duration_s <= 86_400.0:
        raise ValueError(f"--duration-s: more than 0 and at most 86,400 s, got {duration_s:g}")
    if not 0.0 < dt_s <= duration_s or duration_s / dt_s > MAX_STEPS:
        raise ValueError(
            f"--dt-s: more than 0, at most --duration-s and at least --duration-s / "
            f"{MAX_STEPS:,}, got {dt_s:g}"
        )
    setup = LoopSetup.from_site(site, phase, limit_c, liquid_only)
    if event == "load-step" and dt_s > setup.response_s / 10:
        raise ValueError(
            f"--dt-s: at most {setup.response_s / 10:g} s for the load step (a tenth of "
            f"cooling.heat_rejection_response_s), got {dt_s:g}"
        )
    t = np.append(np.arange(0.0, duration_s, dt_s), duration_s)
    t = t[np.concatenate(([True], np.diff(t) > 1e-9))]
    it_after = float(setup.model.it_power_w(load))
    if event == "load-step":
        if not 0.0 < step_mw * 1e6 <= it_after:
            raise ValueError(
                f"--step-mw: more than 0 and at most the IT power at --load "
                f"({it_after / 1e6:,.1f} MW), got {step_mw:g}"
            )
        it_before = it_after - step_mw * 1e6
    else:
        it_before = it_after
    q_before = float(setup.heat_in_w(it_before))
    reuse_before = float(setup.reused_w(it_before, ambient_c)[0])
    q_in = float(setup.heat_in_w(it_after))
    q_reuse = float(setup.reused_w(it_after, ambient_c)[0]) if reuse else 0.0
    series = lt.simulate_loop(
        t,
        q_in,
        q_reuse,
        ambient_c,
        0.0 if event == "loss-of-rejection" else 1.0,
        heat_capacity_j_per_k=setup.heat_capacity_j_per_k,
        setpoint_c=setup.setpoint_c,
        rack_rise_k=setup.rise_k,
        response_s=setup.response_s,
        dry_cooler_w_per_k=setup.dry_cooler_w_per_k,
        initial_rejected_w=q_before - reuse_before,
    )
    it = np.full_like(t, it_after)
    summary = _summary(site, setup, event, load, ambient_c, reuse, series, dt_s)
    summary["it_power_w"] = it_after
    if event == "loss-of-rejection":
        net_w = q_in - q_reuse
        margin_k = setup.limit_c - setup.setpoint_c
        hand = float(lt.time_to_limit_s(setup.heat_capacity_j_per_k, net_w, margin_k))
        summary.update(
            net_heat_w=net_w,
            heating_rate_k_per_s=net_w / setup.heat_capacity_j_per_k,
            time_to_limit_hand_s=hand if math.isfinite(hand) else None,
        )
    else:
        step_net_w = (q_in - q_reuse) - (q_before - reuse_before)
        peak_k = float(series.supply_c.max()) - setup.setpoint_c
        summary.update(
            it_step_w=step_mw * 1e6,
            it_power_before_w=it_before,
            net_heat_step_w=step_net_w,
            rejection_response_s=setup.response_s,
            rejection_feedback_s=4.0 * setup.response_s,
            peak_rise_k=peak_k,
            peak_rise_hand_k=lt.critical_step_peak_rise_k(
                step_net_w, setup.heat_capacity_j_per_k, setup.response_s
            ),
            final_dry_cooler_heat_w=float(series.dry_cooler_heat_w[-1]),
            final_chiller_heat_w=float(series.chiller_heat_w[-1]),
        )
    return FacilityTransient(
        setup=setup, event=event, it_power_w=it, series=series, summary=summary
    )


def _summary(
    site: Site,
    setup: LoopSetup,
    event: str,
    load: float,
    ambient_c: float,
    reuse: bool,
    s: lt.LoopSeries,
    dt_s: float,
) -> dict[str, object]:
    peak = int(np.argmax(s.supply_c))
    crossing = lt.crossing_time_s(s.t_s, s.supply_c, setup.limit_c)
    flow = float(setup.flow_m3_s(setup.model.it_power_w(load)))
    instants = sorted({x for x in REPORT_INSTANTS_S if x <= s.t_s[-1]} | {float(s.t_s[-1])})
    rows = []
    for x in instants:
        k = int(np.searchsorted(s.t_s, x - 1e-9))
        rows.append(
            {
                "t_s": float(s.t_s[k]),
                "supply_c": float(s.supply_c[k]),
                "return_c": float(s.return_c[k]),
                "heat_rejected_w": float(s.heat_rejected_w[k]),
                "chiller_heat_w": float(s.chiller_heat_w[k]),
            }
        )
    return {
        "site": site.name,
        "phase": setup.model.phase,
        "event": event,
        "load_fraction": load,
        "ambient_c": ambient_c,
        "coolant": setup.coolant,
        "loop_volume_m3": setup.volume_m3,
        "loop_steel_mass_kg": setup.steel_kg,
        "coolant_cp_j_per_kg_k": setup.cp_j_per_kg_k,
        "coolant_density_kg_per_m3": setup.density_kg_per_m3,
        "heat_capacity_j_per_k": setup.heat_capacity_j_per_k,
        "loop_heat_share": setup.loop_heat_share,
        "loop_circulation_s": lt.circulation_time_s(setup.volume_m3, flow),
        "reuse_continues": reuse,
        "supply_setpoint_c": setup.setpoint_c,
        "return_design_c": setup.setpoint_c + setup.rise_k,
        "supply_limit_c": setup.limit_c,
        "margin_k": setup.limit_c - setup.setpoint_c,
        "heat_in_w": float(s.heat_in_w[-1]),
        "heat_reused_w": float(s.heat_reused_w[-1]),
        "duration_s": float(s.t_s[-1]),
        "dt_s": dt_s,
        "time_to_limit_s": crossing,
        "peak_supply_c": float(s.supply_c[peak]),
        "peak_supply_t_s": float(s.t_s[peak]),
        "peak_return_c": float(s.return_c.max()),
        "final_supply_c": float(s.supply_c[-1]),
        "final_return_c": float(s.return_c[-1]),
        "instants": rows,
    }


def series_table(result: FacilityTransient) -> pa.Table:
    """The time series of a transient, one row per step."""
    s = result.series
    return pa.table(
        {
            "t_s": s.t_s,
            "supply_c": s.supply_c,
            "return_c": s.return_c,
            "it_power_w": result.it_power_w,
            "heat_in_w": s.heat_in_w,
            "heat_reused_w": s.heat_reused_w,
            "heat_rejected_w": s.heat_rejected_w,
            "dry_cooler_heat_w": s.dry_cooler_heat_w,
            "chiller_heat_w": s.chiller_heat_w,
            "rejection_capacity_w": s.rejection_capacity_w,
        }
    )


def write_series(path: Path, result: FacilityTransient) -> None:
    """Write the time series to a Parquet file atomically."""
    from narvik.sim.recorders import write_parquet_atomic

    if path.is_dir():
        raise ValueError(f"--out: {path} is a folder; give a file name such as transient.parquet")
    write_parquet_atomic(series_table(result), path)
