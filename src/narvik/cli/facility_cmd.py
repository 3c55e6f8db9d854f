"""`narvik facility year`: the facility hour by hour through a year at a given IT load;
`narvik facility transient`: the cooling loop's temperatures through a loss of heat
rejection or a load step."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from narvik.cli.common import console, plain, print_json, user_errors
from narvik.cli.defaults import DEFAULT_SITE

if TYPE_CHECKING:
    from narvik.kpi.facility_transient import FacilityTransient
    from narvik.kpi.facility_year import FacilityYear
    from narvik.physics.energy_cost import PriceSeries

app = typer.Typer(help="Facility physics studies.", no_args_is_help=True)


@app.command("year")
def year(
    site: str = typer.Option(DEFAULT_SITE, help="Site: a catalogue name or a site TOML file."),
    phase: str = typer.Option(None, help="Build-out phase, by name (default: the first)."),
    load: float = typer.Option(0.9, min=0.0, max=1.0, help="Fleet GPU utilisation, 0..1."),
    weather: Path = typer.Option(None, help="EPW weather file (default: the site's climate)."),
    seed: int = typer.Option(0, help="Seed of the built-in typical year (ignored with --weather)."),
    weather_offset_k: float = typer.Option(
        0.0,
        "--weather-offset-k",
        help="Shift the year's temperatures by K (dry bulb and dew point alike), for "
        "warm-climate cases (default: 0).",
    ),
    reporting_year: int = typer.Option(2027, "--year", help="Year named in the EU report."),
    prices: Path = typer.Option(
        None,
        help="Hourly day-ahead prices, CSV: time,price_eur_per_mwh (ISO times with offset) or "
        "an ENTSO-E Transparency export (default: the shipped NO4 profile of 2023's monthly "
        "means, laid on --year).",
    ),
    out: Path = typer.Option(
        None,
        help="Folder for facility_year.json and facility_hourly.parquet (default: write none).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the results as JSON (default: tables)."
    ),
) -> None:
    """Energy, peak power against the grid cap, PUE/REF/ERF/CUE/WUE and heat reuse for a year."""
    from narvik.kpi.facility_cost import price_series
    from narvik.kpi.facility_io import write_facility_year
    from narvik.kpi.facility_year import run_facility_year
    from narvik.physics.weather import builtin_weather, read_epw, shifted_weather
    from narvik.site import load_physical_site

    with user_errors():
        loaded = load_physical_site(site)
        wx = read_epw(weather) if weather else builtin_weather(loaded.location.climate, seed)
        wx = shifted_weather(wx, weather_offset_k)
        result = run_facility_year(loaded, wx, load, phase)
        series = price_series(prices, reporting_year, wx.hours)
        doc = result_document(result, reporting_year, series)
        if out is not None:
            write_facility_year(out, result, doc)
    if as_json:
        print_json(doc)
    else:
        _print(result, doc)
        if out is not None:
            console.print(
                f"wrote {out}/facility_year.json and {out}/facility_hourly.parquet",
                markup=False,
                highlight=False,
            )


def result_document(
    result: FacilityYear, reporting_year: int, prices: PriceSeries | None = None
) -> dict[str, object]:
    from narvik.kpi.eu_report import eu_report
    from narvik.kpi.facility_cost import facility_cost, price_series
    from narvik.physics.design_conditions import design_conditions

    return {
        "site": result.site.name,
        "phase": result.model.phase,
        "load": float(result.hours.gpu_utilization.mean()),
        "weather": result.weather.source,
        "design_conditions": dataclasses.asdict(design_conditions(result.weather)),
        "totals": result.totals(),
        "equipment": result.equipment(),
        "cost": facility_cost(
            result, prices or price_series(None, reporting_year, result.weather.hours)
        ),
        "offtakers": result.offtakers(),
        "eu_report": eu_report(result, reporting_year),
    }


def _print(result: FacilityYear, doc: dict[str, object]) -> None:
    from rich.table import Table

    t = doc["totals"]
    assert isinstance(t, dict)
    console.print(
        f"[bold]{plain(result.site.name)}[/], {plain(result.model.phase)}, "
        f"{result.model.gpus:,} GPUs at {doc['load']:.0%} load, weather "
        f"{plain(result.weather.source)}",
        highlight=False,
    )
    table = Table(title="Year totals")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("IT energy", f"{t['it_energy_mwh']:,.0f} MWh"),
        ("Facility energy", f"{t['facility_energy_mwh']:,.0f} MWh"),
        ("Cooling energy", f"{t['cooling_energy_mwh']:,.0f} MWh"),
        ("Power-chain losses", f"{t['power_chain_loss_mwh']:,.0f} MWh"),
        ("Heat to the loops", f"{t['heat_to_loop_mwh']:,.0f} MWh"),
        ("Peak facility power", f"{t['peak_facility_power_mw']:,.1f} MW"),
        ("Grid cap", f"{t['power_cap_mw']:,.0f} MW"),
        ("Hours over the cap", f"{t['hours_over_cap']:,.0f}"),
        ("Free-cooling hours", f"{t['free_cooling_hours']:,.0f} of {t['hours']:,.0f}"),
        ("Hours short of cooling", f"{t['cooling_shortfall_hours']:,.0f}"),
        ("Highest rack-loop supply", f"{t['max_rack_supply_temp_c']:.1f} C"),
        ("PUE", f"{t['pue']:.3f}"),
        ("REF", f"{t['ref']:.3f}"),
        ("ERF", f"{t['erf']:.3f}"),
        ("CUE, location-based", f"{t['cue_location_kg_per_kwh']:.4f} kg CO2e/kWh"),
        ("CUE, market-based", f"{t['cue_market_kg_per_kwh']:.4f} kg CO2e/kWh"),
        ("WUE", f"{t['wue_l_per_kwh']:.4f} L/kWh"),
        ("Heat reused", f"{t['heat_reused_mwh']:,.0f} MWh"),
    ]
    cost = doc.get("cost")
    if isinstance(cost, dict):
        rows += [
            ("Energy at day-ahead prices", f"{cost['energy_eur'] / 1e6:,.1f} M EUR"),
            ("Grid tariff, energy term", f"{cost['tariff_energy_eur'] / 1e6:,.2f} M EUR"),
            ("Grid tariff, capacity term", f"{cost['tariff_capacity_eur'] / 1e6:,.2f} M EUR"),
            ("Electricity tax", f"{cost['electricity_tax_eur'] / 1e6:,.2f} M EUR"),
            ("Electricity cost", f"{cost['total_eur'] / 1e6:,.1f} M EUR"),
        ]
    else:
        rows.append(("Energy cost (contracts)", f"{t['energy_cost_eur'] / 1e6:,.1f} M EUR"))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    _print_freeze(cast("dict[str, object]", doc["equipment"]))
    d = cast("dict[str, float]", doc["design_conditions"])
    console.print(
        f"weather: mean {d['mean_c']:.1f} C, {d['min_c']:.1f} to {d['max_c']:.1f} C; design "
        f"heating 99.6 % {d['heating_99_6_c']:.1f} C, cooling 0.4 % {d['cooling_0_4_c']:.1f} C",
        markup=False,
        highlight=False,
    )
    heat = Table(title="Heat by offtaker")
    for col in ("offtaker", "kind", "demand MWh", "delivered MWh", "met", "heat pump MWh"):
        heat.add_column(col)
    for o in cast("list[dict[str, object]]", doc["offtakers"]):  # result.offtakers()
        heat.add_row(
            plain(o["name"]),
            str(o["kind"]),
            f"{o['demand_mwh']:,.0f}",
            f"{o['delivered_mwh']:,.0f}",
            f"{o['demand_met']:.0%}",
            f"{o['heat_pump_energy_mwh']:,.0f}",
        )
    console.print(heat)


def _print_freeze(e: dict[str, object]) -> None:
    freeze, margin = e["freeze_point_c"], e["freeze_margin_k"]
    if freeze is None:
        return
    text = f"loop fluid {e['coolant']} freezes at {cast(float, freeze):.1f} C"
    if margin is not None:
        verdict = "margin" if cast(float, margin) >= 0 else "SHORT by"
        text += (
            f"; design minimum {e['freeze_design_temp_c']:g} C: {verdict} "
            f"{abs(cast(float, margin)):.1f} K"
        )
    text += f"; coldest hour of this year {cast(float, e['coldest_hour_c']):.1f} C"
    console.print(text, markup=False, highlight=False)


@app.command("transient")
def transient(
    site: str = typer.Option(DEFAULT_SITE, help="Site: a catalogue name or a site TOML file."),
    phase: str = typer.Option(None, help="Build-out phase, by name (default: the first)."),
    event: str = typer.Option(
        "loss-of-rejection",
        help="loss-of-rejection (every dry cooler and chiller stops at t = 0) or load-step "
        "(the IT power rises by --step-mw at t = 0 to its value at --load).",
    ),
    load: float = typer.Option(0.9, help="Fleet GPU utilisation during the event, 0..1."),
    ambient_c: float = typer.Option(
        25.0,
        "--ambient-c",
        help="Outdoor dry bulb, C; the default is a design summer afternoon in Narvik.",
    ),
    step_mw: float = typer.Option(
        100.0, "--step-mw", help="IT power step of the load-step event, MW."
    ),
    duration_s: float = typer.Option(1800.0, "--duration-s", help="Time simulated, s."),
    dt_s: float = typer.Option(1.0, "--dt-s", help="Time step, s."),
    limit_c: float = typer.Option(
        None,
        "--limit-c",
        help="Supply temperature limit, C (default: the site's cooling.supply_temp_max_c).",
    ),
    reuse: bool = typer.Option(
        True, "--reuse/--no-reuse", help="Whether the offtakers keep drawing heat (default: yes)."
    ),
    liquid_only: bool = typer.Option(
        False,
        "--liquid-only",
        help="Count only the cold plates' share of the IT heat as entering the loop "
        "(default: all of it, as the facility model rejects it).",
    ),
    out: Path = typer.Option(
        None, help="Write the time series here as Parquet (default: write none).", metavar="FILE"
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the results as JSON (default: a few lines)."
    ),
) -> None:
    """Seconds until the supply passes its limit, or the loop's temperatures after a step."""
    from narvik.kpi.facility_transient import run_facility_transient, write_series
    from narvik.site import load_physical_site

    with user_errors():
        loaded = load_physical_site(site)
        result = run_facility_transient(
            loaded,
            event=event,
            load=load,
            ambient_c=ambient_c,
            step_mw=step_mw,
            duration_s=duration_s,
            dt_s=dt_s,
            limit_c=limit_c,
            reuse=reuse,
            liquid_only=liquid_only,
            phase=phase,
        )
        if out is not None:
            write_series(out, result)
    if as_json:
        print_json(result.summary)
        return
    _print_transient(result, out)


def _print_transient(result: FacilityTransient, out: Path | None) -> None:
    s = result.summary

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    def mw(key: str) -> str:
        return f"{cast(float, s[key]) / 1e6:,.1f} MW"

    say(
        f"{s['site']}, {s['phase']}, {s['event']} at {s['load_fraction']:.0%} load "
        f"({mw('it_power_w')} IT), ambient {s['ambient_c']:g} C"
    )
    say(
        f"loop: {s['loop_volume_m3']:,.0f} m3 of {s['coolant']}, "
        f"{cast(float, s['heat_capacity_j_per_k']) / 1e6:,.0f} MJ/K, "
        f"once round in {s['loop_circulation_s']:,.0f} s; heat in {mw('heat_in_w')}, "
        f"offtakers take {mw('heat_reused_w')}"
    )
    limit = f"supply limit {s['supply_limit_c']:g} C ({s['margin_k']:g} K above the set point)"
    if s["event"] == "loss-of-rejection":
        hand = s["time_to_limit_hand_s"]
        hand_text = "never" if hand is None else f"{hand:,.0f} s"
        reached = s["time_to_limit_s"]
        when = (
            f"not within {s['duration_s']:,.0f} s" if reached is None else f"after {reached:,.0f} s"
        )
        say(
            f"no rejection: net {mw('net_heat_w')} warms the loop by "
            f"{cast(float, s['heating_rate_k_per_s']) * 60:.2f} K/min; {limit} passed {when} "
            f"(by hand, C dT / Q: {hand_text})"
        )
    else:
        say(
            f"step {mw('it_power_before_w')} -> {mw('it_power_w')} IT; rejection follows with "
            f"{s['rejection_response_s']:g} s, critically damped"
        )
    say("     t s   supply C   return C   rejected MW   chillers MW")
    for r in cast("list[dict[str, float]]", s["instants"]):
        say(
            f"{r['t_s']:8,.0f}   {r['supply_c']:8.2f}   {r['return_c']:8.2f}   "
            f"{r['heat_rejected_w'] / 1e6:11,.1f}   {r['chiller_heat_w'] / 1e6:11,.1f}"
        )
    peak = f"peak supply {s['peak_supply_c']:.2f} C at {s['peak_supply_t_s']:,.0f} s"
    if s["event"] == "load-step":
        peak += f" (+{s['peak_rise_k']:.2f} K; by hand +{s['peak_rise_hand_k']:.2f} K)"
    crossed = s["time_to_limit_s"]
    say(
        f"{peak}, peak return {s['peak_return_c']:.2f} C; "
        + (f"{limit} not passed" if crossed is None else f"{limit} passed at {crossed:,.0f} s")
    )
    if out is not None:
        say(f"wrote {out}")
