"""`narvik report DIR`: re-render DIR/report.html from the files of a run folder."""

from __future__ import annotations

from pathlib import Path

import typer

from narvik.cli.common import user_errors


def report(
    run_dir: Path = typer.Argument(
        ...,
        help="Run folder written by `narvik simulate --out` "
        "(summary.json, jobs.parquet, timeseries.parquet).",
        metavar="DIR",
        show_default=False,
    ),
) -> None:
    """Re-render DIR/report.html from summary.json, jobs.parquet and timeseries.parquet."""
    from narvik.kpi.report import render_report

    with user_errors():
        path = render_report(run_dir)
    typer.echo(str(path))
