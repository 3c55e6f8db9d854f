"""`narvik import sacct|kueue-workloads`: another scheduler's accounting as a narvik trace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from narvik.cli.common import console, plain, print_json, user_errors

if TYPE_CHECKING:
    from narvik.bridges.import_trace import ImportedTrace

app = typer.Typer(
    help="Read Slurm's sacct or Kueue's workloads as a narvik trace (Parquet).",
    no_args_is_help=True,
)

_OUT_HELP = (
    "Trace to write (Parquet, atomically; replay it with narvik simulate --trace). "
    "Required: no default."
)
_JSON_HELP = "Print the counts (jobs, skipped by reason, epoch) as JSON (default: a few lines)."


def _report(trace: ImportedTrace, out: Path, as_json: bool) -> None:
    """What was written and what was skipped, by reason (never silently dropped)."""
    if as_json:
        print_json({**trace.summary(), "out": str(out)})
        return
    epoch = trace.summary()["epoch_utc"]
    console.print(f"wrote {plain(out)}: {len(trace.jobs):,} jobs, t = 0 at {epoch}", soft_wrap=True)
    if trace.skipped_by_reason:
        parts = ", ".join(f"{k} {v:,}" for k, v in sorted(trace.skipped_by_reason.items()))
        console.print(f"skipped {trace.skipped:,}: {plain(parts)}", soft_wrap=True)
    else:
        console.print("skipped 0")


@app.command("sacct")
def sacct(
    file: Path = typer.Argument(..., help="Output of sacct --parsable2 (header line first)."),
    out: Path = typer.Option(..., "--out", help=_OUT_HELP),
    tz: str = typer.Option(
        "UTC", "--tz", help="Time zone of sacct's naive times (IANA name, e.g. Europe/Oslo)."
    ),
    gpu_tres: list[str] = typer.Option(
        None,
        "--gpu-tres",
        help="TRES counted as GPUs, repeatable (default: gres/gpu; e.g. gres/gpu:a100).",
    ),
    tier_map: list[str] = typer.Option(
        None,
        "--tier-map",
        help="QOS=TIER, repeatable; * for any other QOS (default tier: default).",
    ),
    tenant_map: list[str] = typer.Option(
        None,
        "--tenant-map",
        help="ACCOUNT=TENANT, repeatable; * for any other account (default: the account).",
    ),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Import Slurm accounting (sacct --parsable2) as a trace.

    Job steps, pending, running and never-started jobs are skipped and counted by reason.
    """
    with user_errors():
        from narvik.bridges.sacct_import import DEFAULT_GPU_TRES, import_sacct

        trace = import_sacct(
            file,
            out,
            tz=tz,
            gpu_tres=gpu_tres or DEFAULT_GPU_TRES,
            tier_map=tier_map or None,
            tenant_map=tenant_map or None,
        )
    _report(trace, out, as_json)


@app.command("kueue-workloads")
def kueue_workloads(
    file: Path = typer.Argument(..., help="Output of kubectl get workloads -A -o json."),
    out: Path = typer.Option(..., "--out", help=_OUT_HELP),
    gpu_resource: list[str] = typer.Option(
        None,
        "--gpu-resource",
        help="Container resource counted as GPUs, repeatable (default: nvidia.com/gpu).",
    ),
    tier_map: list[str] = typer.Option(
        None,
        "--tier-map",
        help="PRIORITYCLASS=TIER, repeatable; * for any other (default tier: default).",
    ),
    tenant_map: list[str] = typer.Option(
        None,
        "--tenant-map",
        help="CLUSTERQUEUE=TENANT, repeatable; * for any other (default: the ClusterQueue, "
        "else the namespace).",
    ),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Import Kueue Workloads (kubectl get workloads -A -o json) as a trace.

    Unfinished and never-admitted Workloads are skipped and counted by reason.
    """
    with user_errors():
        from narvik.bridges.kueue_workloads_import import (
            DEFAULT_GPU_RESOURCES,
            import_kueue_workloads,
        )

        trace = import_kueue_workloads(
            file,
            out,
            gpu_resources=gpu_resource or DEFAULT_GPU_RESOURCES,
            tier_map=tier_map or None,
            tenant_map=tenant_map or None,
        )
    _report(trace, out, as_json)
