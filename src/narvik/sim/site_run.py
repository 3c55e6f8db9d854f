"""A schedule on a physical site: the engine's decisions and the facility physics, step by step.

Every policy runs on the engine (:mod:`narvik.sim.tenancy_sim`), which places gangs on
NVLink domains as it starts them and keeps the GPU power cap and the curtailed grid
cap; the physics steps use exactly that state: the busy GPUs at the power cap they
were given, the fleet online (phases come online during a run), and the grid cap less
the power shed by active curtailments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from narvik.physics.facility import FacilityHours, FacilityModel, concat_hours
from narvik.physics.power_profiles import job_kinds
from narvik.physics.weather import Weather
from narvik.sim.flat import FlatResult, simulate_flat
from narvik.sim.tenancy_result import TenancyResult
from narvik.sim.tenancy_setup import phase_hours
from narvik.sim.tenancy_sim import PoolSetup, simulate_tenancy
from narvik.site.model import Site
from narvik.units import SECONDS_PER_HOUR
from narvik.workload.job import JobTable


@dataclass(frozen=True, eq=False)
class SiteSteps:
    """One row per physics step of the run."""

    t_s: NDArray[np.float64]
    """Start of each step, s from the start of the run."""
    step_s: float
    span_s: float
    """End of the last step (it may be shorter than ``step_s``)."""
    gpus_total: int
    """GPUs online at the end of the run."""
    gpus_busy: NDArray[np.float64]
    """Mean busy GPUs over the step."""
    gpus_busy_by_tier: dict[str, NDArray[np.float64]]
    queued_jobs: NDArray[np.int64]
    """Jobs waiting at the end of the step."""
    power_cap_w: NDArray[np.float64]
    """Grid capacity of the phase in force, less the power shed by curtailments (mean)."""
    gpu_cap_fraction: NDArray[np.float64]
    """Mean GPU power cap of the busy GPUs (1: uncapped)."""
    gpus_online: NDArray[np.float64]
    month: NDArray[np.int64]
    facility: FacilityHours
    floor_power_w: NDArray[np.float64]
    """IT power the GPU power floor adds (in ``facility``'s IT power), W."""


@dataclass(frozen=True, eq=False)
class SiteRun:
    schedule: TenancyResult
    nvlink_domains: NDArray[np.int64]
    network_blocks: NDArray[np.int64]
    steps: SiteSteps


def step_integrals(
    t_s: NDArray[np.float64], level: NDArray[np.float64], edges_s: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Exact integral over each interval between ``edges_s`` of a step function that
    takes ``level[i]`` from ``t_s[i]`` to ``t_s[i + 1]`` (the last level holds on; zero
    before the first instant)."""
    if t_s.size == 0:
        return np.zeros(edges_s.shape[0] - 1)
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(t_s))])
    i = np.searchsorted(t_s, edges_s, side="right") - 1
    inside = i >= 0
    cum = np.zeros(edges_s.shape[0])
    ii = i[inside]
    cum[inside] = area[ii] + level[ii] * (edges_s[inside] - t_s[ii])
    return np.diff(cum)


def busy_gpu_seconds(
    start_s: NDArray[np.float64],
    end_s: NDArray[np.float64],
    gpus: NDArray[np.int64],
    edges_s: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Exact GPU-seconds busy in each interval between consecutive ``edges_s``.

    ``end_s`` may be NaN (still running): the job then runs past the last edge.
    """
    ok = ~np.isnan(start_s)
    s = start_s[ok]
    e = np.where(np.isnan(end_s[ok]), np.inf, end_s[ok])
    g = gpus[ok].astype(np.float64)
    t = np.concatenate([s, e])
    d = np.concatenate([g, -g])
    finite = np.isfinite(t)
    t, d = t[finite], d[finite]
    order = np.argsort(t, kind="stable")
    return step_integrals(t[order], np.cumsum(d[order]), edges_s)


def schedule_jobs(
    jobs: JobTable,
    n_gpus: int,
    policy: str,
    *,
    until_s: float | None,
    tenancy: TenancyInputs | None,
    progress: Callable[[float], None] | None,
) -> FlatResult | TenancyResult:
    """On ``flat:N``: the exact reference replays of ``fcfs``/``easy``, or the engine."""
    if policy in ("fcfs", "easy"):
        return simulate_flat(jobs, n_gpus, policy, until_s=until_s, progress=progress)
    if tenancy is None:
        raise ValueError(f"policy: {policy} needs a tenancy ([tenancy] in the scenario)")
    return simulate_tenancy(
        jobs, tenancy.tenant_index, tenancy.setup, until_s=until_s, policy=policy,
        progress=progress,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class TenancyInputs:
    tenant_index: NDArray[np.int64]
    setup: PoolSetup


def simulate_on_site(
    site: Site,
    jobs: JobTable,
    policy: str,
    inputs: TenancyInputs,
    *,
    weather: Weather,
    start_date: dt.date,
    span_s: float | None,
    phase: str | None = None,
    step_s: float = SECONDS_PER_HOUR,
    busy_gpu_utilization: float = 0.85,
    floor_lift_by_kind: Mapping[str, float] | None = None,
    progress: Callable[[str, float, float], None] | None = None,
) -> SiteRun:
    """Run ``jobs`` on the site's pool for ``span_s`` under ``policy``, then the physics.

    With ``span_s`` None the schedule runs until every job has ended and the
    physics covers the whole of it. ``floor_lift_by_kind``: by job kind, how much the GPU
    power floor raises a busy GPU's mean utilisation
    (:func:`narvik.physics.power_profiles.mean_floor_lift`); it is added to the physics,
    except in steps where the site holds its power down (a curtailment in force or GPUs
    power-capped): there the floor yields.
    """
    report = progress or (lambda stage, done, total: None)
    total = span_s if span_s is not None else float(jobs.submit_s.max(initial=0.0))
    schedule = simulate_tenancy(
        jobs,
        inputs.tenant_index,
        inputs.setup,
        until_s=span_s,
        policy=policy,
        progress=lambda t: report("simulate", t, total),
    )
    report("simulate", total, total)
    if span_s is None:
        span_s = run_end_s(schedule, step_s)
    report("physics", 0, 1)
    steps = _steps(
        site,
        schedule,
        weather,
        start_date,
        span_s,
        step_s,
        busy_gpu_utilization,
        phase,
        floor_lift_by_kind or {},
    )
    report("physics", 1, 1)
    return SiteRun(
        schedule=schedule,
        nvlink_domains=schedule.nvlink_domains,
        network_blocks=schedule.network_blocks,
        steps=steps,
    )


def run_end_s(schedule: FlatResult | TenancyResult, step_s: float) -> float:
    """End of a run replayed to completion: the last job end, at least one step."""
    ends = schedule.end_s[~np.isnan(schedule.end_s)]
    last = float(ends.max()) if ends.size else float(schedule.jobs.submit_s.max(initial=0.0))
    return max(last, step_s)


def _steps(
    site: Site,
    schedule: TenancyResult,
    weather: Weather,
    start_date: dt.date,
    span_s: float,
    step_s: float,
    busy_gpu_utilization: float,
    phase: str | None,
    floor_lift_by_kind: Mapping[str, float],
) -> SiteSteps:
    n_steps = int(np.ceil(span_s / step_s))
    edges = np.minimum(np.arange(n_steps + 1, dtype=np.float64) * step_s, span_s)
    width = np.diff(edges)
    sc = schedule
    busy = step_integrals(sc.t_s, sc.gpus_busy.astype(float), edges) / width
    busy_capped = step_integrals(sc.t_s, sc.gpus_busy * sc.cap_fraction, edges) / width
    shed = step_integrals(sc.t_s, sc.shed_w, edges) / width
    online = step_integrals(sc.t_s, sc.gpus_online.astype(float), edges) / width
    by_tier = _busy_by_tier(sc, edges, width)
    # The floor yields whenever the site must hold its power down: in steps with a
    # curtailment in force or GPUs power-capped (the budget binds), it is off.
    holding_down = (shed > 0) | (busy_capped < busy * (1 - 1e-12))
    lifted = np.where(holding_down, 0.0, _floor_lift(sc, edges, width, floor_lift_by_kind))
    queued = _queued(sc, edges)
    day_of_year0 = start_date.timetuple().tm_yday - 1
    hour_of_run = (edges[:-1] // SECONDS_PER_HOUR).astype(np.int64)
    ambient = weather.dry_bulb_c[(day_of_year0 * 24 + hour_of_run) % weather.hours]
    when = np.datetime64(start_date, "s") + edges[:-1].astype("timedelta64[s]")
    month = when.astype("datetime64[M]").astype(np.int64) % 12 + 1
    parts, cap, floor_w = [], np.zeros(n_steps), np.zeros(n_steps)
    gpus_total = 0
    for name, hours in phase_hours(site, start_date, int(np.ceil(span_s / 3600)) + 1, phase):
        m = (hour_of_run >= hours.start) & (hour_of_run < hours.stop)
        if not m.any():
            continue
        model = FacilityModel.from_site(site, name)
        u = busy_capped[m] / model.gpus * busy_gpu_utilization
        u_floor = np.minimum(u + lifted[m] / model.gpus, 1.0)
        parts.append(model.run(u_floor, ambient[m], month[m]))
        floor_w[m] = model.it_power_w(u_floor) - model.it_power_w(u)
        cap[m] = model.grid_capacity_w
        gpus_total = model.gpus
    return SiteSteps(
        t_s=edges[:-1],
        step_s=step_s,
        span_s=span_s,
        gpus_total=gpus_total,
        gpus_busy=busy,
        gpus_busy_by_tier=by_tier,
        queued_jobs=queued,
        power_cap_w=cap - shed,
        gpu_cap_fraction=np.divide(busy_capped, busy, out=np.ones_like(busy), where=busy > 0),
        gpus_online=online,
        month=month,
        facility=concat_hours(parts),
        floor_power_w=floor_w,
    )


def _floor_lift(
    sc: TenancyResult,
    edges: NDArray[np.float64],
    width: NDArray[np.float64],
    lift_by_kind: Mapping[str, float],
) -> NDArray[np.float64]:
    """GPU-equivalents (of the idle-to-max range) the power floor adds in each step: the
    busy GPUs of each job kind times that kind's lift."""
    out = np.zeros(len(width))
    lifts = {k: v for k, v in lift_by_kind.items() if v > 0}
    if not lifts:
        return out
    seg_kind = job_kinds(sc.jobs.job_id)[sc.seg_job] if len(sc.seg_job) else np.empty(0)
    for kind, lift in sorted(lifts.items()):
        m = seg_kind == kind
        busy = busy_gpu_seconds(sc.seg_start_s[m], sc.seg_end_s[m], sc.seg_gpus[m], edges)
        out += lift * busy / width
    return out


def _busy_by_tier(
    sc: TenancyResult, edges: NDArray[np.float64], width: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    j = sc.jobs
    by_tier = {}
    seg_tier = j.tier[sc.seg_job]
    for tier in sorted(set(j.tier.tolist())):
        m = seg_tier == tier
        by_tier[str(tier)] = (
            busy_gpu_seconds(sc.seg_start_s[m], sc.seg_end_s[m], sc.seg_gpus[m], edges) / width
        )
    return by_tier


def _queued(sc: TenancyResult, edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Jobs waiting at the end of each step: submitted, not rejected, not yet started."""
    from narvik.sim.flat import REJECTED

    waiting = sc.state != REJECTED
    sub = np.sort(sc.jobs.submit_s[waiting])
    started = np.sort(sc.start_s[waiting & ~np.isnan(sc.start_s)])
    queued = np.searchsorted(sub, edges[1:], side="right") - np.searchsorted(
        started, edges[1:], side="right"
    )
    return queued.astype(np.int64)
