"""A finished run's electrical power rebuilt second by second (down to 0.1 s) over a window.

The hourly run keeps, per step, the busy GPUs at their power cap, the weather and the
facility's slow loads. Inside a step, each job's GPUs follow the power profile of its
kind (:mod:`narvik.physics.power_profiles`: training gangs swing with their iterations,
inference fleets follow their requests, research jobs draw their steady busy power):

- fleet GPU utilisation ``u(t) = sum_j gpus_j * f_j(t) * cap(step) / gpus_online``, the
  same definition the hourly model uses with every busy GPU at its steady fraction, so a
  window of steady jobs rebuilds the hourly IT power exactly;
- IT power from the racks' linear power model at ``u(t)``
  (:meth:`narvik.physics.facility.FacilityModel.it_power_w`);
- grid power through the power chain (distribution, UPS, transformers,
  :meth:`~narvik.physics.facility.FacilityModel.grid_power_w`) with the cooling and
  ancillary loads of the step held constant within it (pumps, fans and chillers follow
  the loop's temperatures over minutes, not the iterations).

Jobs run from their first start to their end (``jobs.parquet``); a preempted job's gap is
not in the run's files and is counted as running (preemptions are rare: tens a day).
Training and inference jobs get one array each; the steady ones one step function per
profile, from their starts and ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from narvik.kpi.run_data import RunData, floats
from narvik.physics.facility import FacilityModel
from narvik.physics.power_profiles import (
    PowerProfile,
    SteadyPowerProfile,
    job_kinds,
    job_power_fraction,
    job_seed,
    profile_for,
    site_floor,
)
from narvik.site import Site, load_site
from narvik.units import SECONDS_PER_DAY


@dataclass(frozen=True)
class Window:
    """``span_s`` seconds from ``start_s`` (seconds from the run's start), every
    ``resolution_s``."""

    start_s: float
    span_s: float
    resolution_s: float

    def grid_s(self) -> NDArray[np.float64]:
        n = int(round(self.span_s / self.resolution_s))
        return self.start_s + np.arange(n, dtype=np.float64) * self.resolution_s


@dataclass(frozen=True)
class RebuiltPower:
    """The window's power: fleet GPU utilisation, IT power and grid power, W."""

    t_s: NDArray[np.float64]
    gpu_utilization: NDArray[np.float64]
    it_power_w: NDArray[np.float64]
    grid_power_w: NDArray[np.float64]
    auxiliary_w: NDArray[np.float64]
    """Cooling and ancillary loads (held within each step)."""
    busy_gpus_by_kind: dict[str, NDArray[np.float64]]
    """GPUs of running jobs by kind at each instant."""


@dataclass(frozen=True)
class WindowJobs:
    """The jobs running at some point of a window."""

    job_id: NDArray[np.object_]
    kind: NDArray[np.object_]
    tenant: NDArray[np.object_]
    gpus: NDArray[np.float64]
    start_s: NDArray[np.float64]
    end_s: NDArray[np.float64]


def window_jobs(run: RunData, window: Window, *, only_kind: str | None = None) -> WindowJobs:
    """Jobs whose run overlaps the window (still running at the end: to the run's end);
    ``only_kind``: only jobs of that kind (their ids are filtered before they are read)."""
    start = floats(run.jobs, "start_s")
    end = np.where(np.isnan(floats(run.jobs, "end_s")), np.inf, floats(run.jobs, "end_s"))
    w_end = window.start_s + window.span_s
    m = ~np.isnan(start) & (start < w_end) & (end > window.start_s)
    table = pq.read_table(run.run_dir / "jobs.parquet", columns=["job_id", "tenant"])
    if only_kind is not None:
        ids_all = table.column("job_id")
        m &= np.asarray(
            pc.match_substring(ids_all, f"-{only_kind}-").to_numpy(zero_copy_only=False)
        )
    table = table.filter(pa.array(m))
    ids = np.array(table.column("job_id").to_pylist(), dtype=object)
    kinds = job_kinds(ids)
    keep = np.ones(len(ids), dtype=bool) if only_kind is None else kinds == only_kind
    return WindowJobs(
        job_id=ids[keep],
        kind=kinds[keep],
        tenant=np.array(table.column("tenant").to_pylist(), dtype=object)[keep],
        gpus=floats(run.jobs, "gpus")[m][keep],
        start_s=start[m][keep],
        end_s=end[m][keep],
    )


def busy_gpu_fractions(
    jobs: WindowJobs,
    t_s: NDArray[np.float64],
    overrides: Mapping[str, PowerProfile],
    *,
    steady: float,
    seed: int,
    day_start_utc_s: float,
    floor: float = 0.0,
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """``sum_j gpus_j * f_j(t)`` (GPU-equivalents at full range) and the GPUs busy by kind.

    Steady jobs add a step function (one per fraction, built from sorted starts and ends);
    the others one array each. ``floor``: while a job runs its GPUs never drop below this
    fraction of the range (the GPU power floor, as a fraction of the idle-to-max range)."""
    total = np.zeros_like(t_s)
    by_kind: dict[str, NDArray[np.float64]] = {}
    steady_gpus: dict[float, list[int]] = {}
    for i in range(len(jobs.gpus)):
        kind = str(jobs.kind[i])
        p = profile_for(kind, str(jobs.tenant[i]), overrides, steady)
        running = _running(
            t_s, jobs.start_s[i : i + 1], jobs.end_s[i : i + 1], jobs.gpus[i : i + 1]
        )
        by_kind[kind] = by_kind.get(kind, np.zeros_like(t_s)) + running
        if isinstance(p, SteadyPowerProfile):
            steady_gpus.setdefault(p.fraction, []).append(i)
            continue
        f = job_power_fraction(
            p,
            t_s,
            float(jobs.start_s[i]),
            float(jobs.end_s[i]),
            seed=job_seed(str(jobs.job_id[i]), seed),
            day_start_utc_s=day_start_utc_s,
        )
        if floor > 0:
            f = np.where(running > 0, np.maximum(f, floor), f)
        total += jobs.gpus[i] * f
    for fraction, idx in steady_gpus.items():
        ix = np.asarray(idx)
        total += fraction * _running(t_s, jobs.start_s[ix], jobs.end_s[ix], jobs.gpus[ix])
    return total, by_kind


def _running(
    t_s: NDArray[np.float64],
    start_s: NDArray[np.float64],
    end_s: NDArray[np.float64],
    gpus: NDArray[np.float64],
) -> NDArray[np.float64]:
    """GPUs of the jobs running at each instant (start inclusive, end exclusive)."""
    s_order, e_order = np.argsort(start_s), np.argsort(end_s)
    started = np.concatenate(([0.0], np.cumsum(gpus[s_order])))
    ended = np.concatenate(([0.0], np.cumsum(gpus[e_order])))
    n_started = np.searchsorted(start_s[s_order], t_s, side="right")
    n_ended = np.searchsorted(end_s[e_order], t_s, side="right")
    return np.asarray(started[n_started] - ended[n_ended], dtype=np.float64)


def run_site(run: RunData) -> Site:
    """The run's site, loaded again by its name (a catalogue site or a TOML path)."""
    site = load_site(run.site)
    if not isinstance(site, Site):
        raise ValueError(f"{run.run_dir}: {run.site} is a flat pool: it has no power to rebuild")
    return site


def rebuild_power(
    run: RunData,
    window: Window,
    overrides: Mapping[str, PowerProfile] | None = None,
    *,
    busy_gpu_utilization: float = 0.85,
    floor_fraction: float = 0.0,
) -> RebuiltPower:
    """The run's power over ``window`` (see the module docstring). ``floor_fraction``: the
    GPU power floor, a share of the GPU's busy (maximum) power no running GPU drops below."""
    site = run_site(run)
    start_date = run.start_date or dt.date(2027, 1, 1)
    t_s = window.grid_s()
    jobs = window_jobs(run, window)
    seed = int(run.summary.get("seed") or 0)
    weighted, by_kind = busy_gpu_fractions(
        jobs,
        t_s,
        overrides or {},
        steady=busy_gpu_utilization,
        seed=seed,
        day_start_utc_s=0.0,
        floor=site_floor(site, floor_fraction),
    )
    when = dt.datetime.combine(start_date, dt.time()) + dt.timedelta(seconds=window.start_s)
    model = FacilityModel.from_site(site, site.phase_at(when.date()).name)
    step = _step_values(run, t_s, model.gpus, busy_gpu_utilization)
    u = np.clip(weighted * step["cap"] / model.gpus, 0.0, 1.0)
    it_w = model.it_power_w(u)
    hours = model.run(step["u"], step["ambient_c"], step["month"])
    aux_w = model.auxiliary_w(hours)
    return RebuiltPower(
        t_s=t_s,
        gpu_utilization=u,
        it_power_w=it_w,
        grid_power_w=model.grid_power_w(it_w, aux_w),
        auxiliary_w=aux_w,
        busy_gpus_by_kind=by_kind,
    )


def _step_values(
    run: RunData, t_s: NDArray[np.float64], gpus: int, busy_gpu_utilization: float
) -> dict[str, NDArray[np.float64]]:
    """Per instant, the values of the step it falls in: the GPU power cap, the step's fleet
    utilisation (as the hourly model computed it), the ambient temperature, the month."""
    ts = run.timeseries
    steps = floats(ts, "t_s")
    i = np.clip(np.searchsorted(steps, t_s, side="right") - 1, 0, len(steps) - 1)
    has_cap = "gpu_power_cap_fraction" in ts.column_names
    cap = floats(ts, "gpu_power_cap_fraction") if has_cap else np.ones(len(steps))
    u_step = floats(ts, "gpus_busy") * cap / max(gpus, 1) * busy_gpu_utilization
    start_date = run.start_date or dt.date(2027, 1, 1)
    days = (t_s // SECONDS_PER_DAY).astype("timedelta64[D]")
    months = (np.datetime64(start_date, "D") + days).astype("datetime64[M]").astype(np.int64)
    return {
        "cap": cap[i],
        "u": u_step[i],
        "ambient_c": floats(ts, "ambient_c")[i],
        "month": (months % 12 + 1).astype(np.float64),
    }
