"""`narvik study run STUDY.toml`: many scenarios at once on Ray, one row of KPIs per run."""

from __future__ import annotations

from pathlib import Path

import typer

from narvik.cli.common import console, err_console, plain, user_errors

app = typer.Typer(
    help="Studies: many scenarios (axes times seeds) run on Ray.", no_args_is_help=True
)


@app.command("run")
def run(
    study_file: Path = typer.Argument(
        ..., help="Study file (TOML): scenario, overrides, seeds, axes.", metavar="STUDY.toml"
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default: runs/study-<name>).", show_default=False
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="Join a running Ray cluster: HOST:PORT or auto (default: start a local Ray).",
        show_default=False,
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=0,
        help="CPUs of the local Ray (default: every CPU); 0 runs in this process, without Ray.",
        show_default=False,
    ),
) -> None:
    """Run every run of the study not yet done; write DIR/runs/<run-id>/ and DIR/study.parquet.

    Exits 1 when a run failed (after writing everything), 2 on a bad study file."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from narvik.studies import load_study, run_study
    from narvik.studies.runner import require_ray

    with user_errors():
        study = load_study(study_file)
        require_ray(address, workers)  # before the progress bar: one clean line
        folder = out or Path("runs") / f"study-{study.name}"
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} runs, {task.fields[info]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=False) as bar:
            task = bar.add_task(study.name, total=None, info="starting")

            def progress(done: int, failed: int, running: int, total: int) -> None:
                info = f"{failed} failed, {running} running"
                bar.update(task, completed=done, total=total, info=info)

            outcome = run_study(study, folder, address=address, workers=workers, progress=progress)
    n = outcome.table.num_rows
    _print_table(outcome.path.parent)
    typer.echo(
        f"{study.name}: {n} runs ({outcome.ran} run now, {n - outcome.ran} already done), "
        f"{outcome.failed} failed; wrote {outcome.path} and {outcome.path.with_name('study.html')}"
    )
    if outcome.failed:
        raise typer.Exit(1)


@app.command("report")
def report(
    study_dir: Path = typer.Argument(
        ..., help="Study folder written by `narvik study run`.", metavar="DIR"
    ),
) -> None:
    """Re-render DIR/study.html from DIR/study.parquet and DIR/study.json."""
    from narvik.kpi.study_report import render_study_report

    with user_errors():
        path = render_study_report(study_dir)
        _print_table(study_dir)
    typer.echo(str(path))


def _print_table(study_dir: Path) -> None:
    """The study's KPIs side by side (one column per point) on the terminal."""
    from rich.table import Table

    from narvik.kpi.study_report import load_study as load_results
    from narvik.kpi.study_table import side_by_side

    table = side_by_side(load_results(study_dir))
    out = Table(title=table.title)
    out.add_column("KPI")
    for header in table.headers:
        out.add_column(plain(header), justify="right")
    for row in table.rows:
        out.add_row(*(plain(cell) for cell in row))
    console.print(out)
    for note in table.notes:
        err_console.print(plain(note), highlight=False)
