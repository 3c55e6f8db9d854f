"""The files of a simulation run: ``summary.json``, ``jobs.parquet``, ``timeseries.parquet``
and, on physical sites, ``offtakers.parquet``.

Columns and keys follow ARCHITECTURE.md; physical sites add placement columns
to the job table, a row per physics step to the time series (with busy GPUs per
tier, queue length, grid cap, PUE and heat per offtaker) and the energy KPIs to
the summary. Every time series has a UTC ``time`` column beside ``t_s``
(:mod:`narvik.kpi.run_time`); waits in the summary are rounded to the millisecond
(:mod:`narvik.kpi.waits`). A run is written into a staging folder first and moved into place,
so a failed run leaves no half-written folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa

from narvik.atomic import write_json_atomic
from narvik.kpi.energy import energy_totals, offtaker_totals
from narvik.kpi.run_time import OFFTAKERS_FILE, run_offtakers_table, with_time
from narvik.kpi.tenancy_summary import tenancy_summary
from narvik.kpi.waits import round_waits
from narvik.kpi.warmup import KpiView, kpi_view, warmup_s
from narvik.scenario import Results
from narvik.sim.recorders import jobs_table, summarize, timeseries_table, write_parquet_atomic
from narvik.sim.tenancy_result import TenancyResult
from narvik.site import Site
from narvik.units import SECONDS_PER_HOUR

RUN_FILES = ("summary.json", "jobs.parquet", "timeseries.parquet", OFFTAKERS_FILE, "report.html")
"""Every file a run may write (``offtakers.parquet``: physical sites only)."""


def run_summary(results: Results) -> dict[str, Any]:
    """The ``summary.json`` dict of a run; every KPI leaves out the warm-up
    (:mod:`narvik.kpi.warmup` says how); waits are rounded to the ms (:func:`round_waits`)."""
    spec = results.spec
    view = kpi_view(results)
    summary = summarize(view.results.schedule)
    if view.warmup_s > 0:
        summary.update(view.flat_time_kpis())
    summary.update(
        {
            "scenario": spec.name,
            "site": results.site.name,
            "policy": spec.policy,
            "seed": spec.seed,
            "span_s": results.span_s,
            "warmup_days": spec.warmup_days,
            "warmup_s": view.warmup_s,
            "start_date": spec.start_date.isoformat() if results.steps is not None else None,
            "tiers": sorted({str(t) for t in results.jobs.tier.tolist()}),
            "trace_skipped": dict(sorted(results.skipped.items())),
            "notices": list(results.notices),
            "power_dynamics": {
                "power_smoothing": spec.power_smoothing.model_dump(mode="json"),
                "grid_code": spec.grid_code.model_dump(mode="json"),
                "power_profiles": {
                    k: p.model_dump(mode="json") for k, p in sorted(spec.power_profiles.items())
                },
                "busy_gpu_utilization": spec.busy_gpu_utilization,
            },
            "workload": spec.workload.model_dump(mode="json"),
        }
    )
    if isinstance(view.results.schedule, TenancyResult):
        sched = view.results.schedule
        gpu_hours = view.busy_gpu_hours()
        summary["gpu_hours"] = gpu_hours
        summary["utilization"] = gpu_hours / _online_gpu_hours(view)
        summary["preemptions_total"] = int(sched.preemptions.sum())
        summary["gpu_hours_lost_to_preemption"] = float(sched.lost_gpu_s.sum()) / SECONDS_PER_HOUR
        if spec.tenancy is not None:  # fcfs/easy on a site may run without tenants
            summary["tenancy"] = tenancy_summary(view)
    steps = view.results.steps
    if steps is not None:
        site = cast(Site, results.site)  # step series come only with a physical site
        totals = energy_totals(steps.facility, steps.step_s)
        totals["gpu_floor_energy_mwh"] = float(np.sum(steps.floor_power_w)) * steps.step_s / 3.6e9
        totals["power_cap_mw"] = float(steps.power_cap_w.max()) / 1e6
        totals["hours_over_cap"] = float(
            np.sum(steps.facility.facility_power_w > steps.power_cap_w)
        ) * (steps.step_s / 3600.0)
        summary.update(totals)
        summary["offtakers"] = offtaker_totals(steps.facility, site.active_offtakers, steps.step_s)
        summary["phase"] = spec.phase or site.phase_at(spec.start_date).name
        summary["step_s"] = steps.step_s
        summary["placement"] = _placement_stats(view.results)
    return round_waits(summary)


def _online_gpu_hours(view: KpiView) -> float:
    """GPU-hours of the fleet online over the run after its warm-up (phases may come
    online during it)."""
    steps = view.results.steps
    if steps is None:
        return view.full.n_gpus * (view.span_s - view.start_s) / SECONDS_PER_HOUR
    width = np.diff(np.append(steps.t_s, steps.span_s))
    return float(np.sum(steps.gpus_online * width)) / SECONDS_PER_HOUR


def _placement_stats(results: Results) -> dict[str, Any]:
    doms = np.asarray(results.nvlink_domains)
    blocks = np.asarray(results.network_blocks)
    placed = doms > 0
    gpus = results.jobs.gpus
    # Called for physical sites only (the placement of a run with step series).
    domain_gpus = cast(Site, results.site).rack_types[0].nvlink_domain_gpus
    minimum = -(-gpus // domain_gpus)
    extra = placed & (doms > minimum)
    return {
        "jobs_placed": int(placed.sum()),
        "jobs_in_one_domain": int(np.sum(placed & (doms == 1))),
        "jobs_on_more_domains_than_needed": int(extra.sum()),
        "multi_domain_jobs_in_one_block": int(np.sum(placed & (doms > 1) & (blocks == 1))),
        "multi_domain_jobs": int(np.sum(placed & (doms > 1))),
        "share_small_jobs_on_one_domain": _share(placed & (gpus <= domain_gpus), doms == 1),
        "share_gangs_on_fewest_domains": _share(placed & (gpus > domain_gpus), doms == minimum),
        **_fragmentation(results),
    }


def _share(among: np.ndarray, ok: np.ndarray) -> float | None:
    n = int(among.sum())
    return float(np.sum(among & ok)) / n if n else None


def _fragmentation(results: Results) -> dict[str, float | None]:
    """Hourly samples of the free GPUs: the share not in wholly free NVLink domains
    (free, but unusable by a gang that needs whole domains)."""
    sched = results.schedule
    if not isinstance(sched, TenancyResult) or sched.frag_free_gpus.size == 0:
        return {"fragmentation_mean": None, "fragmentation_p95": None}
    free = sched.frag_free_gpus.astype(float)
    frag = np.where(free > 0, 1.0 - sched.frag_whole_free_gpus / np.maximum(free, 1.0), 0.0)
    return {
        "fragmentation_mean": float(frag.mean()),
        "fragmentation_p95": float(np.percentile(frag, 95)),
    }


def run_jobs_table(results: Results) -> pa.Table:
    """``jobs.parquet``: every job, with ``in_warmup`` (submitted before the warm-up's end,
    so left out of the KPIs) and, for runs with a ``tenancy`` summary (the ``narvik``
    policy, and every policy on a physical site), ``within_guarantee`` (the job fit its
    tenant's unused guarantee when it was submitted: the work the start SLO and the
    guarantee hours judge; the rest runs on borrowed capacity)."""
    table = jobs_table(results.schedule)
    in_warmup = results.jobs.submit_s < warmup_s(results)
    table = table.append_column("in_warmup", pa.array(in_warmup, pa.bool_()))
    if isinstance(results.schedule, TenancyResult):
        fits = pa.array(results.schedule.fits_guarantee, pa.bool_())
        table = table.append_column("within_guarantee", fits)
    if results.nvlink_domains is None:
        return table
    doms = np.asarray(results.nvlink_domains)
    blocks = np.asarray(results.network_blocks)
    unplaced = doms == 0
    table = table.append_column("nvlink_domains", pa.array(doms, pa.int64(), mask=unplaced))
    return table.append_column("network_blocks", pa.array(blocks, pa.int64(), mask=unplaced))


def run_timeseries_table(results: Results) -> pa.Table:
    """``timeseries.parquet``: every row, with ``time`` (UTC: the scenario's start date at
    00:00 plus ``t_s``) and ``in_warmup`` (the row's instant lies before the warm-up's end,
    so it is left out of the KPIs)."""
    table = with_time(_timeseries(results), results.spec.start_date)
    in_warmup = table.column("t_s").to_numpy() < warmup_s(results)
    return table.append_column("in_warmup", pa.array(in_warmup, pa.bool_()))


def _timeseries(results: Results) -> pa.Table:
    steps = results.steps
    if steps is None:
        return timeseries_table(results.schedule)
    f = steps.facility
    cols: dict[str, Any] = {
        "t_s": pa.array(steps.t_s, pa.float64()),
        "gpus_busy": pa.array(steps.gpus_busy, pa.float64()),
    }
    for tier, busy in steps.gpus_busy_by_tier.items():
        cols[f"gpus_busy[{tier}]"] = pa.array(busy, pa.float64())
    with np.errstate(divide="ignore", invalid="ignore"):
        pue = np.where(f.it_power_w > 0, f.facility_power_w / f.it_power_w, np.nan)
    cols.update(
        {
            "gpus_total": pa.array(np.rint(steps.gpus_online), pa.int64()),
            "gpu_power_cap_fraction": steps.gpu_cap_fraction,
            "queued_jobs": pa.array(steps.queued_jobs, pa.int64()),
            "it_power_w": f.it_power_w,
            "facility_power_w": f.facility_power_w,
            "power_cap_w": steps.power_cap_w,
            "ambient_c": f.ambient_c,
            "pue": pue,
            "chiller_power_w": f.chiller_power_w,
            "gpu_floor_power_w": steps.floor_power_w,
            "heat_reused_w": f.heat_reused_w,
        }
    )
    for i, o in enumerate(cast(Site, results.site).active_offtakers):  # steps: a physical site
        cols[f"heat_demand_w[{o.name}]"] = f.offtaker_demand_w[i]
        cols[f"heat_delivered_w[{o.name}]"] = f.offtaker_delivered_w[i]
    return pa.table(cols)


def write_run(
    results: Results,
    out_dir: str | os.PathLike[str],
    *,
    summary: dict[str, Any] | None = None,
    jobs: pa.Table | None = None,
    timeseries: pa.Table | None = None,
    offtakers: pa.Table | None = None,
) -> dict[str, Path]:
    """Write the run's files (and its report) into ``out_dir``; all or nothing per file.
    ``summary``, ``jobs``, ``timeseries`` and ``offtakers``: the run's, when already
    computed. Returns the paths written, by name (a file of :data:`RUN_FILES` the run
    does not have is removed from an existing ``out_dir``)."""
    from narvik.kpi.report import render_report

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    os.chmod(staging, 0o755)  # mkdtemp makes 0700; a run folder is meant to be shared
    try:
        jobs = jobs if jobs is not None else run_jobs_table(results)
        write_parquet_atomic(jobs, staging / "jobs.parquet")
        series = timeseries if timeseries is not None else run_timeseries_table(results)
        write_parquet_atomic(series, staging / "timeseries.parquet")
        heat = offtakers if offtakers is not None else run_offtakers_table(results)
        if heat is not None:
            write_parquet_atomic(heat, staging / OFFTAKERS_FILE)
        summary = summary if summary is not None else run_summary(results)
        write_json_atomic(staging / "summary.json", summary)
        render_report(staging)
        if not out.exists():
            os.rename(staging, out)
        else:
            for name in RUN_FILES:
                _replace_or_remove(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out / name for name in RUN_FILES if (out / name).is_file()}


def _replace_or_remove(new: Path, old: Path) -> None:
    """Move ``new`` over ``old``; without ``new``, remove ``old`` (a file of an earlier
    run that this one does not have)."""
    if new.exists():
        os.replace(new, old)
    else:
        old.unlink(missing_ok=True)
