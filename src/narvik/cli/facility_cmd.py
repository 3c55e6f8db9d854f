"""`narvik facility year`: the facility hour by hour through a year at a given IT load."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from narvik.cli.common import console, plain, print_json, user_errors
from narvik.cli.defaults import DEFAULT_SITE

if TYPE_CHECKING:
    from narvik.kpi.facility_year import FacilityYear

app = typer.Typer(help="Facility physics studies.", no_args_is_help=True)


@app.command("year")
def year(
    site: str = typer.Option(DEFAULT_SITE, help="Site: a catalogue name or a site TOML file."),
    phase: str = typer.Option(None, help="Build-out phase, by name (default: the first)."),
    load: float = typer.Option(0.9, min=0.0, max=1.0, help="Fleet GPU utilisation, 0..1."),
    weather: Path = typer.Option(None, help="EPW weather file (default: the site's climate)."),
    seed: int = typer.Option(0, help="Seed of the built-in typical year (ignored with --weather)."),
    reporting_year: int = typer.Option(2027, "--year", help="Year named in the EU report."),
    out: Path = typer.Option(
        None,
        help="Folder for facility_year.json and facility_hourly.parquet (default: write none).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the results as JSON (default: tables)."
    ),
) -> None:
    """Energy, peak power against the grid cap, PUE/REF/ERF/CUE/WUE and heat reuse for a year."""
    from narvik.kpi.facility_io import write_facility_year
    from narvik.kpi.facility_year import run_facility_year
    from narvik.physics.weather import builtin_weather, read_epw
    from narvik.site import load_physical_site

    with user_errors():
        loaded = load_physical_site(site)
        wx = read_epw(weather) if weather else builtin_weather(loaded.location.climate, seed)
        result = run_facility_year(loaded, wx, load, phase)
        doc = result_document(result, reporting_year)
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


def result_document(result: FacilityYear, reporting_year: int) -> dict[str, object]:
    from narvik.kpi.eu_report import eu_report

    return {
        "site": result.site.name,
        "phase": result.model.phase,
        "load": float(result.hours.gpu_utilization.mean()),
        "weather": result.weather.source,
        "totals": result.totals(),
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
        ("Peak facility power", f"{t['peak_facility_power_mw']:,.1f} MW"),
        ("Grid cap", f"{t['power_cap_mw']:,.0f} MW"),
        ("Hours over the cap", f"{t['hours_over_cap']:,.0f}"),
        ("Free-cooling hours", f"{t['free_cooling_hours']:,.0f} of {t['hours']:,.0f}"),
        ("PUE", f"{t['pue']:.3f}"),
        ("REF", f"{t['ref']:.3f}"),
        ("ERF", f"{t['erf']:.3f}"),
        ("CUE", f"{t['cue_kg_per_kwh']:.4f} kg CO2e/kWh"),
        ("WUE", f"{t['wue_l_per_kwh']:.4f} L/kWh"),
        ("Heat reused", f"{t['heat_reused_mwh']:,.0f} MWh"),
        ("Energy cost", f"{t['energy_cost_eur'] / 1e6:,.1f} M EUR"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
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
