"""The `narvik` command: a thin typer shell over the library (no logic lives here)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="narvik",
    help="Stargate Norway in software: digital twin and power-aware GPU scheduler.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from narvik import __version__

        typer.echo(f"narvik {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """narvik: the Stargate Norway digital twin and scheduler."""


_registered: list[bool] = []


def _register() -> None:
    """Attach the sub-commands (once); each lives in its own module of narvik.cli."""
    if _registered:
        return
    _registered.append(True)
    from narvik.cli import facility_cmd, simulate_cmd, site_cmd

    app.add_typer(site_cmd.app, name="site")
    app.add_typer(facility_cmd.app, name="facility")
    from narvik.cli import report_cmd

    app.command("report")(report_cmd.report)
    app.command("simulate")(simulate_cmd.simulate)
    from narvik.cli import serve_cmd

    app.command("serve")(serve_cmd.serve)
    from narvik.cli import study_cmd

    app.add_typer(study_cmd.app, name="study")
    from narvik.cli import compare_cmd

    app.command("compare")(compare_cmd.compare)
    from narvik.cli import power_cmd

    app.command("power-quality")(power_cmd.power_quality)
    from narvik.cli import export_cmd, import_cmd

    app.add_typer(export_cmd.app, name="export")
    app.add_typer(import_cmd.app, name="import")


def main() -> None:
    _register()
    app()
