"""`narvik compare RUN_DIR RUN_DIR...`: KPIs of runs side by side and a page of overlaid plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from narvik.cli.common import console, print_json, user_errors

if TYPE_CHECKING:
    from rich.table import Table

    from narvik.kpi.compare import CompareRow


def compare(
    run_dirs: list[Path] = typer.Argument(
        ...,
        help="Two or more run folders written by `narvik simulate --out` "
        "(summary.json, jobs.parquet, timeseries.parquet); the first is the baseline.",
        metavar="RUN_DIR",
        show_default=False,
    ),
    html: Path | None = typer.Option(
        None,
        "--html",
        metavar="PATH",
        help="Write the comparison page here (default: compare.html in the first RUN_DIR).",
        show_default=False,
    ),
    all_kpis: bool = typer.Option(
        False,
        "--all",
        help="Every numeric KPI of summary.json (default: only the headline ones).",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the table as JSON on stdout; the page is written too (default: a table).",
    ),
) -> None:
    """Compare runs against the first: KPI differences and an HTML page of overlaid plots."""
    from narvik.kpi.compare import (
        COMPARE_FILE,
        headline_rows,
        kpi_table,
        load_runs,
        render_compare_html,
        run_labels,
        table_json,
    )

    with user_errors():
        if len(run_dirs) < 2:
            raise ValueError(f"compare needs at least two run folders, got {len(run_dirs)}")
        runs = load_runs(run_dirs)
        rows = kpi_table(runs)
        shown = rows if all_kpis else headline_rows(rows)
        path = render_compare_html(runs, html or run_dirs[0] / COMPARE_FILE)
    if as_json:
        print_json(table_json(runs, shown))
        typer.echo(f"wrote {path}", err=True)
        return
    console.print(_rich_table(run_labels(runs), shown, all_kpis))
    console.print(f"wrote {path}", markup=False, highlight=False)


def _rich_table(labels: Sequence[str], rows: Sequence[CompareRow], all_kpis: bool) -> Table:
    """Value and difference against the baseline per run; user text never read as markup."""
    from rich.table import Table
    from rich.text import Text

    from narvik.kpi.compare import format_diff, format_rel_diff, format_value

    title = "All numeric KPIs" if all_kpis else "Headline KPIs (--all for every KPI)"
    table = Table(title=Text(f"{title}, against {labels[0]}"), title_justify="left")
    table.add_column("KPI (summary.json key)", overflow="fold")
    table.add_column(Text(f"{labels[0]} (baseline)"), justify="right", overflow="fold")
    for label in labels[1:]:
        table.add_column(Text(label), justify="right", overflow="fold")
        table.add_column(Text(f"Δ {label}"), justify="right", overflow="fold")
    for r in rows:
        cells = [Text(r.key), Text(format_value(r.values[0]))]
        for value, diff, rel in zip(r.values[1:], r.diffs, r.rel_diffs, strict=True):
            cells += [
                Text(format_value(value)),
                Text(
                    "–" if diff is None else f"{format_diff(diff)} ({format_rel_diff(rel)})",
                    style="dim",
                ),
            ]
        table.add_row(*cells)
    return table
