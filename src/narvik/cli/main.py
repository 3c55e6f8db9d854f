"""The `narvik` command: a thin typer shell over the library (no logic lives here)."""

from __future__ import annotations

import typer

from narvik import __version__

app = typer.Typer(
    name="narvik",
    help="Stargate Norway in software: digital twin and power-aware GPU scheduler.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"narvik {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """narvik: the Stargate Norway digital twin and scheduler."""


def _register() -> None:
    """Attach the sub-commands; each lives in its own module of narvik.cli."""
    from narvik.cli import facility_cmd, site_cmd

    app.add_typer(site_cmd.app, name="site")
    app.add_typer(facility_cmd.app, name="facility")


def main() -> None:
    _register()
    app()
