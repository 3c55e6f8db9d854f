"""`narvik export kueue|slurm`: the scenario's tenancy as Kueue or Slurm configuration.

Each command lives in its own module; this one only groups them (light imports: the
library is imported inside the commands)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Write the scenario's tenancy as Kueue manifests or Slurm configuration.",
    no_args_is_help=True,
)

from narvik.cli.export_kueue_cmd import kueue  # noqa: E402 - the group exists first

app.command("kueue")(kueue)

from narvik.cli.export_slurm_cmd import slurm  # noqa: E402

app.command("slurm")(slurm)
