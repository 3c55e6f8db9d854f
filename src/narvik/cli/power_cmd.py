"""`narvik power-quality`: a finished run's power second by second over a window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from narvik.cli.common import console, plain, print_json, user_errors


def power_quality(
    run_dir: Path = typer.Argument(
        ..., help="Run folder written by `narvik simulate` on a physical site.", metavar="RUN_DIR"
    ),
    start: dt.datetime = typer.Option(
        None,
        help="UTC start of the window, e.g. 2027-01-04T12:00:00 (default: the hour with the "
        "most training GPUs busy).",
    ),
    span_s: float = typer.Option(3600.0, "--span-s", help="Length of the window, s."),
    resolution_s: float = typer.Option(
        0.1, "--resolution-s", help="Time step of the rebuilt power, s (0.1 or more)."
    ),
    out: Path = typer.Option(
        None, help="Write the series here as Parquet (default: write none).", metavar="FILE"
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the figures as JSON (default: a few lines)."
    ),
) -> None:
    """Swings, ramps, spectrum bands, smoothing cost and grid-code breaks of a window."""
    from narvik.atomic import atomic_path
    from narvik.kpi.power_dynamics import power_quality as measure
    from narvik.kpi.power_dynamics import series_table, window_from
    from narvik.kpi.run_data import load_run

    with user_errors():
        if resolution_s < 0.1:
            raise ValueError("--resolution-s: at least 0.1 s")
        run = load_run(run_dir)
        if not run.is_physical:
            raise ValueError(f"{run_dir}: {run.site} is a flat pool: it has no power to rebuild")
        result = measure(run, window_from(run, start, span_s, resolution_s))
        if out is not None:
            import pyarrow.parquet as pq

            with atomic_path(out) as tmp:
                pq.write_table(series_table(run, result), tmp)
    if as_json:
        print_json(result.summary)
        return
    _print(result.summary, out)


def _print(s: dict[str, Any], out: Path | None) -> None:
    w, raw, sm = s["window"], s["raw"], s["smoothed"]

    def say(text: str) -> None:
        console.print(text, highlight=False)

    say(f"window {w['start']}, {w['span_s']:g} s at {w['resolution_s']:g} s")
    for name, m in (("raw", raw), ("smoothed", sm)):
        say(
            f"{name}: mean {m['mean_mw']:,.1f} MW, largest swing in 10 s {m['max_swing_mw']:,.1f} "
            f"MW, largest ramp {m['max_ramp_mw_per_s']:,.2f} MW/s; grid code broken "
            f"{m.get('ramp_break_events', 0):,} times on ramp, "
            f"{m.get('swing_break_events', 0):,} on swing"
        )
    bands = ", ".join(f"{k} {v:,.2f}" for k, v in raw["band_variance_mw2"].items())
    say(f"raw power's variance by band (MW²): {bands}")
    say(
        f"smoothing cost {s['smoothing_energy_mwh']:,.2f} MWh (GPU power floor); rack storage "
        f"broke {s['rack_storage']['broken_s']:g} s, battery {s['bess']['broken_s']:g} s"
    )
    if out is not None:
        say(f"wrote {plain(out)}")
