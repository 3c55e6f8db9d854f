"""`narvik site show`: print a site (catalogue name, flat:N or TOML path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from narvik.cli.common import console, plain, print_json, user_errors
from narvik.cli.defaults import DEFAULT_SITE

if TYPE_CHECKING:
    from narvik.site import Site

app = typer.Typer(help="Inspect sites.", no_args_is_help=True)


@app.command("show")
def show(
    site: str = typer.Option(
        DEFAULT_SITE,
        help="Site: a catalogue name, flat:N (N GPU slots, no physics) or a site TOML file.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON instead of tables (default: tables)."
    ),
) -> None:
    """Print GPUs by model, racks, halls, phases, power at full load, cooling and offtakers."""
    from narvik.site import FlatPool, load_site

    with user_errors():
        loaded = load_site(site)
    if isinstance(loaded, FlatPool):
        if as_json:
            print_json({"name": loaded.name, "kind": "flat", "gpus": loaded.n_gpus})
        else:
            console.print(
                f"{plain(loaded.name)}: a bare pool of {loaded.n_gpus:,} GPU slots (no physics)"
            )
        return
    if as_json:
        print_json(_site_json(loaded))
    else:
        _print_site(loaded)


def _site_json(site: Site) -> dict[str, object]:
    from narvik.site import fleet_summary

    data = site.model_dump(mode="json")
    data["fleet_by_phase"] = [
        {
            "phase": f.phase,
            "grid_capacity_mw": f.grid_capacity_w / 1e6,
            "halls": list(f.halls),
            "racks": f.racks,
            "gpus": f.gpus,
            "gpus_by_model": f.gpus_by_model,
            "nvlink_domains": f.nvlink_domains,
            "network_blocks": f.network_blocks,
            "it_power_full_load_mw": f.it_nameplate_power_w / 1e6,
        }
        for f in (fleet_summary(site, p.name) for p in site.phases)
    ]
    return data


def _print_site(site: Site) -> None:
    from rich.table import Table

    from narvik.site import fleet_summary

    loc = site.location
    console.print(
        f"[bold]{plain(site.name)}[/]: {plain(loc.name)} "
        f"({loc.latitude_deg} N, {loc.longitude_deg} E)"
    )
    if site.description:
        console.print(site.description, markup=False, highlight=False)

    phases = Table(title="Build-out phases (IT power at full load)")
    for col in ("phase", "from", "grid MW", "halls", "racks", "GPUs", "IT MW full load"):
        phases.add_column(col, justify="right" if col not in ("phase", "halls") else "left")
    for p in site.phases:
        f = fleet_summary(site, p.name)
        phases.add_row(
            plain(p.name),
            str(p.start_date),
            f"{p.grid_capacity_mw:,.0f}",
            plain(",".join(f.halls)),
            f"{f.racks:,}",
            plain(", ".join(f"{n:,} {m}" for m, n in f.gpus_by_model.items())),
            f"{f.it_nameplate_power_w / 1e6:,.1f}",
        )
    console.print(phases)

    racks = Table(title="Rack types and GPU models")
    for col in ("rack", "GPU", "GPUs/rack", "NVLink domain", "GPU idle/max W", "non-GPU kW"):
        racks.add_column(col)
    for r in site.rack_types:
        g = site.gpu_model(r.gpu_model)
        non_gpu_kw = (r.cpu_power_w + r.switch_power_w + r.overhead_power_w) / 1e3
        racks.add_row(
            plain(r.name),
            plain(g.name),
            str(r.gpus_per_rack),
            str(r.nvlink_domain_gpus),
            f"{g.idle_power_w:,.0f} / {g.max_power_w:,.0f}",
            f"{non_gpu_kw:,.1f}",
        )
    console.print(racks)

    c = site.cooling
    console.print(
        f"[bold]Cooling[/]: {c.liquid_heat_fraction:.0%} to liquid ({plain(c.coolant)}), "
        f"supply {c.supply_temp_c:g} C / return {c.return_temp_c:g} C, dry coolers rated at "
        f"{c.supply_temp_c - c.dry_cooler_approach_c:g} C ambient, trim chillers COP "
        f"{c.chiller_cop:g}",
        highlight=False,
    )
    offt = Table(title="Heat offtakers")
    offt.add_column("name")
    offt.add_column("kind", no_wrap=True, min_width=16)
    for col in ("needs C", "peak MW", "heat pump", "on"):
        offt.add_column(col)
    for o in site.offtakers:
        offt.add_row(
            plain(o.name),
            o.kind.value,
            f"{o.supply_temp_c:g}",
            f"{o.peak_demand_w / 1e6:,.1f}",
            "yes" if o.heat_pump else "no",
            "yes" if o.enabled else "optional",
        )
    console.print(offt)
    energy = ", ".join(
        f"{plain(e.name)} {e.share:.0%} ({'renewable' if e.renewable else 'fossil'})"
        for e in site.energy
    )
    console.print(f"[bold]Energy[/]: {energy}", highlight=False)
