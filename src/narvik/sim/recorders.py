"""Outputs of a flat-pool replay: ``jobs.parquet``, ``timeseries.parquet``, ``summary.json``.

Columns and keys follow ARCHITECTURE.md. Every file is written atomically
(temporary file in the same folder, then ``os.replace``) and deterministically:
the same result gives byte-identical files (no timestamps in Parquet metadata,
sorted per-tier keys in JSON).

Definitions used in the summary:

* ``gpu_hours``: sum over started jobs of ``gpus * (end - start)`` (end capped at
  ``until_s`` for jobs still running), in hours; equal to the integral of
  ``gpus_busy`` over the time series.
* ``makespan_s``: from the first submit to the last job end (``until_s`` when
  the replay was cut off).
* ``utilization``: ``gpu_hours / (n_gpus * makespan_h)``.
* ``wait_s``: ``start - submit`` over the jobs that started; mean, p50, p95
  (numpy's linear percentile), overall and per tier (``by_tier``).
* ``bounded_slowdown_mean``: mean over completed jobs of
  ``max(1, (wait + run) / max(run, 10 s))`` (Feitelson et al., JSSPP 1997).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from narvik.atomic import atomic_path, write_json_atomic
from narvik.sim.flat import COMPLETED, FlatResult
from narvik.units import SECONDS_PER_HOUR
from narvik.workload.job import JobTable

BOUNDED_SLOWDOWN_MIN_RUN_S = 10.0


class ScheduleResult(Protocol):
    """What the tables and the summary read of a schedule result: a flat replay's
    (:class:`~narvik.sim.flat.FlatResult`) or a pool run's
    (:class:`~narvik.sim.tenancy_result.TenancyResult`). Both are frozen, so read-only."""

    @property
    def jobs(self) -> JobTable: ...
    @property
    def n_gpus(self) -> int: ...
    @property
    def policy(self) -> str: ...
    @property
    def start_s(self) -> NDArray[np.float64]: ...
    @property
    def end_s(self) -> NDArray[np.float64]: ...
    @property
    def state(self) -> NDArray[np.int8]: ...
    @property
    def preemptions(self) -> NDArray[np.int64]: ...
    @property
    def t_s(self) -> NDArray[np.float64]: ...
    @property
    def gpus_busy(self) -> NDArray[np.int64]: ...
    @property
    def until_s(self) -> float | None: ...
    def state_names(self) -> NDArray[np.object_]: ...
    def state_counts(self) -> dict[str, int]: ...


def _nullable(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


def jobs_table(result: ScheduleResult) -> pa.Table:
    """The ``jobs.parquet`` table: one row per job, in trace order."""
    j = result.jobs
    return pa.table(
        {
            "job_id": pa.array(j.job_id, type=pa.string()),
            "tenant": pa.array(j.tenant, type=pa.string()),
            "tier": pa.array(j.tier, type=pa.string()),
            "gpus": pa.array(j.gpus, type=pa.int64()),
            "submit_s": pa.array(j.submit_s, type=pa.float64()),
            "start_s": _nullable(result.start_s),
            "end_s": _nullable(result.end_s),
            "runtime_s": pa.array(j.runtime_s, type=pa.float64()),
            "requested_s": _nullable(j.requested_s),
            "state": pa.array(result.state_names(), type=pa.string()),
            "preemptions": pa.array(result.preemptions, type=pa.int64()),
        }
    )


def timeseries_table(result: ScheduleResult) -> pa.Table:
    """The ``timeseries.parquet`` table; a flat pool has no physics (zero power, NaN ambient)."""
    n = len(result.t_s)
    zeros = np.zeros(n)
    return pa.table(
        {
            "t_s": pa.array(result.t_s, type=pa.float64()),
            "gpus_busy": pa.array(result.gpus_busy, type=pa.int64()),
            "it_power_w": pa.array(zeros, type=pa.float64()),
            "facility_power_w": pa.array(zeros, type=pa.float64()),
            "ambient_c": pa.array(np.full(n, np.nan), type=pa.float64()),
            "heat_reused_w": pa.array(zeros, type=pa.float64()),
        }
    )


def _stats(values: np.ndarray) -> dict[str, float | None]:
    if len(values) == 0:
        return {"mean": None, "p50": None, "p95": None}
    p50, p95 = np.percentile(values, [50, 95])
    return {"mean": float(np.mean(values)), "p50": float(p50), "p95": float(p95)}


def summarize(result: ScheduleResult) -> dict[str, Any]:
    """The ``summary.json`` dict of a flat replay (definitions in the module docstring)."""
    j = result.jobs
    started = ~np.isnan(result.start_s)
    horizon = result.until_s if result.until_s is not None else math.inf
    end_capped = np.where(np.isnan(result.end_s), horizon, result.end_s)
    busy_s = np.where(started, end_capped - result.start_s, 0.0)
    gpu_hours = float(np.sum(j.gpus * busy_s)) / SECONDS_PER_HOUR
    if len(j):
        last = float(np.max(end_capped[started])) if started.any() else float(j.submit_s.min())
        makespan_s = max(0.0, last - float(j.submit_s.min()))
    else:
        makespan_s = 0.0
    makespan_h = makespan_s / SECONDS_PER_HOUR
    util = gpu_hours / (result.n_gpus * makespan_h) if makespan_h > 0 else 0.0
    wait = result.start_s[started] - j.submit_s[started]
    tiers = j.tier[started]
    wait_stats: dict[str, Any] = _stats(wait)
    wait_stats["by_tier"] = {str(t): _stats(wait[tiers == t]) for t in sorted(set(j.tier.tolist()))}
    done = result.state == COMPLETED
    run = j.runtime_s[done]
    wait_done = result.start_s[done] - j.submit_s[done]
    bsld = np.maximum(1.0, (wait_done + run) / np.maximum(run, BOUNDED_SLOWDOWN_MIN_RUN_S))
    return {
        "site": f"flat:{result.n_gpus}",
        "policy": result.policy,
        "n_gpus": result.n_gpus,
        "jobs": result.state_counts(),
        "gpu_hours": gpu_hours,
        "makespan_s": makespan_s,
        "utilization": util,
        "wait_s": wait_stats,
        "bounded_slowdown_mean": float(np.mean(bsld)) if len(bsld) else None,
    }


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write ``table`` to ``path`` atomically and deterministically (zstd, no timestamps)."""
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(None), tmp, compression="zstd")


def write_flat_outputs(
    result: FlatResult, out_dir: str | os.PathLike[str], summary: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``jobs.parquet``, ``timeseries.parquet`` and ``summary.json`` into ``out_dir``.

    ``summary`` defaults to :func:`summarize` (pass an extended one to add keys).
    Returns the paths written, by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "jobs": out / "jobs.parquet",
        "timeseries": out / "timeseries.parquet",
        "summary": out / "summary.json",
    }
    write_parquet_atomic(jobs_table(result), paths["jobs"])
    write_parquet_atomic(timeseries_table(result), paths["timeseries"])
    write_json_atomic(paths["summary"], summary if summary is not None else summarize(result))
    return paths
