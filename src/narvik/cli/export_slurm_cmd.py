"""`narvik export slurm`: the scenario's site and tenancy as Slurm configuration files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from narvik.cli.common import console, plain, user_errors
from narvik.cli.defaults import DEFAULT_SCENARIO


def slurm(
    out: Path = typer.Option(
        ..., "--out", help="Folder to write the files into (required, no default)."
    ),
    scenario: str = typer.Option(
        DEFAULT_SCENARIO, help="Scenario: a shipped name or a scenario TOML file."
    ),
    site: str | None = typer.Option(
        None,
        help="Site: catalogue name or TOML file (default: the scenario's).",
    ),
    at: str | None = typer.Option(
        None, help="Date (YYYY-MM-DD) whose quotas and halls to write (default: scenario start)."
    ),
) -> None:
    """Write slurm.conf, gres.conf, topology.conf and sacctmgr.sh (accounts, QOS,
    reservations, dated quota steps)."""
    from narvik.bridges.slurm_export import export_slurm

    with user_errors():
        day = _date(at)
        export = export_slurm(out, scenario, site=site, at=day)
    online = [h for h in export.halls if h.online]
    gpus = sum(h.n_nodes for h in online) * export.shape.gpus
    console.print(
        f"[bold]{plain(export.cluster)}[/] on {export.at}: {len(online)} of "
        f"{len(export.halls)} halls online, "
        f"{sum(h.n_nodes for h in online):,} nodes, {gpus:,} GPUs"
    )
    for name in export.files:
        console.print(f"  wrote {plain(out / name)}")


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at: {text!r} is not a date (YYYY-MM-DD)") from None
