"""`narvik simulate`: run a scenario and write its files and report."""

from __future__ import annotations

from pathlib import Path

import typer

from narvik.cli.common import console, err_console, print_json, user_errors
from narvik.cli.defaults import DEFAULT_SCENARIO


def simulate(
    scenario: str = typer.Option(DEFAULT_SCENARIO, help="Shipped scenario name or TOML path."),
    site: str = typer.Option(None, help="Override the site: catalogue name, flat:N or TOML."),
    trace: Path = typer.Option(None, help="Replay this trace instead of the scenario workload."),
    trace_format: str = typer.Option(None, help="swf, csv or parquet (default: from the name)."),
    policy: str = typer.Option(None, help="Scheduling policy: fcfs or easy."),
    days: float = typer.Option(None, help="Simulated span in days."),
    warmup_days: float = typer.Option(
        None, "--warmup-days", help="Days at the start left out of every KPI (fleet fill-up)."
    ),
    seed: int = typer.Option(None, help="Seed of every random draw."),
    step_s: float = typer.Option(None, "--step-s", help="Physics step in seconds (default 3600)."),
    skip_bad: bool = typer.Option(
        None, "--skip-bad/--no-skip-bad", help="Skip malformed trace records (counted)."
    ),
    out: Path = typer.Option(None, help="Output folder (default: a fresh folder under runs/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Simulate a scenario; write summary.json, jobs.parquet, timeseries.parquet, report.html."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from narvik.api import simulate as simulate_run
    from narvik.scenario import load_scenario
    from narvik.units import SECONDS_PER_DAY

    with user_errors():
        spec = load_scenario(scenario).with_overrides(
            site=site,
            trace=str(trace) if trace else None,
            format=trace_format,
            policy=policy,
            days=days,
            warmup_days=warmup_days,
            seed=seed,
            step_s=step_s,
            skip_bad=skip_bad,
        )
        folder = out or _fresh_folder(Path("runs") / f"{spec.name}-seed{spec.seed}")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=as_json,
        ) as bar:
            task = bar.add_task("starting", total=1.0, status="")

            def progress(stage: str, done: float, total: float) -> None:
                status = (
                    f"day {done / SECONDS_PER_DAY:,.0f} of {total / SECONDS_PER_DAY:,.0f}"
                    if stage == "simulate"
                    else ""
                )
                frac = done / total if total else 1.0
                bar.update(task, description=stage, completed=frac, status=status)

            summary = simulate_run(spec, out=folder, progress=progress).summary
            progress("done", 1, 1)
    if as_json:
        print_json(summary)
        return
    jobs = summary["jobs"]
    console.print(
        f"[bold]{spec.name}[/] on {summary['site']} with {spec.policy}, seed {spec.seed}: "
        f"{sum(jobs.values()):,} jobs ({jobs['completed']:,} completed, {jobs['running']:,} "
        f"running, {jobs['pending']:,} pending, {jobs['rejected']:,} rejected), "
        f"utilisation {summary['utilization']:.1%}",
        highlight=False,
    )
    if "pue" in summary:
        console.print(
            f"IT {summary['it_energy_mwh']:,.0f} MWh, "
            f"facility {summary['facility_energy_mwh']:,.0f} MWh, "
            f"PUE {summary['pue']:.3f}, ERF {summary['erf']:.3f}, peak "
            f"{summary['peak_facility_power_mw']:,.1f} MW of {summary['power_cap_mw']:,.0f} MW",
            highlight=False,
        )
    if spec.warmup_days > 0:
        console.print(
            f"KPIs exclude the warm-up (warmup_days = {spec.warmup_days:g}): "
            "the jobs submitted and the time before its end",
            highlight=False,
        )
    elif spec.workload.kind == "synthetic":
        console.print(
            "no warm-up: KPIs include the fill-up from an empty fleet; see --warmup-days",
            highlight=False,
        )
    console.print(f"wrote {folder}/ (summary.json, jobs.parquet, timeseries.parquet, report.html)")


def _fresh_folder(base: Path) -> Path:
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
