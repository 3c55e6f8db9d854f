"""`narvik export kueue`: the scenario's tenancy as Kueue v1beta2 manifests.

Light imports only: the library (scenario loading, the mapping, YAML) is imported inside
the command, so ``--help`` stays fast (tests/cli/test_cli_startup.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from narvik.cli.common import console, err_console, plain, user_errors
from narvik.cli.defaults import DEFAULT_SCENARIO

if TYPE_CHECKING:
    from narvik.bridges.kueue_export import KueueExport


def parse_day(text: str | None, option: str = "--at") -> dt.date | None:
    """A YYYY-MM-DD date given on the command line (None when not given)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option}: not a date (YYYY-MM-DD): {text!r}") from None


def kueue(
    out: Path = typer.Option(..., help="Output folder (required, no default).", metavar="DIR"),
    scenario: str = typer.Option(
        DEFAULT_SCENARIO, help="Shipped scenario name or path to a scenario TOML file."
    ),
    site: str = typer.Option(
        None, help="Site: a catalogue name or a site TOML file (default: the scenario's)."
    ),
    at: str = typer.Option(
        None,
        help="Date of the quotas and halls online, YYYY-MM-DD (default: the scenario's start).",
        metavar="DATE",
    ),
    timeline: bool = typer.Option(
        False,
        "--timeline",
        help="One dated set per quota step and phase start (DIR/<date>/) plus DIR/index.json "
        "(default: one set, at --at).",
    ),
) -> None:
    """Write Kueue manifests: flavors per hall, topology, cohort, queues per tenant."""
    from narvik.bridges.kueue_export import export_kueue
    from narvik.scenario import load_scenario

    with user_errors():
        if at is not None and timeline:
            raise ValueError("--at and --timeline exclude one another: give one of them")
        day = parse_day(at)
        spec = load_scenario(scenario).with_overrides(site=site)
        result = export_kueue(spec, out, at=day, timeline=timeline)
    _summary(result)


def _summary(result: KueueExport) -> None:
    """A table of each tenant's quota and flavors, and where the files went."""
    from rich.table import Table

    last = result.sets[-1]
    for notice in (n for s in result.sets for n in s.notices):
        err_console.print(f"[yellow]warning:[/] {plain(notice)}", highlight=False)
    title = "quota GPUs by date" if result.timeline else f"ClusterQueues on {last.day}"
    table = Table(title=f"Kueue: {title}")
    table.add_column("tenant", no_wrap=True)
    if not result.timeline:
        table.add_column("tier")
    if result.timeline:
        for s in result.sets:
            table.add_column(f"{s.day:%Y}\n{s.day:%m-%d}", justify="right")
    else:
        table.add_column("quota GPUs", justify="right")
        table.add_column("borrow limit per hall", justify="right")
    table.add_column("flavors (halls)" if not result.timeline else f"halls on {last.day}")
    for i, row in enumerate(last.rows):
        if result.timeline:
            quotas = [f"{s.rows[i].quota_gpus:,}" for s in result.sets]
        else:
            limit = (
                "no limit" if row.borrowing_limit_gpus is None else f"{row.borrowing_limit_gpus:,}"
            )
            quotas = [f"{row.quota_gpus:,}", limit]
        flavors = _halls(list(row.flavors), len(last.hall_gpus))
        tier = [] if result.timeline else [plain(row.tier)]
        table.add_row(plain(row.tenant), *tier, *quotas, plain(flavors))
    console.print(table)
    what = f"{len(result.sets)} dated sets and index.json" if result.timeline else "manifests"
    console.print(f"wrote {what} to {plain(result.out)}", highlight=False)


def _halls(names: list[str], online: int) -> str:
    """A tenant's flavors in short: "all 4" when it may use every hall online."""
    if not names:
        return "(no hall online)"
    return f"all {online}" if len(names) == online else ", ".join(names)
