"""`narvik simulate`: run a scenario and write its files and report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from narvik.cli.common import console, err_console, plain, print_json, user_errors
from narvik.cli.defaults import DEFAULT_SCENARIO, POLICIES

if TYPE_CHECKING:
    from narvik.scenario import ScenarioSpec

_FROM_SCENARIO = "default: the scenario's"


def simulate(
    scenario: str = typer.Option(
        DEFAULT_SCENARIO, help="Shipped scenario name or path to a scenario TOML file."
    ),
    site: str = typer.Option(
        None,
        help=f"Site: a catalogue name, flat:N (N GPU slots, no physics) or a site TOML "
        f"({_FROM_SCENARIO}).",
    ),
    trace: Path = typer.Option(
        None,
        help="Replay this trace (SWF, CSV or Parquet) instead of the scenario's workload, "
        "whole unless --days is given (default: the scenario's workload).",
    ),
    trace_format: str = typer.Option(
        None, help="Trace format: swf, csv or parquet (default: from the file name)."
    ),
    tenant_map: Path = typer.Option(
        None,
        "--tenant-map",
        help="TOML file mapping the trace's tenants onto the scenario's (\"user-3\" = "
        '"openai"; "*" for every other one). Default: none; a trace whose tenants are not '
        "the scenario's runs as one tenant.",
    ),
    policy: str = typer.Option(
        None, help=f"Scheduling policy: {', '.join(POLICIES)} ({_FROM_SCENARIO})."
    ),
    days: float = typer.Option(
        None, help=f"Simulated span in days ({_FROM_SCENARIO}; a trace: all of it)."
    ),
    warmup_days: float = typer.Option(
        None,
        "--warmup-days",
        help=f"Days at the start left out of every KPI, the fleet's fill-up ({_FROM_SCENARIO}, "
        "else 0).",
    ),
    seed: int = typer.Option(None, help=f"Seed of every random draw ({_FROM_SCENARIO}, else 0)."),
    step_s: float = typer.Option(
        None,
        "--step-s",
        help=f"Physics step in seconds, 60 to 86400 ({_FROM_SCENARIO}, else 3600).",
    ),
    skip_bad: bool = typer.Option(
        None,
        "--skip-bad/--no-skip-bad",
        help="Skip malformed trace records and count them, or stop at the first "
        f"({_FROM_SCENARIO}, else stop).",
    ),
    out: Path = typer.Option(
        None,
        help="Output folder (default: runs/<scenario>-<policy>-<days>d-seed<seed>).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace a run already in the output folder (default: refuse)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary as JSON on stdout (default: a few lines)."
    ),
) -> None:
    """Simulate a scenario; write summary.json, jobs.parquet, timeseries.parquet, report.html."""
    from narvik.api import simulate as simulate_run
    from narvik.kpi.run_folder import check_run_folder, default_run_name
    from narvik.scenario import load_scenario, spec_site

    with user_errors():
        spec = load_scenario(scenario).with_overrides(
            site=site,
            trace=str(trace) if trace else None,
            format=trace_format,
            tenant_map=str(tenant_map) if tenant_map else None,
            policy=policy,
            days=days,
            warmup_days=warmup_days,
            seed=seed,
            step_s=step_s,
            skip_bad=skip_bad,
        )
        spec_site(spec)  # a bad site fails here, before any progress is drawn
        folder = out or Path("runs") / default_run_name(
            spec.name, spec.policy, spec.days, spec.seed
        )
        check_run_folder(folder, force=force)
        with _progress() as progress:
            summary = simulate_run(spec, out=folder, progress=progress).summary
    if as_json:
        print_json(summary)
        return
    _print_summary(spec, summary, folder)


def _progress() -> Any:
    """A progress bar of simulated time on stderr, erased when the run ends or fails."""
    from contextlib import contextmanager

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from narvik.units import SECONDS_PER_DAY

    @contextmanager
    def bar_context() -> Any:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
        )
        with Progress(*columns, TimeElapsedColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task("starting", total=1.0, status="")

            def progress(stage: str, done: float, total: float) -> None:
                days = f"day {done / SECONDS_PER_DAY:,.0f} of {total / SECONDS_PER_DAY:,.0f}"
                status = days if stage == "simulate" else ""
                frac = done / total if total else 1.0
                bar.update(task, description=stage, completed=frac, status=status)

            yield progress

    return bar_context()


def _print_summary(spec: ScenarioSpec, summary: dict[str, Any], folder: Path) -> None:
    def say(text: str) -> None:
        console.print(text, highlight=False)

    for notice in summary.get("notices", []):
        say(f"[yellow]notice:[/] {plain(notice)}")
    jobs = summary["jobs"]
    say(
        f"[bold]{plain(spec.name)}[/] on {plain(summary['site'])} with {spec.policy}, seed "
        f"{spec.seed}: {sum(jobs.values()):,} jobs ({jobs['completed']:,} completed, "
        f"{jobs['running']:,} running, {jobs['pending']:,} pending, {jobs['rejected']:,} "
        f"rejected), utilisation {summary['utilization']:.1%}"
    )
    wait = summary["wait_s"]
    if wait["mean"] is None:
        say("queue wait: no job started")
    else:
        say(
            f"queue wait: mean {wait['mean'] / 3600:,.2f} h, p50 {wait['p50'] / 3600:,.2f} h, "
            f"p95 {wait['p95'] / 3600:,.2f} h"
        )
    if "pue" in summary:
        say(
            f"IT {summary['it_energy_mwh']:,.0f} MWh, "
            f"facility {summary['facility_energy_mwh']:,.0f} MWh, "
            f"PUE {summary['pue']:.3f}, ERF {summary['erf']:.3f}, peak "
            f"{summary['peak_facility_power_mw']:,.1f} MW of {summary['power_cap_mw']:,.0f} MW"
        )
    if spec.warmup_days > 0:
        say(
            f"KPIs exclude the warm-up (warmup_days = {spec.warmup_days:g}): "
            "the jobs submitted and the time before its end"
        )
    elif spec.workload.kind == "synthetic":
        say("no warm-up: KPIs include the fill-up from an empty fleet; see --warmup-days")
    files = ["summary.json", "jobs.parquet", "timeseries.parquet"]
    files += ["offtakers.parquet"] if "offtakers" in summary else []
    say(f"wrote {plain(folder)}/ ({', '.join([*files, 'report.html'])})")
