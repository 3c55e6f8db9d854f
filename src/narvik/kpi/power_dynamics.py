"""``narvik power-quality``: a run's power over a window at sub-second resolution, raw and
smoothed, against the grid code.

The raw power is the run rebuilt with every job on its power profile
(:mod:`narvik.kpi.power_rebuild`). The smoothed power applies the scenario's
``[power_smoothing]`` in the order the power flows: the GPU power floor (in the rebuild),
then the ramp limiter held by the racks' power-supply storage and the site battery
(:func:`narvik.physics.power_smoothing.chain`). Both are measured with
:func:`narvik.physics.power_quality.summarise` against the ``[grid_code]``. The storages
start at half charge with the grid drawing the window's mean (the jobs were already
running), and the floor's energy is reported as the smoothing's cost.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from narvik.kpi.power_rebuild import RebuiltPower, Window, rebuild_power, window_jobs
from narvik.kpi.run_data import RunData, floats
from narvik.physics.power_profiles import PowerProfile, parse_power_profile
from narvik.physics.power_quality import summarise
from narvik.physics.power_settings import MW, MWH_J, GridCode, PowerSmoothing
from narvik.physics.power_smoothing import SmoothingChain, chain
from narvik.units import SECONDS_PER_HOUR

#: Where a run's summary keeps its power-dynamics settings.
SUMMARY_KEY = "power_dynamics"


@dataclass(frozen=True)
class DynamicsSettings:
    smoothing: PowerSmoothing
    grid_code: GridCode
    profiles: dict[str, PowerProfile]
    busy_gpu_utilization: float


def run_settings(run: RunData) -> DynamicsSettings:
    """The settings the run's scenario had (defaults for runs written before they existed)."""
    raw: dict[str, Any] = run.summary.get(SUMMARY_KEY) or {}
    return DynamicsSettings(
        smoothing=PowerSmoothing.model_validate(raw.get("power_smoothing") or {}),
        grid_code=GridCode.model_validate(raw.get("grid_code") or {}),
        profiles={k: parse_power_profile(v) for k, v in (raw.get("power_profiles") or {}).items()},
        busy_gpu_utilization=float(raw.get("busy_gpu_utilization", 0.85)),
    )


@dataclass(frozen=True)
class PowerQuality:
    window: Window
    raw: RebuiltPower
    floored: RebuiltPower
    smoothed: SmoothingChain
    summary: dict[str, Any]


def power_quality(run: RunData, window: Window) -> PowerQuality:
    """The window's power raw and smoothed, and what the grid operator would see of each."""
    s = run_settings(run)
    raw = rebuild_power(run, window, s.profiles, busy_gpu_utilization=s.busy_gpu_utilization)
    floored = rebuild_power(
        run,
        window,
        s.profiles,
        busy_gpu_utilization=s.busy_gpu_utilization,
        floor_fraction=s.smoothing.gpu_power_floor_fraction,
    )
    smoothed = smooth(floored.grid_power_w, window.resolution_s, s.smoothing)
    dt_s = window.resolution_s
    g = s.grid_code

    def measured(p_w: NDArray[np.float64]) -> dict[str, Any]:
        return summarise(
            p_w,
            dt_s,
            max_ramp_w_per_s=g.max_ramp_mw_per_s * MW,
            max_swing_w=g.max_swing_mw * MW,
            swing_window_s=g.swing_window_s,
        )

    floor_j = float(np.sum(floored.grid_power_w - raw.grid_power_w) * dt_s)
    summary = {
        "window": _window_json(run, window),
        "busy_gpus_by_kind": {k: float(v.mean()) for k, v in sorted(raw.busy_gpus_by_kind.items())},
        "raw": measured(raw.grid_power_w),
        "smoothed": measured(smoothed.grid_w),
        "smoothing_energy_mwh": floor_j / MWH_J,
        "floor_energy_mwh": floor_j / MWH_J,
        "rack_storage": _storage_json(smoothed.rack_soc_j, smoothed.rack_broken, dt_s),
        "bess": _storage_json(smoothed.bess_soc_j, smoothed.bess_broken, dt_s),
        "settings": {
            "power_smoothing": s.smoothing.model_dump(mode="json"),
            "grid_code": s.grid_code.model_dump(mode="json"),
        },
    }
    return PowerQuality(window, raw, floored, smoothed, summary)


def smooth(demand_w: NDArray[np.float64], dt_s: float, p: PowerSmoothing) -> SmoothingChain:
    """The ramp limiter held by the rack storage, then the site battery, on the site's
    draw; each only when the scenario sets it. The storages start at half charge with the
    grid drawing the window's mean (the jobs were already running)."""
    ramp = p.ramp_limit_mw_per_s
    return chain(
        demand_w,
        dt_s,
        ramp * MW if ramp else None,
        p.rack_storage_mwh * MWH_J,
        math.inf,
        p.bess_power_mw * MW,
        p.bess_energy_mwh * MWH_J,
        p.bess_tau_s,
        ramp_tau_s=p.ramp_tau_s,
        grid0_w=float(np.mean(demand_w)) if len(demand_w) else None,
    )


def _storage_json(soc_j: NDArray[np.float64], broken: NDArray[np.bool_], dt_s: float) -> dict:
    return {
        "min_soc_mwh": float(soc_j.min(initial=np.inf)) / MWH_J if len(soc_j) else None,
        "max_soc_mwh": float(soc_j.max(initial=-np.inf)) / MWH_J if len(soc_j) else None,
        "broken_s": float(np.count_nonzero(broken) * dt_s),
        "first_broken_s": float(np.flatnonzero(broken)[0] * dt_s) if broken.any() else None,
    }


def _window_json(run: RunData, window: Window) -> dict[str, Any]:
    start = _utc(run, window.start_s)
    return {
        "start": start.isoformat().replace("+00:00", "Z"),
        "start_s": window.start_s,
        "span_s": window.span_s,
        "resolution_s": window.resolution_s,
    }


def _utc(run: RunData, t_s: float) -> dt.datetime:
    day = run.start_date or dt.date(2027, 1, 1)
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(seconds=t_s)


def window_from(
    run: RunData, start: dt.datetime | None, span_s: float, resolution_s: float
) -> Window:
    """The window asked for (a UTC instant), or the hour with the most training GPUs busy."""
    if span_s <= 0 or resolution_s <= 0 or resolution_s > span_s:
        raise ValueError("--span-s and --resolution-s: need 0 < resolution <= span")
    if span_s / resolution_s > 50_000_000:
        raise ValueError("--span-s / --resolution-s: more than 50 million samples")
    run_span = float(floats(run.timeseries, "t_s").max(initial=0.0)) + SECONDS_PER_HOUR
    if start is None:
        start_s = busiest_training_hour_s(run, run_span)
    else:
        aware = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
        start_s = (aware - _utc(run, 0.0)).total_seconds()
    if start_s < 0 or start_s + span_s > run_span:
        raise ValueError(
            f"--start/--span-s: the window must lie within the run "
            f"({_utc(run, 0.0):%Y-%m-%dT%H:%MZ} to {_utc(run, run_span):%Y-%m-%dT%H:%MZ})"
        )
    return Window(start_s, span_s, resolution_s)


def busiest_training_hour_s(run: RunData, run_span_s: float) -> float:
    """Start of the whole hour with the most training GPUs running at its start."""
    hours = np.arange(0.0, max(run_span_s - SECONDS_PER_HOUR, 0.0) + 1, SECONDS_PER_HOUR)
    jobs = window_jobs(run, Window(0.0, run_span_s, SECONDS_PER_HOUR), only_kind="training")
    if not len(jobs.gpus):
        return 0.0
    start, end, gpus = jobs.start_s, jobs.end_s, jobs.gpus
    busy = [(gpus * ((start <= h) & (end > h))).sum() for h in hours]
    return float(hours[int(np.argmax(busy))])


def series_table(run: RunData, pq_: PowerQuality) -> pa.Table:
    """The window's series: one row per sample."""
    t_s = pq_.raw.t_s
    t0 = np.datetime64(_utc(run, 0.0).replace(tzinfo=None), "ms")
    sm = pq_.smoothed
    return pa.table(
        {
            "time": pa.array(
                t0 + (t_s * 1000).astype("timedelta64[ms]"), pa.timestamp("ms", tz="UTC")
            ),
            "t_s": t_s,
            "it_power_w": pq_.raw.it_power_w,
            "grid_power_w": pq_.raw.grid_power_w,
            "grid_power_floored_w": pq_.floored.grid_power_w,
            "grid_power_smoothed_w": sm.grid_w,
            "rack_storage_soc_j": sm.rack_soc_j,
            "bess_soc_j": sm.bess_soc_j,
            "rack_storage_broken": sm.rack_broken,
            "bess_broken": sm.bess_broken,
        }
    )
